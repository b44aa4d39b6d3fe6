"""Novel views, the paper's Fig. 7 as numbers: re-render test images at other azimuths by setting a
model's azimuth unit, for the DC-IGN and for its entangled baseline, against the true renders.

Two references show whether a model beats doing nothing: the input itself offered as every other
view ("copy the input"), and the DC-IGN's own reconstruction of the input at the input's pose
("no rotation"). Every number is over pairs of different views of one test identity."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from render.shards.reader import ShardReader
from train.checkpoints import load_model
from train.data import DataSchema, to_batch
from train.evaluation.encoding import CPU, batches_of, encode_split
from train.evaluation.figures import grid_png
from train.evaluation.probes import unit_of

VIEW_TYPE = "azimuth"  # the batch type whose factor a novel view changes


def novel_views(model, reader: ShardReader, factor: str, latent: int, fit: tuple, max_batches: int | None = None):
    """Encode each test image of a view batch, set the view latent to what the linear fit
    z = a * value + b (fitted on training images) predicts for every other view of the batch,
    decode, and compare with the true render of that identity at that view. Returns the MSE, the
    references' MSEs over the same pairs ("copy_input", "no_rotation") and example images."""
    a, b = fit
    errors = {"novel_view": [], "copy_input": [], "no_rotation": []}
    examples = ()
    for i in range(batches_of(reader, VIEW_TYPE, max_batches)):
        images, labels = reader.batch(VIEW_TYPE, i)
        x = to_batch(images, CPU)
        with torch.no_grad():
            mu, _ = model.encode(x)
            for src in range(len(x)):
                z = mu[src:src + 1].repeat(len(x), 1)
                unrotated = model.decode_image(z[:1])
                z[:, latent] = torch.as_tensor(a * labels[factor] + b, dtype=z.dtype)
                out = model.decode_image(z)
                keep = torch.arange(len(x)) != src  # pairs of different views
                for key, guess in (("novel_view", out), ("copy_input", x[src:src + 1]), ("no_rotation", unrotated)):
                    errors[key].append(((guess - x) ** 2).mean(dim=(1, 2, 3))[keep].numpy())
                if i == 0 and src == 0:
                    examples = (x[:, 0].numpy(), out[:, 0].numpy())
    return {key: float(np.mean(np.concatenate(e))) for key, e in errors.items()}, examples


def compare_with_baseline(model, cfg: dict, baseline_dir: Path, data: Path, out: Path, max_batches=None) -> dict:
    """Novel-view MSE of the DC-IGN (its assigned unit), the entangled baseline (the paper's choice
    of unit) and the two references, and figures/novel_views.png: true renders, DC-IGN, baseline."""
    baseline, _ = load_model(baseline_dir)
    train_reader, test_reader = ShardReader(data, "train"), ShardReader(data, "test")
    factor = DataSchema.of(train_reader).factor(VIEW_TYPE)
    table, outputs, mses = {}, {}, {}
    for name, net, assigned in (("dcign", model, cfg["latents"][VIEW_TYPE][0]), ("baseline", baseline, None)):
        enc = encode_split(net, train_reader, [VIEW_TYPE], max_batches)
        latent = unit_of(enc, VIEW_TYPE, assigned)
        z, y = enc["mu"][:, latent], enc["labels"][factor].astype(float)
        a, b = np.polyfit(y, z, 1)
        mse, (truth, decoded) = novel_views(net, test_reader, factor, latent, (a, b), max_batches)
        table[name] = {"latent": latent, "r_train": float(np.corrcoef(z, y)[0, 1]), "novel_view_mse": mse["novel_view"]}
        outputs[name], mses[name] = decoded, mse
    table["copy_input"] = {"novel_view_mse": mses["dcign"]["copy_input"]}
    table["dcign_no_rotation"] = {"novel_view_mse": mses["dcign"]["no_rotation"]}
    tiles = np.stack([truth, outputs["dcign"], outputs["baseline"]]).clip(0, 1)
    grid_png((tiles * 255 + 0.5).astype(np.uint8), out / "figures" / "novel_views.png")
    return table
