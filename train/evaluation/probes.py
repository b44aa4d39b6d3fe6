"""What the codes say about the factors: equivariance (a factor's latent against its true value),
invariance (a latent group's spread where its factor is fixed), the paper's choice of an
entangled model's unit for a factor, and the discrete factor classes the disentanglement
metrics take."""
from __future__ import annotations

import numpy as np

from render.schema import INTRINSIC
from train.data import DataSchema
from train.evaluation.metrics import discretize


def equivariance(enc: dict, latents: dict, schema: DataSchema) -> dict:
    """Per extrinsic batch type: its latent's mean against the true value of its factor on batches
    of that type, with Pearson r and the least-squares line value = slope * z + intercept."""
    result = {}
    for t in schema.extrinsic:
        sel = enc["type"] == t
        z = enc["mu"][sel, latents[t][0]]
        y = enc["labels"][schema.factor(t)][sel].astype(float)
        r = float(np.corrcoef(z, y)[0, 1]) if z.std() > 0 and y.std() > 0 else 0.0
        slope, intercept = np.polyfit(z, y, 1) if z.std() > 0 else (0.0, float(y.mean()))
        result[t] = {"latent": int(latents[t][0]), "pearson_r": r, "slope": float(slope),
                     "intercept": float(intercept), "z_range": [float(np.percentile(z, 2)), float(np.percentile(z, 98))],
                     "n": int(sel.sum())}
    return result


def invariance(enc: dict, latents: dict, types) -> dict:
    """Per latent group: its mean within-batch spread in single-factor batches of the other types,
    relative to its spread over the whole test set (0 = perfectly invariant, ~1 = ignores the batch)."""
    result = {}
    for group in types:
        z = enc["mu"][:, latents[group]]
        total = z.std(axis=0).mean()
        spreads = {}
        for other in types:
            if other == group:
                continue
            batches = np.unique(enc["batch"][enc["type"] == other])
            within = [z[enc["batch"] == b].std(axis=0).mean() for b in batches]
            spreads[other] = float(np.mean(within) / total) if total > 0 and within else 0.0
        result[group] = spreads
    return result


def batch_unit(enc: dict, batch_type: str) -> int:
    """The paper's way to find an entangled model's unit for a factor: the latent with the largest
    variance over the batches in which only that factor varies."""
    sel = enc["type"] == batch_type
    return int(np.argmax(enc["mu"][sel].var(axis=0)))


def unit_of(enc: dict, batch_type: str, assigned: int | None) -> int:
    """A model's unit for a batch type's factor: its assigned latent, or for the entangled baseline
    the paper's choice."""
    return assigned if assigned is not None else batch_unit(enc, batch_type)


def entangled_latents(enc: dict, extrinsic, latent_dim: int) -> dict:
    """An entangled model has no assigned units: each factor's is chosen on `enc` (training
    batches); the intrinsic group is every other latent."""
    units = {t: [batch_unit(enc, t)] for t in extrinsic}
    used = {u[0] for u in units.values()}
    return {**units, INTRINSIC: [k for k in range(latent_dim) if k not in used]}


def factor_classes(enc: dict, schema: DataSchema, factors) -> np.ndarray:
    """(N, K) class labels: each value's index in its factor's grid from the manifest, so a class
    means the same value in every split."""
    return np.stack([discretize(enc["labels"][f], schema.grid(f)) for f in factors], axis=1)
