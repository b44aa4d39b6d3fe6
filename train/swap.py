"""The intrinsic swap (`intrinsic_swap`; off = the paper): in a batch where one pose factor varies,
each image is decoded from its own free pose latent and the intrinsic latents of another image of
the same batch, where the paper's clamp gives every image the batch's mean intrinsic code.

Why: a novel view is the input's intrinsic code with new pose latents, so the intrinsic code must
not carry the input's pose. Under the clamp the decoder only ever sees the intrinsic code averaged
over a batch's poses, so nothing asks one image's intrinsic code to be free of its pose; measured
on the full-range model, a render's intrinsic latents still carry about half of a turn or a nod to
the decoder (README, "The full-range profile"), and that half stays the input's in a novel view.
Decoding image k from image j's intrinsic code is the novel-view task itself (same face, light and
other pose, another value of the one factor): any pose left in the intrinsic code is now the wrong
pose and costs reconstruction, and that gradient reaches the encoder through image j's code, where
the clamp sends none.

The partner of row k of a batch of B is row B - 1 - k. The renderer sorts a batch along its factor
(render/faces/sampling.py), so the pairs span every distance, from neighbours in the middle to the two ends.
Identity batches (only the intrinsic code varies) keep the clamp: their pose latents are clamped
to the batch mean as before.
"""
from __future__ import annotations

import torch


def partner_rows(x: torch.Tensor, swapped: torch.Tensor) -> torch.Tensor:
    """x (G * B, D) as G equal groups of rows; `swapped` (G, D) bool. Row k of each group takes the
    columns marked in its group's mask from row B - 1 - k; differentiable, so the gradient of what a
    row decodes reaches the row it came from."""
    groups = x.reshape(swapped.shape[0], -1, x.shape[1])
    return torch.where(swapped[:, None], groups.flip(1), groups).reshape(x.shape)
