"""`benchmarks/winograd_network.py`: it converts the 3x3 convolutions of
the chosen sizes and channels and the converted network computes the same labels."""

import pytest

from tests.benchmark_modules import load_benchmark

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def winograd_network():
    return load_benchmark("winograd_network")


def test_converted_network_agrees_with_the_optimized_one(winograd_network):
    # At width 1/16 the 28x28 layers have 32 channels.
    result = winograd_network.main(["--max-size", "28", "--min-channels",
                                    "16", "--width", "0.0625", "--batch",
                                    "1", "--repeats", "1"])
    assert result["converted_layers"] == [
        "conv4_1", "conv4_2", "conv4_3", "deconv4_1", "deconv4_2",
        "deconv4_3"]
    assert result["argmax_agreement"] > 0.99
    assert result["max_difference_over_max"] < 1e-3
    assert result["speedup"] > 0


def test_bad_arguments_are_named(winograd_network, capsys):
    with pytest.raises(SystemExit):
        winograd_network.main(["--repeats", "0"])
    assert "--repeats 0" in capsys.readouterr().err
