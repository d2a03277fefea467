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
