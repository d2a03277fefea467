"""Learning-rate schedules: the paper's Caffe steps or x0.1 on plateau,
and a polynomial decay to zero for short fixed budgets."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class CaffeStepSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Caffe's `lr_policy: "step"`: `base * gamma ** floor(step / step_size)`.

    The DeconvNet solvers use `base_lr: 0.01, gamma: 0.1` with
    `stepsize: 9000` (stage 1) and `10000` (stage 2).

    Args:
        initial_learning_rate: base learning rate.
        step_size: iterations between two decays.
        gamma: factor applied at each decay.

    Example:

    >>> schedule = CaffeStepSchedule(0.01, step_size=9000)
    >>> optimizer = CaffeSGD(learning_rate=schedule)
    """

    def __init__(self, initial_learning_rate=0.01, step_size=9000, gamma=0.1):
        if initial_learning_rate <= 0:
            raise ValueError(
                "`initial_learning_rate` must be > 0. "
                f"Received: initial_learning_rate={initial_learning_rate}"
            )
        if int(step_size) < 1:
            raise ValueError(
                f"`step_size` must be >= 1. Received: step_size={step_size}"
            )
        self.initial_learning_rate = float(initial_learning_rate)
        self.step_size = int(step_size)
        self.gamma = float(gamma)

    def __call__(self, step):
        decays = ops.floor(ops.divide(ops.cast(step, "float32"), self.step_size))
        return ops.multiply(
            self.initial_learning_rate, ops.power(self.gamma, decays)
        )

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "step_size": self.step_size,
            "gamma": self.gamma,
        }


class ResumablePlateau(keras.callbacks.ReduceLROnPlateau):
    """`ReduceLROnPlateau` whose counters survive restarts.

    Keras resets the best value and the epochs-without-improvement count
    at the start of every `fit`. A resumed run (and the second `fit` that
    follows a resumed partial epoch) must continue counting, or it lowers
    the learning rate later than the uninterrupted run would have.

    Args:
        state: counters from `get_state()` of the interrupted run.
        **kwargs: passed to `keras.callbacks.ReduceLROnPlateau`.
    """

    def __init__(self, state=None, **kwargs):
        super().__init__(**kwargs)
        self.restored_state = state
        self.started = False

    def on_train_begin(self, logs=None):
        if self.started:
            return  # a later `fit` of the same run: keep counting
        super().on_train_begin(logs)
        self.started = True
        if self.restored_state:
            self.wait = int(self.restored_state["wait"])
            self.best = self.restored_state["best"]
            self.cooldown_counter = int(
                self.restored_state["cooldown_counter"])

    def get_state(self):
        """JSON-ready counters, for `StepCheckpoint(extra_state=...)`."""
        return {"wait": int(self.wait),
                "best": None if self.best is None else float(self.best),
                "cooldown_counter": int(self.cooldown_counter)}


def reduce_on_plateau(monitor="val_miou_batch_statistics", patience=3, factor=0.1,
                      min_learning_rate=1e-6, state=None):
    """The paper's "divide by 10 when validation stalls", as a callback.

    The default watches the validation mIoU computed with BN batch
    statistics (`callbacks.BatchStatisticsValidation`), as the authors'
    Caffe validation was: inference-mode validation during training
    reflects the lagging moving averages, not the weights.

    Args:
        monitor: logged quantity to watch; a name containing `iou` or
            `accuracy` is maximised, anything else minimised.
        patience: epochs without improvement before a decay.
        factor: multiplier of the learning rate at each decay.
        min_learning_rate: floor of the learning rate.
        state: counters saved by an interrupted run (`get_state()`).

    Returns:
        A `ResumablePlateau` (a `keras.callbacks.ReduceLROnPlateau`).
    """
    mode = "max" if ("iou" in monitor or "accuracy" in monitor) else "min"
    return ResumablePlateau(
        state=state,
        monitor=monitor,
        factor=factor,
        patience=patience,
        mode=mode,
        min_lr=min_learning_rate,
        verbose=1,
    )


SCHEDULES = ("plateau", "step", "poly")
# Polynomial decay's exponent: DeepLab's "poly" policy for segmentation.
POLY_POWER = 0.9


def poly_schedule(initial_learning_rate, total_steps, power=POLY_POWER):
    """`base * (1 - step / total_steps) ** power`, reaching 0 at the end.

    The "poly" policy of DeepLab and PSPNet: a fixed budget of
    `total_steps` (epochs x steps per epoch) ends at a learning rate of
    zero, without a validation-driven decay.

    Args:
        initial_learning_rate: learning rate at step 0.
        total_steps: step at which the learning rate reaches 0.
        power: exponent of the decay (0.9).

    Returns:
        A `keras.optimizers.schedules.PolynomialDecay`.
    """
    if int(total_steps) < 1:
        raise ValueError(
            f"`total_steps` must be >= 1. Received: total_steps={total_steps}"
        )
    return keras.optimizers.schedules.PolynomialDecay(
        initial_learning_rate, decay_steps=int(total_steps),
        end_learning_rate=0.0, power=power,
    )
