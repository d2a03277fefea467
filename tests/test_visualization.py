import numpy as np
import pytest

pytest.importorskip("PIL")

from PIL import Image  # noqa: E402

from keras_deconvnet import palette  # noqa: E402
from keras_deconvnet import visualization  # noqa: E402


def test_label_png_round_trips_with_the_voc_palette(tmp_path):
    labels = np.array([[0, 1, 15], [20, 255, 3]], np.int32)
    path = tmp_path / "labels.png"
    visualization.save_label_png(labels, path)
    loaded = Image.open(path)
    assert loaded.mode == "P"
    np.testing.assert_array_equal(np.asarray(loaded), labels)
    colours = np.asarray(loaded.convert("RGB"))
    np.testing.assert_array_equal(colours, palette.voc_palette()[labels])
    # VOC: person (15) is (192, 128, 128).
    np.testing.assert_array_equal(colours[0, 2], [192, 128, 128])


def test_label_png_rejects_out_of_range():
    with pytest.raises(ValueError, match="0..255"):
        visualization.label_image(np.array([[300]]))


def test_overlay_blends_and_lists_the_classes_present():
    image = np.full((100, 80, 3), 200, np.uint8)
    labels = np.zeros((100, 80), np.int32)
    labels[10:30, 10:40] = 15
    picture = visualization.overlay(image, labels, alpha=0.5)
    assert picture.shape == (100, 80 + visualization.LEGEND_WIDTH, 3)
    expected = np.round(0.5 * 200 + 0.5 * np.array([192, 128, 128]))
    np.testing.assert_array_equal(picture[20, 20], expected)
    np.testing.assert_array_equal(picture[0, 0], [100, 100, 100])
    # One swatch per class present (background and person), in its colour.
    panel = picture[:, 80:]
    person = np.all(panel == [192, 128, 128], axis=-1)
    background = np.all(panel == [0, 0, 0], axis=-1)
    assert person.sum() >= 100 and background.sum() >= 100
    plain = visualization.overlay(image, labels, legend=False)
    np.testing.assert_array_equal(plain, picture[:, :80])
    with pytest.raises(ValueError, match="labels.shape"):
        visualization.overlay(image, labels[:10])


def test_a_model_palette_colours_the_png_the_overlay_and_its_legend(
        tmp_path):
    colours = [[10, 20, 30], [200, 100, 50]]
    labels = np.array([[0, 1], [1, 7]], np.int32)
    path = tmp_path / "labels.png"
    visualization.save_label_png(labels, path, palette=colours)
    rgb = np.asarray(Image.open(path).convert("RGB"))
    np.testing.assert_array_equal(rgb[0], colours)
    # Past the model's classes: VOC's colours.
    np.testing.assert_array_equal(rgb[1, 1], palette.voc_palette()[7])
    image = np.zeros((40, 40, 3), np.uint8)
    picture = visualization.overlay(image, np.ones((40, 40), np.int32),
                                    alpha=1.0, palette=colours)
    np.testing.assert_array_equal(picture[5, 5], colours[1])
    swatch = np.all(picture[:, 40:] == colours[1], axis=-1)
    assert swatch.sum() >= 100  # the legend uses the same colour


def test_legend_grows_for_many_classes_on_a_small_image():
    labels = np.arange(21).reshape(3, 7)
    picture = visualization.overlay(np.zeros((3, 7, 3), np.uint8), labels)
    assert picture.shape[0] >= 21 * visualization.LEGEND_ROW


def test_draw_proposals_outlines_pixel_edge_boxes():
    image = np.zeros((40, 50, 3), np.uint8)
    drawn = visualization.draw_proposals(
        image, [[10, 5, 20, 10]], colour=(255, 0, 0), width=1
    )
    red = np.all(drawn == [255, 0, 0], axis=-1)
    rows, columns = np.nonzero(red)
    # Rows 10..19 and columns 5..9 inclusive.
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (10, 19, 5, 9)
    assert not red[12:18, 6:9].any()
