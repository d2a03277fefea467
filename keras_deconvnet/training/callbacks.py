"""Training callbacks: stop on NaN loss, write `history.json`."""

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
                f"{batch} of this epoch.{where}"
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
            entry["learning_rate"] = float(
                keras.ops.convert_to_numpy(optimizer.learning_rate)
            )
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
