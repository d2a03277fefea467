"""`benchmarks/conv_algorithms.py`: its projection adds the layers up.

The Winograd convolutions it times are the library's
(`keras_deconvnet.layers.winograd_conv`), tested against NumPy in
`tests/test_winograd_conv.py`."""

import pytest

from tests.benchmark_modules import load_benchmark

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def conv_algorithms():
    return load_benchmark("conv_algorithms")


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
