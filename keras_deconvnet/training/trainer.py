"""`train(...)`: the paper's two-stage training, resumable.

Runs on the TensorFlow and the JAX backends (tf.data input on both).

`training/train.py` is a thin command line over this function.
"""

import dataclasses
import json
import os
import shutil

import keras

from keras_deconvnet.data.augmentation import DEFAULT_SCALE_RANGE
from keras_deconvnet.layers import set_pooling_jit_compile
from keras_deconvnet.model_metadata import training_metadata
from keras_deconvnet.saving import save_and_record

from keras_deconvnet.training import batch_norm_check
from keras_deconvnet.training import checkpoints
from keras_deconvnet.training import run_setup
from keras_deconvnet.training.batch_norm_statistics import (
    refuse_folded_batch_norm,
)
from keras_deconvnet.training.callbacks import BatchStatisticsValidation
from keras_deconvnet.training.callbacks import HistoryWriter
from keras_deconvnet.training.callbacks import StopOnNaN
from keras_deconvnet.training.callbacks import TrainingDivergedError  # noqa
from keras_deconvnet.training.curves import LearningCurves
from keras_deconvnet.training.model_compile import PAPER_OPTIMIZER
from keras_deconvnet.training_recipe import PAPER_BATCH_SIZE
from keras_deconvnet.training.checkpoints import CHECKPOINT_DIR
from keras_deconvnet.training.checkpoints import default_out_dir  # noqa
from keras_deconvnet.training.checkpoints import model_file
from keras_deconvnet.training.checkpoints import run_name  # noqa
from keras_deconvnet.training.schedules import reduce_on_plateau


@dataclasses.dataclass
class TrainingResult:
    """What `train` returns.

    Attributes:
        model: the trained model (BN statistics re-estimated).
        model_path: the saved `.keras` file (`None` on non-chief workers).
        out_dir: the run folder.
        history: one dict per epoch (also in `history.json`).
        resumed_from: `{"epoch", "step", "iterations"}` restored at start.
        batch_norm: pixel accuracies with batch statistics and with moving
            statistics before and after re-estimation.
    """

    model: keras.Model
    model_path: str
    out_dir: str
    history: list
    resumed_from: dict
    batch_norm: dict


def train(
    *,
    arch="deconvnet",
    dataset="synthetic",
    data_dir=None,
    out_dir=None,
    stage=1,
    crops=None,
    scale_range=DEFAULT_SCALE_RANGE,
    strategy="default",
    epochs=None,
    steps_per_epoch=None,
    batch_size=PAPER_BATCH_SIZE,
    learning_rate=PAPER_OPTIMIZER["learning_rate"],
    optimizer=PAPER_OPTIMIZER["optimizer"],
    momentum=PAPER_OPTIMIZER["momentum"],
    weight_decay=PAPER_OPTIMIZER["weight_decay"],
    bias_learning_rate_multiplier=PAPER_OPTIMIZER["bias_learning_rate_multiplier"],
    schedule="plateau",
    step_size=None,
    plateau_patience=3,
    width=1.0,
    input_size=224,
    init=None,
    seed=0,
    mixed_precision=False,
    num_classes=None,
    ignore_label=None,
    image_dir=None,
    label_dir=None,
    class_names=None,
    margin=0.1,
    iou_threshold=0.5,
    class_weighting=False,
    class_weight_power=1.0,
    tile_scale=None,
    tile_overlap=None,
    checkpoint_every=100,
    validation_steps=None,
    bn_examples=None,
    jit_compile=None,
    pooling_jit_compile=None,
    train_data=None,
    validation_data=None,
    resume_anyway=False,
    allow_folded_batch_norm=False,
    verbose=1,
):
    """Trains a DeconvNet (or FCN-8s) with the paper's recipe; resumable.

    Stage 1 trains on object-centred crops (`crops="objects"`), stage 2 on
    proposal crops (`"proposals"`) starting from the stage-1 model
    (`init=path`); `crops="whole"` trains on resized whole images. SGD
    with momentum 0.9, L2 decay 0.0005 on kernels only and biases at twice
    the learning rate (`CaffeSGD`), softmax cross-entropy ignoring the
    ignore label, and the learning rate x0.1 when validation mIoU stalls
    (`schedule="plateau"`) or every `step_size` steps (`"step"`).

    Every `checkpoint_every` steps the weights, optimizer state, epoch and
    step go to `out_dir/checkpoint/`; calling `train` again with the same
    arguments (and `out_dir`, or the default one) resumes there, with the
    data stream and the plateau schedule where they were; a checkpoint
    written with other settings is refused (naming them). A NaN
    loss raises `TrainingDivergedError` and keeps the last good checkpoint.
    At the end the BN moving statistics are re-estimated over
    `bn_examples` training crops (weights fixed), then the model is
    saved as `out_dir/<arch>.keras` (`deconvnet.keras`), with
    `history.json`, `training_summary.json`, TensorBoard logs in
    `out_dir/logs` and learning curves in `out_dir/plots/curves.png`
    (rewritten at every epoch end).

    Args:
        arch: the network, `"deconvnet"` or `"fcn8s"` (`FCN8s`, the
            partner of the EDeconvNet ensemble; it has no BN, so there is
            no batch-statistics validation or BN re-estimation, and the
            plateau schedule watches `val_miou_inference`).
        dataset: `"voc"`, `"sbd"`, `"folder"` or `"synthetic"` (see
            `keras_deconvnet.data.load_source`).
        data_dir: the dataset folder.
        out_dir: run folder; default `saved_models/<dataset>-stage<k>-<time>`
            (or the newest unfinished such run, which is resumed).
        stage: 1 or 2 (picks the crops and the step-schedule size).
        crops: override the stage's crops: `"objects"`, `"proposals"`,
            `"whole"` or `"random"` (random crops of the full-resolution
            image rescaled by a factor in `scale_range`; see
            `keras_deconvnet.data.training_dataset`).
        scale_range: `(low, high)` scale factors of `crops="random"`.
        strategy: `"default"`, `"mirrored"` or `"multi_worker"`
            (`tf.distribute`); on JAX, `"mirrored"` or `"data_parallel"`
            is `keras.distribution.DataParallel` over the local devices.
        epochs: number of epochs (default: 20 for stage 1, 40 for stage 2,
            which with 1000 steps each are the paper's 20k/40k iterations).
        steps_per_epoch: steps per epoch (default: one pass over the
            crops).
        batch_size: global batch size (64), split across replicas.
        learning_rate: base learning rate (0.01; Adam usually wants 0.001).
        optimizer: `"sgd"` (`CaffeSGD`, the paper's) or `"adam"`
            (`KernelDecayAdamW`: `weight_decay` is decoupled, kernels
            only; `momentum` and the bias multiplier do not apply).
        momentum: SGD momentum (0.9).
        weight_decay: kernel weight decay (0.0005): an L2 term in the
            gradient for SGD, decoupled for Adam.
        bias_learning_rate_multiplier: biases' learning-rate factor (2).
        schedule: `"plateau"` (x0.1 when validation mIoU, measured with
            BN batch statistics as in the authors' Caffe, stalls for
            `plateau_patience` epochs), `"step"` (x0.1 every `step_size`
            steps; default 9000 for stage 1, 10000 for stage 2) or
            `"poly"` (`(1 - step / total) ** 0.9`, reaching 0 after
            `epochs * steps_per_epoch` steps).
        step_size: see `schedule`.
        plateau_patience: see `schedule`.
        width: channel multiplier of the network (1.0 = paper).
        input_size: crop side (224).
        init: `None` (random), `"imagenet"` (VGG16 transfer, width 1.0),
            or a file: a VGG16 weight file, or a saved DeconvNet (stage 2
            starts from the stage-1 `.keras`). A model whose BN is folded
            into scale and shift (moving mean 0, variance 1, trained
            scales: a Caffe-converted model) is refused, see
            `allow_folded_batch_norm`.
        seed: seeds weights, crops, order and flips.
        mixed_precision: `mixed_bfloat16` on CPUs and on GPUs from Ampere
            on, `mixed_float16` (with loss scaling) on older GPUs; scores
            and loss stay float32.
        num_classes: classes (folder datasets, or in-memory `train_data`).
        ignore_label: label without loss (folder datasets, `train_data`);
            default 255 (`keras_deconvnet.palette.VOC_IGNORE_LABEL`) for
            every dataset. Any other label outside `[0, num_classes)`
            raises.
        image_dir: folder datasets: explicit image folder.
        label_dir: folder datasets: explicit label folder.
        class_names: names stored with the model (a list, `a,b,c` or a
            file); default: the dataset's (`classes.txt`, CamVid, VOC).
        margin: box growth per side for stage crops.
        iou_threshold: stage-2 proposal/instance overlap.
        class_weighting: weight the loss by median frequency balancing.
        class_weight_power: the median-frequency ratios raised to this
            power: 1 is SegNet's weighting, 0.5 the softer square root.
        tile_scale: the tiled-inference scale(s) that suit the trained
            model, stored in its metadata: `Segmenter(mode="tiles")` and
            `evaluate.py --mode tiles` use them when not given. No effect
            on training (a resumed run may change them).
        tile_overlap: the tiled-inference overlap stored likewise.
        checkpoint_every: steps between checkpoints (at most this many
            are lost when the run is killed).
        validation_steps: validation batches per epoch (default: the
            whole validation split, resized whole images).
        bn_examples: training crops for the BN re-estimation; 0 skips
            it. `None`: as many as the run trained on (epochs x steps x
            batch), at least 512 and at most the authors' 14,000
            (`batch_norm_check.default_bn_examples`).
        jit_compile: compile the training step with XLA; `None` means
            on GPU or on the JAX backend only (on this 2-core CPU, a
            width-0.0625 model took 63 s to compile with XLA and 22 s
            without on TensorFlow, and its steps were no faster).
        pooling_jit_compile: run the (un)pooling layers as XLA clusters
            inside the TensorFlow training graph (about 10% faster steps
            on CPU, 10-20 s more compilation). `None`: on for single-device
            runs without whole-step XLA of at least 200 planned steps
            (`backends.POOLING_JIT_MIN_STEPS`); `True` needs
            `strategy="default"`. No effect on JAX. The trained model's
            layers are left at `"auto"` either way.
        train_data: instead of `dataset`, a `tf.data.Dataset` of
            `(images, labels)` batches (repeating; needs `num_classes`,
            `steps_per_epoch`). The labels of its first batch are checked
            before the model is built, the others as they stream.
        validation_data: with `train_data`: optional validation batches.
        resume_anyway: resume a checkpoint written with other settings.
        allow_folded_batch_norm: train from an `init` whose BN is folded
            for inference (see `init`). Training normalises with batch
            statistics, so it starts from a different network than the
            converted one; re-estimate or expect to relearn.
        verbose: 1 shows progress bars, 0 is silent.

    Returns:
        A `TrainingResult`.

    Raises:
        ValueError: invalid arguments (named), or a checkpoint of a run
            with other settings.
        TrainingDivergedError: the loss became NaN or infinite.
        tf.errors.InvalidArgumentError: a label outside `[0,
            num_classes)` that is not the ignore label.

    Example:

    >>> result = train(dataset="synthetic", data_dir="/tmp/synthetic",
    ...                stage=1, width=0.0625, epochs=2, steps_per_epoch=20,
    ...                batch_size=4, schedule="step")
    >>> result.model_path
    """
    arguments = dict(locals())
    previous_policy = keras.mixed_precision.global_policy().name
    try:
        return _train(arguments)
    finally:
        # Also after TrainingDivergedError or any other error.
        keras.mixed_precision.set_global_policy(previous_policy)


def _train(arguments):
    setup = run_setup.prepare(arguments)
    if arguments["init"] not in (None, "imagenet"):
        refuse_folded_batch_norm(setup.model, arguments["init"],
                                 arguments["allow_folded_batch_norm"])
    model = setup.model
    verbose = arguments["verbose"]
    out_dir = setup.out_dir
    checkpoint_dir = os.path.join(out_dir, CHECKPOINT_DIR)
    model_path = os.path.join(out_dir, model_file(setup.arch))
    history_path = os.path.join(out_dir, "history.json")

    state = checkpoints.restore(model, checkpoint_dir, setup.config,
                                arguments["resume_anyway"])
    resumed_from = dict(state)
    if state["epoch"] or state["step"]:
        say(True, f"Resuming {out_dir}: epoch {state['epoch'] + 1}, "
            f"step {state['step']} (optimizer step {state['iterations']}).")
    history = HistoryWriter(history_path, write=setup.is_chief)
    plateau = None
    if setup.schedule == "plateau":
        plateau = reduce_on_plateau(
            monitor=setup.plateau_monitor,
            patience=arguments["plateau_patience"], state=state.get("plateau"))
    checkpoint = checkpoints.StepCheckpoint(
        checkpoint_dir,
        arguments["checkpoint_every"],
        setup.steps_per_epoch,
        initial_epoch=state["epoch"],
        initial_step=state["step"],
        write=setup.is_chief,
        config=setup.config,
        extra_state=None if plateau is None else (
            lambda: {"plateau": plateau.get_state()}),
    )
    # StopOnNaN first: it raises before the checkpoint can save bad weights.
    callbacks = [StopOnNaN(checkpoint_dir)]
    validation = None
    if setup.validation_data is not None:
        # Before the callbacks that read its log entries.
        validation = BatchStatisticsValidation(
            setup.validation_data, setup.validation_steps,
            setup.config["num_classes"], setup.config["ignore_label"],
            batch_statistics=setup.batch_norm, inference=True,
        )
        callbacks.append(validation)
    if plateau is not None:
        callbacks.append(plateau)  # before the checkpoint saves its counters
    callbacks += [checkpoint, history]
    if setup.is_chief:
        callbacks.append(LearningCurves(
            history, os.path.join(out_dir, "plots", "curves.png"),
            title=f"{os.path.basename(os.path.abspath(out_dir))} "
            f"({setup.arch})",
        ))
    if setup.is_chief and tensorboard_available():
        callbacks.append(keras.callbacks.TensorBoard(
            os.path.join(out_dir, "logs"), update_freq="epoch"
        ))

    # No `validation_data`: `BatchStatisticsValidation` validates (mIoU in
    # both BN modes, and `val_loss`) in one pass; Keras' own evaluation
    # would trace a second graph and read the data a second time.
    fit_options = dict(
        callbacks=callbacks,
        shuffle=False,  # the tf.data pipeline shuffles (seeded)
        verbose=verbose,
    )
    # A resumed run continues the data stream after the batches it used.
    done = state["epoch"] * setup.steps_per_epoch + state["step"]
    training_data = setup.train_data_from(done) if done else setup.train_data
    if state["step"]:
        # Finish the interrupted epoch with its remaining steps.
        model.fit(
            training_data,
            epochs=state["epoch"] + 1,
            initial_epoch=state["epoch"],
            steps_per_epoch=setup.steps_per_epoch - state["step"],
            **fit_options,
        )
        state = {**state, "epoch": state["epoch"] + 1, "step": 0}
        training_data = setup.train_data_from(
            state["epoch"] * setup.steps_per_epoch)
    if state["epoch"] < setup.epochs:
        model.fit(
            training_data,
            epochs=setup.epochs,
            initial_epoch=state["epoch"],
            steps_per_epoch=setup.steps_per_epoch,
            **fit_options,
        )

    batch_norm = batch_norm_check.finish_batch_norm(
        setup, arguments["bn_examples"] if setup.batch_norm else 0, verbose,
        forwards=None if validation is None else validation.forwards,
    )
    if setup.is_chief:
        # "auto": XLA (un)pooling in Keras' predict/fit of the loaded
        # model, plain ops in its exports (portable graphs).
        set_pooling_jit_compile(model, "auto")
        # Only a DeconvNet becomes load()'s default; an FCN-8s is a partner.
        model = save_and_record(model, model_path, "training",
                                record=setup.arch == "deconvnet",
                                **training_metadata(setup.config))
        history.save(batch_norm=batch_norm)
        with open(os.path.join(out_dir, "training_summary.json"), "w") as file:
            json.dump({"backend": keras.backend.backend(),
                       "config": setup.config, "model": model_path,
                       "resumed_from": resumed_from, "batch_norm": batch_norm},
                      file, indent=1)
        # Finished: a rerun must not resume this run.
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        say(verbose, f"Saved {model_path}")
    return TrainingResult(
        model=model,
        model_path=model_path if setup.is_chief else None,
        out_dir=out_dir,
        history=history.epochs,
        resumed_from=resumed_from,
        batch_norm=batch_norm,
    )


def tensorboard_available():
    """TensorBoard logs need the `tensorboard` package (extra `training`)."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        print("tensorboard is not installed: no TensorBoard logs "
              "(pip install keras-deconvnet[training]).")
        return False
    return True


def say(verbose, message):
    if verbose:
        print(message, flush=True)
