import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("cv2")
pytest.importorskip("pydensecrf.densecrf")

from PIL import Image  # noqa: E402

import keras_deconvnet  # noqa: E402
from keras_deconvnet.__main__ import main  # noqa: E402
from keras_deconvnet.data.synthetic import synthetic_example  # noqa: E402

SMALL_WIDTH = 0.0625


def generated_image(size):
    """A synthetic-dataset picture (objects on texture), uint8 RGB."""
    return synthetic_example(0, image_size=(size, size))["image"]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    model = keras_deconvnet.DeconvNet(num_classes=21, width=SMALL_WIDTH)
    path = folder / "tiny.keras"
    model.save(path)
    return path


def test_segment_writes_labels_overlay_and_proposals(tmp_path, saved_model, capsys):
    image_path = tmp_path / "scene.png"
    Image.fromarray(generated_image(160)).save(image_path)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    out = tmp_path / "out"
    status = main(
        [
            "segment",
            str(image_path),
            str(broken),
            str(tmp_path / "missing.png"),
            "--model",
            str(saved_model),
            "--proposals",
            "3",
            "--min-side",
            "48",
            "--crf",
            "--draw-proposals",
            "--out",
            str(out),
        ]
    )
    error = capsys.readouterr().err
    # The good image is written; the two bad ones are named, status 1.
    assert status == 1
    assert "broken.jpg" in error and "Cannot read image" in error
    assert "missing.png" in error and "not found" in error
    labels = Image.open(out / "scene_labels.png")
    assert labels.mode == "P" and labels.size == (160, 160)
    assert np.asarray(labels).max() < 21
    overlay = Image.open(out / "scene_overlay.png")
    assert overlay.size[1] == 160 and overlay.size[0] > 160
    proposals = np.asarray(Image.open(out / "scene_proposals.png"))
    assert np.all(proposals == [255, 255, 0], axis=-1).any()


def test_segment_colours_with_the_model_palette(tmp_path):
    model = keras_deconvnet.DeconvNet(num_classes=3, width=SMALL_WIDTH)
    colours = [[10, 20, 30], [40, 50, 60], [70, 80, 90]]
    keras_deconvnet.set_metadata(model, palette=colours,
                                 class_names=["road", "car", "sky"])
    model.save(tmp_path / "scenes.keras")
    Image.fromarray(generated_image(64)).save(tmp_path / "scene.png")
    out = tmp_path / "out"
    status = main(["segment", str(tmp_path / "scene.png"), "--model",
                   str(tmp_path / "scenes.keras"), "--mode", "whole",
                   "--out", str(out)])
    assert status == 0
    labels = Image.open(out / "scene_labels.png")
    np.testing.assert_array_equal(
        np.asarray(labels.getpalette()[:9]).reshape(3, 3), colours)
    overlay = np.asarray(Image.open(out / "scene_overlay.png").convert("RGB"))
    legend = overlay[:, 64:]
    assert any(np.all(legend == colour, axis=-1).sum() >= 100
               for colour in colours)


@pytest.mark.parametrize(
    "flags, options",
    [
        (["--mode", "whole"], {"mode": "whole"}),
        (
            ["--mode", "tiles", "--tile-scale", "1.0", "2.5", "--tile-overlap", "0.5"],
            {"mode": "tiles", "tile_scale": (1.0, 2.5), "tile_overlap": 0.5},
        ),
    ],
)
def test_segment_whole_and_tiles_modes_match_segmenter(
    tmp_path, saved_model, flags, options
):
    from keras_deconvnet.inference import Segmenter

    image = generated_image(96)
    Image.fromarray(image).save(tmp_path / "small.png")
    status = main(
        ["segment", str(tmp_path / "small.png"), "--model", str(saved_model),
         "--out", str(tmp_path), "--draw-proposals", *flags]
    )
    assert status == 0
    written = np.asarray(Image.open(tmp_path / "small_labels.png"))
    model = keras_deconvnet.load(saved_model)
    expected = Segmenter(model, **options).segment(image)
    np.testing.assert_array_equal(written, expected)
    assert (tmp_path / "small_proposals.png").exists()


def test_segment_reports_a_missing_model(tmp_path):
    with pytest.raises(SystemExit, match="--model"):
        main(["segment", "x.png", "--model", str(tmp_path / "none.keras")])


def test_segment_optimize_flag_reaches_the_segmenter(tmp_path, saved_model,
                                                     monkeypatch):
    from keras_deconvnet.inference import segmenter as segmenter_module

    seen = []
    original = segmenter_module.optimize_for_inference

    def recording(model, *args, **kwargs):
        seen.append(model.name)
        return original(model, *args, **kwargs)

    monkeypatch.setattr(segmenter_module, "optimize_for_inference", recording)
    Image.fromarray(generated_image(64)).save(tmp_path / "scene.png")
    for flags in ([], ["--optimize"]):
        assert main(["segment", str(tmp_path / "scene.png"), "--model",
                     str(saved_model), "--mode", "whole", "--out",
                     str(tmp_path / "out"), *flags]) == 0
    assert len(seen) == 1  # only the --optimize run
    assert (tmp_path / "out" / "scene_labels.png").exists()
