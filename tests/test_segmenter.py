import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("cv2")

import keras  # noqa: E402

import keras_deconvnet  # noqa: E402
from keras_deconvnet.inference import UNCOVERED_SCORE  # noqa: E402
from keras_deconvnet.inference import Segmenter  # noqa: E402

SMALL_WIDTH = 0.0625


def identity_model(size=32):
    """A 'segmentation model' whose 3 class scores are the input RGB."""
    inputs = keras.Input((size, size, 3))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


def affine_model(scale, offset, size=None):
    inputs = keras.Input((size, size, 3))
    return keras.Model(inputs, keras.layers.Rescaling(scale, offset)(inputs))


def ramp_image(height=40, width=50):
    rows, columns = np.mgrid[0:height, 0:width]
    return np.stack([rows * 4, columns * 4, rows + columns], -1).astype(np.uint8)


def test_whole_mode_resizes_in_and_out():
    image = ramp_image()
    segmenter = Segmenter(identity_model(), mode="whole")
    scores = segmenter.scores(image)
    small = tf.image.resize(image.astype(np.float32), (32, 32))
    expected = tf.image.resize(small, image.shape[:2]).numpy()
    np.testing.assert_allclose(scores, expected, atol=1e-3)
    np.testing.assert_array_equal(
        segmenter.segment(image), expected.argmax(-1)
    )
    assert segmenter.segment(image).dtype == np.int32


def test_proposal_crops_land_where_they_came_from():
    image = ramp_image()
    boxes = np.array([[4.5, 6.0, 30.5, 40.0], [30.0, 42.0, 60.0, 70.0]], np.float32)
    segmenter = Segmenter(identity_model(), aggregation="max", batch_size=1)
    scores = segmenter.scores(image, boxes=boxes)
    # A linear image survives crop + forward + paste inside the first box.
    np.testing.assert_allclose(scores[7:28, 8:38], image[7:28, 8:38], atol=0.05)
    # Pixels no box covers are background with the uncovered score.
    np.testing.assert_array_equal(scores[:4, :, 1], UNCOVERED_SCORE)
    assert np.all(segmenter.segment(image, boxes=boxes)[:4] == 0)
    assert segmenter.last_timings["num_boxes"] == 2


def test_sum_aggregation_adds_overlapping_proposals():
    image = ramp_image()
    box = np.array([[0, 0, 40, 50]], np.float32)
    once = Segmenter(identity_model(), aggregation="sum").scores(image, box)
    twice = Segmenter(identity_model(), aggregation="sum").scores(
        image, np.repeat(box, 2, axis=0)
    )
    np.testing.assert_allclose(twice, 2 * once, rtol=1e-6)


def test_ensemble_with_fcn_and_crf(rng):
    image = ramp_image()
    deconvnet = affine_model(0.01, 0.0, size=32)
    fcn = affine_model(-0.02, 1.0)  # any input size
    whole = Segmenter(deconvnet, mode="whole")
    deconvnet_scores = whole.scores(image)
    fcn_scores = -0.02 * image.astype(np.float32) + 1.0
    mean = Segmenter(deconvnet, mode="whole", fcn=fcn, ensemble="mean")
    expected = 0.5 * (
        tf.nn.softmax(deconvnet_scores) + tf.nn.softmax(fcn_scores)
    ).numpy()
    np.testing.assert_allclose(mean.scores(image), expected, atol=1e-5)
    product = Segmenter(deconvnet, mode="whole", fcn=fcn, ensemble="product")
    np.testing.assert_allclose(
        product.scores(image),
        np.maximum(deconvnet_scores, 0) * np.maximum(fcn_scores, 0),
        atol=1e-5,
    )
    refined = Segmenter(
        deconvnet, mode="whole", fcn=fcn, ensemble="mean", crf=True
    ).scores(image)
    np.testing.assert_allclose(refined.sum(-1), 1.0, atol=1e-4)
    assert not np.allclose(refined, expected, atol=1e-3)


@pytest.mark.parametrize("mode", ["tiles", "whole"])
def test_fcn_on_tiles_is_tiled_inference_of_the_fcn(mode):
    image = ramp_image(45, 70)
    settings = dict(tile_scale=[1.0, 0.75], tile_overlap=0.25)
    deconvnet = affine_model(0.01, 0.0, size=32)
    fcn = affine_model(-0.02, 1.0, size=32)
    # References: each network alone in tiled mode (tile-averaged
    # probabilities), DeconvNet in `mode`.
    fcn_alone = Segmenter(fcn, mode="tiles", **settings).scores(image)
    alone = Segmenter(deconvnet, mode=mode, aggregation="mean",
                      **settings).scores(image)
    mean = Segmenter(deconvnet, mode=mode, aggregation="mean", fcn=fcn,
                     fcn_mode="tiles", **settings).scores(image)
    np.testing.assert_allclose(mean, 0.5 * (alone + fcn_alone), atol=1e-5)
    product = Segmenter(deconvnet, mode=mode, aggregation="mean", fcn=fcn,
                        ensemble="product", fcn_mode="tiles",
                        **settings).scores(image)
    np.testing.assert_allclose(product, alone * fcn_alone, atol=1e-5)
    # The paper's whole-image FCN differs from the tiled one here.
    whole = Segmenter(deconvnet, mode=mode, aggregation="mean", fcn=fcn,
                      **settings).scores(image)
    assert np.abs(whole - mean).max() > 1e-3


def test_tiny_deconvnet_with_edgeboxes_proposals():
    model = keras_deconvnet.DeconvNet(num_classes=4, width=SMALL_WIDTH)
    image = np.full((120, 150, 3), 40, np.uint8)
    image[30:100, 40:130] = (220, 60, 60)
    segmenter = Segmenter(model, num_proposals=3, batch_size=2, min_side=32)
    boxes = segmenter.proposals(image)
    assert 1 <= len(boxes) <= 3
    labels = segmenter.segment(np.dstack([image, np.full((120, 150), 255, np.uint8)]))
    assert labels.shape == (120, 150) and labels.dtype == np.int32
    assert labels.min() >= 0 and labels.max() < 4
    # Images too small for any proposal fall back to the whole image.
    small = Segmenter(model, min_side=112).proposals(image[:60, :60])
    np.testing.assert_array_equal(small, [[0, 0, 60, 60]])


def test_bad_arguments_raise():
    model = identity_model()
    with pytest.raises(ValueError, match="aggregation"):
        Segmenter(model, aggregation="median")
    with pytest.raises(ValueError, match="mode"):
        Segmenter(model, mode="grid")
    with pytest.raises(ValueError, match="ensemble"):
        Segmenter(model, ensemble="vote")
    with pytest.raises(ValueError, match="fcn_mode"):
        Segmenter(model, fcn_mode="proposals")
    with pytest.raises(ValueError, match="num_proposals"):
        Segmenter(model, num_proposals=0)
    with pytest.raises(ValueError, match="empty"):
        Segmenter(model).segment(np.zeros((0, 5, 3), np.uint8))


def green_fcn():
    """Any-size FCN: class 1 scores 0.01 x green, classes 0 and 2 score 0."""
    inputs = keras.Input((None, None, 3))
    layer = keras.layers.Conv2D(3, 1, use_bias=False)
    outputs = layer(inputs)
    kernel = np.zeros((1, 1, 3, 3), np.float32)
    kernel[0, 0, 1, 1] = 0.01
    layer.set_weights([kernel])
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("ensemble", ["mean", "product"])
def test_ensemble_finds_an_object_outside_every_box(ensemble):
    image = np.zeros((40, 60, 3), np.uint8)
    image[25:35, 40:55, 1] = 200  # the object: FCN class 1, p = 0.79
    box = np.array([[0, 0, 20, 30]], np.float32)  # far from the object
    segmenter = Segmenter(
        affine_model(0.01, 0.0, size=32), fcn=green_fcn(), ensemble=ensemble
    )
    labels = segmenter.segment(image, boxes=box)
    # Where no box looked, the FCN decides (not certain background).
    assert np.all(labels[25:35, 40:55] == 1)
    assert np.all(labels[:20, :30] == 0)


def test_crf_gets_a_flat_unary_where_no_box_looked():
    pytest.importorskip("pydensecrf.densecrf")
    image = ramp_image()
    box = np.array([[0, 0, 20, 50]], np.float32)
    segmenter = Segmenter(
        identity_model(), crf=True, crf_options={"num_iterations": 0}
    )
    # Zero mean-field iterations return the unary's own probabilities.
    probabilities = segmenter.scores(image, boxes=box)
    np.testing.assert_allclose(probabilities[21:], 1 / 3, atol=1e-5)
    covered = tf.nn.softmax(
        Segmenter(identity_model()).scores(image, boxes=box)[:20]
    ).numpy()
    np.testing.assert_allclose(probabilities[:20], covered, atol=1e-4)


def pooling_model():
    inputs = keras.Input((32, 32, 3))
    pooled, switches = keras_deconvnet.layers.MaxPoolingWithArgmax2D(
        name="pool"
    )(inputs)
    outputs = keras_deconvnet.layers.MaxUnpooling2D(name="unpool")(
        [pooled, switches]
    )
    return keras.Model(inputs, outputs)


def test_segmenter_leaves_the_users_model_as_it_was():
    from keras_deconvnet.layers import window_utils

    image = ramp_image()
    batch = np.zeros((2, 32, 32, 3), np.float32)
    # A user who predicted before: their compiled predict stays theirs,
    # and the segmenter still runs the pooling under XLA.
    model = pooling_model()
    before = model.predict(batch, verbose=0)
    predict_function = model.predict_function
    scores = Segmenter(model, mode="whole").scores(image)
    assert model.predict_function is predict_function
    assert model.get_layer("pool") in window_utils._compiled_functions
    assert model.get_layer("pool").jit_compile == "auto"  # as built
    np.testing.assert_allclose(model.predict(batch, verbose=0), before)
    # A user who predicts only after: no predict function was built for
    # them (theirs will be traced as they configured).
    fresh = pooling_model()
    np.testing.assert_allclose(
        Segmenter(fresh, mode="whole").scores(image), scores, atol=1e-5
    )
    assert fresh.predict_function is None
    assert fresh.get_layer("unpool").jit_compile == "auto"


def test_compiled_function_cache_frees_dropped_layers():
    import gc
    import weakref

    from keras_deconvnet.layers import window_utils

    layer = keras_deconvnet.layers.MaxPoolingWithArgmax2D(jit_compile=True)
    call = tf.function(lambda x: layer(x)[0])
    call(tf.zeros((1, 4, 4, 2)))
    assert layer in window_utils._compiled_functions
    reference = weakref.ref(layer)
    del layer, call
    gc.collect()
    assert reference() is None


def numpy_bilinear_resize(images, size):
    """Bilinear resize with half-pixel centres (`tf.image.resize`'s
    default), in float64 NumPy: `[N, H, W, C] -> [N, h, w, C]`."""
    images = np.asarray(images, np.float64)

    def weights(source, target):
        position = np.clip((np.arange(target) + 0.5) * source / target - 0.5,
                           0, source - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, source - 1)
        return low, high, position - low

    top, bottom, dy = weights(images.shape[1], size[0])
    left, right, dx = weights(images.shape[2], size[1])
    rows = (images[:, top] * (1 - dy)[None, :, None, None]
            + images[:, bottom] * dy[None, :, None, None])
    return (rows[:, :, left] * (1 - dx)[None, None, :, None]
            + rows[:, :, right] * dx[None, None, :, None])


def test_informative_deconvnet_whole_mode_matches_a_numpy_reference():
    from tests.layer_testing import make_informative

    image = np.random.default_rng(0).integers(0, 256, (150, 190, 3))
    image = image.astype(np.uint8)
    model = keras_deconvnet.DeconvNet(num_classes=4, width=SMALL_WIDTH)
    crop = numpy_bilinear_resize(image[None], (224, 224)).astype(np.float32)
    # Random weights of a fresh model give scores near 1e-15, which any
    # tolerance would accept: these give scores of order one.
    make_informative(model, crop)
    network_scores = np.asarray(model(crop, training=False), np.float64)
    expected = numpy_bilinear_resize(network_scores, image.shape[:2])[0]
    assert expected.std() > 0.05  # the comparison below means something

    segmenter = Segmenter(model, mode="whole")
    scores = segmenter.scores(image)
    np.testing.assert_allclose(scores, expected, atol=2e-3)
    labels = segmenter.segment(image)
    agreement = np.mean(labels == expected.argmax(-1))
    assert agreement > 0.99, agreement


def test_bfloat16_precision_runs_a_bf16_twin_close_to_float32(rng):
    from keras_deconvnet.inference.forward import with_precision
    from keras_deconvnet.models import optimize_for_inference
    from tests.layer_testing import make_informative

    model = keras_deconvnet.DeconvNet(num_classes=3, width=SMALL_WIDTH)
    image = rng.integers(0, 256, (96, 128, 3)).astype("uint8")
    make_informative(model, rng.uniform(0, 255, (2, 224, 224, 3)))
    twin = with_precision(model, "bfloat16")
    assert twin.get_layer("conv1_1").compute_dtype == "bfloat16"
    # Weights stored in bfloat16: no rounding pass over them per call.
    assert twin.get_layer("conv1_1").kernel.dtype == "bfloat16"
    assert twin.output.dtype == "float32"
    assert with_precision(model, "float32") is model
    exact = Segmenter(model, mode="whole").scores(image)
    fast = Segmenter(model, mode="whole", precision="bfloat16").scores(image)
    # The twin runs the weights of optimize_for_inference(model): BN
    # folded into the convolutions, the decoder's as convolutions.
    folded = optimize_for_inference(model, winograd=False)
    assert not any(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in twin.layers)
    assert len(twin.weights) == len(folded.weights) < len(model.weights)
    for a, b in zip(twin.weights, folded.weights):
        rounded = keras.ops.cast(keras.ops.cast(b, a.dtype), "float32")
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(keras.ops.cast(a, "float32")),
            keras.ops.convert_to_numpy(rounded))
    # bfloat16 keeps 8 bits of mantissa (0.4% per rounding), compounded
    # over 26 convolutions of random weights: 21% of the scores' norm
    # here (random-weight scores are a worst case; the agreement on
    # trained weights is measured in docs/performance.md).
    error = np.linalg.norm(fast - exact) / np.linalg.norm(exact)
    assert 0 < error < 0.4, error
    with pytest.raises(ValueError, match="precision"):
        Segmenter(model, precision="float16")


def test_optimize_runs_an_equal_snapshot_of_the_model(rng):
    from tests.layer_testing import make_informative

    model = keras_deconvnet.DeconvNet(num_classes=3, width=SMALL_WIDTH)
    make_informative(model, rng.uniform(0, 255, (2, 224, 224, 3)))
    image = rng.integers(0, 256, (96, 128, 3)).astype("uint8")
    plain = Segmenter(model, mode="whole")
    optimized = Segmenter(model, mode="whole", optimize=True)
    expected = plain.scores(image)
    np.testing.assert_allclose(optimized.scores(image), expected,
                               atol=1e-4 * np.abs(expected).max())
    # The optimized network is a copy (BN folded): changing the model's
    # weights afterwards changes only the plain segmenter's scores.
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    assert not np.allclose(plain.scores(image), expected)
    np.testing.assert_allclose(optimized.scores(image), expected,
                               atol=1e-4 * np.abs(expected).max())
