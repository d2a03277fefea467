"""The end of training: BN re-estimation, measured before and after.

Compares, on the validation batches (training batches when there is no
validation split), the network with batch statistics against inference
mode before and after `reestimate_batch_norm_statistics`.
"""

import math

import numpy as np

import keras

from keras_deconvnet.inference.forward import compiled_forward
from keras_deconvnet.training.batch_norm_statistics import (
    reestimate_batch_norm_statistics,
)

# Training batches compared when there is no validation split.
BATCH_NORM_CHECK_BATCHES = 4
# The authors' re-estimation: about 14,000 stage-2 training windows.
PAPER_BN_EXAMPLES = 14000
# Fewest crops of the default re-estimation. The fc6/fc7 BN layers see one
# 1x1 feature per crop, so their statistics come from one value per crop:
# over 512 crops the standard error of a channel mean is 4.4% of its
# standard deviation (1/sqrt(512)) and that of its variance 6%
# (sqrt(2/511)); every other layer pools many pixels per crop.
MIN_BN_EXAMPLES = 512


def default_bn_examples(trained_examples):
    """BN re-estimation crops when `bn_examples=None`: as many as the run
    trained on, at least `MIN_BN_EXAMPLES`, at most the paper's 14,000."""
    return int(min(max(trained_examples, MIN_BN_EXAMPLES), PAPER_BN_EXAMPLES))


def _accuracies(forwards, batches, num_classes, ignore_label):
    """mIoU and pixel accuracy with batch and with moving statistics.

    `forwards` maps `training` (True, False) to a compiled forward pass of
    the model. `batches` is iterated once, a batch at a time (never held in
    memory).
    """
    from keras_deconvnet.metrics import ConfusionMatrix

    # The forward passes are stateless: a batch-statistics pass leaves the
    # moving statistics that the next inference-mode pass reads alone.
    matrices = {key: ConfusionMatrix(num_classes, ignore_label)
                for key in ("batch_statistics", "moving_statistics")}
    for images, labels in batches:
        for key, training in (("batch_statistics", True),
                              ("moving_statistics", False)):
            scores = forwards[training](images)
            predictions = keras.ops.convert_to_numpy(
                keras.ops.argmax(scores, axis=-1))
            matrices[key].update(np.asarray(labels), predictions)
    return {key: (matrix.mean_iou(), matrix.pixel_accuracy())
            for key, matrix in matrices.items()}


def finish_batch_norm(setup, bn_examples, verbose, forwards=None):
    """Re-estimates BN statistics; returns accuracies before and after.

    Batch-statistics accuracy is what the network does when each batch
    normalises itself; moving-statistics accuracy is inference mode. They
    should agree after re-estimation. `bn_examples=None` picks
    `default_bn_examples` of the crops the run trained on. `forwards`:
    compiled forward passes by `training` flag to reuse (the validation
    callback's, already traced on the validation batches checked here).
    """
    if bn_examples is None:
        bn_examples = default_bn_examples(
            setup.epochs * setup.steps_per_epoch * setup.batch_size)
    if not setup.is_chief or not bn_examples:
        return {"reestimated_over_examples": 0}
    model = setup.model
    config = setup.config
    if setup.validation_data is not None:
        check_data, check_batches = setup.validation_data, (
            setup.validation_steps)
    else:
        check_data, check_batches = setup.train_data, BATCH_NORM_CHECK_BATCHES
    # A fresh pass over the same first batches each time (the datasets
    # are seeded), streamed rather than kept: VOC val at batch 64 would
    # take about 1 GB.
    # Compiled once for both measurements: eager calls op by op were
    # slower (seconds a batch in mixed precision on a CPU).
    forwards = {training: (forwards or {}).get(training)
                or compiled_forward(model, training)
                for training in (True, False)}
    measure = lambda: _accuracies(  # noqa: E731
        forwards, check_data.take(check_batches),
        config["num_classes"], config["ignore_label"])
    before = measure()
    num_batches = max(1, math.ceil(bn_examples / setup.batch_size))
    used = reestimate_batch_norm_statistics(
        model, setup.bn_data, num_batches=num_batches, progress=bool(verbose)
    )
    after = measure()
    result = {
        "reestimated_over_examples": used,
        "checked_on": "{} {} batches".format(
            check_batches,
            "validation" if setup.validation_data is not None else "training"),
    }
    for name, (miou, accuracy) in (
        ("batch_statistics", after["batch_statistics"]),
        ("inference_before", before["moving_statistics"]),
        ("inference_after", after["moving_statistics"]),
    ):
        result[f"miou_{name}"] = miou
        result[f"pixel_accuracy_{name}"] = accuracy
    if verbose:
        print(
            "BN statistics re-estimated over {reestimated_over_examples} "
            "crops. On {checked_on} (mIoU / pixel accuracy): batch "
            "statistics {miou_batch_statistics:.3f} / "
            "{pixel_accuracy_batch_statistics:.3f}; inference mode before "
            "{miou_inference_before:.3f} / "
            "{pixel_accuracy_inference_before:.3f}, after "
            "{miou_inference_after:.3f} / "
            "{pixel_accuracy_inference_after:.3f}".format(**result)
        )
    return result
