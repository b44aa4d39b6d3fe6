"""What changes over a run's steps: the learning rate and the weight of the KL term.

The paper trains at one learning rate with the full KL term from the first step; that stays the
default (`lr_schedule: constant`, no warm-ups). The departures are named parameters:

- `lr_warmup_steps`: the learning rate rises linearly from lr / warm-up to lr, so the first
  steps of a fresh net do not throw the encoder's pose units around;
- `lr_schedule: cosine`: after the warm-up it falls along half a cosine to 0 at `steps`, so a
  short run can train at a high rate and still end settled;
- `kl_warmup_steps`: the KL weight rises linearly from 0 to `kl_weight`, so the codes carry
  the image before the prior pulls them in.

Both are pure functions of the step, so a resumed run gets the same values as a straight one.
With a cosine schedule the rate at every step depends on `steps`, which then belongs to the
run's identity (train/checkpoints.py).
"""
from __future__ import annotations

import math

LR_SCHEDULES = ("constant", "cosine")


def lr_factor(schedule: str, warmup: int, steps: int, step: int) -> float:
    """The learning rate of optimiser step `step` (0-based) as a fraction of `lr`."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    span = max(steps - warmup, 1)
    return 0.5 * (1 + math.cos(math.pi * min(step - warmup, span) / span))


def kl_factor(warmup: int, step: int) -> float:
    """The KL weight of optimiser step `step` (0-based) as a fraction of `kl_weight`."""
    return min(1.0, (step + 1) / warmup) if warmup else 1.0
