"""`make demo`'s job, end to end at a tiny size."""

import json

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("cv2")

import keras_deconvnet  # noqa: E402
from keras_deconvnet.__main__ import main  # noqa: E402


@pytest.mark.slow
def test_demo_trains_evaluates_segments_and_exports(tmp_path, capsys):
    models, work = tmp_path / "models", tmp_path / "work"
    status = main(
        [
            "demo", "--out", str(models), "--work-dir", str(work),
            "--steps", "3", "--batch-size", "2", "--num-train", "6",
            "--num-val", "2",
        ]
    )
    assert status == 0
    output = capsys.readouterr().out
    stage2 = models / "demo-stage2" / "deconvnet.keras"
    assert f"Saved model: {stage2.resolve()}" in output
    # load() of the model folder finds the newest model: stage 2.
    loaded = keras_deconvnet.load(models)
    assert loaded.output_shape == (None, 224, 224, 21)
    metrics = json.loads((work / "metrics.json").read_text())
    assert set(metrics) == {"whole", "proposals"}
    for summary in metrics.values():
        assert 0.0 <= summary["miou"] <= 1.0
        assert summary["num_images"] == 2
    assert (work / "segment_overlay.png").stat().st_size > 0
    assert (models / "deconvnet" / "1" / "saved_model.pb").is_file()
    assert (models / "deconvnet_demo.tflite").stat().st_size > 0
