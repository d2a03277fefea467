"""Folder datasets: images and same-named label PNGs of class indices.

Layout (SegNet's CamVid, for example)::

    DIR/<split>/NAME.png (or .jpg)      RGB images
    DIR/<split>annot/NAME.png           class indices (mode 'L' or 'P')

or any `image_dir` and `label_dir`. Instances (for stage-1 crops) are the
connected components of each class. No TensorFlow here.
"""

import os
import warnings

from keras_deconvnet.data.instances import instances_from_components
from keras_deconvnet.data.source import ExampleFiles
from keras_deconvnet.data.source import SegmentationSource
from keras_deconvnet.data.source import read_image
from keras_deconvnet.data.source import read_index_png
from keras_deconvnet.data.source import require_directory
from keras_deconvnet.palette import VOC_IGNORE_LABEL

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _stems(directory, extensions):
    files = {}
    for file_name in sorted(os.listdir(directory)):
        stem, extension = os.path.splitext(file_name)
        if extension.lower() in extensions:
            files.setdefault(stem, os.path.join(directory, file_name))
    return files


class FolderSegmentation(SegmentationSource):
    """Images in one folder, label PNGs of class indices in another.

    Args:
        image_dir: folder of images.
        label_dir: folder of label PNGs named like the images.
        num_classes: labels lie in `[0, num_classes)`.
        ignore_label: the void label (e.g. 11 for CamVid); also fills
            crop padding. Default 255 (`palette.VOC_IGNORE_LABEL`, the
            default of every dataset).
        background_label: a class never used as an instance (stage-1
            crops), or None.
        min_instance_area: smaller connected components are no instances.
        **kwargs: passed to `SegmentationSource` (`skip_invalid`, ...).

    Raises:
        FileNotFoundError: a folder is missing, or an image has no label
            (naming the files; with `skip_invalid=True`, a warning and the
            image is skipped and counted in `skipped`).
    """

    def __init__(
        self,
        image_dir,
        label_dir,
        *,
        num_classes,
        ignore_label=VOC_IGNORE_LABEL,
        background_label=None,
        min_instance_area=64,
        skip_invalid=False,
        **kwargs,
    ):
        require_directory(image_dir, "Image")
        require_directory(label_dir, "Label")
        images = _stems(image_dir, IMAGE_EXTENSIONS)
        labels = _stems(label_dir, (".png",))
        if not images:
            raise FileNotFoundError(f"No images in {image_dir}")
        missing = [stem for stem in images if stem not in labels]
        skipped = []
        if missing:
            message = (
                f"{len(missing)} images in {image_dir} have no label PNG in "
                f"{label_dir}, e.g. {images[missing[0]]}"
            )
            if not skip_invalid:
                raise FileNotFoundError(message)
            warnings.warn(f"Skipping: {message}")
            skipped = [(stem, "no label file") for stem in missing]
        files = [
            ExampleFiles(stem, path, labels[stem], None)
            for stem, path in images.items()
            if stem in labels
        ]
        kwargs.setdefault("name", f"folder/{os.path.basename(image_dir)}")
        super().__init__(
            files,
            num_classes=num_classes,
            ignore_label=ignore_label,
            skip_invalid=skip_invalid,
            **kwargs,
        )
        self.skipped = len(skipped)
        self.skipped_files = skipped
        self.background_label = background_label
        self.min_instance_area = min_instance_area

    def load_files(self, files, with_instances=True):
        image = read_image(files.image_path)
        label = read_index_png(files.label_path)
        if not with_instances or label.shape != image.shape[:2]:
            return image, label, None  # _check reports the size mismatch.
        instances = instances_from_components(
            label,
            ignore_label=self.ignore_label,
            background_label=self.background_label,
            min_area=self.min_instance_area,
        )
        return image, label, instances
