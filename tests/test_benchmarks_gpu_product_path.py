"""`benchmarks/gpu_product_path.py` runs without TensorFlow (a CPU smoke
run of its fit and predict rows on JAX)."""

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.jax_subprocess import ROOT
from tests.jax_subprocess import jax_environment

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="jax is not installed"
)

# TensorFlow is blocked, as on a GPU machine that has JAX alone.
CODE = """
import runpy, sys
sys.modules["tensorflow"] = None
sys.argv = ["gpu_product_path.py", "--width", "0.0625",
            "--train-batch-sizes", "2", "--predict-batch-sizes", "2",
            "--train-steps", "2", "--predict-batches", "2",
            "--repeats", "1", "--modes", "training", "inference_labels",
            "device_forward", "--json", sys.argv[1]]
runpy.run_path("benchmarks/gpu_product_path.py", run_name="__main__")
"""


def test_fit_and_predict_rows_run_without_tensorflow(tmp_path):
    report_path = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-c", CODE, str(report_path)], cwd=ROOT,
        env=jax_environment(tmp_path / "cache"), capture_output=True,
        text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["tensorflow_imported"] is False
    rows = {row["mode"]: row for row in report["results"]}
    assert set(rows) == {"training", "inference_labels", "device_forward"}
    for row in rows.values():
        assert row["status"] == "ok", row
        assert row["crops_per_s"] > 0
    # train()'s mixed precision on a CPU; the twin predicts in bfloat16.
    assert rows["training"]["precision"] == "mixed_bfloat16"
    assert rows["training"]["crops"] == 4
    assert rows["device_forward"]["device_to_host_gb_per_s"] > 0
    # Targets are for the paper network only.
    assert "met" not in rows["training"]
