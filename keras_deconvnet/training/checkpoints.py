"""Fault tolerance: checkpoints every N steps that a restarted run resumes.

A run killed at any moment (SIGKILL included) and started again with the
same command continues from the last checkpoint: weights, optimizer state
(momentum, iteration count, learning rate), epoch and step within the
epoch, the plateau schedule's counters. The run's settings are saved
beside them, and a checkpoint is not resumed with other settings. Files
are written to a temporary name and renamed, so a kill in the middle of a
write never leaves a corrupt checkpoint.
"""

import glob
import json
import os
import time

import numpy as np

import keras

from keras_deconvnet.training import checkpoint_arrays

CHECKPOINT_DIR = "checkpoint"
# Weights and optimizer state (`checkpoint_arrays`); checkpoints written
# before it held them in `LEGACY_WEIGHTS_FILE` (`model.save_weights`),
# which `restore` still reads.
ARRAYS_FILE = "latest.state.npz"
LEGACY_WEIGHTS_FILE = "latest.weights.h5"
STATE_FILE = "training_state.json"
CONFIG_FILE = "run_config.json"
# Settings that do not change what a run computes, or name its folder: a
# resumed run may change them (the tile settings only go into the saved
# model's metadata; XLA pooling runs the same exact ops as the plain graph).
UNCOMPARED_SETTINGS = ("verbose", "checkpoint_every", "out_dir",
                       "resume_anyway", "allow_folded_batch_norm",
                       "tile_scale", "tile_overlap", "pooling_jit_compile")


def run_name(arguments):
    """The dataset part of a default run folder's name: the dataset, and
    for folder datasets the data folder's name (`folder-camvid`)."""
    dataset = arguments["dataset"]
    if arguments.get("train_data") is not None or dataset is None:
        return "data"
    if dataset == "folder":
        folder = arguments["data_dir"] or arguments["image_dir"] or ""
        return f"folder-{os.path.basename(os.path.normpath(folder))}"
    return dataset


def model_file(arch="deconvnet"):
    """The saved model's file name in a run folder: `<arch>.keras`."""
    return f"{arch}.keras"


def default_out_dir(dataset, stage, root="saved_models", arch="deconvnet"):
    """`saved_models/<dataset>-stage<k>-<timestamp>` (`<dataset>-<arch>-...`
    for other networks than DeconvNet), or the newest unfinished run of
    that name so that rerunning a command resumes it (the checkpoint
    refuses to resume with other settings)."""
    prefix = dataset if arch == "deconvnet" else f"{dataset}-{arch}"
    unfinished = [
        path
        for path in glob.glob(os.path.join(root, f"{prefix}-stage{stage}-*"))
        if os.path.isdir(os.path.join(path, CHECKPOINT_DIR))
        and not os.path.isfile(os.path.join(path, model_file(arch)))
    ]
    if unfinished:
        return max(unfinished, key=os.path.getmtime)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return os.path.join(root, f"{prefix}-stage{stage}-{stamp}")


def read_training_state(directory):
    """Returns the saved `{"epoch", "step", "iterations"}`, or `None`."""
    path = os.path.join(directory, STATE_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as file:
        return json.load(file)


def _as_json(config):
    return json.loads(json.dumps(config, default=str))


def check_resume_config(directory, config, resume_anyway=False):
    """Refuses to resume a checkpoint written with other settings.

    Args:
        directory: the checkpoint folder (its `run_config.json`, absent in
            checkpoints written before it existed, is compared).
        config: this run's resolved settings.
        resume_anyway: continue despite differences.

    Returns:
        The names of the differing settings.

    Raises:
        ValueError: settings differ and `resume_anyway` is False; the
            message names each one with both values.
    """
    path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isfile(path):
        return []
    with open(path) as file:
        saved = json.load(file)
    current = _as_json(config)
    differing = sorted(
        key for key in set(saved) | set(current)
        if key not in UNCOMPARED_SETTINGS and saved.get(key) != current.get(key)
    )
    if differing and not resume_anyway:
        details = "; ".join(
            f"{key}: checkpoint {saved.get(key)!r}, now {current.get(key)!r}"
            for key in differing
        )
        raise ValueError(
            f"The checkpoint in '{directory}' belongs to a run with other "
            f"settings ({details}). Give this run its own folder (--out / "
            "`out_dir`), or pass --resume-anyway (`resume_anyway=True`) to "
            "continue that run with these settings."
        )
    return differing


def restore(model, directory, config=None, resume_anyway=False):
    """Loads the checkpoint in `directory` into a compiled `model`.

    Args:
        model: the compiled model (its optimizer is built if needed).
        directory: the checkpoint folder.
        config: this run's settings, compared with the checkpoint's
            (`check_resume_config`) before anything is loaded.
        resume_anyway: resume despite differing settings.

    Returns:
        `{"epoch": completed epochs, "step": steps done in the next epoch,
        "iterations": optimizer steps}` and any extra state saved (e.g.
        `"plateau"`); zeros when there is nothing to resume.

    Raises:
        ValueError: the checkpoint's settings differ from `config`.
    """
    state = read_training_state(directory)
    arrays = os.path.join(directory, ARRAYS_FILE)
    legacy = os.path.join(directory, LEGACY_WEIGHTS_FILE)
    if state is None or not (os.path.isfile(arrays)
                             or os.path.isfile(legacy)):
        return {"epoch": 0, "step": 0, "iterations": 0}
    if config is not None:
        check_resume_config(directory, config, resume_anyway)
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    if os.path.isfile(arrays):
        # The state saved inside the arrays file matches its weights even
        # when a kill fell between the two renames of `_save`.
        state = checkpoint_arrays.load_arrays(model, arrays) or state
    else:
        model.load_weights(legacy)
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
        config: the run's settings, saved as `run_config.json`.
        extra_state: `() -> dict` of more state to save (e.g. the
            plateau schedule's counters), returned by `restore`.
    """

    def __init__(self, directory, save_every, steps_per_epoch,
                 initial_epoch=0, initial_step=0, write=True, config=None,
                 extra_state=None):
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
        self.config = config
        self.extra_state = extra_state
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
        iterations = int(
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
        )
        state = {"epoch": epoch, "step": step, "iterations": iterations}
        if self.extra_state is not None:
            state.update(self.extra_state())
        arrays = os.path.join(directory, ARRAYS_FILE)
        temporary = os.path.join(directory, "partial.state.npz")
        checkpoint_arrays.save_arrays(self.model, temporary, state)
        if self.config is not None:
            _write_json(os.path.join(directory, CONFIG_FILE),
                        _as_json(self.config))
        state_temporary = os.path.join(directory, f"{STATE_FILE}.tmp")
        with open(state_temporary, "w") as file:
            json.dump(state, file)
        # Arrays first, then the JSON state: a kill between the two
        # renames leaves new arrays beside the old JSON, and `restore`
        # reads the state stored inside the arrays, which matches them.
        os.replace(temporary, arrays)
        os.replace(state_temporary, os.path.join(directory, STATE_FILE))
        # A checkpoint of the older format, now stale, must not be read.
        legacy = os.path.join(directory, LEGACY_WEIGHTS_FILE)
        if os.path.exists(legacy):
            os.remove(legacy)
        self.saves += 1



def _write_json(path, value):
    temporary = f"{path}.tmp"
    with open(temporary, "w") as file:
        json.dump(value, file, indent=1)
    os.replace(temporary, path)
