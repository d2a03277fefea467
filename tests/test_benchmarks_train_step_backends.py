"""`benchmarks/train_step_backends.py`: workers per backend and precision
time the same training step and the report compares them."""

import json

import pytest

from tests.benchmark_modules import load_benchmark

pytest.importorskip("tensorflow")


@pytest.mark.slow
def test_tensorflow_float32_against_mixed_bfloat16(tmp_path):
    train_step_backends = load_benchmark("train_step_backends")
    output = tmp_path / "steps.json"
    assert train_step_backends.main([
        "--width", "0.0625", "--batch", "1", "--rounds", "2", "--steps", "1",
        "--backends", "tensorflow", "--precisions", "float32",
        "mixed_bfloat16", "--json", str(output)]) == 0
    report = json.loads(output.read_text())
    assert set(report["median_step_s"]) == {"tensorflow",
                                            "tensorflow mixed_bfloat16"}
    assert all(len(steps) == 2 and min(steps) > 0
               for steps in report["step_s"].values())
    assert report["tensorflow_bf16_speedup"] > 0
    assert "tensorflow_over_jax" not in report
