import numpy as np
import pytest

import keras

import keras_deconvnet
from keras_deconvnet.models.deconvnet import DECODER_BLOCKS
from tests.conftest import SMALL_WIDTH


def test_output_shapes_and_dtype():
    model = keras_deconvnet.DeconvNet(num_classes=5, width=SMALL_WIDTH)
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 224, 224, 5)
    scores = model.predict(np.zeros((2, 224, 224, 3), "float32"), verbose=0)
    assert scores.shape == (2, 224, 224, 5) and scores.dtype == np.float32
    assert np.all(np.isfinite(scores))


def test_larger_input_size():
    model = keras_deconvnet.DeconvNet(
        num_classes=3, input_shape=(320, 320, 3), width=SMALL_WIDTH
    )
    assert model.output_shape == (None, 320, 320, 3)
    # fc6 (7x7 valid) sees a 10x10 pool5 map at 320 and gives 4x4.
    assert model.get_layer("fc6").output.shape == (None, 4, 4, 256)
    x = np.random.default_rng(0).uniform(0, 255, (1, 320, 320, 3))
    assert model.predict(x.astype("float32"), verbose=0).shape == (
        1,
        320,
        320,
        3,
    )


def test_layer_structure_follows_the_paper():
    model = keras_deconvnet.DeconvNet(width=SMALL_WIDTH)
    names = [layer.name for layer in model.layers]
    batch_norms = [n for n in names if n.endswith("_bn")]
    # 13 encoder convs + fc6 + fc7 + fc6_deconv + 13 decoder deconvs.
    assert len(batch_norms) == 29
    assert "seg_score_bn" not in names
    assert not any("dropout" in n for n in names)
    deconvs = [n for n in names if n.startswith("deconv") and "_" in n]
    expected = [
        f"deconv{block}_{i}"
        for block, filters in DECODER_BLOCKS
        for i in range(1, len(filters) + 1)
    ]
    assert [n for n in deconvs if not n.endswith(("_bn", "_relu"))] == expected
    fc6 = model.get_layer("fc6")
    assert fc6.kernel_size == (7, 7) and fc6.padding == "valid"
    assert model.get_layer("fc7").kernel_size == (1, 1)
    fc6_deconv = model.get_layer("fc6_deconv")
    assert isinstance(fc6_deconv, keras.layers.Conv2DTranspose)
    assert fc6_deconv.kernel_size == (7, 7)
    assert model.get_layer("seg_score").dtype_policy.name == "float32"


def test_preprocessing_is_inside_the_model():
    model = keras_deconvnet.DeconvNet(num_classes=2, width=SMALL_WIDTH)
    rgb = np.zeros((1, 224, 224, 3), "float32")
    rgb[..., 0] = 200.0  # red
    layer = model.get_layer("preprocessing")
    normalized = np.asarray(layer(rgb))
    # Red ends up in the last (BGR) channel, minus the Caffe mean.
    np.testing.assert_allclose(normalized[0, 0, 0], [-104.008, -116.669, 200 - 122.675], rtol=1e-6)


@pytest.mark.slow
def test_paper_network_parameter_count():
    model = keras_deconvnet.DeconvNet()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 251_805_653
    assert model.count_params() == 251_839_061
    batch_norm_channels = sum(
        layer.gamma.shape[0]
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    assert batch_norm_channels == 16_704


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (200, 200, 3)}, "multiple of 32"),
        ({"input_shape": (256, 288, 3)}, "square"),
        ({"input_shape": (224, 224, 1)}, "3 channels"),
        ({"input_shape": (None, None, 3)}, "fixed square input size"),
        ({"num_classes": 0}, "num_classes=0"),
        ({"width": 0}, "width=0"),
        ({"width": "wide"}, "width=wide"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_deconvnet.DeconvNet(**kwargs)


def test_trains_one_step():
    model = keras_deconvnet.DeconvNet(num_classes=3, width=SMALL_WIDTH)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    y = rng.integers(0, 3, (2, 224, 224)).astype("int32")
    kernel = model.get_layer("deconv1_2").kernel
    before = np.asarray(kernel).copy()
    loss = model.fit(x, y, epochs=1, verbose=0).history["loss"][0]
    assert np.isfinite(loss)
    assert not np.allclose(before, np.asarray(kernel))
