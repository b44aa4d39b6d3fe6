"""The figures a person opens: contact sheets and animations of latent sweeps (paper Figs. 4, 5,
8), inferred-vs-true scatter plots (Fig. 6), and how far a sweep moves the picture."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from render.shards.reader import ShardReader
from train.evaluation.encoding import batches_of


def sweep_images(model, inputs: torch.Tensor, latent: int, values) -> np.ndarray:
    """[input, reconstruction, decoded with z_latent = v for v in values] per input, uint8."""
    with torch.no_grad():
        mu, _ = model.encode(inputs)
        rows = [inputs[:, 0], model.decode_image(mu)[:, 0]]
        for v in values:
            z = mu.clone()
            z[:, latent] = float(v)
            rows.append(model.decode_image(z)[:, 0])
    return (torch.stack(rows, dim=1).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)


def sweep_strength(tiles: np.ndarray, reader: ShardReader, batch_type: str, max_batches: int | None = None) -> dict:
    """How much a sweep changes the picture, against how much the factor really does: the mean
    absolute gray-level difference between the sweep's two end frames, and between the two extreme
    views of the true renders in the test batches of that type (sorted, so first and last). A ratio
    near 1 means the sweep moves the image as far as the factor does; near 0, the decoder ignores
    the latent, however well the encoder's value correlates with the factor."""
    swept = float(np.abs(tiles[:, -1].astype(float) - tiles[:, 2].astype(float)).mean())
    true = [np.abs(im[-1].astype(float) - im[0].astype(float)).mean()
            for im in (reader.batch(batch_type, i)[0] for i in range(batches_of(reader, batch_type, max_batches)))]
    true_change = float(np.mean(true))
    return {"sweep_change": swept, "true_change": true_change,
            "ratio": swept / true_change if true_change > 0 else 0.0}


def grid_png(tiles: np.ndarray, path: Path, gap: int = 4) -> None:
    from PIL import Image

    n_rows, n_cols, h, w = tiles.shape
    sheet = np.full((n_rows * (h + gap) + gap, n_cols * (w + gap) + gap), 255, np.uint8)
    for r in range(n_rows):
        for c in range(n_cols):
            sheet[gap + r * (h + gap):gap + r * (h + gap) + h, gap + c * (w + gap):gap + c * (w + gap) + w] = tiles[r, c]
    Image.fromarray(sheet).save(path)


def sweep_gif(tiles: np.ndarray, path: Path) -> None:
    """Frames: the sweep columns of all inputs side by side, there and back."""
    from PIL import Image

    frames = [np.concatenate(list(tiles[:, c]), axis=1) for c in range(2, tiles.shape[1])]
    frames = frames + frames[-2:0:-1]
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=120, loop=0)


def scatter_png(enc: dict, eq: dict, t: str, factor: str, path: Path) -> None:
    """Inferred latent against the true value of `factor` on the batches of type `t`, with the fit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sel = enc["type"] == t
    z = enc["mu"][sel, eq[t]["latent"]]
    y = enc["labels"][factor][sel]
    fig, ax = plt.subplots(figsize=(4, 3.2), dpi=100)
    ax.scatter(y, z, s=6, alpha=0.4, color="tab:blue")
    if eq[t]["slope"]:
        zz = np.linspace(z.min(), z.max(), 10)
        ax.plot(eq[t]["slope"] * zz + eq[t]["intercept"], zz, color="tab:red", lw=1)
    ax.set_xlabel(f"true {factor}")
    ax.set_ylabel(f"inferred z{eq[t]['latent']}")
    ax.set_title(f"{t}: r = {eq[t]['pearson_r']:.2f}")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
