"""Tiled inference: tile_boxes, mean aggregation, Segmenter(mode="tiles")."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402

from keras_deconvnet.inference import Segmenter  # noqa: E402
from keras_deconvnet.inference import tile_boxes  # noqa: E402
from keras_deconvnet.inference import tiles  # noqa: E402


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def covered_counts(boxes, height, width):
    """How many boxes cover each pixel centre (NumPy)."""
    rows = np.arange(height)[:, None] + 0.5
    columns = np.arange(width)[None, :] + 0.5
    counts = np.zeros((height, width), int)
    for y1, x1, y2, x2 in boxes:
        counts += (rows >= y1) & (rows < y2) & (columns >= x1) & (columns < x2)
    return counts


@pytest.mark.parametrize(
    "shape, scales, overlap",
    [
        ((70, 90), 1.0, 0.25),
        ((360, 480), (0.75, 1.0), 0.25),
        ((31, 200), 0.5, 0.0),  # shorter than a window on one side
        ((224, 225), 1.0, 0.9),
        ((97, 61), (2.0, 0.6), 0.5),
    ],
)
def test_tile_boxes_cover_every_pixel_flush_with_the_border(shape, scales, overlap):
    height, width = shape
    groups = tile_boxes(shape, 32 if height < 200 else 224, scales, overlap)
    assert len(groups) == len(np.atleast_1d(scales))
    for boxes, scale in zip(groups, np.atleast_1d(scales)):
        assert boxes.dtype == np.float32 and boxes.shape[1] == 4
        side = (32 if height < 200 else 224) / scale
        np.testing.assert_allclose(boxes[:, 2] - boxes[:, 0], side, rtol=1e-6)
        np.testing.assert_allclose(boxes[:, 3] - boxes[:, 1], side, rtol=1e-6)
        assert covered_counts(boxes, height, width).min() >= 1
        # First windows at 0; the last ones end at the border (or past
        # it, when the image is shorter than a window).
        assert boxes[:, :2].min() == 0
        for axis, length in ((0, height), (1, width)):
            end = boxes[:, axis + 2].max()
            assert end == pytest.approx(max(length, side), abs=1e-3)
            starts = np.unique(boxes[:, axis])
            if len(starts) > 1:  # neighbours share >= overlap of a side
                assert np.diff(starts).max() <= side * (1 - overlap) + 0.5


def test_tile_boxes_values_by_hand():
    # 70 rows, side 32, stride 24: ceil(38 / 24) + 1 = 3 rows at 0, 19, 38;
    # 50 columns: ceil(18 / 24) + 1 = 2 columns at 0, 18.
    (boxes,) = tile_boxes((70, 50, 3), 32, 1.0, 0.25)
    expected = [[y, x, y + 32, x + 32] for y in (0, 19, 38) for x in (0, 18)]
    np.testing.assert_array_equal(boxes, expected)
    # An image smaller than the window: one window from the corner.
    np.testing.assert_array_equal(
        tile_boxes((20, 10), 32, 1.0, 0.5)[0], [[0, 0, 32, 32]]
    )
    # Scale 0.5: windows of 64 image pixels, stride <= 32: two windows
    # (at 0 and 36) would share only 28 columns, so three.
    np.testing.assert_array_equal(
        tile_boxes((64, 100), 32, 0.5, 0.5)[0],
        [[0, 0, 64, 64], [0, 18, 64, 82], [0, 36, 64, 100]],
    )


@pytest.mark.parametrize(
    "arguments, name",
    [
        (((10, 10), 32, 0.0, 0.2), "tile_scale"),
        (((10, 10), 32, (1.0, -1.0), 0.2), "tile_scale"),
        (((10, 10), 32, (), 0.2), "tile_scale"),
        (((10, 10), 32, "big", 0.2), "tile_scale"),
        (((10, 10), 32, 1.0, 1.0), "tile_overlap"),
        (((10, 10), 32, 1.0, -0.1), "tile_overlap"),
        (((10, 10), 0, 1.0, 0.2), "input_size"),
        (((0, 10), 32, 1.0, 0.2), "image_shape"),
    ],
)
def test_tile_boxes_bad_arguments_are_named(arguments, name):
    with pytest.raises(ValueError, match=name):
        tile_boxes(*arguments)


def test_segmenter_rejects_bad_tile_settings():
    model = pointwise_model(32)
    with pytest.raises(ValueError, match="tile_overlap"):
        Segmenter(model, mode="tiles", tile_overlap=1.5)
    with pytest.raises(ValueError, match="tile_scale"):
        Segmenter(model, mode="tiles", tile_scale=[0.5, 0])


def test_segmenter_takes_the_models_tile_settings_unless_given():
    import keras_deconvnet

    plain = pointwise_model(32)
    segmenter = Segmenter(plain, mode="tiles")
    assert (segmenter.tile_scale, segmenter.tile_overlap) == (
        (tiles.DEFAULT_TILE_SCALE,), tiles.DEFAULT_TILE_OVERLAP)
    model = keras_deconvnet.set_metadata(pointwise_model(32),
                                         tile_scale=[0.5, 0.75],
                                         tile_overlap=0.5)
    segmenter = Segmenter(model, mode="tiles")
    assert (segmenter.tile_scale, segmenter.tile_overlap) == ((0.5, 0.75), 0.5)
    # An overlap of 0 given is kept, not mistaken for "not given".
    segmenter = Segmenter(model, mode="tiles", tile_scale=1.0, tile_overlap=0)
    assert (segmenter.tile_scale, segmenter.tile_overlap) == ((1.0,), 0.0)


def pointwise_model(size, num_classes=4, seed=3):
    """Scores a fixed affine function of each pixel's RGB values."""
    inputs = keras.Input((size, size, 3))
    layer = keras.layers.Conv2D(num_classes, 1)
    outputs = layer(inputs)
    rng = np.random.default_rng(seed)
    layer.set_weights([
        rng.normal(0, 0.05, (1, 1, 3, num_classes)).astype("float32"),
        rng.normal(0, 1, num_classes).astype("float32"),
    ])
    return keras.Model(inputs, outputs)


def position_image(height, width):
    """Each pixel's colour encodes its position (and stays in 0..255)."""
    rows, columns = np.mgrid[0:height, 0:width]
    return np.stack(
        [
            rows * 255 // height,
            columns * 255 // width,
            (rows * columns) * 255 // (height * width),
        ],
        -1,
    ).astype(np.uint8)


@pytest.mark.parametrize(
    "shape, overlap", [((70, 90), 0.25), ((32, 45), 0.5), ((100, 33), 0.0)]
)
def test_tiles_give_the_same_map_as_one_whole_pass(shape, overlap):
    """A pointwise model scores each pixel alone: windows at scale 1 crop
    exact pixels, so averaging the overlapping windows' probabilities must
    give the softmax of one fully convolutional pass over the image."""
    model = pointwise_model(32)
    whole = keras.Sequential([keras.Input((None, None, 3)), model.layers[-1]])
    image = position_image(*shape)
    expected = softmax(
        keras.ops.convert_to_numpy(whole(image[None].astype("float32")))[0]
    )
    segmenter = Segmenter(
        model, mode="tiles", tile_scale=1.0, tile_overlap=overlap, batch_size=3
    )
    assert segmenter.aggregation == "mean"
    scores = segmenter.scores(image)
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    np.testing.assert_array_equal(segmenter.segment(image), expected.argmax(-1))
    assert segmenter.last_timings["num_boxes"] == len(segmenter.last_boxes) > 1


def test_several_scales_average_the_per_scale_maps():
    model = pointwise_model(32)
    image = position_image(60, 75)
    multi = Segmenter(model, mode="tiles", tile_scale=(0.5, 1.0, 1.5))
    per_scale = [
        Segmenter(model, mode="tiles", tile_scale=scale).scores(image)
        for scale in (0.5, 1.0, 1.5)
    ]
    np.testing.assert_allclose(multi.scores(image), np.mean(per_scale, 0), atol=1e-6)
    # Each scale's map is the mean of its windows' probabilities, as the
    # aggregation's NumPy reference (tests/test_aggregate.py) checks.
    np.testing.assert_allclose(per_scale[0].sum(-1), 1.0, atol=1e-5)
    assert not np.allclose(per_scale[0], per_scale[1], atol=1e-3)
    boxes = np.concatenate(tile_boxes(image.shape, 32, (0.5, 1.0, 1.5), 0.25))
    np.testing.assert_array_equal(multi.proposals(image), boxes)
