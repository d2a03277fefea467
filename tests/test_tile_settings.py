"""The tiled-inference settings' rules, shared by inference and metadata."""

import math

import pytest

from keras_deconvnet import tile_settings


def test_scales_become_a_tuple_of_floats():
    assert tile_settings.check_tile_scales(0.75) == (0.75,)
    assert tile_settings.check_tile_scales([0.5, 1]) == (0.5, 1.0)
    assert tile_settings.check_tile_overlap(0) == 0.0


@pytest.mark.parametrize("scales", [0, -1, [], [0.5, 0], math.inf, "0.5",
                                    True, [[0.5]], None])
def test_bad_scales_are_named(scales):
    with pytest.raises(ValueError, match=r"`tile_scale` .* Received: "):
        tile_settings.check_tile_scales(scales)


@pytest.mark.parametrize("overlap", [1, 1.5, -0.1, True, "0.5", None])
def test_bad_overlaps_are_named(overlap):
    with pytest.raises(ValueError, match=r"`tile_overlap` .* Received: "):
        tile_settings.check_tile_overlap(overlap)


def test_metadata_and_inference_apply_the_same_rules():
    from keras_deconvnet import model_metadata
    from keras_deconvnet.inference import tiles

    assert tiles.check_tile_scales is tile_settings.check_tile_scales
    # A large scale is slow but valid for inference, so a model may keep it.
    model_metadata.check_tile_settings([0.5, 6.0], 0.5)
    with pytest.raises(ValueError, match="tile_scale"):
        model_metadata.check_tile_settings(True, None)
