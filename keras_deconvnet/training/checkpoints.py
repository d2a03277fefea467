"""Fault tolerance: checkpoints every N steps that a restarted run resumes.

A run killed at any moment (SIGKILL included) and started again with the
same command continues from the last checkpoint: weights, optimizer state
(momentum, iteration count, learning rate), epoch and step within the
epoch. Files are written to a temporary name and renamed, so a kill in
the middle of a write never leaves a corrupt checkpoint.
"""

import json
import os

import numpy as np

import keras

WEIGHTS_FILE = "latest.weights.h5"
STATE_FILE = "training_state.json"


def read_training_state(directory):
    """Returns the saved `{"epoch", "step", "iterations"}`, or `None`."""
    path = os.path.join(directory, STATE_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as file:
        return json.load(file)


def restore(model, directory):
    """Loads the checkpoint in `directory` into a compiled `model`.

    Args:
        model: the compiled model (its optimizer is built if needed).
        directory: the checkpoint folder.

    Returns:
        `{"epoch": completed epochs, "step": steps done in the next epoch,
        "iterations": optimizer steps}`; zeros when there is nothing to
        resume.
    """
    state = read_training_state(directory)
    weights = os.path.join(directory, WEIGHTS_FILE)
    if state is None or not os.path.isfile(weights):
        return {"epoch": 0, "step": 0, "iterations": 0}
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(weights)
    return state


class StepCheckpoint(keras.callbacks.Callback):
    """Saves weights and optimizer state every `save_every` steps.

    Args:
        directory: checkpoint folder.
        save_every: steps between two checkpoints (at most this many
            steps are lost by a kill); every epoch end is saved too.
        steps_per_epoch: steps of one epoch.
        initial_epoch: epoch index this `fit` starts at.
        initial_step: steps of `initial_epoch` done before this `fit`
            (when finishing an interrupted epoch).
        write: whether this process writes (False on non-chief workers;
            the chief's checkpoint is the one every worker resumes from).
    """

    def __init__(self, directory, save_every, steps_per_epoch,
                 initial_epoch=0, initial_step=0, write=True):
        super().__init__()
        if int(save_every) < 1:
            raise ValueError(
                f"`save_every` must be >= 1. Received: save_every={save_every}"
            )
        self.directory = directory
        self.save_every = int(save_every)
        self.steps_per_epoch = int(steps_per_epoch)
        self.epoch = int(initial_epoch)
        self.step_offset = int(initial_step)
        self.write = write
        self.saves = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = self.step_offset + batch + 1
        if step % self.save_every == 0 and step < self.steps_per_epoch:
            self._save(self.epoch, step)

    def on_epoch_end(self, epoch, logs=None):
        self.step_offset = 0
        self._save(epoch + 1, 0)

    def _save(self, epoch, step):
        if not all(
            np.all(np.isfinite(keras.ops.convert_to_numpy(v)))
            for v in self.model.trainable_variables
        ):
            # Never replace the last good checkpoint with broken weights.
            return
        if not self.write:
            return
        directory = self.directory
        os.makedirs(directory, exist_ok=True)
        weights = os.path.join(directory, WEIGHTS_FILE)
        temporary = os.path.join(directory, "partial.weights.h5")
        self.model.save_weights(temporary, overwrite=True)
        iterations = int(
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
        )
        state = {"epoch": epoch, "step": step, "iterations": iterations}
        state_temporary = os.path.join(directory, f"{STATE_FILE}.tmp")
        with open(state_temporary, "w") as file:
            json.dump(state, file)
        # Weights first, then state: a kill between the two renames leaves
        # new weights with the old state, which resumes (a little late)
        # rather than failing.
        os.replace(temporary, weights)
        os.replace(state_temporary, os.path.join(directory, STATE_FILE))
        self.saves += 1

