"""How `train()` compiles a model: the paper's loss, optimizer and metric.

Free of TensorFlow, so that the same compiled training step can be timed
on machines with JAX alone (`benchmarks/gpu_product_path.py`).
"""

import keras

from keras_deconvnet.training.losses import SegmentationCrossEntropy
from keras_deconvnet.training.optimizers import training_optimizer
# The paper's solver (Caffe SGD): `train()`'s defaults, also the `train`
# command's (defined where the command line can read them without Keras).
from keras_deconvnet.training_recipe import PAPER_OPTIMIZER  # noqa: F401


def compile_for_training(model, *, num_classes, ignore_label, class_weights,
                         optimizer, learning_rate, momentum, weight_decay,
                         bias_learning_rate_multiplier, jit_compile):
    """Compiles `model` as `train()` does, and builds its optimizer slots.

    Softmax cross-entropy that skips `ignore_label` (optionally class
    weighted), the optimizer of `training_optimizer` (`CaffeSGD` for
    `"sgd"`) and the val-free training mIoU metric. Every setting is
    required; `PAPER_OPTIMIZER` holds the paper's solver settings,
    which `train()` defaults to.

    Args:
        model: the network to train.
        num_classes: classes of the score maps.
        ignore_label: the label without loss.
        class_weights: per-class loss weights, or `None`.
        optimizer: a name of `training.optimizers.OPTIMIZERS`.
        learning_rate: a float or a schedule.
        momentum: SGD momentum (Adam's beta_1).
        weight_decay: L2 decay on kernels.
        bias_learning_rate_multiplier: the biases' learning-rate factor.
        jit_compile: whole-step XLA (`jax.jit` on JAX).

    Returns:
        `model`, compiled.
    """
    model.compile(
        optimizer=training_optimizer(
            optimizer, learning_rate, momentum=momentum,
            weight_decay=weight_decay,
            bias_learning_rate_multiplier=bias_learning_rate_multiplier,
        ),
        loss=SegmentationCrossEntropy(ignore_label,
                                      class_weights=class_weights),
        metrics=[keras.metrics.MeanIoU(
            num_classes, ignore_class=ignore_label, sparse_y_pred=False,
            name="mean_iou",
        )],
        jit_compile=jit_compile,
    )
    # The slots now, not inside the first traced step: TensorFlow traces
    # a `tf.function` that creates variables twice, and on a CPU each
    # trace of the training step costs as much as dozens of steps.
    model.optimizer.build(model.trainable_variables)
    return model
