"""A generated PASCAL VOC-format segmentation dataset (no downloads).

`write_synthetic_voc` draws objects of five VOC classes, each with its own
shape, colour and texture (so a tiny model learns them in minutes), on
smooth textured backgrounds, and writes them in exactly the VOC 2012
layout that `keras_deconvnet.data.voc` reads::

    JPEGImages/synth_000000.jpg
    SegmentationClass/synth_000000.png    palette PNG, 255 boundary bands
    SegmentationObject/synth_000000.png   palette PNG, instance ids, 255 bands
    ImageSets/Segmentation/{train,val,trainval}.txt

Every example depends only on `(seed, index)`. NumPy/SciPy/PIL only.
"""

import concurrent.futures
import os

import numpy as np

from keras_deconvnet.data.instances import instances_from_object_map
from keras_deconvnet.palette import VOC_IGNORE_LABEL
from keras_deconvnet.palette import voc_palette

# class id -> (shape, RGB colour, texture); ids are VOC's.
SYNTHETIC_CLASS_STYLES = {
    1: ("triangle", (205, 45, 40), "horizontal_stripes"),  # aeroplane
    7: ("rectangle", (45, 70, 205), "checkerboard"),  # car
    8: ("disc", (235, 165, 30), "spots"),  # cat
    12: ("diamond", (150, 55, 175), "diagonal_stripes"),  # dog
    15: ("ellipse", (40, 175, 70), "vertical_stripes"),  # person
}
BOUNDARY_WIDTH = 2  # pixels each side of an object edge, about VOC's band


def _shape_mask(shape, rows, columns, box):
    y1, x1, y2, x2 = box
    # Normalised coordinates: -1..1 across the box.
    v = (rows + 0.5 - (y1 + y2) / 2) / ((y2 - y1) / 2)
    u = (columns + 0.5 - (x1 + x2) / 2) / ((x2 - x1) / 2)
    inside = (np.abs(v) <= 1) & (np.abs(u) <= 1)
    if shape == "rectangle":
        return inside
    if shape in ("ellipse", "disc"):
        return u**2 + v**2 <= 1
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= 1
    if shape == "triangle":  # apex at the top centre
        return inside & (np.abs(u) <= (v + 1) / 2)
    raise ValueError(f"Unknown shape: {shape}")


def _texture(texture, rows, columns):
    if texture == "horizontal_stripes":
        return (rows // 6) % 2
    if texture == "vertical_stripes":
        return (columns // 6) % 2
    if texture == "diagonal_stripes":
        return ((rows + columns) // 8) % 2
    if texture == "checkerboard":
        return (rows // 8 + columns // 8) % 2
    if texture == "spots":
        return (np.sin(rows / 2.5) * np.sin(columns / 2.5) > 0.4) * 1
    raise ValueError(f"Unknown texture: {texture}")


def _interpolation_matrix(size, grid):
    # Linear interpolation weights from `grid` control points to `size`.
    positions = np.linspace(0, grid - 1, size)
    lower = np.minimum(np.floor(positions).astype(int), grid - 2)
    fraction = positions - lower
    matrix = np.zeros((size, grid))
    matrix[np.arange(size), lower] = 1 - fraction
    matrix[np.arange(size), lower + 1] = fraction
    return matrix


def _background(rng, height, width, grid=5):
    coarse = rng.uniform(60, 190, size=(grid, grid, 3))
    tint = coarse.mean(axis=-1, keepdims=True)  # mostly grey tones
    coarse = 0.7 * tint + 0.3 * coarse
    field = np.einsum(
        "hi,ijc,wj->hwc",
        _interpolation_matrix(height, grid),
        coarse,
        _interpolation_matrix(width, grid),
        optimize=True,
    )
    return field + rng.normal(0, 8, size=field.shape)


def synthetic_example(index, seed=0, image_size=(320, 320)):
    """Draws example `index` of the dataset with `seed`.

    Returns:
        dict with `image` (uint8 `(H, W, 3)`), `class_map` and `object_map`
        (uint8 `(H, W)`, 255 boundary bands, as written to the PNGs) and
        `instances` (list of `(class_id, box)`, as the VOC reader finds them).
    """
    from scipy import ndimage

    height, width = image_size
    rng = np.random.default_rng([seed, index])
    image = _background(rng, height, width)
    object_map = np.zeros((height, width), np.uint8)
    class_ids = sorted(SYNTHETIC_CLASS_STYLES)
    drawn = []  # (instance id, class id, region)
    for _ in range(rng.integers(1, 5)):
        class_id = int(rng.choice(class_ids))
        shape, colour, texture = SYNTHETIC_CLASS_STYLES[class_id]
        areas = np.bincount(object_map.ravel(), minlength=len(drawn) + 1)
        for _attempt in range(10):
            box_height = rng.uniform(0.2, 0.75) * height
            box_width = rng.uniform(0.2, 0.75) * width
            if shape == "disc":
                box_height = box_width = min(box_height, box_width)
            y1 = rng.uniform(0, height - box_height)
            x1 = rng.uniform(0, width - box_width)
            # Work inside the box's pixel window only (speed).
            top, left = int(y1), int(x1)
            bottom = min(int(np.ceil(y1 + box_height)), height)
            right = min(int(np.ceil(x1 + box_width)), width)
            rows, columns = np.mgrid[top:bottom, left:right]
            box = (y1, x1, y1 + box_height, x1 + box_width)
            mask = _shape_mask(shape, rows, columns, box)
            region = (slice(top, bottom), slice(left, right))
            # Keep earlier objects mostly visible.
            overlap = np.bincount(
                object_map[region][mask], minlength=len(drawn) + 1
            )
            covered = overlap[1:] / np.maximum(areas[1 : len(drawn) + 1], 1)
            if mask.any() and covered.max(initial=0) < 0.5:
                break
        else:
            continue
        instance_id = len(drawn) + 1
        pattern = _texture(texture, rows, columns)[..., None]
        noise = rng.normal(0, 0.04, size=pattern.shape)
        shade = 0.7 + 0.3 * pattern + noise
        image[region][mask] = (np.array(colour) * shade)[mask]
        object_map[region][mask] = instance_id
        drawn.append((instance_id, class_id, region))
    class_map = np.zeros((height, width), np.uint8)
    # VOC marks a band around every object edge as "ignore".
    band = np.zeros((height, width), bool)
    margin = BOUNDARY_WIDTH + 1
    for instance_id, class_id, (row_slice, column_slice) in drawn:
        class_map[object_map == instance_id] = class_id
        region = (
            slice(max(row_slice.start - margin, 0), row_slice.stop + margin),
            slice(
                max(column_slice.start - margin, 0), column_slice.stop + margin
            ),
        )
        mask = object_map[region] == instance_id
        grown = ndimage.binary_dilation(mask, iterations=BOUNDARY_WIDTH)
        # No band along the image border, as in VOC.
        shrunk = ndimage.binary_erosion(
            mask, iterations=BOUNDARY_WIDTH, border_value=1
        )
        band[region] |= grown & ~shrunk
    class_map[band] = VOC_IGNORE_LABEL
    object_map[band] = VOC_IGNORE_LABEL
    image = np.clip(image, 0, 255).astype(np.uint8)
    instances = instances_from_object_map(
        object_map.astype(np.int32), class_map.astype(np.int32)
    )
    return {
        "image": image,
        "class_map": class_map,
        "object_map": object_map,
        "instances": instances,
    }


def _save_palette_png(array, path):
    from PIL import Image

    image = Image.fromarray(array, mode="L")
    image.putpalette(voc_palette().ravel().tolist())  # makes it mode "P"
    image.save(path)


def example_name(index):
    return f"synth_{index:06d}"


def write_synthetic_voc(
    directory, num_train=200, num_val=50, image_size=(320, 320), seed=0
):
    """Writes a synthetic VOC 2012-layout segmentation dataset.

    Args:
        directory: the folder to write (the equivalent of `VOC2012/`).
        num_train: number of examples in `train.txt`.
        num_val: number of examples in `val.txt`.
        image_size: `(height, width)` of every image. On 320x320 images some
            objects are larger than 112 pixels (the smallest proposal the
            paper's inference keeps).
        seed: the dataset depends only on it (and the sizes).

    Returns:
        `directory`, as a string.

    Example:
    >>> root = write_synthetic_voc("/tmp/synthetic", num_train=8, num_val=2)
    >>> source = keras_deconvnet.data.load_source("voc", root, "train")
    """
    from PIL import Image
    from tqdm.auto import tqdm

    if num_train < 0 or num_val < 0:
        raise ValueError(
            f"Example counts must be >= 0. Received: num_train={num_train}, "
            f"num_val={num_val}"
        )
    height, width = image_size
    if min(height, width) < 32:
        raise ValueError(
            f"`image_size` must be at least 32x32. Received: "
            f"image_size={image_size}"
        )
    directory = str(directory)
    folders = {
        key: os.path.join(directory, key)
        for key in ("JPEGImages", "SegmentationClass", "SegmentationObject")
    }
    split_dir = os.path.join(directory, "ImageSets", "Segmentation")
    for folder in (*folders.values(), split_dir):
        os.makedirs(folder, exist_ok=True)
    total = num_train + num_val

    def write(index):
        example = synthetic_example(index, seed, image_size)
        name = example_name(index)
        Image.fromarray(example["image"]).save(
            os.path.join(folders["JPEGImages"], f"{name}.jpg"), quality=92
        )
        for key, folder in (
            ("class_map", "SegmentationClass"),
            ("object_map", "SegmentationObject"),
        ):
            _save_palette_png(
                example[key], os.path.join(folders[folder], f"{name}.png")
            )

    # NumPy, SciPy and PIL release the GIL for most of the work.
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(
            tqdm(
                pool.map(write, range(total)),
                total=total,
                desc="Writing synthetic VOC",
                leave=False,
            )
        )
    names = [example_name(index) for index in range(total)]
    splits = {
        "train": names[:num_train],
        "val": names[num_train:],
        "trainval": names,
    }
    for split, split_names in splits.items():
        with open(os.path.join(split_dir, f"{split}.txt"), "w") as file:
            file.writelines(f"{name}\n" for name in split_names)
    return directory
