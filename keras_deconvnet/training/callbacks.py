"""Training callbacks: stop on NaN loss, validation mIoU with batch
statistics, `history.json`."""

import json
import math
import os

import keras


class TrainingDivergedError(RuntimeError):
    """Raised when the training loss becomes NaN or infinite."""


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or infinite.

    Unlike `keras.callbacks.TerminateOnNaN`, it raises
    `TrainingDivergedError` from `on_train_batch_end`, before the
    callbacks listed after it run, so a `StepCheckpoint` placed after it
    never writes the diverged weights and training's end-of-run clean-up
    does not delete the last good checkpoint.

    Args:
        checkpoint_dir: shown in the error message (where the last good
            state is), or `None`.
    """

    def __init__(self, checkpoint_dir=None):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isnan(loss) or math.isinf(loss):
            where = (
                f" The last good checkpoint is kept in "
                f"'{self.checkpoint_dir}'; rerunning the same command "
                "resumes from it (lower --lr, or check the data)."
                if self.checkpoint_dir
                else ""
            )
            raise TrainingDivergedError(
                f"Training stopped: the loss became {loss} at batch "
                f"{batch} of this epoch (in an XLA-compiled step, a label "
                "outside [0, num_classes) that is not the ignore label also "
                f"shows as a NaN loss).{where}"
            )


class HistoryWriter(keras.callbacks.Callback):
    """Appends each epoch's logs to a JSON file, surviving restarts.

    The file holds `{"epochs": [{"epoch": e, "loss": ..., ...}, ...]}`.
    On a resumed run, entries of epochs at or after the resume point are
    replaced, so the file reads as one run.

    Args:
        path: JSON file to write.
        write: whether this process writes (only the chief worker does in
            multi-worker training).
    """

    def __init__(self, path, write=True):
        super().__init__()
        self.path = path
        self.write = write
        self.epochs = []
        if os.path.isfile(path):
            with open(path) as file:
                self.epochs = json.load(file).get("epochs", [])

    def on_epoch_end(self, epoch, logs=None):
        entry = {"epoch": int(epoch) + 1}
        entry.update({key: float(value) for key, value in (logs or {}).items()})
        optimizer = self.model.optimizer
        if optimizer is not None:
            # The epoch's rate: a plateau callback that ran before this one
            # logged it before lowering it for the next epoch.
            entry.setdefault("learning_rate", float(
                keras.ops.convert_to_numpy(optimizer.learning_rate)
            ))
            entry["iterations"] = int(
                keras.ops.convert_to_numpy(optimizer.iterations)
            )
        self.epochs = [e for e in self.epochs if e["epoch"] < entry["epoch"]]
        self.epochs.append(entry)
        self.save()

    def save(self, **extra):
        if not self.write:
            return
        temporary = f"{self.path}.tmp"
        with open(temporary, "w") as file:
            json.dump({"epochs": self.epochs, **extra}, file, indent=1)
        os.replace(temporary, self.path)


class BatchStatisticsValidation(keras.callbacks.Callback):
    """Validation mIoU with BN batch statistics, logged each epoch.

    Keras validates in inference mode, with moving averages that lag the
    weights during training and can collapse: in a CamVid run here
    (width 0.25, whole images) epoch 4 scored 0.198 training mIoU but
    0.002 validation mIoU in inference mode. The authors' Caffe BN had no
    moving statistics, so their validation, which drove "x0.1 when
    validation stalls", normalised with batch statistics. This callback
    measures that (with a stateless pass: the moving statistics stay as
    they are) and
    adds `val_miou_batch_statistics` to the epoch logs, for the callbacks
    after it (history, TensorBoard, reduce-on-plateau). With `inference`,
    it also logs `val_miou_inference` and `val_loss` (the compiled loss,
    averaged over batches), inference mode on the same batches. The
    trainer passes no `validation_data` to `fit`: this one pass is the
    whole validation, instead of a second trace and a second pass of
    Keras' own.

    Args:
        validation_data: iterable (e.g. `tf.data.Dataset`) of `(images,
            labels)` batches.
        steps: batches per evaluation (`None`: all of a finite dataset).
        num_classes: number of classes.
        ignore_label: label not scored, or `None`.
        batch_statistics: log `val_miou_batch_statistics` (off for a
            network without BatchNormalization).
        inference: log `val_miou_inference`.
    """

    LOG_NAME = "val_miou_batch_statistics"
    INFERENCE_LOG_NAME = "val_miou_inference"
    LOSS_LOG_NAME = "val_loss"

    def __init__(self, validation_data, steps, num_classes, ignore_label,
                 batch_statistics=True, inference=False):
        super().__init__()
        self.validation_data = validation_data
        self.steps = None if steps is None else int(steps)
        self.num_classes = num_classes
        self.ignore_label = ignore_label
        self.modes = {}  # log name -> `training` argument of the model
        if batch_statistics:
            self.modes[self.LOG_NAME] = True
        if inference:
            self.modes[self.INFERENCE_LOG_NAME] = False
        # `training` -> compiled stateless forward pass, built at the
        # first epoch end; the BN check after training reuses the traces.
        self.forwards = {}

    def on_epoch_end(self, epoch, logs=None):
        from keras_deconvnet.metrics import ConfusionMatrix

        from keras_deconvnet.inference.forward import compiled_forward

        if not self.forwards:
            self.forwards = {training: compiled_forward(self.model, training)
                             for training in self.modes.values()}
        matrices = {name: ConfusionMatrix(self.num_classes, self.ignore_label)
                    for name in self.modes}
        loss = getattr(self.model, "loss", None)
        losses = []
        batches = self.validation_data
        if self.steps is not None and hasattr(batches, "take"):
            batches = batches.take(self.steps)
        for index, (images, labels) in enumerate(batches):
            if self.steps is not None and index >= self.steps:
                break
            labels = keras.ops.convert_to_numpy(labels)
            for name, training in self.modes.items():
                scores = self.forwards[training](images)
                if not training and loss is not None:
                    losses.append(float(keras.ops.convert_to_numpy(
                        loss(labels, scores))))
                matrices[name].update(labels, keras.ops.convert_to_numpy(
                    keras.ops.argmax(scores, axis=-1)))
        if logs is not None:
            logs.update({name: matrix.mean_iou()
                         for name, matrix in matrices.items()})
            if losses:
                logs[self.LOSS_LOG_NAME] = sum(losses) / len(losses)
