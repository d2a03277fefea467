"""Everything `train` builds before `fit` (TensorFlow).

Argument checks, strategy, precision policy, data, model and compile. The
BN re-estimation after `fit` is in `batch_norm_check`.
"""

import dataclasses
import math
import os

import numpy as np

import keras

from keras_deconvnet.data.augmentation import check_scale_range
from keras_deconvnet.model_metadata import check_tile_settings
from keras_deconvnet.training import backends
from keras_deconvnet.training import strategies
from keras_deconvnet.training.losses import check_weight_power
from keras_deconvnet.training.losses import checked_label_batches
from keras_deconvnet.training.losses import median_frequency_weights
from keras_deconvnet.training.model_compile import compile_for_training
from keras_deconvnet.training.optimizers import OPTIMIZERS
from keras_deconvnet.training.schedules import SCHEDULES
from keras_deconvnet.training.schedules import CaffeStepSchedule
from keras_deconvnet.training.schedules import poly_schedule

# Networks `train(arch=...)` builds (keras_deconvnet.models).
ARCHITECTURES = ("deconvnet", "fcn8s")
STAGE_CROPS = {1: "objects", 2: "proposals"}
CROPS = ("objects", "proposals", "whole", "random")
PAPER_STEP_SIZES = {1: 9000, 2: 10000}
PAPER_EPOCHS = {1: 20, 2: 40}


@dataclasses.dataclass
class Setup:
    arch: str
    model: keras.Model
    strategy: object
    out_dir: str
    train_data: object
    validation_data: object
    validation_steps: int
    steps_per_epoch: int
    epochs: int
    batch_size: int
    schedule: str
    is_chief: bool
    config: dict
    bn_data: object
    # `batches -> the training data without its first `batches` batches`,
    # for a resumed run.
    train_data_from: object
    # Whether the network has BatchNormalization (DeconvNet; not FCN-8s):
    # then validation with batch statistics and the re-estimation apply.
    batch_norm: bool = True
    plateau_monitor: str = "val_miou_batch_statistics"


def _check(condition, message):
    if not condition:
        raise ValueError(message)


def validate(arguments):
    """Checks `train`'s arguments; raises `ValueError` naming the bad one."""
    a = arguments
    _check(a["arch"] in ARCHITECTURES,
           f"`arch` must be one of {ARCHITECTURES}. Received: arch={a['arch']}")
    _check(a["stage"] in (1, 2),
           f"`stage` must be 1 or 2. Received: stage={a['stage']}")
    _check(a["crops"] in (None, *CROPS),
           f"`crops` must be one of {CROPS}. Received: crops={a['crops']}")
    _check(a["strategy"] in strategies.STRATEGIES,
           f"`strategy` must be one of {strategies.STRATEGIES}. "
           f"Received: strategy={a['strategy']}")
    _check(a["pooling_jit_compile"] in (None, True, False),
           "`pooling_jit_compile` must be None (auto), True or False. "
           f"Received: pooling_jit_compile={a['pooling_jit_compile']!r}")
    _check(a["schedule"] in SCHEDULES,
           f"`schedule` must be one of {SCHEDULES}. "
           f"Received: schedule={a['schedule']}")
    _check(a["optimizer"] in OPTIMIZERS,
           f"`optimizer` must be one of {OPTIMIZERS}. "
           f"Received: optimizer={a['optimizer']}")
    for name in ("batch_size", "checkpoint_every"):
        _check(isinstance(a[name], int) and a[name] >= 1,
               f"`{name}` must be an int >= 1. Received: {name}={a[name]}")
    for name in ("epochs", "steps_per_epoch", "validation_steps",
                 "step_size"):
        _check(a[name] is None or (isinstance(a[name], int) and a[name] >= 1),
               f"`{name}` must be an int >= 1 or None. "
               f"Received: {name}={a[name]}")
    a["scale_range"] = check_scale_range(a["scale_range"])
    # Stored in the model at the end: refused now, not after training.
    check_tile_settings(a["tile_scale"], a["tile_overlap"])
    # Before the labels are counted for the weights, not after.
    power = a["class_weight_power"]
    check_weight_power(power, name="class_weight_power")
    _check(a["class_weighting"] or power == 1,
           "`class_weight_power` shapes the class weights: pass "
           "class_weighting=True with it. "
           f"Received: class_weight_power={power!r}, class_weighting=False")
    _check(a["learning_rate"] > 0,
           f"`learning_rate` must be > 0. "
           f"Received: learning_rate={a['learning_rate']}")
    _check(a["input_size"] >= 224 and a["input_size"] % 32 == 0,
           "`input_size` must be a multiple of 32, at least 224. "
           f"Received: input_size={a['input_size']}")
    if a["train_data"] is not None:
        _check(a["num_classes"] is not None and a["steps_per_epoch"],
               "With `train_data`, pass `num_classes` and `steps_per_epoch`.")
    elif a["dataset"] is None:
        raise ValueError("Pass `dataset` (and `data_dir`) or `train_data`.")
    if a["stage"] == 2 and a["init"] is None:
        raise ValueError(
            "Stage 2 starts from the stage-1 model: pass "
            "init='path/to/stage1/deconvnet.keras' (or init='imagenet' to "
            "skip stage 1). Received: init=None"
        )


def _sources(a):
    from keras_deconvnet import data

    options = dict(num_classes=a["num_classes"],
                   ignore_label=a["ignore_label"],
                   image_dir=a["image_dir"], label_dir=a["label_dir"])
    train_source = data.load_source(
        a["dataset"], a["data_dir"], "train", **options
    )
    try:
        if a["image_dir"] is not None:
            raise FileNotFoundError("explicit folders: no val split")
        validation_source = data.load_source(
            a["dataset"], a["data_dir"], "val", **options
        )
    except FileNotFoundError:
        validation_source = None
    return train_source, validation_source


def _datasets(a, crops, batch_size, seed):
    """Training, validation and BN-estimation data, and the split sizes."""
    from keras_deconvnet import data

    train_source, validation_source = _sources(a)
    progress = bool(a["verbose"])
    common = dict(batch_size=batch_size, input_size=a["input_size"],
                  progress=progress)
    crop_options = dict(
        crops=crops, margin=a["margin"], iou_threshold=a["iou_threshold"],
        scale_range=a["scale_range"],
        cache_dir=os.path.join(a["out_dir"], "proposal_cache"), **common,
    )

    def train_data_from(batches):
        return data.training_dataset(train_source, seed=seed,
                                     start_element=batches * batch_size,
                                     **crop_options)

    train_data = train_data_from(0)
    bn_data = data.training_dataset(train_source, seed=seed + 1,
                                    **crop_options)
    steps = a["steps_per_epoch"] or max(
        1, math.ceil(train_data.crop_count / batch_size)
    )
    validation_data, validation_steps = None, None
    if validation_source is not None and len(validation_source):
        # Whole images resized to the input size: a fixed-size network
        # sees every image at one scale, as whole-mode evaluation does.
        validation_data = data.training_dataset(
            validation_source, crops="whole", shuffle=False, flip=False,
            seed=seed, **common,
        )
        validation_steps = a["validation_steps"] or max(
            1, len(validation_source) // batch_size
        )
    weights = None
    if a["class_weighting"]:
        labels = (label for _, label in data.evaluation_examples(train_source))
        weights = median_frequency_weights(
            labels, train_source.num_classes, train_source.ignore_label,
            power=a["class_weight_power"],
        )
    return dict(train_data=train_data, validation_data=validation_data,
                validation_steps=validation_steps, steps=steps,
                bn_data=bn_data, train_data_from=train_data_from,
                num_classes=train_source.num_classes,
                ignore_label=train_source.ignore_label,
                class_weights=weights)


def _in_memory(a):
    from keras_deconvnet.palette import VOC_IGNORE_LABEL

    ignore_label = a["ignore_label"]
    if ignore_label is None:
        ignore_label = VOC_IGNORE_LABEL
    weights = None
    if a["class_weighting"]:
        labels = (np.asarray(label) for _, label in
                  a["train_data"].take(a["steps_per_epoch"]))
        weights = median_frequency_weights(
            labels, a["num_classes"], ignore_label,
            power=a["class_weight_power"],
        )
    # Checked on the host, before the (maybe XLA-compiled) step.
    train_data, validation_data = (
        None if batches is None else
        checked_label_batches(batches, a["num_classes"], ignore_label)
        for batches in (a["train_data"], a["validation_data"]))
    if hasattr(train_data, "take"):
        # The first batch now, before the model is built and its step
        # compiled: a wrong `num_classes` or `ignore_label` fails in a
        # second, not after the compilation (later batches are checked as
        # they stream).
        for _ in train_data.take(1):
            pass
    return dict(train_data=train_data, validation_data=validation_data,
                validation_steps=a["validation_steps"],
                steps=a["steps_per_epoch"], bn_data=train_data,
                train_data_from=train_data.skip,
                num_classes=a["num_classes"], ignore_label=ignore_label,
                class_weights=weights)


def prepare(arguments):
    """Builds the `Setup` of a run from `train`'s arguments."""
    from keras_deconvnet import models
    from keras_deconvnet.training import trainer

    a = dict(arguments)
    validate(a)
    # MultiWorkerMirroredStrategy must exist before other TF work.
    strategy = strategies.get_strategy(a["strategy"])
    replicas = strategy.num_replicas_in_sync
    _check(a["batch_size"] % replicas == 0,
           f"`batch_size` ({a['batch_size']}) must be a multiple of the "
           f"{replicas} replicas, which each take an equal share.")
    keras.utils.set_random_seed(a["seed"])
    policy = backends.precision_policy(a["mixed_precision"])
    keras.mixed_precision.set_global_policy(policy)

    crops = a["crops"] or STAGE_CROPS[a["stage"]]
    if a["out_dir"] is None:
        a["out_dir"] = trainer.default_out_dir(
            trainer.run_name(a), a["stage"], arch=a["arch"]
        )
    os.makedirs(a["out_dir"], exist_ok=True)
    if a["train_data"] is None:
        prepared = _datasets(a, crops, a["batch_size"], a["seed"])
    else:
        prepared = _in_memory(a)
    schedule = a["schedule"]
    if schedule == "plateau" and prepared["validation_data"] is None:
        print("No validation split: using the step schedule instead of "
              "reduce-on-plateau.")
        schedule = "step"
    epochs = a["epochs"] or PAPER_EPOCHS[a["stage"]]
    learning_rate = a["learning_rate"]
    if schedule == "step":
        learning_rate = CaffeStepSchedule(
            learning_rate, a["step_size"] or PAPER_STEP_SIZES[a["stage"]]
        )
    elif schedule == "poly":
        learning_rate = poly_schedule(learning_rate,
                                      epochs * prepared["steps"])
    # Without whole-step XLA (the CPU default), fuse just the (un)pooling:
    # the fastest training step measured on CPU, once the run is long
    # enough to repay the compilation; not under tf.distribute (off
    # there, as before "auto" existed). JAX compiles the whole step.
    whole_step_xla = backends.default_jit_compile(a["jit_compile"])
    pooling_jit_compile = (
        backends.backend() == "tensorflow"
        and backends.default_pooling_jit_compile(
            a["pooling_jit_compile"], whole_step_xla, a["strategy"],
            epochs * prepared["steps"]))
    num_classes = prepared["num_classes"]
    with strategy.scope():
        network = {"deconvnet": models.DeconvNet, "fcn8s": models.FCN8s}
        model = network[a["arch"]](
            num_classes=num_classes,
            input_shape=(a["input_size"], a["input_size"], 3),
            width=a["width"],
            weights=a["init"],
        )
        compile_for_training(
            model, num_classes=num_classes,
            ignore_label=prepared["ignore_label"],
            class_weights=prepared["class_weights"],
            optimizer=a["optimizer"], learning_rate=learning_rate,
            momentum=a["momentum"], weight_decay=a["weight_decay"],
            bias_learning_rate_multiplier=a["bias_learning_rate_multiplier"],
            jit_compile=whole_step_xla,
        )
    if a["strategy"] == "multi_worker":
        strategies.patch_multi_worker_fit(model, strategy)
    if backends.backend() == "tensorflow":
        from keras_deconvnet.layers import set_pooling_jit_compile

        set_pooling_jit_compile(model, pooling_jit_compile)
    config = {key: value for key, value in a.items()
              if key not in ("train_data", "validation_data")}
    config.update(backend=backends.backend(), jit_compile=model.jit_compile,
                  pooling_jit_compile=pooling_jit_compile,
                  crops=crops, schedule=schedule, precision_policy=policy,
                  replicas=replicas, num_classes=num_classes,
                  ignore_label=prepared["ignore_label"],
                  class_weights=prepared["class_weights"],
                  steps_per_epoch=prepared["steps"])
    batch_norm = any(isinstance(layer, keras.layers.BatchNormalization)
                     for layer in model._flatten_layers())
    return Setup(
        arch=a["arch"], model=model, batch_norm=batch_norm,
        # Without BN, training-mode validation would only add dropout:
        # inference-mode validation mIoU drives the plateau.
        plateau_monitor=("val_miou_batch_statistics" if batch_norm
                         else "val_miou_inference"), strategy=strategy, out_dir=a["out_dir"],
        train_data=prepared["train_data"],
        validation_data=prepared["validation_data"],
        validation_steps=prepared["validation_steps"],
        steps_per_epoch=prepared["steps"],
        epochs=epochs,
        batch_size=a["batch_size"], schedule=schedule,
        is_chief=strategies.is_chief(), config=config,
        bn_data=prepared["bn_data"],
        train_data_from=prepared["train_data_from"],
    )
