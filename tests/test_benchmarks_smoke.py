"""Smoke test of `benchmarks/run.py layers` at tiny sizes (no speed claims).

Runs the benchmark script in a subprocess, as a user would, and checks
that its JSON has every field and that the comparisons are the ratios of
the medians it reports. The PyTorch rows appear only when torch is
installed (it is not in CI).
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_SCRIPT = os.path.join(REPOSITORY, "benchmarks", "run.py")
TORCH_INSTALLED = importlib.util.find_spec("torch") is not None

pytest.importorskip("tensorflow", reason="the CPU benchmarks need TensorFlow")


def run_benchmark(tmp_path, *arguments):
    output = tmp_path / "results.json"
    environment = {**os.environ, "KERAS_BACKEND": "tensorflow",
                   "TF_CPP_MIN_LOG_LEVEL": "2"}
    completed = subprocess.run(
        [sys.executable, RUN_SCRIPT, *arguments, "--json", str(output)],
        capture_output=True, text=True, timeout=300, env=environment,
        cwd=REPOSITORY,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(output.read_text()), completed.stdout


@pytest.fixture(scope="module")
def layers_report(tmp_path_factory):
    return run_benchmark(
        tmp_path_factory.mktemp("bench"), "layers",
        "--layer-shape", "2,8,8,4", "--repeats", "2", "--warmup", "1",
    )


def test_layers_json_has_every_field(layers_report):
    report, stdout = layers_report
    assert {"machine", "settings", "sections", "total_seconds"} <= set(report)
    section = report["sections"]["layers"]
    assert section["available"] is True
    names = {row["name"] for row in section["rows"]}
    assert {"ours (xla)", "ours (graph)", "baseline (graph)"} <= names
    assert ("torch eager" in names) == TORCH_INSTALLED
    if not TORCH_INSTALLED:
        assert any("PyTorch not used" in note for note in section["notes"])
    for row in section["rows"]:
        assert row["mode"] in ("fwd", "fwd+bwd")
        assert row["shape"] == "2x8x8x4"
        assert row["samples"] == 2
        assert 0 < row["min_s"] <= row["median_s"] <= row["max_s"]
    assert "baseline / ours best" in stdout


def test_ratios_are_ratios_of_the_reported_medians(layers_report):
    report, _ = layers_report
    section = report["sections"]["layers"]
    median = {(row["mode"], row["name"]): row["median_s"]
              for row in section["rows"]}
    ratios = {row["ratio"]: row for row in section["ratios"]}
    row = ratios["baseline / ours best, fwd+bwd, 2x8x8x4"]
    best = min(median["fwd+bwd", "ours (xla)"],
               median["fwd+bwd", "ours (graph)"])
    assert row["value"] == pytest.approx(
        median["fwd+bwd", "baseline (graph)"] / best
    )
    assert row["target"] == 3.0
    assert row["met"] == (row["value"] >= 3.0)


@pytest.mark.skipif(
    not TORCH_INSTALLED, reason="without torch the run above already has none"
)
def test_torch_rows_are_skipped_with_a_note_when_asked(tmp_path):
    report, stdout = run_benchmark(
        tmp_path, "layers", "--layer-shape", "1,4,4,2", "--repeats", "1",
        "--warmup", "1", "--no-torch",
    )
    section = report["sections"]["layers"]
    assert all(not row["name"].startswith("torch") for row in section["rows"])
    assert any("PyTorch not used" in note for note in section["notes"])


def test_rejects_a_bad_layer_shape(tmp_path):
    completed = subprocess.run(
        [sys.executable, RUN_SCRIPT, "layers", "--layer-shape", "2,7,8,4"],
        capture_output=True, text=True, timeout=120, cwd=REPOSITORY,
    )
    assert completed.returncode != 0
    assert "even height" in completed.stderr
