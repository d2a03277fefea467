"""`benchmarks/tflite_export_time.py`: the two conversion routes of
`export_tflite` (frozen function for small models, SavedModel for large
ones) give the same operators and the same LiteRT scores."""

import importlib.util
import json
import os

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "benchmarks", "tflite_export_time.py")


def test_both_routes_give_the_same_model(tmp_path):
    spec = importlib.util.spec_from_file_location("tflite_export_time", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "summary.json"
    assert module.main(["--width", "0.0625", "--repeats", "1",
                        "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["same_operators"] is True
    # The same graph, frozen either way: the same arithmetic.
    assert summary["max_abs_output_difference"] < 1e-5
    assert all(len(times) == 1 and times[0] > 0
               for times in summary["seconds"].values())
