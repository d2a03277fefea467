"""The settings of tiled inference: their defaults and their rules.

Plain Python, so that model metadata (which stores the
settings that suit a trained model) checks them without importing the
inference package.
"""

import math
import numbers

DEFAULT_TILE_SCALE = 1.0
DEFAULT_TILE_OVERLAP = 0.25


def check_tile_scales(scales):
    """`scales` (one number or several) as a tuple of positive floats."""
    values = (scales,) if isinstance(scales, numbers.Real) else scales
    try:
        if isinstance(scales, (str, bool)):
            raise TypeError
        values = tuple(float(value) for value in values)
    except (TypeError, ValueError):
        values = ()
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(
            "`tile_scale` must be a positive number or a non-empty list of "
            f"positive numbers. Received: tile_scale={scales!r}"
        )
    return values


def check_tile_overlap(overlap):
    """`overlap` as a float in [0, 1)."""
    if (
        not isinstance(overlap, numbers.Real)
        or isinstance(overlap, bool)
        or not 0 <= overlap < 1
    ):
        raise ValueError(
            "`tile_overlap` must be a fraction in [0, 1). "
            f"Received: tile_overlap={overlap!r}"
        )
    return float(overlap)
