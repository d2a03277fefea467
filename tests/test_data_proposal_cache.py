"""Proposals are computed once per image and then read from the cache."""

import os

import numpy as np

from keras_deconvnet.data.arrays import ArraySegmentation
from keras_deconvnet.data.proposal_cache import load_or_compute_proposals


class CountingProposals:
    """Deterministic boxes from the image's mean; counts its calls."""

    cache_key = "counting-v1"

    def __init__(self):
        self.calls = 0

    def __call__(self, image):
        self.calls += 1
        value = float(image.mean())
        count = int(value) % 3  # 0, 1 or 2 boxes: empty arrays too
        boxes = [[value, 0, value + 5, 5 + i] for i in range(count)]
        return np.float32(boxes).reshape(-1, 4), np.ones(count, np.float32)


def _source():
    images = [np.full((8, 8, 3), value, np.uint8) for value in (3, 4, 5, 6)]
    labels = [np.zeros((8, 8), np.int32)] * 4
    return ArraySegmentation(images, labels, num_classes=2, ignore_label=255)


def test_computed_once_then_cached(tmp_path):
    proposal_fn = CountingProposals()
    first = load_or_compute_proposals(
        _source(), proposal_fn, str(tmp_path), progress=False
    )
    assert proposal_fn.calls == 4
    assert [len(boxes) for boxes in first] == [0, 1, 2, 0]
    assert len(os.listdir(tmp_path)) == 1
    again = load_or_compute_proposals(
        _source(), proposal_fn, str(tmp_path), progress=False
    )
    assert proposal_fn.calls == 4  # read back, not recomputed
    for expected, cached in zip(first, again):
        np.testing.assert_array_equal(expected, cached)
        assert cached.shape[1:] == (4,)


def test_no_cache_dir_and_other_functions_recompute(tmp_path):
    proposal_fn = CountingProposals()
    load_or_compute_proposals(_source(), proposal_fn, None, progress=False)
    load_or_compute_proposals(_source(), proposal_fn, None, progress=False)
    assert proposal_fn.calls == 8
    other = CountingProposals()
    other.cache_key = "counting-v2"
    load_or_compute_proposals(
        _source(), proposal_fn, str(tmp_path), progress=False
    )
    load_or_compute_proposals(_source(), other, str(tmp_path), progress=False)
    assert other.calls == 4 and len(os.listdir(tmp_path)) == 2
