"""`python -m keras_deconvnet make-synthetic DIR`."""

import os

from keras_deconvnet.__main__ import main
from keras_deconvnet.data import load_source


def test_command_writes_a_readable_dataset(tmp_path, capsys):
    directory = str(tmp_path / "synthetic")
    code = main(
        [
            "make-synthetic",
            directory,
            "--num-train",
            "3",
            "--num-val",
            "1",
            "--image-size",
            "40",
            "56",
            "--seed",
            "2",
        ]
    )
    assert code == 0
    assert "3 train + 1 val" in capsys.readouterr().out
    assert len(os.listdir(os.path.join(directory, "JPEGImages"))) == 4
    example = load_source("voc", directory, "train").read(0)
    assert example.image.shape == (40, 56, 3)
