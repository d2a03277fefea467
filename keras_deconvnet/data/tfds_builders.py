"""TensorFlow Datasets builders from a manual directory (TensorFlow only).

TFDS's own `voc/2012` has detection boxes only, no segmentation masks.
These builders read the files the user already has, offline, through the
same readers (and checks) as `load_source`. The builder classes are named
`*Builder` so that they are not mistaken for those readers; TFDS knows
them by their `name`:

- `voc2012_segmentation`: a PASCAL VOC 2012 folder (or a synthetic one).
- `sbd_segmentation`: SBD's `dataset/` folder.
- `folder_segmentation/camvid`: `DIR/<split>/` + `DIR/<split>annot/`;
  other folder datasets with `config=FolderSegmentationConfig(...)`.

Each example has `image` (uint8 RGB), `segmentation_mask` (uint8
`(H, W, 1)` class indices, the ignore label kept), `file_name`, and
`objects` (`label`, `bbox` in TFDS's normalised `[ymin, xmin, ymax, xmax]`).

Example:
>>> import tensorflow_datasets as tfds
>>> from keras_deconvnet.data import tfds_builders  # registers them
>>> dataset = tfds.load(
...     "voc2012_segmentation", split="train", data_dir="tfds",
...     download_and_prepare_kwargs={"download_config":
...         tfds.download.DownloadConfig(manual_dir="VOC2012")})
"""

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from keras_deconvnet.palette import CAMVID_CLASSES
from keras_deconvnet.palette import VOC_CLASSES


def _features(class_names):
    return tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(None, None, 3)),
            "segmentation_mask": tfds.features.Image(shape=(None, None, 1)),
            "file_name": tfds.features.Text(),
            "objects": tfds.features.Sequence(
                {
                    "label": tfds.features.ClassLabel(names=class_names),
                    "bbox": tfds.features.BBoxFeature(),
                }
            ),
        }
    )


class SegmentationSourceBuilder(
    tfds.core.GeneratorBasedBuilder, skip_registration=True
):
    """Base: examples from a `SegmentationSource` per split."""

    def _generate_examples(self, source):
        return _examples(source)


def _examples(source):
    """TFDS examples of a `SegmentationSource` (each file checked)."""
    for index in range(len(source)):
        example = source.read(index)
        height, width = example.label.shape
        if example.label.max(initial=0) > 255:
            raise ValueError(
                f"{source.files[index].label_path}: labels above 255 do not "
                "fit the uint8 segmentation_mask feature."
            )
        scale = np.float32([height, width, height, width])
        objects = [
            {"label": class_id, "bbox": np.clip(box / scale, 0.0, 1.0)}
            for class_id, box in example.instances or ()
        ]
        yield example.name, {
            "image": example.image,
            "segmentation_mask": example.label.astype(np.uint8)[..., None],
            "file_name": os.path.basename(example.path),
            "objects": objects,
        }


class Voc2012Builder(SegmentationSourceBuilder):
    """PASCAL VOC 2012 semantic segmentation (21 classes, 255 ignored)."""

    name = "voc2012_segmentation"

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Segmentation masks and instance boxes."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Extract VOCtrainval_11-May-2012.tar and pass its VOC2012/ folder "
        "(JPEGImages/, SegmentationClass/, SegmentationObject/, ImageSets/) "
        "as manual_dir."
    )

    def _info(self):
        return self.dataset_info_from_configs(
            features=_features(VOC_CLASSES),
            supervised_keys=("image", "segmentation_mask"),
            homepage="http://host.robots.ox.ac.uk/pascal/VOC/voc2012/",
        )

    def _split_generators(self, dl_manager):
        from keras_deconvnet.data.voc import VOCSegmentation

        root = str(dl_manager.manual_dir)
        return {
            split: self._generate_examples(VOCSegmentation(root, split))
            for split in ("train", "val")
        }


class SbdBuilder(SegmentationSourceBuilder):
    """SBD (Hariharan et al.): VOC images with class and instance masks."""

    name = "sbd_segmentation"

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Segmentation masks and instance boxes."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Extract benchmark.tgz and pass benchmark_RELEASE/dataset/ (img/, "
        "cls/, inst/, train.txt, val.txt) as manual_dir."
    )

    def _info(self):
        return self.dataset_info_from_configs(
            features=_features(VOC_CLASSES),
            supervised_keys=("image", "segmentation_mask"),
            homepage="http://home.bharathh.info/pubs/codes/SBD/download.html",
        )

    def _split_generators(self, dl_manager):
        from keras_deconvnet.data.sbd import SBDSegmentation

        root = str(dl_manager.manual_dir)
        return {
            split: self._generate_examples(SBDSegmentation(root, split))
            for split in ("train", "val")
        }


@dataclasses.dataclass(eq=False)
class FolderSegmentationConfig(tfds.core.BuilderConfig):
    """A folder dataset: its classes, ignore label and split names."""

    num_classes: int = 11
    ignore_label: int = 11
    class_names: tuple = CAMVID_CLASSES
    splits: tuple = ("train", "val", "test")


class FolderBuilder(SegmentationSourceBuilder):
    """`DIR/<split>/` images with `DIR/<split>annot/` label PNGs."""

    name = "folder_segmentation"

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Segmentation masks and component boxes."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Pass the folder holding <split>/ and <split>annot/ (e.g. SegNet's "
        "CamVid folder) as manual_dir. Splits without folders are left out."
    )
    BUILDER_CONFIGS = [
        FolderSegmentationConfig(
            name="camvid", description="CamVid, SegNet split"
        )
    ]

    def _info(self):
        return self.dataset_info_from_configs(
            features=_features(list(self.builder_config.class_names)),
            supervised_keys=("image", "segmentation_mask"),
        )

    def _split_generators(self, dl_manager):
        from keras_deconvnet.data.folder import FolderSegmentation

        root = str(dl_manager.manual_dir)
        config = self.builder_config
        generators = {}
        for split in config.splits:
            image_dir = os.path.join(root, split)
            if not os.path.isdir(image_dir):
                continue
            source = FolderSegmentation(
                image_dir,
                os.path.join(root, f"{split}annot"),
                num_classes=config.num_classes,
                ignore_label=config.ignore_label,
                class_names=config.class_names,
            )
            generators[split] = self._generate_examples(source)
        if not generators:
            raise FileNotFoundError(
                f"No split folders {config.splits} in {root}."
            )
        return generators
