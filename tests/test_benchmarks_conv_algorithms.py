"""`benchmarks/conv_algorithms.py`: the Winograd convolutions it times
compute the same "same" 3x3 convolution as a NumPy reference."""

import numpy as np
import pytest

from tests.benchmark_modules import load_benchmark

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def conv_algorithms():
    return load_benchmark("conv_algorithms")


def numpy_same_conv(x, kernel):
    """Cross-correlation, zero padding 1: `tf.nn.conv2d(..., "SAME")`."""
    n, h, w, _ = x.shape
    padded = np.pad(x.astype(np.float64), [(0, 0), (1, 1), (1, 1), (0, 0)])
    out = np.zeros((n, h, w, kernel.shape[-1]))
    for dy in range(3):
        for dx in range(3):
            out += np.einsum("nhwc,ck->nhwk",
                             padded[:, dy:dy + h, dx:dx + w], kernel[dy, dx])
    return out


@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("size", [(8, 8), (9, 13)])  # 9x13: tiles overhang
def test_winograd_matches_direct_convolution(conv_algorithms, tile, size):
    rng = np.random.default_rng(tile)
    x = rng.standard_normal((2, *size, 5)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 5, 7)).astype(np.float32)
    u = tf.constant(conv_algorithms.winograd_kernel(kernel, tile))
    got = conv_algorithms.winograd_conv(tf, tf.constant(x), u, tile).numpy()
    want = numpy_same_conv(x, kernel)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_projection_adds_up_the_faster_algorithm_per_layer(conv_algorithms):
    # Every shape: direct 10 ms, F(4,3) 5 ms (conv1_1: direct only).
    rows = []
    for size, cin, cout in {layer[:3] for layer in
                            conv_algorithms.PAPER_LAYERS}:
        row = {"layer": f"{size}x{size} {cin}->{cout}", "direct ms": 10.0}
        if cin > 3:
            row["F(4,3) ms"] = 5.0
        rows.append(row)
    count = sum(layer[3] for layer in conv_algorithms.PAPER_LAYERS)
    projection = conv_algorithms.project(rows, forward_seconds=1.0)
    assert projection["conv_seconds_direct"] == pytest.approx(0.01 * count)
    assert projection["conv_seconds_best_algorithm"] == pytest.approx(
        0.005 * (count - 1) + 0.01)
    assert projection["forward_seconds_projected"] == pytest.approx(
        1.0 - 0.005 * (count - 1))


def test_bad_arguments_are_named(conv_algorithms, capsys):
    with pytest.raises(SystemExit):
        conv_algorithms.main(["--repeats", "0"])
    assert "--repeats 0" in capsys.readouterr().err
