"""Random geometry of training crops, in TensorFlow ops.

Every function takes one example, `image float32 [H, W, 3]` and
`label int32 [H, W]`, and a stateless seed (`int64 [2]`), so the same seed
gives the same crop on every run, replica and resume.
"""

# `crops="random"`: range of the random rescaling of the full-size image.
DEFAULT_SCALE_RANGE = (0.5, 1.0)


def resize_crop_flip(image, label, seed, resize_size, input_size, flip):
    """Resize (bilinear/nearest), random `input_size` crop, random flip."""
    import tensorflow as tf

    crop_seed, flip_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=2)
    )
    image = tf.image.resize(image, [resize_size] * 2, method="bilinear")
    label = tf.image.resize(
        label[..., None], [resize_size] * 2, method="nearest"
    )[..., 0]
    if resize_size > input_size:
        offset = tf.random.stateless_uniform(
            [2], crop_seed, maxval=resize_size - input_size + 1, dtype=tf.int32
        )
        image = image[
            offset[0] : offset[0] + input_size,
            offset[1] : offset[1] + input_size,
        ]
        label = label[
            offset[0] : offset[0] + input_size,
            offset[1] : offset[1] + input_size,
        ]
    if flip:
        image, label = flip_pair(image, label, flip_seed)
    return image, label


def flip_pair(image, label, seed):
    """Flips image and label left-right together, with probability 1/2."""
    import tensorflow as tf

    flipped = tf.random.stateless_uniform([], seed) < 0.5
    return (tf.where(flipped, image[:, ::-1], image),
            tf.where(flipped, label[:, ::-1], label))


def scale_pad_crop_flip(
    image, label, seed, scale_range, input_size, flip, ignore_label
):
    """Random rescale, padding up to `input_size`, random crop and flip.

    The image is rescaled bilinearly (the label by nearest neighbour) by a
    factor drawn uniformly in `scale_range`; where the result is smaller
    than `input_size`, zeros (image) and `ignore_label` (label) pad its
    bottom and right; then a uniformly placed `input_size` square is cut.
    """
    import tensorflow as tf

    scale_seed, crop_seed, flip_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=3)
    )
    low, high = scale_range
    if low == high:
        scale = tf.constant(low, tf.float64)  # exactly, e.g. 1.0
    else:
        scale = tf.random.stateless_uniform(
            [], scale_seed, minval=low, maxval=high, dtype=tf.float64
        )
    size = tf.cast(tf.shape(label), tf.float64)
    size = tf.maximum(tf.cast(tf.round(size * scale), tf.int32), 1)
    image = tf.image.resize(image, size, method="bilinear")
    label = tf.image.resize(label[..., None], size, method="nearest")[..., 0]
    padding = tf.maximum(input_size - size, 0)
    image = tf.pad(image, [[0, padding[0]], [0, padding[1]], [0, 0]])
    label = tf.pad(
        label, [[0, padding[0]], [0, padding[1]]], constant_values=ignore_label
    )
    # Offsets uniform in [0, padded size - input_size].
    room = tf.cast(tf.shape(label) - input_size + 1, tf.float32)
    offset = tf.cast(
        tf.floor(tf.random.stateless_uniform([2], crop_seed) * room), tf.int32
    )
    image = image[offset[0]:offset[0] + input_size,
                  offset[1]:offset[1] + input_size]
    label = label[offset[0]:offset[0] + input_size,
                  offset[1]:offset[1] + input_size]
    image = tf.ensure_shape(image, [input_size, input_size, 3])
    label = tf.ensure_shape(label, [input_size, input_size])
    if flip:
        image, label = flip_pair(image, label, flip_seed)
    return image, label


def check_scale_range(scale_range):
    """Returns `scale_range` as a float pair; raises a named `ValueError`."""
    try:
        low, high = (float(value) for value in scale_range)
    except (TypeError, ValueError):
        low = high = None
    if low is None or not 0 < low <= high:
        raise ValueError(
            "`scale_range` must be two numbers (low, high) with "
            f"0 < low <= high. Received: scale_range={scale_range}"
        )
    return low, high
