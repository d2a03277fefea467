"""SGD with the semantics of the authors' Caffe solver."""

import keras
from keras import ops

# Variable names (the last part of `variable.path`) that Caffe decays and
# speeds up. BatchNormalization's gamma/beta are neither.
KERNEL_NAMES = ("kernel", "depthwise_kernel", "pointwise_kernel")
BIAS_NAMES = ("bias",)


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class CaffeSGD(keras.optimizers.SGD):
    """SGD with momentum, L2 decay on kernels and a bias learning rate.

    The DeconvNet solvers (Caffe) use `weight_decay: 0.0005` as an L2 term
    added to the gradient (`g + decay * w`, not AdamW-style decoupled
    decay) and, per layer, `decay_mult: 1, lr_mult: 1` for the weights and
    `decay_mult: 0, lr_mult: 2` for the biases. Here the decay applies to
    convolution kernels only (biases, BatchNormalization gamma and beta
    are not decayed) and biases get `bias_learning_rate_multiplier` times
    the learning rate. Caffe's momentum `v = mu v + lr g; w -= v` equals
    Keras' `m = mu m - lr g; w += m` at a constant learning rate.

    Written with `keras.ops` only: works on every backend.

    Args:
        learning_rate: float or schedule (0.01 in the paper).
        momentum: momentum (0.9 in the paper).
        kernel_weight_decay: L2 coefficient for kernels (0.0005).
        bias_learning_rate_multiplier: learning-rate factor for biases (2).
        **kwargs: other `keras.optimizers.SGD` arguments (`nesterov`,
            `clipnorm`, ...). Keras' decoupled `weight_decay` is left at
            `None` on purpose.

    Example:

    >>> model.compile(optimizer=CaffeSGD(0.01), loss=...)
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.9,
        kernel_weight_decay=0.0005,
        bias_learning_rate_multiplier=2.0,
        name="caffe_sgd",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate, momentum=momentum, name=name, **kwargs
        )
        if kernel_weight_decay < 0:
            raise ValueError(
                "`kernel_weight_decay` must be >= 0. "
                f"Received: kernel_weight_decay={kernel_weight_decay}"
            )
        if bias_learning_rate_multiplier <= 0:
            raise ValueError(
                "`bias_learning_rate_multiplier` must be > 0. Received: "
                f"bias_learning_rate_multiplier={bias_learning_rate_multiplier}"
            )
        self.kernel_weight_decay = float(kernel_weight_decay)
        self.bias_learning_rate_multiplier = float(
            bias_learning_rate_multiplier
        )

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        # Index-aligned with `variables`: update_step finds a variable's
        # index with `_get_variable_index`, which works for distributed
        # and stateless (JAX) variables alike.
        names = [variable.path.split("/")[-1] for variable in variables]
        self._decayed = [name in KERNEL_NAMES for name in names]
        self._is_bias = [name in BIAS_NAMES for name in names]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        if self._decayed[index] and self.kernel_weight_decay:
            gradient = ops.add(
                ops.cast(gradient, variable.dtype),
                ops.multiply(
                    ops.cast(self.kernel_weight_decay, variable.dtype),
                    variable,
                ),
            )
        if self._is_bias[index]:
            learning_rate = ops.multiply(
                learning_rate, self.bias_learning_rate_multiplier
            )
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_weight_decay": self.kernel_weight_decay,
            "bias_learning_rate_multiplier": self.bias_learning_rate_multiplier,
        }


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class KernelDecayAdamW(keras.optimizers.AdamW):
    """AdamW whose decoupled weight decay applies to kernels only.

    Adam adapts the step of every weight, which often converges faster
    than SGD when training from scratch on a short budget. The decay is
    AdamW's (`w -= learning_rate * weight_decay * w`, outside the
    gradient), applied like `CaffeSGD`'s to convolution kernels only:
    biases and BatchNormalization gamma and beta are not decayed.

    Args:
        learning_rate: float or schedule (0.001 is Adam's usual value).
        weight_decay: decoupled decay coefficient for kernels.
        **kwargs: other `keras.optimizers.AdamW` arguments.

    Example:

    >>> model.compile(optimizer=KernelDecayAdamW(0.001, weight_decay=1e-4))
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004,
                 name="kernel_decay_adamw", **kwargs):
        super().__init__(learning_rate=learning_rate,
                         weight_decay=weight_decay, name=name, **kwargs)

    def build(self, variables):
        if self.built:
            return
        # Keras' own exclusion list, keyed like its decay step expects
        # (per backend and distribution strategy).
        self.exclude_from_weight_decay(var_list=[
            variable for variable in variables
            if variable.path.split("/")[-1] not in KERNEL_NAMES
        ])
        super().build(variables)


OPTIMIZERS = ("sgd", "adam")


def training_optimizer(name, learning_rate, *, momentum, weight_decay,
                       bias_learning_rate_multiplier):
    """The optimizer of `train(optimizer=name)`.

    Args:
        name: `"sgd"` (`CaffeSGD`, the paper's) or `"adam"`
            (`KernelDecayAdamW`; `momentum` and the bias multiplier do not
            apply, and `weight_decay` is decoupled, not an L2 gradient).
        learning_rate: float or schedule.
        momentum: SGD momentum.
        weight_decay: kernel weight decay.
        bias_learning_rate_multiplier: SGD biases' learning-rate factor.

    Returns:
        A `keras.optimizers.Optimizer`.
    """
    if name == "sgd":
        return CaffeSGD(
            learning_rate, momentum=momentum, kernel_weight_decay=weight_decay,
            bias_learning_rate_multiplier=bias_learning_rate_multiplier,
        )
    if name == "adam":
        return KernelDecayAdamW(learning_rate, weight_decay=weight_decay)
    raise ValueError(
        f"`optimizer` must be one of {OPTIMIZERS}. Received: optimizer={name!r}"
    )
