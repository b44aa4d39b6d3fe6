"""Through which latents the decoder draws a factor's change: why a sweep can move the picture less
than the factor does although the encoder reads the factor well.

Take two test renders of one single-factor batch that differ only in that factor (the batch's two
extremes; for a circular factor, each render and the one nearest half a turn away) and decode the
first one's code with one group of latents taken from the second's. The change of the picture
against the true change says how much of the factor reaches the picture through that group. A
disentangled model draws it all through the factor's own latents (near what its reconstructions
change) and nothing through the intrinsic ones; where the intrinsic latents carry part of a pose,
the decoder learns to draw part of it from them, and a sweep of the pose latents alone falls short.
"""
from __future__ import annotations

import numpy as np
import torch

from render.schema import INTRINSIC
from render.shards.reader import ShardReader
from train.data import to_batch
from train.evaluation.encoding import CPU, batches_of
from train.evaluation.figures import half_turn_partners


def pairs(values: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices (first, second) of the renders to compare within a batch: its two extremes, or for a
    circular factor every render with its partner nearest half a turn away."""
    v = np.asarray(values, dtype=float)
    if not period:
        return np.array([np.argmin(v)]), np.array([np.argmax(v)])
    return np.arange(len(v)), half_turn_partners(v, period)


def _change(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().mean())


def factor_routes(model, reader: ShardReader, batch_type: str, factor: str, latents: dict, period: float = 0.0,
                  max_batches: int | None = None) -> dict:
    """For one extrinsic batch type: the picture's change when the first render's code takes the
    second's own latents, intrinsic latents or other factors' latents, and the reconstructions'
    change, each over the true change (means over the test batches of that type)."""
    groups = {"own": list(latents[batch_type]), "intrinsic": list(latents[INTRINSIC]),
              "other_factors": sorted(k for t, idx in latents.items() if t not in (batch_type, INTRINSIC) for k in idx)}
    groups = {name: idx for name, idx in groups.items() if idx}  # a chair has no other factor's latents
    sums = dict.fromkeys(["reconstruction", *groups], 0.0)
    true = 0.0
    for i in range(batches_of(reader, batch_type, max_batches)):
        images, labels = reader.batch(batch_type, i)
        first, second = pairs(labels[factor], period)
        x = to_batch(images, CPU)
        with torch.no_grad():
            mu, _ = model.encode(x)
            recon = model.decode_image(mu)
            true += _change(x[second], x[first])
            sums["reconstruction"] += _change(recon[second], recon[first])
            for name, idx in groups.items():
                z = mu[first].clone()
                z[:, idx] = mu[second][:, idx]
                sums[name] += _change(model.decode_image(z), recon[first])
    return {name: total / true if true > 0 else 0.0 for name, total in sums.items()}
