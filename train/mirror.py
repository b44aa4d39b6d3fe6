"""The mirror term (`mirror_weight`; 0 = the paper, which has no such term): each pose latent is
tied to what a left-right flip of the image does to its factor.

Why: over the paper's +-1.5 rad azimuth, a face turned left and the same face turned right have
much the same outline, and a CPU run settles on an azimuth latent that follows |azimuth| (a V,
measured over 25,000 steps of the full-range profile: signed r 0.33). The decoder then cannot tell
the sides apart and a novel view keeps the input's side. Nothing in the clamp breaks that fold:
an azimuth batch only asks its one latent to explain the batch's variation, and a V explains most
of it.

The renderer gives a symmetry for free: a flipped image of a face at azimuth a, lit from l, is an
image of the mirrored face at -a, lit from -l, at the same elevation (the schema declares each
factor's sign). So the encoder's mean code of the flipped image should be the code with those
latents negated (elevation: kept). The term is

    mirror_weight * sum over images and the factor's latents of (mu(flip x) - sign * mu(x))^2,

on the encoder's means before the clamp (so it reaches every pose latent in every batch type). A
folded latent has mu(flip x) = mu(x) and pays 4 mu^2 where the sign is -1; only a signed code both
reconstructs and pays nothing.

The flipped images cost encoder passes (the encoder is about 40% of a step on the CPU), so the
term samples every STRIDE-th image of each batch (the batch spans its factor's values, in any
order) and scales the sum by STRIDE: the expected term is the one over all images, at a quarter
of the cost.
"""
from __future__ import annotations

import torch

from render.schema import schema_of

STRIDE = 4  # every STRIDE-th image of a batch is also encoded flipped


def mirror_signs(dataset: str, latents: dict) -> dict:
    """Latent index -> the sign a left-right flip puts on it, for the latents of every factor with
    a sign rule (render/schema.py)."""
    return {i: sign for t, sign in schema_of(dataset).mirror_signs().items() for i in latents[t]}


def sampled_rows(groups: int, batch: int, device=None, stride: int = STRIDE) -> torch.Tensor:
    """The rows the term samples from `groups` batches of `batch` images stacked: every
    `stride`-th image of each batch, from its first."""
    return (torch.arange(groups, device=device)[:, None] * batch
            + torch.arange(0, batch, stride, device=device)[None]).reshape(-1)


class MirrorTerm:
    """The term for one model's latents, as (index, sign) tensors on the training device."""

    def __init__(self, signs: dict, device: torch.device):
        self.index = torch.tensor(sorted(signs), dtype=torch.long, device=device)
        self.sign = torch.tensor([float(signs[i]) for i in sorted(signs)], device=device)

    def __call__(self, mu: torch.Tensor, mu_flipped: torch.Tensor, groups: int, scale: float = 1.0) -> torch.Tensor:
        """(groups,): the term over each of `groups` equal groups of rows, times `scale` (a batch's
        size over the rows sampled from it), in float32."""
        gap = mu_flipped.float()[:, self.index] - self.sign * mu.float()[:, self.index]
        return gap.pow(2).reshape(groups, -1).sum(1) * scale
