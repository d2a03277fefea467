"""Caffe -> Keras conversion against a NumPy forward of Caffe semantics."""

import numpy as np
import pytest

import keras

import keras_deconvnet
from keras_deconvnet.caffe import convert_caffe_model
from keras_deconvnet.caffe.caffemodel_writer import prototxt_text
from keras_deconvnet.caffe.fcn8s_caffe import FCN_BGR_MEAN
from keras_deconvnet.caffe.network_specs import LayerSpec
from keras_deconvnet.caffe.network_specs import deconvnet_layer_specs
from keras_deconvnet.caffe.network_specs import fcn8s_layer_specs
from keras_deconvnet.layers.caffe_preprocessing import DECONVNET_BGR_MEAN
from tests.caffe_numpy_reference import caffe_input
from tests.caffe_numpy_reference import run_caffe_net
from tests.conftest import requires_tensorflow
from tests.test_caffe_reader import write_random

WIDTH = 0.0625
NUM_CLASSES = 5


@pytest.fixture(scope="module")
def deconvnet_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("caffe_deconvnet")
    specs = deconvnet_layer_specs(NUM_CLASSES, WIDTH)
    caffemodel = directory / "deconvnet.caffemodel"
    blobs = write_random(caffemodel, specs, "V1")
    prototxt = directory / "deploy.prototxt"
    prototxt.write_text(prototxt_text(specs, "V1"))
    return specs, blobs, caffemodel, prototxt


@pytest.fixture(scope="module")
def converted_deconvnet(deconvnet_files):
    _, _, caffemodel, prototxt = deconvnet_files
    return convert_caffe_model(caffemodel, prototxt)


def images(size, count=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (count,) + size + (3,)).astype("float32")


def test_deconvnet_matches_caffe_reference(deconvnet_files,
                                           converted_deconvnet):
    specs, blobs, _, _ = deconvnet_files
    batch = images((224, 224))
    expected = run_caffe_net(
        specs, blobs, caffe_input(batch, DECONVNET_BGR_MEAN)
    ).transpose(0, 2, 3, 1)

    scores = converted_deconvnet.predict(batch, verbose=0)

    assert converted_deconvnet.output_shape == (None, 224, 224, NUM_CLASSES)
    assert np.abs(expected).max() > 0.1  # not a degenerate comparison
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)


def test_bn_becomes_exact_inference_batch_norm(deconvnet_files,
                                               converted_deconvnet):
    _, blobs, _, _ = deconvnet_files
    layer = converted_deconvnet.get_layer("deconv3_2_bn")
    gamma, beta, mean, variance = layer.get_weights()
    scale, shift = (blob.reshape(-1) for blob in blobs["debn3_2"])
    np.testing.assert_array_equal(mean, 0)
    np.testing.assert_array_equal(variance, 1)
    np.testing.assert_allclose(
        gamma / np.sqrt(1 + layer.epsilon), scale, rtol=1e-6
    )
    np.testing.assert_array_equal(beta, shift)


def test_new_layout_gives_the_same_weights(tmp_path, deconvnet_files,
                                           converted_deconvnet):
    specs = deconvnet_files[0]
    path = tmp_path / "new.caffemodel"
    write_random(path, specs, "layer")  # same seed, same values
    model = convert_caffe_model(path, architecture="deconvnet")
    for a, b in zip(model.get_weights(), converted_deconvnet.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("size", [(37, 45), (64, 64)])
def test_fcn8s_matches_caffe_reference(tmp_path, size):
    # Odd sizes exercise Caffe's ceil-mode pooling and the crop offsets.
    specs = fcn8s_layer_specs(NUM_CLASSES, WIDTH)
    path = tmp_path / "fcn8s.caffemodel"
    blobs = write_random(path, specs, "layer", seed=3)
    prototxt = tmp_path / "fcn8s.prototxt"
    prototxt.write_text(prototxt_text(specs, "layer"))
    model = convert_caffe_model(path, prototxt, architecture="fcn8s")
    batch = images(size, count=1)
    expected = run_caffe_net(
        specs, blobs, caffe_input(batch, FCN_BGR_MEAN)
    ).transpose(0, 2, 3, 1)

    scores = model.predict(batch, verbose=0)

    assert scores.shape == (1,) + size + (NUM_CLASSES,)
    # No BN in FCN-8s: scores grow with the [0, 255] input, so relative.
    scale = np.abs(expected).max()
    np.testing.assert_allclose(scores, expected, atol=1e-4 * scale, rtol=0)


def _renamed(specs, old, new):
    return [
        LayerSpec(new if spec.name == old else spec.name, spec.type,
                  spec.bottoms, spec.tops, spec.parameters, spec.blob_shapes)
        for spec in specs
    ]


def test_missing_layer_is_named(tmp_path):
    specs = [s for s in deconvnet_layer_specs(NUM_CLASSES, WIDTH)
             if s.name != "debn4_1"]
    path = tmp_path / "missing.caffemodel"
    write_random(path, specs, "V1")
    with pytest.raises(ValueError, match="'debn4_1'.*'deconv4_1_bn'"):
        convert_caffe_model(path)


def test_wrong_layer_name_is_named(tmp_path):
    specs = _renamed(deconvnet_layer_specs(NUM_CLASSES, WIDTH), "bn3_2",
                     "batchnorm3_2")
    path = tmp_path / "renamed.caffemodel"
    write_random(path, specs, "V1")
    with pytest.raises(ValueError, match="'bn3_2'"):
        convert_caffe_model(path)


def test_extra_weighted_layer_is_an_error(tmp_path):
    specs = deconvnet_layer_specs(NUM_CLASSES, WIDTH)
    extra = LayerSpec("seg-score-extra", "Convolution", ["deconv1_2"],
                      ["extra"], specs[-1].parameters, specs[-1].blob_shapes)
    path = tmp_path / "extra.caffemodel"
    write_random(path, specs + [extra], "V1")
    with pytest.raises(ValueError, match="'seg-score-extra'.*no place"):
        convert_caffe_model(path)


def test_wrong_shape_is_named(tmp_path):
    specs = deconvnet_layer_specs(NUM_CLASSES, WIDTH)
    spec = next(s for s in specs if s.name == "conv3_1")
    out, inputs, kh, kw = spec.blob_shapes[0]
    spec.blob_shapes[0] = (out, inputs + 1, kh, kw)
    path = tmp_path / "shape.caffemodel"
    write_random(path, specs, "V1")
    with pytest.raises(ValueError, match=r"'conv3_1' blob 0 has shape"):
        convert_caffe_model(path)


def test_prototxt_settings_are_checked(tmp_path, deconvnet_files):
    specs, _, caffemodel, _ = deconvnet_files
    learning = [
        LayerSpec(s.name, s.type, s.bottoms, s.tops,
                  {"bn_mode": "LEARN"} if s.name == "bn2_1" else s.parameters,
                  s.blob_shapes)
        for s in specs
    ]
    prototxt = tmp_path / "learn.prototxt"
    prototxt.write_text(prototxt_text(learning, "V1"))
    with pytest.raises(ValueError, match="'bn2_1'.*LEARN"):
        convert_caffe_model(caffemodel, prototxt)

    padded = [
        LayerSpec(s.name, s.type, s.bottoms, s.tops,
                  {"convolution": {**s.parameters["convolution"],
                                   "pad": (2, 2)}}
                  if s.name == "deconv2_1" else s.parameters,
                  s.blob_shapes)
        for s in specs
    ]
    prototxt.write_text(prototxt_text(padded, "V1"))
    with pytest.raises(ValueError, match="'deconv2_1' has pad"):
        convert_caffe_model(caffemodel, prototxt)


def test_wrong_architecture_is_named(deconvnet_files):
    with pytest.raises(ValueError, match="'score_fr'"):
        convert_caffe_model(deconvnet_files[2], architecture="fcn8s")
    with pytest.raises(ValueError, match="architecture"):
        convert_caffe_model(deconvnet_files[2], architecture="segnet")


def test_saved_and_loaded_with_package_load(tmp_path, converted_deconvnet):
    path = tmp_path / "converted.keras"
    converted_deconvnet.save(path)
    loaded = keras_deconvnet.load(path)
    batch = images((224, 224), count=1, seed=5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(batch, training=False)),
        keras.ops.convert_to_numpy(converted_deconvnet(batch, training=False)),
        atol=1e-6,
    )


@requires_tensorflow
def test_runs_through_segmenter(converted_deconvnet):
    from keras_deconvnet.inference import Segmenter

    image = images((224, 224), count=1, seed=6)[0].round()
    segmenter = Segmenter(converted_deconvnet, mode="whole")
    labels = segmenter.segment(image.astype("uint8"))
    expected = converted_deconvnet.predict(image[None], verbose=0)[0]
    assert labels.shape == (224, 224)
    # Whole mode at the model's own size is a plain forward pass.
    assert (labels == expected.argmax(-1)).mean() > 0.99


@pytest.mark.slow
@requires_tensorflow
def test_runs_through_saved_model_export(tmp_path, converted_deconvnet):
    import tensorflow as tf

    from keras_deconvnet.export import export_saved_model

    path = export_saved_model(converted_deconvnet, tmp_path / "served")
    serving = tf.saved_model.load(path).signatures["predict_crops"]
    batch = images((224, 224), count=1, seed=7)
    served = serving(images=tf.constant(batch))["scores"].numpy()
    np.testing.assert_allclose(
        served, converted_deconvnet.predict(batch, verbose=0), atol=1e-4
    )
    assert keras.backend.backend() == "tensorflow"


def test_authors_layout_bn_saved_as_learn_with_data_layer(tmp_path,
                                                          deconvnet_files):
    # The authors saved their inference weights from a training net: a
    # WINDOW_SEG_DATA layer first and BN layers that still say LEARN. The
    # deploy prototxt (INFERENCE) decides.
    specs, _, _, prototxt = deconvnet_files
    saved = [LayerSpec("data", "WindowSegData", [], ["data", "seg-label"])]
    saved += [
        LayerSpec(s.name, s.type, s.bottoms, s.tops,
                  {"bn_mode": "LEARN"} if s.type == "BN" else s.parameters,
                  s.blob_shapes)
        for s in specs
    ]
    path = tmp_path / "as_saved.caffemodel"
    blobs = write_random(path, saved, "V1", seed=11)
    model = convert_caffe_model(path, prototxt)
    gamma = model.get_layer("conv1_1_bn").get_weights()[0]
    np.testing.assert_allclose(
        gamma / np.sqrt(1 + 1e-3), blobs["bn1_1"][0].reshape(-1), rtol=1e-6
    )


@requires_tensorflow
def test_converted_pair_runs_as_edeconvnet(tmp_path, converted_deconvnet):
    from keras_deconvnet.inference import Segmenter

    specs = fcn8s_layer_specs(NUM_CLASSES, WIDTH)
    path = tmp_path / "fcn8s.caffemodel"
    write_random(path, specs, "layer", seed=4)
    fcn = convert_caffe_model(path, architecture="fcn8s")
    image = images((224, 224), count=1, seed=8)[0].round()
    segmenter = Segmenter(converted_deconvnet, fcn=fcn, ensemble="product",
                          mode="whole")

    labels = segmenter.segment(image.astype("uint8"))

    # The released code's ensemble: relu(DeconvNet) * relu(FCN-8s).
    product = np.maximum(
        converted_deconvnet.predict(image[None], verbose=0)[0], 0
    ) * np.maximum(fcn.predict(image[None], verbose=0)[0], 0)
    assert (labels == product.argmax(-1)).mean() > 0.99


def test_fcn8s_at_once_scale_layer_is_named(tmp_path):
    specs = fcn8s_layer_specs(NUM_CLASSES, WIDTH)
    specs.insert(-8, LayerSpec("scale_pool4", "Scale", ["pool4"],
                               ["scaled_pool4"], {}, [(1,)]))
    path = tmp_path / "atonce.caffemodel"
    write_random(path, specs, "layer")
    with pytest.raises(ValueError, match="'scale_pool4' \\(Scale\\)"):
        convert_caffe_model(path, architecture="fcn8s")
