"""VGG16 transfer and initialisation from saved files (no network)."""

import numpy as np
import pytest

import keras

import keras_deconvnet
from keras_deconvnet.models import vgg16_encoder
from keras_deconvnet.models import weights as weights_module
from tests import layer_testing
from tests.conftest import SMALL_WIDTH


@pytest.fixture(scope="module")
def vgg16_files(tmp_path_factory):
    """A randomly initialised VGG16 written in three file formats."""
    keras.utils.set_random_seed(7)
    vgg = keras.applications.VGG16(include_top=True, weights=None)
    # Non-zero biases so that a missed bias copy would be noticed.
    for layer in vgg.layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, np.random.normal(size=bias.shape)])
    directory = tmp_path_factory.mktemp("vgg16")
    files = {
        "weights.h5": directory / "vgg16.weights.h5",
        "keras": directory / "vgg16.keras",
        "legacy.h5": directory / "vgg16.h5",
    }
    vgg.save_weights(files["weights.h5"])
    vgg.save(files["keras"])
    vgg.save(files["legacy.h5"])
    expected = {layer.name: layer.get_weights() for layer in vgg.layers}
    return files, expected


def assert_encoder_equals_vgg16(model, expected):
    for name, vgg_name in vgg16_encoder.VGG16_LAYER_NAMES.items():
        kernel, bias = model.get_layer(name).get_weights()
        vgg_kernel, vgg_bias = expected[vgg_name]
        np.testing.assert_array_equal(kernel.reshape(vgg_kernel.shape), vgg_kernel)
        np.testing.assert_array_equal(bias, vgg_bias)


@pytest.mark.slow
def test_vgg16_transfer_is_exact_from_every_file_format(vgg16_files):
    files, expected = vgg16_files
    model = keras_deconvnet.DeconvNet(weights=files["weights.h5"])
    assert_encoder_equals_vgg16(model, expected)
    fc6 = model.get_layer("fc6").kernel
    assert tuple(fc6.shape) == (7, 7, 512, 4096)
    # fc1 flattens pool5 as (row, column, channel): the reshape is exact.
    np.testing.assert_array_equal(
        np.asarray(fc6)[2, 5, 17], expected["fc1"][0][(2 * 7 + 5) * 512 + 17]
    )
    # The decoder stays freshly initialised (std 0.01 Gaussian).
    decoder = np.asarray(model.get_layer("deconv3_1").kernel)
    assert abs(decoder.std() - 0.01) < 0.002
    for file_format in ("keras", "legacy.h5"):
        for name in vgg16_encoder.VGG16_LAYER_NAMES:
            layer = model.get_layer(name)
            layer.set_weights([np.zeros(w.shape) for w in layer.weights])
        weights_module.load_initial_weights(model, files[file_format])
        assert_encoder_equals_vgg16(model, expected)


@pytest.mark.slow
def test_fcn8s_takes_the_same_transfer(vgg16_files):
    files, expected = vgg16_files
    model = keras_deconvnet.FCN8s(weights=files["weights.h5"])
    assert_encoder_equals_vgg16(model, expected)


def test_transfer_needs_full_width():
    vgg = keras.applications.VGG16(include_top=True, weights=None)
    model = keras_deconvnet.DeconvNet(width=SMALL_WIDTH)
    with pytest.raises(ValueError, match="width=1.0"):
        weights_module.transfer_vgg16(model, vgg)


def test_imagenet_without_network_says_what_to_do(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(keras.applications, "VGG16", offline)
    with pytest.raises(ValueError, match="path of a VGG16 weight file"):
        keras_deconvnet.DeconvNet(width=SMALL_WIDTH, weights="imagenet")


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no_such_file.h5"):
        keras_deconvnet.DeconvNet(width=SMALL_WIDTH, weights="no_such_file.h5")


def test_initialise_from_a_saved_deconvnet(tmp_path):
    source = keras_deconvnet.DeconvNet(num_classes=4, width=SMALL_WIDTH)
    x = np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3))
    x = x.astype("float32")
    layer_testing.make_informative(source, x)
    expected = source.predict(x, verbose=0)
    assert np.abs(expected).max() > 0.1
    for path in (tmp_path / "m.keras", tmp_path / "m.weights.h5"):
        if path.suffix == ".keras":
            source.save(path)
        else:
            source.save_weights(path)
        model = keras_deconvnet.DeconvNet(
            num_classes=4, width=SMALL_WIDTH, weights=path
        )
        np.testing.assert_allclose(
            model.predict(x, verbose=0), expected, atol=1e-4
        )
        for saved, loaded in zip(source.weights, model.weights):
            np.testing.assert_array_equal(np.asarray(saved), np.asarray(loaded))


def test_saved_model_of_another_shape_is_refused(tmp_path):
    source = keras_deconvnet.DeconvNet(num_classes=4, width=SMALL_WIDTH)
    source.save(tmp_path / "four.keras")
    with pytest.raises(ValueError, match="seg_score"):
        keras_deconvnet.DeconvNet(
            num_classes=5, width=SMALL_WIDTH, weights=tmp_path / "four.keras"
        )


def test_unreadable_file(tmp_path):
    path = tmp_path / "broken.h5"
    path.write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="broken.h5"):
        keras_deconvnet.DeconvNet(width=SMALL_WIDTH, weights=path)
