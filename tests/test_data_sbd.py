"""SBD reader on a tiny dataset written with scipy.io.savemat."""

import os

import numpy as np
import pytest
from PIL import Image
from scipy import io

from keras_deconvnet.data import load_source
from keras_deconvnet.data.source import InvalidExampleError


def _write_sbd(root):
    dataset = root / "benchmark_RELEASE" / "dataset"
    for folder in ("img", "cls", "inst"):
        os.makedirs(dataset / folder)
    instances = np.zeros((20, 24), np.uint8)
    instances[2:8, 3:9] = 1  # a person
    instances[10:18, 5:20] = 2  # a car
    classes = np.where(instances == 1, 15, np.where(instances == 2, 7, 0))
    for name in ("2008_000001", "2008_000002"):
        Image.fromarray(np.full((20, 24, 3), 90, np.uint8)).save(
            dataset / "img" / f"{name}.jpg"
        )
        io.savemat(
            dataset / "cls" / f"{name}.mat",
            {
                "GTcls": {
                    "Segmentation": classes.astype(np.uint8),
                    "CategoriesPresent": np.array([[7], [15]]),
                }
            },
        )
        io.savemat(
            dataset / "inst" / f"{name}.mat",
            {
                "GTinst": {
                    "Segmentation": instances,
                    "Categories": np.array([[15], [7]]),
                }
            },
        )
    (dataset / "train.txt").write_text("2008_000001\n2008_000002\n")
    return dataset, classes


def test_reads_classes_and_instances(tmp_path):
    dataset, classes = _write_sbd(tmp_path)
    source = load_source("sbd", str(tmp_path / "benchmark_RELEASE"), "train")
    assert len(source) == 2 and source.ignore_label == 255
    example = source.read(0)
    np.testing.assert_array_equal(example.label, classes)
    assert [(c, b.tolist()) for c, b in example.instances] == [
        (15, [2, 3, 8, 9]),
        (7, [10, 5, 18, 20]),
    ]


def test_errors_name_the_mat_file(tmp_path):
    dataset, _ = _write_sbd(tmp_path)
    bad = dataset / "cls" / "2008_000002.mat"
    bad.write_bytes(b"not a mat file")
    source = load_source("sbd", str(dataset), "train")
    with pytest.raises(InvalidExampleError, match="2008_000002.mat"):
        source.validate(progress=False)
    with pytest.raises(FileNotFoundError, match="img"):
        load_source("sbd", str(tmp_path), "train")
