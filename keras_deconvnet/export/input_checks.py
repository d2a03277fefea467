"""In-graph checks of serving inputs (TensorFlow only).

TensorFlow Serving does not check request tensors against the signature's
declared shapes (tensorflow/serving#1527): a tensor of the wrong rank or
size reaches the graph. These checks run inside the exported graph and
fail with `INVALID_ARGUMENT` and a message naming the input, instead of an
error deep in the network or a silently wrong label map.

Shapes and ranks are computed from the runtime shape: `tf.rank` and static
shape checks would be folded away from the declared signature shape.
"""

import tensorflow as tf

# More than any input here can have; pads the runtime shape (see below).
_MAX_RANK = 8
_SUMMARIZE = 16


def runtime_shape(tensor):
    """Returns `(dims, rank)` of `tensor` computed at run time.

    `dims` is the shape padded with -1 to at least `_MAX_RANK` entries, so
    that `dims[i]` exists whatever rank the fed tensor has; `rank` counts
    the real (non-negative) entries. Neither can be constant-folded from
    the signature's declared shape.
    """
    dims = tf.concat(
        [tf.shape(tensor, out_type=tf.int32), tf.fill([_MAX_RANK], -1)], 0
    )
    rank = tf.reduce_sum(tf.cast(dims >= 0, tf.int32))
    return dims, rank


def _assert(condition, message, *values):
    return tf.debugging.Assert(
        condition, [message, *values], summarize=_SUMMARIZE
    )


def check_crops(images, crop_size):
    """Checks `images` of `predict_crops`: float `[batch, S, S, 3]`.

    Returns `images` with the checks as control dependencies.
    """
    dims, rank = runtime_shape(images)
    rank_check = _assert(
        tf.equal(rank, 4),
        f"`images` must have rank 4: [batch, {crop_size}, {crop_size}, 3] "
        "RGB crops. Received shape:",
        tf.shape(images),
    )
    with tf.control_dependencies([rank_check]):
        size_check = _assert(
            tf.reduce_all(tf.equal(dims[1:4], [crop_size, crop_size, 3])),
            f"`images` must be [batch, {crop_size}, {crop_size}, 3] RGB crops "
            "(3 channels, the crop size of the model). Received shape:",
            tf.shape(images),
        )
    with tf.control_dependencies([size_check]):
        return tf.identity(images)


def check_image_and_boxes(image, boxes, max_image_size):
    """Checks the inputs of `segment`.

    Args:
        image: uint8 `[H, W, 3]`.
        boxes: float32 `[N, 4]` `[y1, x1, y2, x2]` pixel edges.
        max_image_size: largest allowed height or width.

    Returns:
        `(image, boxes)` with the checks as control dependencies.
    """
    image_dims, image_rank = runtime_shape(image)
    box_dims, box_rank = runtime_shape(boxes)
    rank_checks = [
        _assert(
            tf.equal(image_rank, 3),
            "`image` must have rank 3: [height, width, 3] RGB uint8. "
            "Received shape:",
            tf.shape(image),
        ),
        _assert(
            tf.logical_and(tf.equal(box_rank, 2), tf.equal(box_dims[1], 4)),
            "`boxes` must be [N, 4] float32 [y1, x1, y2, x2]. "
            "Received shape:",
            tf.shape(boxes),
        ),
    ]
    with tf.control_dependencies(rank_checks):
        height, width, channels = image_dims[0], image_dims[1], image_dims[2]
        shape_checks = [
            _assert(
                tf.equal(channels, 3),
                "`image` must have 3 (RGB) channels. Received shape:",
                tf.shape(image),
            ),
            _assert(
                tf.logical_and(height > 0, width > 0),
                "`image` is empty. Received shape:",
                tf.shape(image),
            ),
            _assert(
                tf.logical_and(
                    height <= max_image_size, width <= max_image_size
                ),
                f"`image` is larger than the bound of "
                f"{max_image_size} pixels a side set at export. Received shape:",
                tf.shape(image),
            ),
            _assert(
                box_dims[0] > 0,
                "`boxes` is empty: send at least one [y1, x1, y2, x2] box "
                "(e.g. the whole image). Received shape:",
                tf.shape(boxes),
            ),
        ]
    with tf.control_dependencies(shape_checks):
        value_checks = [
            _assert(
                tf.reduce_all(tf.math.is_finite(boxes)),
                "`boxes` contains NaN or infinite coordinates. Received:",
                boxes,
            ),
            _assert(
                tf.reduce_all(
                    tf.logical_and(
                        boxes[:, 2] > boxes[:, 0], boxes[:, 3] > boxes[:, 1]
                    )
                ),
                "`boxes` must be [y1, x1, y2, x2] with y2 > y1 and x2 > x1 "
                "(inverted or empty box). Received:",
                boxes,
            ),
        ]
    with tf.control_dependencies(value_checks):
        return tf.identity(image), tf.identity(boxes)


def check_box_count(boxes, max_boxes):
    """Checks that `segment` got at most `max_boxes` boxes.

    The score maps of all boxes are held at once (`N x S x S x C` floats),
    so an unbounded request could exhaust the server's memory.

    Returns:
        `boxes` with the check as a control dependency.
    """
    dims, _ = runtime_shape(boxes)
    check = _assert(
        dims[0] <= max_boxes,
        f"`boxes` holds more than the bound of {max_boxes} boxes set at "
        "export (--max-boxes). Received shape:",
        tf.shape(boxes),
    )
    with tf.control_dependencies([check]):
        return tf.identity(boxes)
