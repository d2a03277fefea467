"""`benchmarks/precision_agreement.py`: bf16 against float32 on a model."""

import json
import os
import sys

import numpy as np
import pytest

pytest.importorskip("tensorflow")

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPOSITORY)

from benchmarks import precision_agreement  # noqa: E402
from tests.conftest import SMALL_WIDTH  # noqa: E402
from tests.layer_testing import make_informative  # noqa: E402


def test_float32_row_is_the_evaluation_and_agreement_is_measured(tmp_path):
    import keras_deconvnet
    from keras_deconvnet import data
    from keras_deconvnet.evaluation import evaluate

    data_dir = str(tmp_path / "synthetic")
    data.write_synthetic_voc(data_dir, num_train=1, num_val=2,
                             image_size=(96, 128), seed=0)
    source = data.load_source("synthetic", data_dir, "val")
    model = keras_deconvnet.DeconvNet(num_classes=21, width=SMALL_WIDTH)
    # O(1) scores: a fresh model's ~1e-15 outputs would be all ties.
    rng = np.random.default_rng(0)
    make_informative(model, rng.uniform(0, 255, (2, 224, 224, 3)))
    model.save(tmp_path / "model.keras")
    output = tmp_path / "agreement.json"

    assert precision_agreement.main([
        "--model", str(tmp_path / "model.keras"), "--dataset", "synthetic",
        "--data-dir", data_dir, "--json", str(output)]) == 0
    result = json.loads(output.read_text())
    expected = evaluate(model, data.evaluation_examples(source), 21, 255,
                        progress=False)
    assert result["num_images"] == 2
    assert result["float32"]["miou"] == pytest.approx(expected["miou"])
    assert result["float32"]["pixel_accuracy"] == pytest.approx(
        expected["pixel_accuracy"])
    assert 0.5 < result["argmax_agreement"] <= 1.0, result
    assert set(result["bfloat16"]["class_iou"]) == set(
        keras_deconvnet.metadata(model)["class_names"])
    assert result["machine"]["processor"]


def test_winograd_variant_runs_winograd_layers_and_agrees(rng, monkeypatch):
    import keras_deconvnet
    from keras_deconvnet.layers import WinogradConv2D
    from keras_deconvnet.layers import winograd_conv

    # Width 1/4: five 28x28 layers have the 128 channels Winograd needs.
    model = keras_deconvnet.DeconvNet(num_classes=21, width=0.25)
    make_informative(model, rng.uniform(0, 255, (2, 224, 224, 3)))
    segmenters = precision_agreement.variant_segmenters(model, "winograd",
                                                        "whole")
    assert set(segmenters) == {"float32", "winograd"}
    winograd_layers = [layer for layer in segmenters["winograd"].model.layers
                       if isinstance(layer, WinogradConv2D)]
    assert len(winograd_layers) == 5
    monkeypatch.setattr(winograd_conv, "_shared_clusters", {})
    image = rng.integers(0, 256, (224, 224, 3)).astype("uint8")
    labels = {name: segmenter.segment(image)
              for name, segmenter in segmenters.items()}
    # The Segmenter's compiled forward ran the Winograd clusters.
    assert winograd_conv._shared_clusters
    assert all(cluster.experimental_get_tracing_count() >= 1
               for cluster in winograd_conv._shared_clusters.values())
    assert np.mean(labels["float32"] == labels["winograd"]) > 0.999
    with pytest.raises(ValueError, match="against"):
        precision_agreement.variant_segmenters(model, "int8", "whole")
