"""`benchmarks/tflite_export_time.py`: the two conversion routes of
`export_tflite` (frozen function for small models, SavedModel for large
ones) give the same operators and the same LiteRT scores."""

import json

import pytest

from tests.benchmark_modules import load_benchmark

pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")


def test_both_routes_give_the_same_model(tmp_path):
    module = load_benchmark("tflite_export_time")
    out = tmp_path / "summary.json"
    assert module.main(["--width", "0.0625", "--repeats", "1",
                        "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["same_operators"] is True
    # The same graph, frozen either way: the same arithmetic.
    assert summary["max_abs_output_difference"] < 1e-5
    assert all(len(times) == 1 and times[0] > 0
               for times in summary["seconds"].values())
