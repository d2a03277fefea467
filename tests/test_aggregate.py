import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402

from keras_deconvnet.inference import UNCOVERED_SCORE  # noqa: E402
from keras_deconvnet.inference import aggregate  # noqa: E402
from keras_deconvnet.inference import crop_proposals  # noqa: E402


def sample_map(score_map, box, row, column):
    """Bilinear value of `score_map` at image pixel centre (row, column)."""
    height, width = score_map.shape[:2]
    y = (row + 0.5 - box[0]) * height / (box[2] - box[0]) - 0.5
    x = (column + 0.5 - box[1]) * width / (box[3] - box[1]) - 0.5
    y, x = np.clip(y, 0, height - 1), np.clip(x, 0, width - 1)
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    y1, x1 = min(y0 + 1, height - 1), min(x0 + 1, width - 1)
    dy, dx = y - y0, x - x0
    return (
        score_map[y0, x0] * (1 - dy) * (1 - dx)
        + score_map[y0, x1] * (1 - dy) * dx
        + score_map[y1, x0] * dy * (1 - dx)
        + score_map[y1, x1] * dy * dx
    )


def reference_aggregate(score_maps, boxes, image_size, mode):
    """Pixel by pixel, in float64; `mean` averages softmax probabilities."""
    height, width = image_size
    num_classes = score_maps.shape[-1]
    result = np.full((height, width, num_classes), np.nan)
    score_maps = score_maps.astype(np.float64)
    if mode == "mean":
        score_maps = np.exp(score_maps - score_maps.max(-1, keepdims=True))
        score_maps /= score_maps.sum(-1, keepdims=True)
    for row in range(height):
        for column in range(width):
            values = [
                sample_map(score_map, box, row, column)
                for score_map, box in zip(score_maps, boxes.astype(np.float64))
                if box[0] <= row + 0.5 < box[2] and box[1] <= column + 0.5 < box[3]
            ]
            if not values:
                result[row, column] = 0.0 if mode == "mean" else UNCOVERED_SCORE
                result[row, column, 0] = 1.0 if mode == "mean" else 0.0
            elif mode == "mean":
                result[row, column] = np.mean(values, axis=0)
            elif mode == "max":
                result[row, column] = np.max(values, axis=0)
            else:
                result[row, column] = np.sum(values, axis=0)
    return result


BOXES = np.array(
    [
        [2.0, 3.0, 14.0, 11.0],  # inside
        [-4.3, 6.7, 9.2, 30.5],  # partly outside, fractional
        [10.6, -2.2, 25.0, 8.9],  # overlaps the first, outside at bottom
        [5.0, 5.0, 5.0, 12.0],  # zero height: covers nothing
        [30.0, 30.0, 40.0, 40.0],  # entirely outside
        [7.25, 12.5, 8.75, 13.0],  # smaller than a pixel
    ],
    np.float32,
)


@pytest.mark.parametrize("mode", ["max", "sum", "mean"])
def test_aggregate_matches_numpy_reference(mode, rng):
    score_maps = rng.normal(size=(len(BOXES), 7, 5, 3)).astype(np.float32)
    image_size = (18, 21)
    result, coverage = aggregate(
        score_maps, BOXES, image_size, mode=mode, return_coverage=True
    )
    result = result.numpy()
    expected = reference_aggregate(score_maps, BOXES, image_size, mode)
    assert result.shape == (18, 21, 3) and result.dtype == np.float32
    np.testing.assert_allclose(result, expected, atol=2e-5)
    # Some pixels are uncovered, so background wins there.
    assert np.any(result.argmax(-1)[:, :3] == 0)
    rows = np.arange(18)[:, None] + 0.5
    columns = np.arange(21)[None, :] + 0.5
    counts = sum(
        (rows >= y1) & (rows < y2) & (columns >= x1) & (columns < x2)
        for y1, x1, y2, x2 in BOXES
    )
    assert coverage.dtype == tf.int32 and counts.min() == 0 and counts.max() >= 2
    np.testing.assert_array_equal(coverage, counts)
    if mode == "mean":
        np.testing.assert_allclose(result.sum(-1), 1.0, atol=1e-5)


def test_aggregate_handles_no_proposals_and_unknown_shapes():
    scores = aggregate(np.zeros((0, 4, 4, 2), np.float32), np.zeros((0, 4)), (3, 5))
    np.testing.assert_array_equal(scores[..., 0], 0.0)
    np.testing.assert_array_equal(scores[..., 1], UNCOVERED_SCORE)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, None, None], tf.float32),
            tf.TensorSpec([None, 4], tf.float32),
            tf.TensorSpec([None, None, 3], tf.uint8),
        ]
    )
    def in_graph(score_maps, boxes, image):
        return aggregate(score_maps, boxes, tf.shape(image)[:2], mode="max")

    maps = np.arange(2 * 2 * 2 * 1, dtype=np.float32).reshape(2, 2, 2, 1)
    boxes = np.array([[0, 0, 4, 4], [0, 0, 2, 2]], np.float32)
    result = in_graph(maps, boxes, np.zeros((4, 6, 3), np.uint8)).numpy()
    expected = reference_aggregate(maps, boxes, (4, 6), "max")
    np.testing.assert_allclose(result, expected, atol=1e-6)


def test_identity_sized_box_places_map_exactly(rng):
    score_map = rng.normal(size=(1, 6, 9, 4)).astype(np.float32)
    box = np.array([[3, 2, 9, 11]], np.float32)  # same size as the map
    result = aggregate(score_map, box, (12, 14), mode="sum").numpy()
    np.testing.assert_allclose(result[3:9, 2:11], score_map[0], atol=1e-6)


def test_aggregate_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        aggregate(np.zeros((1, 2, 2, 2)), np.zeros((1, 4)), (4, 4), mode="median")
    with pytest.raises(ValueError, match="score_maps"):
        aggregate(np.zeros((2, 2, 2)), np.zeros((1, 4)), (4, 4))
    with pytest.raises(ValueError, match="same number"):
        aggregate(np.zeros((2, 2, 2, 2)), np.zeros((1, 4)), (4, 4))


def test_crops_of_the_whole_image_equal_tf_image_resize(rng):
    image = rng.uniform(0, 255, size=(13, 17, 3)).astype(np.float32)
    crop = crop_proposals(image, [[0, 0, 13, 17]], 8).numpy()[0]
    resized = tf.image.resize(image, (8, 8), method="bilinear").numpy()
    np.testing.assert_allclose(crop, resized, atol=1e-3)


def test_crop_geometry_is_the_inverse_of_aggregate():
    # Bilinear interpolation reproduces linear functions exactly, so a ramp
    # image cropped and pasted back must return the ramp inside the box.
    height, width = 30, 40
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([rows + 0.5, columns + 0.5, rows - columns], -1)
    boxes = np.array([[3.3, 4.6, 25.1, 21.9], [-6.5, 10.25, 12.0, 47.5]], np.float32)
    crops = crop_proposals(image, boxes, 16).numpy()
    # Crop cell centres sit at y1 + (r + 0.5) * h / S, zero outside the image.
    centres = (np.arange(16) + 0.5) / 16
    expected_rows = boxes[:, :1] + centres * (boxes[:, 2:3] - boxes[:, :1])
    inside = (expected_rows[1] >= 0.5) & (expected_rows[1] <= height - 0.5)
    np.testing.assert_allclose(crops[0, :, 0, 0], expected_rows[0], atol=1e-3)
    np.testing.assert_allclose(crops[1, inside, 8, 0], expected_rows[1, inside], atol=1e-3)
    np.testing.assert_array_equal(crops[1, expected_rows[1] < 0], 0.0)
    pasted = aggregate(crops[:1], boxes[:1], (height, width), mode="max").numpy()
    # Pixels at least one crop cell inside the box are reconstructed.
    np.testing.assert_allclose(pasted[5:24, 6:21, :2], image[5:24, 6:21, :2], atol=2e-3)


_PEAK_MEMORY_SCRIPT = """
import resource, sys
import numpy as np
import tensorflow as tf
from keras_deconvnet.inference import aggregate

height, width, classes, count = 600, 600, 21, int(sys.argv[1])
rng = np.random.default_rng(0)

def run(n):
    maps = tf.constant(rng.normal(size=(n, 32, 32, classes)), tf.float32)
    corners = rng.uniform(-100, 500, size=(n, 2))
    boxes = tf.constant(np.concatenate([corners, corners + 300], -1), tf.float32)
    aggregate(maps, boxes, (height, width)).numpy()

run(2)  # traced, allocator warm
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
run(count)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024)  # ru_maxrss is in KiB on Linux
"""


def test_aggregate_memory_does_not_grow_with_the_number_of_proposals():
    """Peak resident memory of a fresh process (TensorFlow keeps no memory
    statistics for CPU:0, so they cannot be read in-process)."""
    import subprocess
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("ru_maxrss units differ off Linux")
    map_bytes = 600 * 600 * 21 * 4  # one [H, W, C] float32 map: 30 MB
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_MEMORY_SCRIPT, "40"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    growth = int(result.stdout.split()[-1])
    # 40 maps at once would be 1.2 GB; one at a time, a few maps.
    assert growth < 6 * map_bytes, f"peak grew by {growth / 1e6:.0f} MB"


def test_crops_pad_outside_the_image_with_rgb_zero_as_the_authors():
    """The authors zero-pad the image (MATLAB `padarray`) and subtract the
    mean from the resized crop, so the network sees `-mean` there."""
    from keras_deconvnet.layers import CaffePreprocessing
    from keras_deconvnet.layers.caffe_preprocessing import DECONVNET_BGR_MEAN

    image = np.full((20, 30, 3), 200, np.float32)
    box = np.array([[-10.0, -15.0, 10.0, 15.0]], np.float32)  # top-left out
    crop = crop_proposals(image, box, 8).numpy()[0]
    np.testing.assert_array_equal(crop[:4, :], 0.0)
    np.testing.assert_array_equal(crop[:, :4], 0.0)
    np.testing.assert_allclose(crop[4:, 4:], 200.0, atol=1e-4)
    seen = keras.ops.convert_to_numpy(CaffePreprocessing()(crop[None]))[0]
    np.testing.assert_allclose(seen[0, 0], np.negative(DECONVNET_BGR_MEAN), atol=1e-4)


def test_paste_into_a_box_of_another_size_equals_tf_image_resize(rng):
    # Independent of crop_proposals/aggregate's own geometry: a map pasted
    # into a whole-pixel box must be tf.image.resize of it to that size.
    score_map = rng.normal(size=(1, 7, 5, 3)).astype(np.float32)
    for box in ([3, 4, 17, 13], [0, 0, 20, 22], [2, 1, 5, 3]):
        pasted = aggregate(score_map, np.float32([box]), (20, 22), "sum").numpy()
        height, width = box[2] - box[0], box[3] - box[1]
        resized = tf.image.resize(score_map[0], (height, width)).numpy()
        np.testing.assert_allclose(
            pasted[box[0] : box[2], box[1] : box[3]], resized, atol=1e-5
        )
