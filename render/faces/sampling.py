"""Pure sampling of face batches: (config, split, batch type, index) -> factor values and identities.

Each batch draws from its own random stream keyed by (seed, split, type, index), so any batch can
be produced alone, by any worker, in any order, with identical results.
"""
from __future__ import annotations

import numpy as np

from render.faces.config import SCHEMA, FacesConfig
from render.params import SPLITS
from render.source import BatchSpec

_IDENTITY_STREAM = 7


def identity_range(cfg: FacesConfig, split: str) -> range:
    """Identity ids of a split; train and test ranges are disjoint by construction."""
    n_train = cfg.identities["train"]
    if split == "train":
        return range(0, n_train)
    return range(n_train, n_train + cfg.identities["test"])


def identity_coefficients(cfg: FacesConfig, identity: int, n_shape: int, n_albedo: int):
    """Standard-normal coefficients clipped to +-coeff_clip; shape and albedo use separate streams
    so asking for more components keeps the leading ones unchanged."""
    shape = np.random.default_rng([cfg.seed, _IDENTITY_STREAM, int(identity), 0]).standard_normal(n_shape)
    albedo = np.random.default_rng([cfg.seed, _IDENTITY_STREAM, int(identity), 1]).standard_normal(n_albedo)
    clip = cfg.coeff_clip
    return np.clip(shape, -clip, clip).astype(np.float32), np.clip(albedo, -clip, clip).astype(np.float32)


def batch_spec(cfg: FacesConfig, split: str, batch_type: str, index: int) -> BatchSpec:
    """The factor values of batch `index` of a type: the active factor takes B distinct grid values
    (sorted, so a batch reads as a sweep); everything else is fixed across the batch."""
    b = cfg.batch_size
    rng = np.random.default_rng([cfg.seed, SPLITS.index(split), SCHEMA.batch_types.index(batch_type), index])
    ids = identity_range(cfg, split)
    values = {}
    for factor in SCHEMA.factors:
        grid = cfg.grid(factor)
        if SCHEMA.factor_of(batch_type) == factor:
            values[factor] = np.sort(rng.choice(grid, size=b, replace=False))
        else:
            drawn = rng.choice(grid)  # drawn either way: the identity stream does not depend on the mode
            held = grid[np.argmin(np.abs(grid))] if cfg.fixed_factors == "neutral" else drawn
            values[factor] = np.full(b, held)
    if batch_type == "intrinsic":
        identity = rng.choice(np.arange(ids.start, ids.stop), size=b, replace=False)
    else:
        identity = np.full(b, rng.integers(ids.start, ids.stop))
    return BatchSpec(split, batch_type, index, identity.astype(np.int64),
                     {name: v.astype(np.float32) for name, v in values.items()})
