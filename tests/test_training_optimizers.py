"""CaffeSGD against a NumPy transcription of Caffe's SGD solver."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keras

from keras_deconvnet.training.optimizers import CaffeSGD


def small_model():
    inputs = keras.Input((2, 2, 3))
    x = keras.layers.Conv2D(4, 1, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="conv_bn")(x)
    outputs = keras.layers.Conv2DTranspose(2, 1, name="deconv")(x)
    return keras.Model(inputs, outputs)


def caffe_sgd_numpy(values, gradients, roles, steps, lr, momentum, decay,
                    bias_multiplier):
    """Caffe: v = mu v + lr_mult lr (g + decay_mult decay w); w -= v."""
    values = [v.astype(np.float64) for v in values]
    history = [np.zeros_like(v) for v in values]
    for _ in range(steps):
        for i, role in enumerate(roles):
            gradient = gradients[i].astype(np.float64)
            rate = lr
            if role == "kernel":
                gradient = gradient + decay * values[i]
            elif role == "bias":
                rate = lr * bias_multiplier
            history[i] = momentum * history[i] + rate * gradient
            values[i] = values[i] - history[i]
    return values


def test_matches_caffe_solver(rng):
    model = small_model()
    variables = model.trainable_variables
    for variable in variables:
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    initial = [keras.ops.convert_to_numpy(v) for v in variables]
    gradients = [rng.normal(size=v.shape).astype("float32") for v in variables]
    roles = [v.path.split("/")[-1] for v in variables]
    assert roles.count("kernel") == 2 and roles.count("bias") == 2
    assert "gamma" in roles and "beta" in roles

    optimizer = CaffeSGD(0.1, momentum=0.9, kernel_weight_decay=0.05,
                         bias_learning_rate_multiplier=2.0)
    for _ in range(3):
        optimizer.apply(gradients, variables)
    expected = caffe_sgd_numpy(initial, gradients, roles, 3, 0.1, 0.9, 0.05,
                               2.0)
    for variable, value, role in zip(variables, expected, roles):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(variable), value, rtol=1e-5,
            atol=1e-5, err_msg=role,
        )


def test_no_decay_means_plain_sgd_for_kernels(rng):
    model = small_model()
    kernel = model.get_layer("conv").kernel
    before = keras.ops.convert_to_numpy(kernel)
    gradients = [np.zeros(v.shape, "float32") for v in model.trainable_variables]
    optimizer = CaffeSGD(0.1, kernel_weight_decay=0.01)
    optimizer.apply(gradients, model.trainable_variables)
    # With a zero gradient only the decay moves the kernel: w -= lr*decay*w.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(kernel), before * (1 - 0.1 * 0.01),
        rtol=1e-6,
    )
    gamma = model.get_layer("conv_bn").gamma
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gamma), 1.0)


def test_config_round_trip_and_validation():
    optimizer = CaffeSGD(0.05, momentum=0.8, kernel_weight_decay=0.001,
                         bias_learning_rate_multiplier=1.0)
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer)
    )
    assert isinstance(restored, CaffeSGD)
    assert restored.kernel_weight_decay == pytest.approx(0.001)
    assert restored.bias_learning_rate_multiplier == 1.0
    assert restored.momentum == pytest.approx(0.8)
    with pytest.raises(ValueError, match="kernel_weight_decay"):
        CaffeSGD(kernel_weight_decay=-1)
    with pytest.raises(ValueError, match="bias_learning_rate_multiplier"):
        CaffeSGD(bias_learning_rate_multiplier=0)


JAX_SCRIPT = textwrap.dedent(
    """
    import numpy as np, keras
    from keras_deconvnet.training.optimizers import CaffeSGD
    assert keras.backend.backend() == "jax"
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(inputs))
    model.compile(optimizer=CaffeSGD(0.1, momentum=0.0,
                  kernel_weight_decay=0.5), loss="mse")
    kernel = model.get_layer("dense").kernel
    kernel.assign(np.ones((3, 2), "float32"))
    x = np.zeros((4, 3), "float32"); y = np.zeros((4, 2), "float32")
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    # Zero input: no data gradient for the kernel, only the decay:
    # w = 1 - 0.1 * 0.5 * 1; bias gradient is 0 as well.
    np.testing.assert_allclose(np.asarray(kernel.value), 0.95, rtol=1e-6)
    print("JAX_OK")
    """
)


def test_runs_on_jax_backend():
    pytest.importorskip("jax")
    environment = dict(os.environ, KERAS_BACKEND="jax")
    result = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT], env=environment,
        capture_output=True, text=True, timeout=120,
    )
    assert "JAX_OK" in result.stdout, result.stderr[-2000:]
