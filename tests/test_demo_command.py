"""`make demo`'s job, end to end at a tiny size."""

import json
import re

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("cv2")

import keras_deconvnet  # noqa: E402
from keras_deconvnet.__main__ import main  # noqa: E402


@pytest.mark.slow
@pytest.mark.usefixtures("deterministic_ops")
def test_demo_trains_evaluates_segments_and_exports(tmp_path, capsys):
    import numpy as np

    from keras_deconvnet import data
    from keras_deconvnet.metrics import ConfusionMatrix

    models, work = tmp_path / "models", tmp_path / "work"
    # A small run: its figures depend on the trajectory, which depends on
    # the CPU's kernels. Whole / proposals mIoU: 0.389 / 0.395 on an
    # AVX-512 EPYC, 0.324 / 0.401 on an AVX2 EPYC under op determinism,
    # 0.195 / 0.264 on the AVX2 EPYC without it, 0.170 / 0.141 on an AMX
    # Xeon under op determinism; chance 0.124. Mean class accuracy held
    # up everywhere (0.383 / 0.389 on the Xeon, 0.324 the lowest seen;
    # chance 0.167). How well training learns is
    # tests/test_training_trainer.py's subject; this test asks that the
    # demo's model beats always-background in both modes.
    status = main(
        [
            "demo", "--out", str(models), "--work-dir", str(work),
            "--steps", "45", "--batch-size", "4", "--width", "0.125",
            "--learning-rate", "0.05", "--num-train", "12", "--num-val", "4",
        ]
    )
    assert status == 0
    output = capsys.readouterr().out
    # Each of the six steps reports its duration.
    timings = re.findall(r"^  \(\d+ s\)$", output, re.MULTILINE)
    assert len(timings) == 6, output
    stage2 = models / "demo-stage2" / "deconvnet.keras"
    assert f"Saved model: {stage2.resolve()}" in output
    # load() of the model folder finds the newest model: stage 2.
    loaded = keras_deconvnet.load(models)
    assert loaded.output_shape == (None, 224, 224, 21)
    metrics = json.loads((work / "metrics.json").read_text())
    assert set(metrics) == {"whole", "proposals"}
    # Chance: the most frequent class (background) everywhere.
    source = data.load_source("synthetic", str(work / "synthetic_voc"), "val")
    constant = ConfusionMatrix(21, 255)
    for _, label in data.evaluation_examples(source):
        constant.update(label, np.zeros_like(label))
    chance = constant.mean_iou()
    for mode, summary in metrics.items():
        figures = (mode, summary["miou"], summary["mean_class_accuracy"],
                   chance, constant.summary()["mean_class_accuracy"])
        # Always-background scores exactly chance, and fails both. Class
        # accuracy carries the margin (30% over the weakest run measured);
        # mIoU must be above chance. Not pixel accuracy, where
        # always-background's 0.74 beats a whole-image 0.70 seen.
        assert summary["miou"] > chance, figures
        assert summary["mean_class_accuracy"] > 1.5 * constant.summary()[
            "mean_class_accuracy"], figures
        assert summary["num_images"] == 4
    assert (work / "segment_overlay.png").stat().st_size > 0
    assert (models / "deconvnet" / "1" / "saved_model.pb").is_file()
    assert (models / "deconvnet_demo.tflite").stat().st_size > 0
