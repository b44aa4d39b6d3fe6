"""Pure sampling of chair batches and the split of a chair folder: (config, split, batch type,
index) -> views and chair ids, one random stream per batch as for the faces."""
from __future__ import annotations

import hashlib

import numpy as np

from render.chairs.config import SCHEMA, ChairsConfig
from render.params import SPLITS
from render.source import BatchSpec

# Chair streams are keyed apart from face streams of the same seed and index.
_STREAM_OFFSET = 100


def chair_split(seed: int, chair_ids: list[str], test_fraction: float) -> dict:
    """Split a folder's chairs by a hash of (seed, chair id): stable when chairs are added or
    removed, independent of listing order. Returns split -> sorted positions in `chair_ids`."""
    test = []
    train = []
    for position, chair_id in enumerate(chair_ids):
        digest = hashlib.sha256(f"{seed}:{chair_id}".encode()).digest()
        (test if int.from_bytes(digest[:8], "big") / 2**64 < test_fraction else train).append(position)
    return {"train": train, "test": test}


def chair_batch_spec(cfg: ChairsConfig, split: str, batch_type: str, index: int, pool: list[int]) -> BatchSpec:
    """AZIMUTH: one chair at one elevation, B distinct azimuths (sorted); INTRINSIC: B distinct
    chairs sharing one view. `pool` is the split's chair ids (identity = position in the catalogue)."""
    b = cfg.batch_size
    stream = _STREAM_OFFSET + SCHEMA.batch_types.index(batch_type)
    rng = np.random.default_rng([cfg.seed, SPLITS.index(split), stream, index])
    azimuths, elevations = cfg.grid("azimuth"), cfg.grid("elevation")
    elevation = np.full(b, rng.choice(elevations))
    if batch_type == "azimuth":
        azimuth = np.sort(rng.choice(azimuths, size=b, replace=False))
        identity = np.full(b, rng.choice(pool))
    else:
        azimuth = np.full(b, rng.choice(azimuths))
        identity = rng.choice(np.asarray(pool), size=b, replace=False)
    return BatchSpec(split, batch_type, index, identity.astype(np.int64),
                     {"azimuth": azimuth.astype(np.float32), "elevation": elevation.astype(np.float32)})
