"""What the codes say about the factors: equivariance (a factor's value read from its latents
against its true value), invariance (a latent group's spread where its factor is fixed), identity
retrieval, the paper's choice of an entangled model's unit for a factor, and the discrete factor
classes the disentanglement metrics take."""
from __future__ import annotations

import numpy as np

from render.schema import CHAIR_FAMILIES, INTRINSIC
from train.data import DataSchema
from train.evaluation.metrics import discretize
from train.evaluation.readout import DEGREES, Readout, median_error_deg


def readouts(enc: dict, latents: dict, schema: DataSchema) -> dict:
    """Per extrinsic batch type: how its latents map to its factor, fitted on `enc` (training
    batches of that type)."""
    result = {}
    for t in schema.extrinsic:
        sel = enc["type"] == t
        factor = schema.factors[schema.factor(t)]
        result[t] = Readout.fit(enc["mu"][sel], enc["labels"][schema.factor(t)][sel], latents[t],
                                factor["unit"], factor.get("circular", False))
    return result


def by_family(errors: np.ndarray, family: np.ndarray) -> dict:
    """Median error per procedural chair family: a round four-legged stool looks the same after
    every quarter turn, so its angle cannot be read, and one median over all chairs hides where the
    error lies. Chairs from mesh files have no family (-1) and get none."""
    return {CHAIR_FAMILIES[f]: float(np.median(errors[family == f]))
            for f in np.unique(family) if 0 <= f < len(CHAIR_FAMILIES)}


def equivariance(enc: dict, reads: dict, schema: DataSchema) -> dict:
    """Per extrinsic batch type, on the test batches of that type: the median error of the value
    read from the latents (in degrees; around the circle for a circular factor; per chair family
    where the images carry one) and, for a factor on a line, Pearson r of its first latent against
    the true value."""
    result = {}
    for t, read in reads.items():
        sel = enc["type"] == t
        y = enc["labels"][schema.factor(t)][sel].astype(float)
        result[t] = {"latents": list(read.latents), "n": int(sel.sum()),
                     "median_error_deg": median_error_deg(read, enc["mu"][sel], y, schema.unit(t))}
        families = by_family(read.errors(enc["mu"][sel], y) * DEGREES[schema.unit(t)],
                             enc["labels"]["family"][sel]) if "family" in enc["labels"] else {}
        if families:
            result[t]["median_error_deg_by_family"] = families
        if not read.circular:
            z = enc["mu"][sel, read.latents[0]]
            r = float(np.corrcoef(z, y)[0, 1]) if z.std() > 0 and y.std() > 0 else 0.0
            result[t].update(pearson_r=r, abs_r=abs(r))
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


def identity_retrieval(images: np.ndarray, recons: np.ndarray, batches: np.ndarray) -> dict:
    """Whether reconstructions keep who is shown, within single-factor batches where only the
    identity varies (pose and light fixed): the share of reconstructions nearer (MSE) to their own
    input than to any other identity's of the batch (chance: one over the batch size), and how much
    the reconstructions differ from each other against how much the inputs do (per-pixel spread
    over the batch; near 0 is one mean face for everyone)."""
    hits, spreads, chance = [], [], []
    for b in np.unique(batches):
        sel = np.flatnonzero(batches == b)
        x = images[sel].reshape(len(sel), -1).astype(np.float64)
        y = recons[sel].reshape(len(sel), -1).astype(np.float64)
        d = ((y[:, None, :] - x[None, :, :]) ** 2).mean(axis=2)
        hits.append(d.argmin(axis=1) == np.arange(len(sel)))
        spreads.append(y.std(axis=0).mean() / max(x.std(axis=0).mean(), 1e-12))
        chance.append(1 / len(sel))
    return {"top1": float(np.concatenate(hits).mean()), "chance": float(np.mean(chance)),
            "spread_ratio": float(np.mean(spreads))}


def scored_factors(enc: dict, schema: DataSchema) -> list[str]:
    """The factors the disentanglement metrics score: every labelled factor of the manifest that
    varies in `enc` (the training pool), also one no batch type varies (a chair's elevation)."""
    return [f for f in schema.factors if f in enc["labels"] and np.unique(enc["labels"][f]).size > 1]
