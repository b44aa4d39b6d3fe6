"""Sheets of decoded images: what the evaluation figures and training's checkpoint snapshots
share (the tiles of a sweep, and tiles laid out in a grid)."""
from __future__ import annotations

import numpy as np
import torch

SNAPSHOT_VALUES = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)  # latent values of a snapshot row, in prior units


def sweep_images(model, inputs: torch.Tensor, latents, codes) -> np.ndarray:
    """[input, reconstruction, decoded with z[latents] = c for c in codes (steps, k)] per input, uint8."""
    with torch.no_grad():
        mu, _ = model.encode(inputs)
        rows = [inputs[:, 0], model.decode_image(mu)[:, 0]]
        for c in codes:
            z = mu.clone()
            z[:, list(latents)] = torch.as_tensor(c, dtype=z.dtype, device=z.device)
            rows.append(model.decode_image(z)[:, 0])
    return (torch.stack(rows, dim=1).clamp(0, 1).float().cpu().numpy() * 255 + 0.5).astype(np.uint8)


def grid(tiles: np.ndarray, gap: int = 4) -> np.ndarray:
    """(rows, cols, h, w) uint8 tiles as one white-spaced sheet."""
    n_rows, n_cols, h, w = tiles.shape
    sheet = np.full((n_rows * (h + gap) + gap, n_cols * (w + gap) + gap), 255, np.uint8)
    for r in range(n_rows):
        for c in range(n_cols):
            sheet[gap + r * (h + gap):gap + r * (h + gap) + h, gap + c * (w + gap):gap + c * (w + gap) + w] = tiles[r, c]
    return sheet


def snapshot(model, image: torch.Tensor, latents: dict) -> np.ndarray:
    """What training logs at a checkpoint: one held-out image, its reconstruction, and one row per
    pose latent swept over SNAPSHOT_VALUES with the image's other latents kept (no readout exists
    yet, so the values are the prior's units). `latents`: batch type -> latent indices; the
    intrinsic type's are left out."""
    rows = [sweep_images(model, image, [k], [[v] for v in SNAPSHOT_VALUES])[0]
            for t, indices in latents.items() if t != "intrinsic" for k in indices]
    return grid(np.stack(rows))
