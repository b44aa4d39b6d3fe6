"""Pure sampling of single-factor batches: (config, seed, batch index) -> factor values.

Each batch draws from its own random stream keyed by (seed, split, type, index), so any
batch can be produced alone, by any worker, in any order, with identical results.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from render.config import BATCH_TYPES, SPLITS, TYPE_FACTOR, FacesConfig

_IDENTITY_STREAM = 7


@dataclass(frozen=True)
class BatchSpec:
    """Ground truth of one batch: per-image factor values and identity ids."""

    split: str
    batch_type: str
    index: int
    azimuth: np.ndarray  # (B,) rad
    elevation: np.ndarray  # (B,) rad
    light_azimuth: np.ndarray  # (B,) deg
    identity: np.ndarray  # (B,) int64


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
    rng = np.random.default_rng([cfg.seed, SPLITS.index(split), BATCH_TYPES.index(batch_type), index])
    ids = identity_range(cfg, split)
    values = {}
    for factor in ("azimuth", "elevation", "light_azimuth"):
        grid = cfg.grid(factor)
        if TYPE_FACTOR.get(batch_type) == factor:
            values[factor] = np.sort(rng.choice(grid, size=b, replace=False))
        else:
            drawn = rng.choice(grid)  # drawn either way: the identity stream does not depend on the mode
            held = grid[np.argmin(np.abs(grid))] if cfg.fixed_factors == "neutral" else drawn
            values[factor] = np.full(b, held)
    if batch_type == "intrinsic":
        identity = rng.choice(np.arange(ids.start, ids.stop), size=b, replace=False)
    else:
        identity = np.full(b, rng.integers(ids.start, ids.stop))
    return BatchSpec(
        split=split,
        batch_type=batch_type,
        index=index,
        azimuth=values["azimuth"].astype(np.float32),
        elevation=values["elevation"].astype(np.float32),
        light_azimuth=values["light_azimuth"].astype(np.float32),
        identity=identity.astype(np.int64),
    )


@dataclass(frozen=True)
class ChairBatchSpec:
    """Ground truth of one chair batch: per-image view and chair id."""

    split: str
    batch_type: str
    index: int
    azimuth: np.ndarray  # (B,) rad
    elevation: np.ndarray  # (B,) rad
    identity: np.ndarray  # (B,) int64, index of the chair in the dataset's chair list


def chair_split(seed: int, chair_ids: list[str], test_fraction: float) -> dict:
    """Split a folder's chairs by a hash of (seed, chair id): stable when chairs are added or
    removed, independent of listing order. Returns split -> sorted positions in `chair_ids`."""
    import hashlib

    test = []
    train = []
    for position, chair_id in enumerate(chair_ids):
        digest = hashlib.sha256(f"{seed}:{chair_id}".encode()).digest()
        (test if int.from_bytes(digest[:8], "big") / 2**64 < test_fraction else train).append(position)
    return {"train": train, "test": test}


def chair_batch_spec(cfg, split: str, batch_type: str, index: int, pool: list[int]) -> ChairBatchSpec:
    """AZIMUTH: one chair at one elevation, B distinct azimuths (sorted); INTRINSIC: B distinct
    chairs sharing one view. `pool` is the split's chair ids."""
    from render.config import CHAIR_BATCH_TYPES

    b = cfg.batch_size
    rng = np.random.default_rng([cfg.seed, SPLITS.index(split), 100 + CHAIR_BATCH_TYPES.index(batch_type), index])
    azimuths, elevations = cfg.grid("azimuth"), cfg.grid("elevation")
    elevation = np.full(b, rng.choice(elevations))
    if batch_type == "azimuth":
        azimuth = np.sort(rng.choice(azimuths, size=b, replace=False))
        identity = np.full(b, rng.choice(pool))
    else:
        azimuth = np.full(b, rng.choice(azimuths))
        identity = rng.choice(np.asarray(pool), size=b, replace=False)
    return ChairBatchSpec(split, batch_type, index, azimuth.astype(np.float32), elevation.astype(np.float32),
                          identity.astype(np.int64))
