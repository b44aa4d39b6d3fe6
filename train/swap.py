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

Who partners whom is drawn afresh for every batch: row k takes row (k + s) mod B, with the shift s
uniform on 1..B-1, so each row's partner is any other row of the batch with equal chance and its
pose says nothing about the row's own. A fixed pairing does not: the renderer sorts a batch along
its factor (render/faces/sampling.py), and the first version paired row k with row B - 1 - k, the
mirror pose of a symmetric range. The partner then shared the row's distance from the frontal pose,
and the intrinsic code learnt to carry it: on the full-range model, intrinsic latents followed
|azimuth| and |light| (r 0.78 and 0.70), each holding about 0.5-0.8 nats of its factor, which
cost MIG (README, "The full-range profile").

The swap starts at step `intrinsic_swap_start`, after that many steps of the paper's clamp. Drawn
partners from the first step fold the azimuth latent: with no partner at the same distance from the
front, only the azimuth latent can tell the decoder how far the head is turned, and it learns |azimuth|
instead of the signed angle (r 0.84 with |azimuth|, 0.40 with azimuth, on the full-range model).
After some thousands of steps of the clamp the azimuth latent is already signed, and the swap
then only cleans the intrinsic code (README, "How the profile got here").

Identity batches (only the intrinsic code varies) keep the clamp: their pose latents are clamped
to the batch mean as before.
"""
from __future__ import annotations

import torch


def draw_partners(batch: int, generators: list[torch.Generator], swapping: list[bool]) -> torch.Tensor:
    """The partner of every row of len(generators) groups of `batch` rows, as row indices
    (groups * batch,) on the first generator's device: one shift per swapping group, drawn from its
    generator; a group that does not swap keeps its rows and draws nothing, so its noise is as
    without the swap."""
    device = generators[0].device
    shifts = torch.cat([torch.randint(1, batch, (1,), generator=g, device=g.device).to(device) if swaps
                        else torch.zeros(1, dtype=torch.long, device=device)
                        for g, swaps in zip(generators, swapping)])
    rows = torch.arange(batch, device=device)
    within = (rows[None, :] + shifts[:, None]) % batch
    return (within + batch * torch.arange(len(generators), device=device)[:, None]).reshape(-1)


def partner_rows(x: torch.Tensor, swapped: torch.Tensor, partners: torch.Tensor) -> torch.Tensor:
    """x (G * B, D) as G equal groups of rows; `swapped` (G, D) bool; `partners` (G * B,) row
    indices within the same group. Row k takes the columns marked in its group's mask from row
    partners[k]; differentiable, so the gradient of what a row decodes reaches the row it came from."""
    marked = swapped.repeat_interleave(x.shape[0] // swapped.shape[0], dim=0)
    return torch.where(marked, x[partners.to(x.device)], x)
