"""The figures a person opens: contact sheets and animations of latent sweeps (paper Figs. 4, 5,
8), inferred-vs-true scatter plots (Fig. 6), and how far a sweep moves the picture."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from render.shards.reader import ShardReader
from train.evaluation.encoding import batches_of
from train.sheets import grid


def half_turn_partners(values, period: float) -> np.ndarray:
    """For each value of a circular factor, the index of the value nearest half a turn away."""
    v = np.asarray(values, dtype=float)
    return np.abs(np.mod(v[:, None] - v[None, :], period) - period / 2).argmin(axis=1)


def sweep_strength(tiles: np.ndarray, reader: ShardReader, batch_type: str, factor: str, period: float = 0.0,
                   max_batches: int | None = None) -> dict:
    """How much a sweep changes the picture, against how much the factor really does: the mean
    absolute gray-level difference between two sweep frames, and between two true renders of the
    test batches of that type. For a factor on a line: the sweep's end frames and each batch's two
    extreme views (sorted, so first and last). For a circular factor (a sweep of the full turn):
    frames half a turn apart, and each true render against the one of its batch nearest half a turn
    away. A ratio near 1 means the sweep moves the image as far as the factor does; near 0, the
    decoder ignores the latents, however well the encoder's values follow the factor."""
    half = 2 + (tiles.shape[1] - 2) // 2
    end = half if period else -1
    swept = float(np.abs(tiles[:, end].astype(float) - tiles[:, 2].astype(float)).mean())
    true = []
    for i in range(batches_of(reader, batch_type, max_batches)):
        images, labels = reader.batch(batch_type, i)
        images = images.astype(float)
        if not period:
            true.append(np.abs(images[-1] - images[0]).mean())
            continue
        true.append(np.abs(images - images[half_turn_partners(labels[factor], period)]).mean())
    true_change = float(np.mean(true))
    return {"sweep_change": swept, "true_change": true_change,
            "ratio": swept / true_change if true_change > 0 else 0.0}


def grid_png(tiles: np.ndarray, path: Path, gap: int = 4) -> None:
    from PIL import Image

    Image.fromarray(grid(tiles, gap)).save(path)


def sweep_gif(tiles: np.ndarray, path: Path) -> None:
    """Frames: the sweep columns of all inputs side by side, there and back."""
    from PIL import Image

    frames = [np.concatenate(list(tiles[:, c]), axis=1) for c in range(2, tiles.shape[1])]
    frames = frames + frames[-2:0:-1]
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=120, loop=0)


def scatter_png(true: np.ndarray, inferred: np.ndarray, line: tuple | None, xlabel: str, ylabel: str, title: str,
                path: Path) -> None:
    """Inferred against true values of a factor on the test batches that vary it, with a line
    (xs, ys): the fitted map, or the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3.2), dpi=100)
    ax.scatter(true, inferred, s=6, alpha=0.4, color="tab:blue")
    if line is not None:
        ax.plot(*line, color="tab:red", lw=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
