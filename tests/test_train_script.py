"""training/train.py: --help, clear errors, stage 2 --init a stage-1 model."""

import importlib.util
import inspect
import json
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_script(name):
    spec = importlib.util.spec_from_file_location(
        f"script_{name}", os.path.join(ROOT, "training", f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_script = load_script("train")

TINY = ["--width", "0.0625", "--batch-size", "2", "--epochs", "1",
        "--steps-per-epoch", "2", "--schedule", "step",
        "--validation-steps", "1", "--bn-examples", "2", "--quiet"]


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory):
    from keras_deconvnet.data import write_synthetic_voc

    directory = str(tmp_path_factory.mktemp("synthetic"))
    write_synthetic_voc(directory, num_train=6, num_val=2,
                        image_size=(224, 224), seed=0)
    return directory


def test_help_documents_every_option():
    text = train_script.build_parser().format_help()
    for option in (
        "--stage", "--strategy", "--dataset", "--data-dir", "--out",
        "--epochs", "--steps-per-epoch", "--batch-size", "--lr", "--width",
        "--input-size", "--init", "--seed", "--mixed-precision",
        "--num-classes", "--ignore-label", "--schedule", "--step-size",
        "--class-weighting", "--class-weight-power", "--checkpoint-every",
        "--validation-steps", "--crops", "--momentum", "--weight-decay", "--bn-examples",
        "--logical-cpus", "--jit-compile", "--pooling-jit-compile", "--margin",
        "--iou-threshold", "--resume-anyway", "--allow-folded-bn",
    ):
        assert option in text, option
    # The paper's defaults.
    args = train_script.build_parser().parse_args([])
    assert (args.lr, args.momentum, args.weight_decay, args.batch_size) == (
        0.01, 0.9, 0.0005, 64)
    from keras_deconvnet.training.model_compile import PAPER_OPTIMIZER
    from keras_deconvnet.training.trainer import train

    # train() and the command read one definition
    # (keras_deconvnet/training_recipe.py).
    signature = inspect.signature(train).parameters
    assert signature["batch_size"].default == args.batch_size
    assert signature["learning_rate"].default == args.lr
    assert {"optimizer": args.optimizer, "learning_rate": args.lr,
            "momentum": args.momentum, "weight_decay": args.weight_decay} == {
        key: PAPER_OPTIMIZER[key] for key in (
            "optimizer", "learning_rate", "momentum", "weight_decay")}
    assert args.schedule == "plateau" and args.stage == 1
    # BN re-estimation: by default sized to the run (not always 14,000).
    assert args.bn_examples is None
    assert not args.resume_anyway and not args.allow_folded_bn
    assert args.pooling_jit_compile == "auto"


def test_init_imagenet_without_network_fails_clearly(synthetic_dir, tmp_path,
                                                     capsys):
    code = train_script.main([
        "--dataset", "synthetic", "--data-dir", synthetic_dir, "--out",
        str(tmp_path / "run"), "--init", "imagenet", *TINY,
    ])
    assert code == 2
    error = capsys.readouterr().err
    assert "Could not get the ImageNet VGG16 weights" in error
    assert "VGG16 weight file" in error


def test_missing_init_file_and_stage_2_without_init(synthetic_dir, tmp_path,
                                                    capsys):
    missing = str(tmp_path / "nowhere.keras")
    assert train_script.main([
        "--dataset", "synthetic", "--data-dir", synthetic_dir,
        "--init", missing, *TINY]) == 2
    assert "nowhere.keras" in capsys.readouterr().err
    assert train_script.main([
        "--stage", "2", "--dataset", "synthetic", "--data-dir",
        synthetic_dir, *TINY]) == 2
    assert "Stage 2 starts from the stage-1 model" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.usefixtures("deterministic_ops")
def test_stage_2_from_a_stage_1_model(synthetic_dir, tmp_path, capsys):
    import keras_deconvnet

    # A stage-1 result is a saved DeconvNet; train.py's stage 1 itself is
    # run by test_training_recipe_options and the demo runs both stages.
    model_1 = str(tmp_path / "stage1.keras")
    keras_deconvnet.DeconvNet(num_classes=21, width=0.0625).save(model_1)
    stage_2 = str(tmp_path / "stage2")
    assert train_script.main([
        "--stage", "2", "--init", model_1, "--dataset", "synthetic",
        "--data-dir", synthetic_dir, "--out", stage_2, *TINY]) == 0
    model_2 = os.path.join(stage_2, "deconvnet.keras")
    assert f"Model: {model_2}" in capsys.readouterr().out
    with open(os.path.join(stage_2, "training_summary.json")) as file:
        summary = json.load(file)
    config = summary["config"]
    assert config["crops"] == "proposals"
    assert config["init"] == model_1
    assert (config["stage"], config["width"], config["learning_rate"],
            config["batch_size"], config["ignore_label"],
            config["num_classes"]) == (2, 0.0625, 0.01, 2, 255, 21)
    assert summary["resumed_from"] == {"epoch": 0, "step": 0,
                                       "iterations": 0}
    assert summary["batch_norm"]["reestimated_over_examples"] == 2
    with open(os.path.join(stage_2, "history.json")) as file:
        history = json.load(file)["epochs"]
    assert [e["epoch"] for e in history] == [1]
    assert history[0]["iterations"] == 2
    assert history[0]["learning_rate"] == pytest.approx(0.01)
    assert 0 < history[0]["loss"] < 20, history  # finite, not diverged
    assert os.listdir(os.path.join(stage_2, "logs"))  # TensorBoard
    # The saved model loads, predicts and differs from its stage-1 start.
    model = keras_deconvnet.load(stage_2)
    assert model.name == "deconvnet"
    image = np.random.default_rng(0).uniform(0, 255, (1, 224, 224, 3))
    scores = np.asarray(model.predict(image, verbose=0))
    assert scores.shape == (1, 224, 224, 21) and np.isfinite(scores).all()
    start = keras_deconvnet.load(model_1)
    assert not np.allclose(model.get_layer("conv1_1").get_weights()[0],
                           start.get_layer("conv1_1").get_weights()[0])
