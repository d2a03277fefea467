"""TFDS builders prepare offline from a manual directory."""

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")
pytest.importorskip("importlib_resources")

from keras_deconvnet.data import tfds_builders  # noqa: E402
from keras_deconvnet.data.synthetic import write_synthetic_voc  # noqa: E402
from keras_deconvnet.data.voc import VOCSegmentation  # noqa: E402


def test_voc_builder_on_synthetic_data(tmp_path):
    root = write_synthetic_voc(
        tmp_path / "voc", 3, 2, image_size=(48, 64), seed=1
    )
    config = tfds.download.DownloadConfig(
        manual_dir=root, try_download_gcs=False
    )
    dataset = tfds.load(
        "voc2012_segmentation",
        split="train",
        data_dir=str(tmp_path / "tfds"),
        download_and_prepare_kwargs={"download_config": config},
    )
    source = VOCSegmentation(root, "train")
    examples = {
        example["file_name"].numpy().decode(): example for example in dataset
    }
    assert len(examples) == 3
    for index in range(len(source)):
        expected = source.read(index)
        example = examples[f"{expected.name}.jpg"]
        np.testing.assert_array_equal(
            example["segmentation_mask"].numpy()[..., 0], expected.label
        )
        np.testing.assert_array_equal(example["image"].numpy(), expected.image)
        boxes = example["objects"]["bbox"].numpy() * [48, 64, 48, 64]
        np.testing.assert_allclose(
            boxes, [box for _, box in expected.instances], atol=1e-3
        )
        np.testing.assert_array_equal(
            example["objects"]["label"].numpy(),
            [class_id for class_id, _ in expected.instances],
        )
    builder = tfds_builders.Voc2012Builder(
        data_dir=str(tmp_path / "tfds")
    )
    assert builder.info.splits["val"].num_examples == 2


def test_folder_builder_with_a_custom_config(tmp_path):
    from PIL import Image

    label = np.zeros((8, 10), np.uint8)
    label[2:5, 3:7] = 2
    label[0, 0] = 9  # the ignore label
    for split in ("train", "val"):
        (tmp_path / "data" / split).mkdir(parents=True)
        (tmp_path / "data" / f"{split}annot").mkdir()
        Image.fromarray(np.full((8, 10, 3), 7, np.uint8)).save(
            tmp_path / "data" / split / "a.png"
        )
        Image.fromarray(label).save(
            tmp_path / "data" / f"{split}annot" / "a.png"
        )
    config = tfds_builders.FolderSegmentationConfig(
        name="tiny",
        num_classes=3,
        ignore_label=9,
        class_names=("sky", "road", "car"),
        splits=("train", "val", "test"),
    )
    builder = tfds_builders.FolderBuilder(
        config=config, data_dir=str(tmp_path / "tfds")
    )
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=str(tmp_path / "data"), try_download_gcs=False
        )
    )
    assert set(builder.info.splits) == {"train", "val"}
    example = next(iter(builder.as_dataset(split="val")))
    np.testing.assert_array_equal(
        example["segmentation_mask"].numpy()[..., 0], label
    )
    assert builder.info.features["objects"]["label"].names == [
        "sky",
        "road",
        "car",
    ]


def test_builders_keep_their_registered_names():
    registered = set(tfds.list_builders(with_community_datasets=False))
    for builder in (tfds_builders.Voc2012Builder, tfds_builders.SbdBuilder,
                    tfds_builders.FolderBuilder):
        assert builder.name in registered
    assert tfds_builders.SbdBuilder.name == "sbd_segmentation"
    assert tfds_builders.FolderBuilder.name == "folder_segmentation"
