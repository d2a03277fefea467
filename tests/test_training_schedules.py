"""Caffe step schedule and the reduce-on-plateau helper."""

import pytest

import keras

from keras_deconvnet.training.schedules import CaffeStepSchedule
from keras_deconvnet.training.schedules import reduce_on_plateau


@pytest.mark.parametrize("step", [0, 1, 8999, 9000, 17999, 18000, 20000])
def test_step_schedule_matches_caffe_formula(step):
    schedule = CaffeStepSchedule(0.01, step_size=9000, gamma=0.1)
    expected = 0.01 * 0.1 ** (step // 9000)
    value = float(keras.ops.convert_to_numpy(schedule(step)))
    assert value == pytest.approx(expected, rel=1e-6)


def test_step_schedule_round_trip_and_validation():
    schedule = CaffeStepSchedule(0.02, step_size=10, gamma=0.5)
    restored = CaffeStepSchedule.from_config(schedule.get_config())
    assert float(restored(25)) == pytest.approx(0.02 * 0.25)
    with pytest.raises(ValueError, match="step_size"):
        CaffeStepSchedule(0.01, step_size=0)
    with pytest.raises(ValueError, match="initial_learning_rate"):
        CaffeStepSchedule(-1.0)


def test_plateau_maximises_iou_and_divides_by_ten():
    callback = reduce_on_plateau(patience=2)
    assert callback.monitor == "val_miou_batch_statistics"
    assert callback.mode == "max"
    assert callback.factor == pytest.approx(0.1)
    assert reduce_on_plateau(monitor="val_loss").mode == "min"


def test_plateau_counters_survive_a_restart_and_a_second_fit():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    metric = "val_miou_batch_statistics"
    callback = reduce_on_plateau(patience=2)
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_end(0, {metric: 0.5})
    callback.on_epoch_end(1, {metric: 0.4})  # one epoch without gain
    state = callback.get_state()
    assert state == {"wait": 1, "best": 0.5, "cooldown_counter": 0}
    # The second `fit` of a resumed run keeps counting.
    callback.on_train_begin()
    assert callback.get_state() == state
    # A restarted run: the next stalled epoch is the second, so x0.1.
    restarted = reduce_on_plateau(patience=2, state=state)
    restarted.set_model(model)
    restarted.on_train_begin()
    restarted.on_epoch_end(2, {metric: 0.45})
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
