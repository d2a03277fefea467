import numpy as np
import pytest

import keras

from keras_deconvnet.models import DeconvNet
from keras_deconvnet.models import with_label_output
from keras_deconvnet.models import with_precision
from tests.conftest import SMALL_WIDTH


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return DeconvNet(num_classes=5, width=SMALL_WIDTH)


def test_labels_are_the_argmax_of_the_scores(model, rng):
    images = rng.uniform(0, 255, size=(2, 224, 224, 3)).astype("float32")
    labels_model = with_label_output(model)
    labels = labels_model.predict(images, verbose=0)
    scores = model.predict(images, verbose=0)
    assert labels.shape == (2, 224, 224) and labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.argmax(scores, axis=-1))
    # Shared layers, not copies.
    assert labels_model.get_layer("conv1_1") is model.get_layer("conv1_1")


def test_bfloat16_twin_gets_labels_too(model, rng):
    images = rng.uniform(0, 255, size=(1, 224, 224, 3)).astype("float32")
    twin = with_precision(model, "bfloat16")
    labels = with_label_output(twin, label_dtype="int32").predict(
        images, verbose=0)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(
        labels, np.argmax(twin.predict(images, verbose=0), axis=-1))


def test_saved_and_loaded(model, tmp_path, rng):
    images = rng.uniform(0, 255, size=(1, 224, 224, 3)).astype("float32")
    labels_model = with_label_output(model)
    path = str(tmp_path / "labels.keras")
    labels_model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(images, verbose=0),
                                  labels_model.predict(images, verbose=0))


def test_a_model_with_two_outputs_is_refused():
    inputs = keras.Input((8, 8, 3))
    two = keras.Model(inputs, [keras.layers.Conv2D(2, 1)(inputs),
                               keras.layers.Conv2D(2, 1)(inputs)])
    with pytest.raises(ValueError, match="one score output"):
        with_label_output(two)
