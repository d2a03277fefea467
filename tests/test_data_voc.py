"""VOC reader: palette decoding and every invalid-file error names the file."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from keras_deconvnet.data.source import InvalidExampleError
from keras_deconvnet.data.synthetic import write_synthetic_voc
from keras_deconvnet.data.voc import VOCSegmentation


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    directory = tmp_path_factory.mktemp("voc_pristine")
    return write_synthetic_voc(directory, 3, 1, image_size=(48, 64), seed=0)


@pytest.fixture
def root(pristine, tmp_path):
    copy = tmp_path / "VOCdevkit" / "VOC2012"
    shutil.copytree(pristine, copy)
    return str(copy)


def _path(root, folder, name="synth_000001", extension="png"):
    return os.path.join(root, folder, f"{name}.{extension}")


def test_reads_devkit_root_and_palette_indices(root):
    devkit = os.path.dirname(root)
    source = VOCSegmentation(devkit, "train")
    assert len(source) == 3 and source.num_classes == 21
    # Re-save a label with a scrambled palette: indices must not change.
    path = _path(root, "SegmentationClass")
    with Image.open(path) as png:
        indices = np.asarray(png).copy()
        png.putpalette(list(np.random.default_rng(0).integers(0, 256, 768)))
        png.save(path)
    example = source.read(1)
    np.testing.assert_array_equal(example.label, indices)
    assert example.label.dtype == np.int32


def test_missing_folder_and_split_file_are_named(root, tmp_path):
    with pytest.raises(FileNotFoundError, match="JPEGImages"):
        VOCSegmentation(str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="test.txt"):
        VOCSegmentation(root, "test")
    shutil.rmtree(os.path.join(root, "SegmentationClass"))
    with pytest.raises(FileNotFoundError, match="SegmentationClass"):
        VOCSegmentation(root)


def _corrupt_image_missing(root):
    os.remove(_path(root, "JPEGImages", extension="jpg"))
    return _path(root, "JPEGImages", extension="jpg")


def _corrupt_image_truncated(root):
    path = _path(root, "JPEGImages", extension="jpg")
    with open(path, "rb") as file:
        data = file.read()
    with open(path, "wb") as file:
        file.write(data[: len(data) // 2])
    return path


def _corrupt_label_size(root):
    path = _path(root, "SegmentationClass")
    with Image.open(path) as png:
        png.resize((30, 20), Image.NEAREST).save(path)
    return path


def _corrupt_label_range(root):
    path = _path(root, "SegmentationClass")
    with Image.open(path) as png:
        array = np.asarray(png).copy()
        array[0, 0] = 42
        out = Image.fromarray(array, mode="L")
        out.putpalette(png.getpalette())
        out.save(path)
    return path


def _corrupt_label_rgb(root):
    path = _path(root, "SegmentationClass")
    with Image.open(path) as png:
        png.convert("RGB").save(path)
    return path


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (_corrupt_image_missing, "not found"),
        (_corrupt_image_truncated, "truncated"),
        (_corrupt_label_size, "64x48"),
        (_corrupt_label_range, r"\[42\]"),
        (_corrupt_label_rgb, "mode 'RGB'"),
    ],
)
def test_invalid_example_error_names_the_file(root, corrupt, message):
    path = corrupt(root)
    source = VOCSegmentation(root, "train")
    with pytest.raises(InvalidExampleError, match=message) as raised:
        source.validate(progress=False)
    assert path in str(raised.value)
    with pytest.raises(InvalidExampleError, match="synth_000001"):
        source.read(1)
    # Skipped with a warning and counted, under the flag.
    source = VOCSegmentation(root, "train", skip_invalid=True)
    with pytest.warns(UserWarning, match="synth_000001"):
        source.validate(progress=False)
    assert source.skipped == 1 and len(source) == 2
    assert [files.name for files in source.files] == [
        "synth_000000",
        "synth_000002",
    ]
