"""`benchmarks/full_window_conv.py`: its candidates compute the same
layer, and its arguments are checked."""

import importlib.util

import numpy as np
import pytest

from tests.benchmark_modules import load_benchmark

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def full_window_conv():
    return load_benchmark("full_window_conv")


@pytest.mark.parametrize("spec", [
    ("fc6", False, (5, 5, 6), 5, 7),
    ("fc6_deconv", True, (1, 1, 6), 5, 7),
])
def test_candidates_compute_the_same_layer(full_window_conv, spec):
    candidates, outputs, x, weights = full_window_conv.keras_candidates(
        spec, 2, np.random.default_rng(0))
    assert set(candidates) == set(outputs) == {
        "keras conv float32", "full window float32",
        "keras conv bfloat16", "full window bfloat16",
        "keras conv mixed_bfloat16", "full window mixed_bfloat16"}
    reference = outputs["keras conv float32"]
    assert reference.shape == ((2, 5, 5, 7) if spec[1] else (2, 1, 1, 7))
    np.testing.assert_allclose(outputs["full window float32"], reference,
                               rtol=1e-5, atol=1e-5)
    scale = np.abs(reference).max()
    # Weights stored in bf16 are the values mixed_bfloat16 rounds to.
    np.testing.assert_array_equal(outputs["full window bfloat16"],
                                  outputs["full window mixed_bfloat16"])
    for name in ("keras conv bfloat16", "full window bfloat16",
                 "keras conv mixed_bfloat16", "full window mixed_bfloat16"):
        assert np.abs(outputs[name] - reference).max() < 0.05 * scale
    if importlib.util.find_spec("torch") is not None:
        _, torch_outputs = full_window_conv.torch_candidates(spec, x, weights)
        np.testing.assert_allclose(torch_outputs["torch float32"], reference,
                                   rtol=1e-4, atol=1e-4)


def test_bad_arguments_are_named(full_window_conv, capsys):
    with pytest.raises(SystemExit):
        full_window_conv.main(["--batch", "0"])
    assert "--batch 0" in capsys.readouterr().err
