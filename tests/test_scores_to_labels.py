import numpy as np
import pytest

import keras

from keras_deconvnet.layers import ScoresToLabels


def test_config_round_trip():
    layer = ScoresToLabels(label_dtype="int32", name="labels")
    config = layer.get_config()
    assert config["label_dtype"] == "int32"
    assert ScoresToLabels.from_config(config).get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "keras_deconvnet>ScoresToLabels"


@pytest.mark.parametrize("classes, label_dtype, expected", [
    (21, None, "uint8"), (256, None, "uint8"), (257, None, "int32"),
    (21, "int32", "int32"), (3, "uint8", "uint8"),
])
def test_symbolic_shape_and_dtype(classes, label_dtype, expected):
    output = ScoresToLabels(label_dtype)(keras.Input((6, 4, classes)))
    assert output.shape == (None, 6, 4)
    assert output.dtype == expected


def test_values_against_numpy_with_ties(rng):
    scores = rng.normal(size=(2, 5, 7, 21)).astype("float32")
    # Ties go to the lowest class, as in np.argmax.
    scores[0, 0, 0, [4, 9]] = 50.0
    scores[1, 2, 3, :] = 0.0
    labels = keras.ops.convert_to_numpy(ScoresToLabels()(scores))
    expected = np.argmax(scores, axis=-1)
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, expected)
    assert labels[0, 0, 0] == 4 and labels[1, 2, 3] == 0


def test_bfloat16_scores():
    scores = np.zeros((1, 2, 2, 3), "float32")
    scores[..., 2] = 1.0
    labels = ScoresToLabels()(keras.ops.cast(scores, "bfloat16"))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(labels), 2)


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="label_dtype='int8'"):
        ScoresToLabels(label_dtype="int8")
    with pytest.raises(ValueError, match="300 classes do not fit in uint8"):
        ScoresToLabels(label_dtype="uint8")(keras.Input((4, 4, 300)))
    with pytest.raises(ValueError, match="rank 4"):
        ScoresToLabels().build((None, 4, 21))
