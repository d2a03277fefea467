"""tf.data training pipelines for the paper's stage crops (TensorFlow only).

Each element is read by the source's Python reader (PIL/SciPy) inside
`tf.numpy_function`, cropped with zero padding (`crops.crop_with_padding`),
then resized, randomly cropped and flipped with TensorFlow ops. All
randomness is stateless, keyed by `(seed, element counter)`, so a seed
fixes every epoch's order and every crop.

`crops="random"` instead reads each whole image at full resolution,
rescales it by a random factor in `scale_range` and takes a random
`input_size` crop (padded with zeros and the ignore label where the
rescaled image is smaller), so the network trains at the scale of the
scene rather than on squashed whole images.
"""

import numpy as np

from keras_deconvnet.data import stage_crops
from keras_deconvnet.data.augmentation import DEFAULT_SCALE_RANGE
from keras_deconvnet.data.augmentation import check_scale_range
from keras_deconvnet.data.augmentation import resize_crop_flip
from keras_deconvnet.data.augmentation import scale_pad_crop_flip
from keras_deconvnet.data.crops import crop_with_padding
from keras_deconvnet.data.proposal_cache import default_proposal_fn
from keras_deconvnet.data.proposal_cache import load_or_compute_proposals

CROP_MODES = ("objects", "proposals", "whole", "random")
# Decoded examples are kept in memory by default up to this size.
MAX_AUTO_CACHE_BYTES = 1 << 30


def crop_windows(
    source,
    crops="objects",
    *,
    margin=0.1,
    iou_threshold=0.5,
    cache_dir=None,
    proposal_fn=None,
    max_proposals=1000,
    progress=True,
):
    """The `(indices, windows)` of the crops (see `stage_crops`)."""
    if crops not in CROP_MODES:
        raise ValueError(
            f"`crops` must be one of {CROP_MODES}. Received: crops={crops!r}"
        )
    source.validate(progress=progress)
    if crops == "objects":
        return stage_crops.object_windows(source, margin)
    if crops in ("whole", "random"):
        # Random crops are drawn inside the whole image, later, in TF.
        return stage_crops.whole_windows(source)
    proposal_fn = proposal_fn or default_proposal_fn(max_proposals)
    proposals = load_or_compute_proposals(
        source, proposal_fn, cache_dir, progress=progress
    )
    return stage_crops.proposal_windows(
        source, proposals, iou_threshold, margin
    )


def training_dataset(
    source,
    *,
    crops="objects",
    batch_size,
    input_size=224,
    margin=0.1,
    iou_threshold=0.5,
    resize_size=None,
    scale_range=DEFAULT_SCALE_RANGE,
    seed=None,
    shuffle=True,
    repeat=True,
    cache_dir=None,
    proposal_fn=None,
    max_proposals=1000,
    flip=True,
    drop_remainder=None,
    progress=True,
    cache_examples=None,
    start_element=0,
):
    """A `tf.data.Dataset` of training crops.

    Modes (`crops`):
    - `"objects"`, stage 1: each ground-truth instance box, grown by
      `margin` on every side, cropped with zero padding where it leaves
      the image (label: ignore), resized to `resize_size` (image bilinear,
      label nearest), randomly cropped to `input_size`, randomly flipped.
    - `"proposals"`, stage 2: the same on every proposal whose IoU with
      some ground-truth instance box is >= `iou_threshold`. Proposals are
      computed once per image and cached in `cache_dir`.
    - `"whole"`: each whole image resized to `input_size`, randomly flipped.
    - `"random"`: each whole image at full resolution, rescaled by a
      random factor in `scale_range` (image bilinear, label nearest),
      padded with zeros (label: ignore) where smaller than `input_size`,
      then a random `input_size` crop, randomly flipped. One crop per
      image per pass (`crop_count` is the number of images), each pass
      drawing new scales and places.

    Args:
        source: a `SegmentationSource` (`load_source(...)`); validated
            first (every file read once).
        crops: `"objects"`, `"proposals"`, `"whole"` or `"random"`.
        batch_size: examples per batch.
        input_size: side of the square crops.
        margin: box growth per side, as a fraction of its size (0.1, the
            default of `keras_deconvnet.proposals` at inference).
        iou_threshold: stage 2's minimum overlap with a ground-truth box.
        resize_size: side before the random crop; default
            `round(input_size * 250 / 224)` (250 for 224, as the paper).
            Stage crops only.
        scale_range: `(low, high)`, `crops="random"`'s range of scale
            factors applied to the full-size image (0.5 to 1.0).
        seed: fixes the order and every random crop and flip; `None`
            draws one.
        shuffle: shuffle the crops (each epoch anew).
        repeat: repeat forever.
        cache_dir: where stage-2 proposals are cached (`None`: in memory).
        proposal_fn: `image -> [N, 4] boxes` (default: EdgeBoxes from
            `keras_deconvnet.proposals`, at most `max_proposals`).
        max_proposals: the default proposal function's maximum count.
        flip: random horizontal flips.
        drop_remainder: drop a last partial batch. Default: when
            repeating (every batch full, so the batch dimension is static);
            a single pass (`repeat=False`) keeps every crop.
        progress: progress bars while validating and computing proposals.
        cache_examples: keep each decoded image and label in memory after
            its first read (`H * W * 4` bytes per example: CamVid's 367
            train images take about 250 MB), so later crops skip decoding
            (about 3x the examples/s on CamVid). `None` (default): only
            when the whole source takes at most `MAX_AUTO_CACHE_BYTES`.
        start_element: skip this many crops of the (shuffled, repeated)
            stream, without reading them, so that a resumed run goes on
            with the crops an uninterrupted run would see next (random
            crops and flips stay keyed by the crop's position).

    Returns:
        A dataset of `(images float32 [B, S, S, 3] RGB in [0, 255],
        labels int32 [B, S, S])`; padding and ignored pixels carry
        `source.ignore_label`. Its `crop_count` attribute is the number of
        distinct crops per epoch.

    Raises:
        ValueError: invalid arguments, or a source without instances for
            stage crops.
        InvalidExampleError: an invalid file (unless `skip_invalid`).

    Example:
    >>> source = load_source("synthetic", "/tmp/synthetic", "train")
    >>> dataset = training_dataset(source, crops="objects", batch_size=8)
    >>> images, labels = next(iter(dataset))
    """
    import tensorflow as tf

    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: {batch_size}")
    if source.ignore_label is None:
        raise ValueError(
            f"{source.name} has no ignore label, which crops need for the "
            "padding outside the image. Pass `ignore_label` to the source."
        )
    scale_range = check_scale_range(scale_range)
    if resize_size is None:
        resize_size = int(round(input_size * 250 / 224))
    if crops in ("whole", "random"):
        resize_size = input_size  # unused by random crops
    if resize_size < input_size:
        raise ValueError(
            f"`resize_size` must be >= `input_size`. Received: "
            f"resize_size={resize_size}, input_size={input_size}"
        )
    indices, windows = crop_windows(
        source,
        crops,
        margin=margin,
        iou_threshold=iou_threshold,
        cache_dir=cache_dir,
        proposal_fn=proposal_fn,
        max_proposals=max_proposals,
        progress=progress,
    )
    if len(indices) == 0:
        raise ValueError(
            f"No {crops!r} crops in {source.name} (no instances or no "
            "proposal reaching the IoU threshold)."
        )
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    ignore_label = source.ignore_label
    # image path -> (image, label), shared by the datasets of a source.
    decoded = source.__dict__.setdefault("decoded_examples", {})
    label_dtype = np.int32
    if max(source.num_classes, ignore_label or 0) < 256:
        label_dtype = np.uint8  # a quarter of the memory
    if cache_examples is None:
        shapes = map(source.image_shape, range(len(source)))
        pixels = sum(height * width for height, width in shapes)
        bytes_per_pixel = 3 + np.dtype(label_dtype).itemsize
        cache_examples = pixels * bytes_per_pixel <= MAX_AUTO_CACHE_BYTES

    def load_crop(index, window):
        index = int(index)
        key = source.files[index].image_path
        if cache_examples and key in decoded:
            image, label = decoded[key]
        else:
            example = source.read(index, instances=False)
            image, label = example.image, example.label
            if cache_examples:
                decoded[key] = (image, label.astype(label_dtype))
        image, label = crop_with_padding(image, label, window, ignore_label)
        return image, label.astype(np.int32)

    def prepare(counter, element):
        index, window = element
        image, label = tf.numpy_function(
            load_crop, [index, window], [tf.uint8, tf.int32], stateful=False
        )
        image = tf.ensure_shape(tf.cast(image, tf.float32), [None, None, 3])
        label = tf.ensure_shape(label, [None, None])
        element_seed = tf.stack([tf.constant(seed, tf.int64), counter])
        if crops == "random":
            return scale_pad_crop_flip(
                image, label, element_seed, scale_range, input_size, flip,
                ignore_label,
            )
        return resize_crop_flip(
            image, label, element_seed, resize_size, input_size, flip
        )

    dataset = tf.data.Dataset.from_tensor_slices((indices, windows))
    if shuffle:
        dataset = dataset.shuffle(
            len(indices), seed=seed, reshuffle_each_iteration=True
        )
    if repeat:
        dataset = dataset.repeat()
    # Skipped before `map`: only indices and windows are drawn.
    dataset = dataset.skip(start_element).enumerate(start=start_element)
    dataset = dataset.map(
        prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    if drop_remainder is None:
        drop_remainder = repeat
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    # Elements, not files, are split between workers (MultiWorkerMirrored).
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    dataset = dataset.with_options(options)
    dataset.crop_count = len(indices)
    return dataset


def evaluation_examples(source, progress=False):
    """Yields `(image uint8 [H, W, 3], label int32 [H, W])` at original size.

    Validates the source first (see `SegmentationSource.validate`).
    """
    source.validate(progress=progress)
    for index in range(len(source)):
        example = source.read(index, instances=False)
        yield example.image, example.label
