"""tf.data training crops: geometry, alignment, determinism, modes."""

import numpy as np
import pytest

from keras_deconvnet.data import evaluation_examples
from keras_deconvnet.data import load_source
from keras_deconvnet.data import training_dataset
from keras_deconvnet.data import write_synthetic_voc
from keras_deconvnet.data.arrays import ArraySegmentation
from keras_deconvnet.data.stage_crops import select_overlapping


def _first(dataset):
    images, labels = next(iter(dataset))
    return images.numpy(), labels.numpy()


@pytest.fixture(scope="module")
def synthetic_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline_synthetic")
    write_synthetic_voc(root, num_train=10, num_val=3, image_size=(128, 128))
    return load_source("synthetic", str(root), "train")


def test_padding_outside_the_image_is_zero_and_ignore():
    image = np.full((10, 10, 3), 100, np.uint8)
    label = np.ones((10, 10), np.int32)
    source = ArraySegmentation(
        [image],
        [label],
        [[(1, [0, 0, 10, 10])]],
        num_classes=2,
        ignore_label=255,
    )
    dataset = training_dataset(
        source,
        batch_size=1,
        input_size=20,
        resize_size=20,
        margin=0.5,
        flip=False,
        shuffle=False,
        repeat=False,
        progress=False,
    )
    images, labels = _first(dataset)
    assert images.shape == (1, 20, 20, 3) and images.dtype == np.float32
    assert labels.dtype == np.int32
    expected_image = np.zeros((20, 20, 3), np.float32)
    expected_image[5:15, 5:15] = 100
    expected_label = np.full((20, 20), 255)
    expected_label[5:15, 5:15] = 1
    np.testing.assert_allclose(images[0], expected_image, atol=1e-4)
    np.testing.assert_array_equal(labels[0], expected_label)


def test_random_crops_and_flips_keep_image_and_label_aligned():
    rows, columns = np.mgrid[0:40, 0:40]
    image = np.stack([rows, columns, np.zeros_like(rows)], -1).astype(np.uint8)
    label = (rows // 4) * 10 + columns // 4  # encodes the position too
    source = ArraySegmentation(
        [image],
        [label],
        [[(1, [0, 0, 40, 40])]],
        num_classes=100,
        ignore_label=255,
    )
    dataset = training_dataset(
        source,
        batch_size=16,
        input_size=32,
        resize_size=40,
        margin=0.0,
        seed=3,
        progress=False,
    )
    images, labels = _first(dataset)
    image_rows = np.rint(images[..., 0]).astype(int)
    image_columns = np.rint(images[..., 1]).astype(int)
    np.testing.assert_array_equal(
        labels, (image_rows // 4) * 10 + image_columns // 4
    )
    # Each crop is a contiguous 32x32 block, flipped or not.
    steps = np.diff(image_columns, axis=2)
    flipped = (steps == -1).all(axis=(1, 2))
    assert ((steps == 1).all(axis=(1, 2)) | flipped).all()
    assert 0 < flipped.sum() < 16
    assert (
        len({(r[0, 0], c[0, 0]) for r, c in zip(image_rows, image_columns)})
        > 4
    )
    np.testing.assert_array_equal(np.diff(image_rows, axis=1), 1)


def test_label_resize_is_nearest_and_image_bilinear():
    label = np.array([[0, 1], [2, 3]], np.int32)
    image = np.zeros((2, 2, 3), np.uint8)
    image[..., 0] = [[0, 100], [100, 200]]
    source = ArraySegmentation(
        [image],
        [label],
        [[(1, [0, 0, 2, 2])]],
        num_classes=4,
        ignore_label=255,
    )
    dataset = training_dataset(
        source,
        batch_size=1,
        input_size=4,
        resize_size=4,
        margin=0.0,
        flip=False,
        shuffle=False,
        repeat=False,
        progress=False,
    )
    images, labels = _first(dataset)
    np.testing.assert_array_equal(
        labels[0], np.repeat(np.repeat(label, 2, 0), 2, 1)
    )
    # Half-pixel bilinear: row 0 of the red channel is 0, 25, 75, 100.
    np.testing.assert_allclose(images[0, 0, :, 0], [0, 25, 75, 100], atol=1e-3)


def test_deterministic_under_seed(synthetic_source):
    def batches(seed):
        dataset = training_dataset(
            synthetic_source,
            batch_size=4,
            input_size=64,
            seed=seed,
            progress=False,
        )
        iterator = iter(dataset)
        return [next(iterator) for _ in range(3)]

    first, again, other = batches(7), batches(7), batches(8)
    for (a_images, a_labels), (b_images, b_labels) in zip(first, again):
        np.testing.assert_array_equal(a_images.numpy(), b_images.numpy())
        np.testing.assert_array_equal(a_labels.numpy(), b_labels.numpy())
    assert not np.array_equal(first[0][0].numpy(), other[0][0].numpy())


def test_objects_one_crop_per_instance(synthetic_source):
    dataset = training_dataset(
        synthetic_source, batch_size=8, input_size=64, seed=0, progress=False
    )
    instances = sum(
        len(synthetic_source.instances(i))
        for i in range(len(synthetic_source))
    )
    assert dataset.crop_count == instances
    images, labels = _first(dataset)
    assert images.shape == (8, 64, 64, 3) and labels.shape == (8, 64, 64)
    assert 0 <= images.min() and images.max() <= 255
    assert set(np.unique(labels)) <= {0, 1, 7, 8, 12, 15, 255}


def test_proposals_mode_uses_selected_cached_proposals(
    synthetic_source, tmp_path
):
    positions = {
        synthetic_source.read(i, False).image.tobytes(): i
        for i in range(len(synthetic_source))
    }

    def jittered_instances(image):
        # A deterministic proposal function: boxes around the true objects.
        index = positions[image.tobytes()]
        boxes = np.array([b for _, b in synthetic_source.instances(index)])
        return np.concatenate([boxes, boxes + 20, boxes * 0.5]).astype(
            np.float32
        )

    dataset = training_dataset(
        synthetic_source,
        crops="proposals",
        batch_size=4,
        input_size=64,
        seed=0,
        cache_dir=str(tmp_path),
        proposal_fn=jittered_instances,
        iou_threshold=0.5,
        progress=False,
    )
    expected = 0
    for index in range(len(synthetic_source)):
        boxes = np.array([b for _, b in synthetic_source.instances(index)])
        proposals = jittered_instances(
            synthetic_source.read(index, False).image
        )
        expected += len(select_overlapping(proposals, boxes, 0.5))
    assert dataset.crop_count == expected > len(synthetic_source)
    images, labels = _first(dataset)
    assert images.shape == (4, 64, 64, 3)
    assert len(list(tmp_path.iterdir())) == 1


def test_whole_mode_and_evaluation_examples(synthetic_source):
    dataset = training_dataset(
        synthetic_source,
        crops="whole",
        batch_size=2,
        input_size=64,
        shuffle=False,
        flip=False,
        repeat=False,
        progress=False,
    )
    assert dataset.crop_count == len(synthetic_source)
    images, labels = _first(dataset)
    image, label = next(iter(evaluation_examples(synthetic_source)))
    assert image.dtype == np.uint8 and label.dtype == np.int32
    assert image.shape == (128, 128, 3) and label.shape == (128, 128)
    # The resized whole image is the original halved (nearest labels).
    np.testing.assert_array_equal(labels[0], label[1::2, 1::2])


def test_through_the_edge_boxes_module(synthetic_source, tmp_path):
    pytest.importorskip("cv2")
    pytest.importorskip("keras_deconvnet.proposals")
    small = load_source("synthetic", str(synthetic_source.root), "val")
    small = small.subset(range(3))
    dataset = training_dataset(
        small,
        crops="proposals",
        batch_size=2,
        input_size=64,
        seed=0,
        cache_dir=str(tmp_path),
        max_proposals=300,
        progress=False,
    )
    assert dataset.crop_count > 0
    images, labels = _first(dataset)
    assert images.shape == (2, 64, 64, 3)


def test_rejects_bad_arguments(synthetic_source):
    with pytest.raises(ValueError, match="crops"):
        training_dataset(synthetic_source, crops="boxes", batch_size=2)
    with pytest.raises(ValueError, match="resize_size"):
        training_dataset(synthetic_source, batch_size=2, resize_size=100)


def test_cached_examples_give_the_same_batches(synthetic_source):
    def batches(cache_examples):
        dataset = training_dataset(
            synthetic_source,
            batch_size=4,
            input_size=64,
            seed=5,
            progress=False,
            cache_examples=cache_examples,
        )
        iterator = iter(dataset)
        # More batches than crops per epoch: later reads hit the cache.
        return [next(iterator) for _ in range(dataset.crop_count // 4 + 3)]

    for (a, b), (c, d) in zip(batches(False), batches(True)):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())


def test_single_pass_keeps_every_crop_and_repeat_is_static(synthetic_source):
    single = training_dataset(
        synthetic_source,
        crops="whole",
        batch_size=4,
        input_size=32,
        repeat=False,
        progress=False,
    )
    sizes = [len(labels) for _, labels in single]
    assert sum(sizes) == len(synthetic_source) == 10 and sizes[-1] == 2
    repeated = training_dataset(
        synthetic_source,
        crops="whole",
        batch_size=4,
        input_size=32,
        progress=False,
    )
    assert repeated.element_spec[0].shape == (4, 32, 32, 3)
