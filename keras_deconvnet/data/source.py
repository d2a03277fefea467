"""The common dataset record, reader base class and validation.

A `SegmentationSource` is a list of examples on disk that reads one at a
time (`read(index)`) with PIL/SciPy, checks it, and returns an `Example`.
Boxes follow `keras_deconvnet.data.boxes` (`[y1, x1, y2, x2]`, pixel edges).
No TensorFlow here.
"""

import collections
import concurrent.futures
import dataclasses
import os
import warnings

import numpy as np

# One example's files; `instance_path` is None where a dataset has none.
ExampleFiles = collections.namedtuple(
    "ExampleFiles", ["name", "image_path", "label_path", "instance_path"]
)


class InvalidExampleError(ValueError):
    """An example whose files are missing, unreadable or inconsistent."""


@dataclasses.dataclass
class Example:
    """One decoded example.

    Attributes:
        image: uint8 `(H, W, 3)` RGB.
        label: int32 `(H, W)` class indices; the source's `ignore_label`
            marks pixels to ignore.
        instances: list of `(class_id, box)` with `box` a float32
            `[y1, x1, y2, x2]`, or `None` where the dataset has no instances.
        name: the example's identifier (file stem).
        path: the image file.
    """

    image: np.ndarray
    label: np.ndarray
    instances: list
    name: str
    path: str


def read_image(path):
    """Reads an RGB image file fully (uint8 `(H, W, 3)`).

    Raises:
        InvalidExampleError: naming the file, when it is missing, not an
            image, or truncated.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()  # Decodes now, so truncation raises here.
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise InvalidExampleError(f"Image file not found: {path}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InvalidExampleError(
            f"Cannot read image {path} (unreadable or truncated): {error}"
        ) from None


def read_index_png(path):
    """Reads a label PNG of class indices (mode 'P', 'L' or 'I') as int32.

    Palette PNGs (VOC) decode to their palette indices, not their colours.

    Raises:
        InvalidExampleError: naming the file, when it is missing, unreadable,
            or holds colours (RGB) instead of indices.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in ("P", "L", "I", "I;16", "I;16B", "I;16L"):
                raise InvalidExampleError(
                    f"Label file {path} has mode {image.mode!r}: expected a "
                    "PNG of class indices (mode 'P' palette or 'L' grey), "
                    "not colours."
                )
            return np.asarray(image).astype(np.int32)
    except FileNotFoundError:
        raise InvalidExampleError(f"Label file not found: {path}") from None
    except (OSError, SyntaxError, ValueError) as error:
        if isinstance(error, InvalidExampleError):
            raise
        raise InvalidExampleError(
            f"Cannot read label {path} (unreadable or truncated): {error}"
        ) from None


def require_directory(path, what):
    """Raises `FileNotFoundError` naming `path` when it is not a folder."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{what} folder not found: {path}")
    return path


class SegmentationSource:
    """Base class: a list of `ExampleFiles` read and checked one at a time.

    Subclasses implement `load_files(files) -> (image, label, instances)`.

    Args:
        files: list of `ExampleFiles`.
        num_classes: number of classes; labels are in `[0, num_classes)`.
        ignore_label: label value to ignore (boundaries, void, padding).
        class_names: names of the classes (defaults to `class_0`, ...).
        skip_invalid: if True, `validate()` drops invalid examples with a
            warning and counts them in `skipped`; if False it raises.
        name: the dataset name, used in messages.
    """

    def __init__(
        self,
        files,
        *,
        num_classes,
        ignore_label,
        class_names=None,
        skip_invalid=False,
        name="dataset",
    ):
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                f"`num_classes` must be a positive integer. Received: "
                f"num_classes={num_classes}"
            )
        if ignore_label is not None and 0 <= ignore_label < num_classes:
            raise ValueError(
                f"`ignore_label` must lie outside [0, num_classes). "
                f"Received: ignore_label={ignore_label}, "
                f"num_classes={num_classes}"
            )
        if class_names is None:
            class_names = tuple(f"class_{i}" for i in range(num_classes))
        if len(class_names) != num_classes:
            raise ValueError(
                f"Expected {num_classes} class names. Received: "
                f"class_names={class_names}"
            )
        self.files = list(files)
        self.num_classes = num_classes
        self.ignore_label = ignore_label
        self.class_names = tuple(class_names)
        self.skip_invalid = skip_invalid
        self.name = name
        self.skipped = 0
        self.skipped_files = []  # (name, reason)
        self._instances = None  # filled by validate()
        self._shapes = None

    def __len__(self):
        return len(self.files)

    def __repr__(self):
        return (
            f"<{type(self).__name__} {self.name}: {len(self)} examples, "
            f"{self.num_classes} classes, ignore_label={self.ignore_label}>"
        )

    def load_files(self, files, with_instances=True):
        """Returns `(image, label, instances or None)` of one example."""
        raise NotImplementedError

    def read(self, index, instances=True):
        """Reads and checks example `index`.

        Args:
            index: position in the source.
            instances: also find the instances (False saves time where
                they are not needed).

        Returns:
            An `Example`.

        Raises:
            InvalidExampleError: naming the file that is wrong.
        """
        files = self.files[index]
        image, label, found = self.load_files(files, with_instances=instances)
        self._check(files, image, label, found)
        return Example(image, label, found, files.name, files.image_path)

    def _check(self, files, image, label, instances):
        if label.shape != image.shape[:2]:
            raise InvalidExampleError(
                f"Label {files.label_path} is {label.shape[1]}x"
                f"{label.shape[0]} (width x height) but image "
                f"{files.image_path} is {image.shape[1]}x{image.shape[0]}."
            )
        valid = (label >= 0) & (label < self.num_classes)
        if self.ignore_label is not None:
            valid |= label == self.ignore_label
        if not valid.all():
            bad = np.unique(label[~valid])[:5].tolist()
            raise InvalidExampleError(
                f"Label {files.label_path} has class indices {bad} outside "
                f"[0, {self.num_classes}) that are not the ignore label "
                f"{self.ignore_label}."
            )
        for class_id, _ in instances or ():
            if not 0 <= class_id < self.num_classes:
                raise InvalidExampleError(
                    f"Instance file {files.instance_path or files.label_path} "
                    f"has an instance of class {class_id} outside "
                    f"[0, {self.num_classes})."
                )

    def _inspect(self, index):
        example = self.read(index)
        return example.instances, example.label.shape

    def validate(self, progress=True, num_threads=None):
        """Reads every example once; drops or raises on invalid ones.

        Runs once per source (later calls return at once). Also records
        each example's instances and size for the stage crops.

        Args:
            progress: show a tqdm progress bar.
            num_threads: reader threads (PIL decoding releases the GIL).

        Returns:
            This source.

        Raises:
            InvalidExampleError: the first invalid example's error, when
                `skip_invalid` is False.
        """
        if self._instances is not None:
            return self
        from tqdm.auto import tqdm

        num_threads = num_threads or min(8, 2 * (os.cpu_count() or 1))
        results = [None] * len(self.files)
        errors = {}
        with concurrent.futures.ThreadPoolExecutor(num_threads) as pool:
            futures = {
                pool.submit(self._inspect, i): i for i in range(len(self))
            }
            for future in tqdm(
                concurrent.futures.as_completed(futures),
                total=len(futures),
                desc=f"Checking {self.name}",
                disable=not progress,
                leave=False,
            ):
                index = futures[future]
                try:
                    results[index] = future.result()
                except InvalidExampleError as error:
                    errors[index] = error
        if errors and not self.skip_invalid:
            first = errors[min(errors)]
            others = len(errors) - 1
            suffix = f" ({others} more invalid examples)" if others else ""
            raise InvalidExampleError(
                f"{str(first).rstrip('.')}{suffix}. Fix the files or pass "
                "skip_invalid=True."
            ) from first
        for index in sorted(errors):
            warnings.warn(
                f"Skipping {self.files[index].name}: {errors[index]}"
            )
            self.skipped_files.append(
                (self.files[index].name, str(errors[index]))
            )
        self.skipped += len(errors)
        self.files = [f for i, f in enumerate(self.files) if i not in errors]
        kept = [r for i, r in enumerate(results) if i not in errors]
        self._instances = [instances for instances, _ in kept]
        self._shapes = [shape for _, shape in kept]
        return self

    def subset(self, indices):
        """A copy of this source holding only the examples at `indices`.

        Example:
        >>> first_ten = source.subset(range(10))
        """
        import copy

        indices = list(indices)
        subset = copy.copy(self)
        subset.files = [self.files[i] for i in indices]
        if self._instances is not None:
            subset._instances = [self._instances[i] for i in indices]
            subset._shapes = [self._shapes[i] for i in indices]
        subset.skipped_files = list(self.skipped_files)
        return subset

    def instances(self, index):
        """Example `index`'s instances (from the validation pass)."""
        self.validate(progress=False)
        return self._instances[index]

    def image_shape(self, index):
        """Example `index`'s `(height, width)` (from the validation pass)."""
        self.validate(progress=False)
        return self._shapes[index]
