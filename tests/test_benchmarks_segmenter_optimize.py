"""`benchmarks/segmenter_optimize.py`: both cold starts run and report."""

import pytest

from tests.benchmark_modules import load_benchmark

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def segmenter_optimize():
    return load_benchmark("segmenter_optimize")


def test_reports_both_settings_from_fresh_processes(segmenter_optimize,
                                                    tmp_path):
    result = segmenter_optimize.main(["--width", "0.0625", "--images", "2",
                                      "--json", str(tmp_path / "r.json")])
    for name, optimize in (("plain", False), ("optimize", True)):
        row = result[name]
        assert row["optimize"] is optimize
        assert len(row["image_s"]) == 2 and min(row["image_s"]) > 0
        assert row["tiles_per_image"] >= 2  # a 500x375 image needs several
    assert result["later_image_speedup"] > 0
    assert (tmp_path / "r.json").exists()


def test_bad_arguments_are_named(segmenter_optimize, capsys):
    with pytest.raises(SystemExit):
        segmenter_optimize.main(["--images", "1"])
    assert "--images 1" in capsys.readouterr().err
