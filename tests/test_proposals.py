import numpy as np
import pytest

pytest.importorskip("cv2")

from keras_deconvnet.proposals import extend_boxes  # noqa: E402
from keras_deconvnet.proposals import gradient_edges  # noqa: E402
from keras_deconvnet.proposals import propose  # noqa: E402
from keras_deconvnet.proposals import select_proposals  # noqa: E402


def square_image():
    """A bright square on rows 40..119 and columns 60..159 (inclusive)."""
    image = np.full((200, 240, 3), 30, np.uint8)
    image[40:120, 60:160] = (230, 200, 50)
    return image


def iou(box, boxes):
    top = np.maximum(box[0], boxes[:, 0])
    left = np.maximum(box[1], boxes[:, 1])
    bottom = np.minimum(box[2], boxes[:, 2])
    right = np.minimum(box[3], boxes[:, 3])
    overlap = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa
    return overlap / (area(box) + area(boxes) - overlap)


def test_propose_finds_the_object_in_y1_x1_y2_x2_pixel_edges():
    boxes, scores = propose(square_image())
    assert boxes.dtype == np.float32 and scores.dtype == np.float32
    assert boxes.shape[1] == 4 and len(boxes) == len(scores) > 0
    assert np.all(np.diff(scores) <= 0)
    assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
    assert np.all(boxes >= 0) and np.all(boxes[:, [2, 3]] <= [200, 240])
    # Rows 40..119, columns 60..159 are [40, 60, 120, 160].
    truth = np.array([40, 60, 120, 160], np.float32)
    assert iou(truth, boxes[:10]).max() > 0.8


def test_propose_accepts_grayscale_rgba_and_float():
    image = square_image()
    reference = propose(image)[0]
    gray = image.mean(-1).astype(np.uint8)
    assert len(propose(gray)[0]) > 0
    assert len(propose(gray[..., None])[0]) > 0
    rgba = np.concatenate([image, np.full((200, 240, 1), 255, np.uint8)], -1)
    np.testing.assert_array_equal(propose(rgba)[0], reference)
    np.testing.assert_array_equal(propose(image.astype(np.float32))[0], reference)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((100, 120, 3), np.uint8),  # no edges
        np.full((3, 5, 3), 200, np.uint8),  # tiny
        np.zeros((0, 0, 3), np.uint8),  # empty
    ],
)
def test_degenerate_images_give_no_boxes(image):
    boxes, scores = propose(image)
    assert boxes.shape == (0, 4) and scores.shape == (0,)
    selected, _ = select_proposals(boxes, scores, image.shape[:2])
    assert selected.shape == (0, 4)


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="image.shape"):
        propose(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(FileNotFoundError, match="structured edge model"):
        propose(square_image(), edge_model=tmp_path / "missing.yml.gz")
    with pytest.raises(ValueError, match="boxes.shape"):
        select_proposals(np.zeros((3, 3)), np.zeros(3), (10, 10))


def test_gradient_edges_are_thin_and_oriented():
    edges, orientation = gradient_edges(square_image())
    assert edges.dtype == np.float32 and edges.max() == pytest.approx(1.0)
    assert np.all((orientation >= 0) & (orientation < np.pi + 1e-6))
    # Across the left edge of the square (column 60) only one column peaks.
    row = edges[80, 50:70]
    assert np.count_nonzero(row > 0.5) == 1
    # A vertical edge has a vertical edge direction: orientation pi/2.
    column = 50 + int(np.argmax(row))
    assert orientation[80, column] == pytest.approx(np.pi / 2, abs=0.05)


def test_select_proposals_filters_sorts_and_extends():
    boxes = np.array(
        [
            [0, 0, 100, 200],  # shorter side 100 < 112: dropped
            [0, 0, 120, 120],  # kept, score 0.5
            [-50, -50, 150, 150],  # clipped to [0, 0, 150, 150], score 0.9
            [10, 10, 10, 200],  # empty
        ],
        np.float32,
    )
    scores = np.array([0.99, 0.5, 0.9, 0.7], np.float32)
    selected, kept = select_proposals(
        boxes, scores, (160, 160), min_side=112, top_k=50, margin=0.1
    )
    np.testing.assert_allclose(kept, [0.9, 0.5])
    np.testing.assert_allclose(
        selected, [[-15, -15, 165, 165], [-12, -12, 132, 132]], atol=1e-5
    )
    top_one, _ = select_proposals(boxes, scores, (160, 160), top_k=1, margin=0)
    np.testing.assert_allclose(top_one, [[0, 0, 150, 150]])


def test_extend_boxes_clips_when_asked():
    boxes = np.array([[10, 20, 30, 60]], np.float32)
    np.testing.assert_allclose(
        extend_boxes(boxes, margin=0.5), [[0, 0, 40, 80]]
    )
    np.testing.assert_allclose(
        extend_boxes(boxes, margin=1.0, image_size=(35, 100)),
        [[0, 0, 35, 100]],
    )
    with pytest.raises(ValueError, match="margin"):
        extend_boxes(boxes, margin=-1)


def test_gradient_edge_fallback_warns_once_naming_the_flag(monkeypatch):
    import warnings

    from keras_deconvnet.proposals import edges

    monkeypatch.delenv(edges.EDGE_MODEL_ENV, raising=False)
    monkeypatch.setattr(edges, "_warned_gradient_fallback", False)
    image = np.full((64, 64, 3), 30, np.uint8)
    image[16:48, 16:48] = 220
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        propose(image)
        propose(image)
    messages = [str(warning.message) for warning in caught]
    assert len(messages) == 1 and "--edge-model" in messages[0]
    assert edges.edge_map_name() == "gradient"
