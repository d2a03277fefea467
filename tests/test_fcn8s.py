import numpy as np
import pytest

import keras

import keras_deconvnet
from keras_deconvnet.models.fcn8s import BilinearUpsampling
from tests.conftest import SMALL_WIDTH


@pytest.fixture(scope="module")
def model():
    return keras_deconvnet.FCN8s(num_classes=4, width=SMALL_WIDTH)


@pytest.mark.parametrize("size", [(32, 32), (101, 77), (45, 130), (224, 224)])
def test_any_input_size_gives_the_input_size(model, size):
    x = np.random.default_rng(0).uniform(0, 255, (1, *size, 3)).astype("float32")
    scores = model.predict(x, verbose=0)
    assert scores.shape == (1, *size, 4)
    assert scores.dtype == np.float32 and np.all(np.isfinite(scores))


def test_structure(model):
    names = {layer.name for layer in model.layers}
    for name in ("score_fr", "upscore2", "score_pool4", "upscore_pool4",
                 "score_pool3", "upscore8", "fc6", "fc7"):
        assert name in names
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in model.layers)
    assert model.get_layer("upscore8").strides == (8, 8)


def test_bilinear_initializer_upsamples_a_constant_to_a_constant():
    # A bilinear kernel of stride 2 turns a constant map into the same
    # constant away from the border, channel by channel.
    layer = keras.layers.Conv2DTranspose(
        2, 4, strides=2, padding="same", use_bias=False,
        kernel_initializer=BilinearUpsampling(),
    )
    x = np.ones((1, 6, 6, 2), "float32") * np.array([1.0, 3.0], "float32")
    y = np.asarray(layer(x))
    np.testing.assert_allclose(y[0, 2:-2, 2:-2, 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(y[0, 2:-2, 2:-2, 1], 3.0, atol=1e-6)
    kernel = np.asarray(layer.kernel)
    assert np.all(kernel[:, :, 0, 1] == 0)  # no cross-class mixing


def test_save_and_load(tmp_path, model):
    path = tmp_path / "fcn.keras"
    model.save(path)
    restored = keras_deconvnet.load(path)
    x = np.random.default_rng(1).uniform(0, 255, (2, 64, 96, 3)).astype("float32")
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )


def test_invalid_input_shape():
    with pytest.raises(ValueError, match="input_shape"):
        keras_deconvnet.FCN8s(input_shape=(None, None, 4))
