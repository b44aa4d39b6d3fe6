"""Novel views, the paper's Fig. 7 as numbers: re-render test images at other azimuths by setting a
model's azimuth latents, for the DC-IGN and for its entangled baseline, against the true renders.

Two references show whether a model beats doing nothing: the input itself offered as every other
view ("copy the input"), and the DC-IGN's own reconstruction of the input at the input's pose
("no rotation"). Every number is over pairs of different views of one test identity."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from render.errors import UserError
from render.shards.reader import ShardReader
from train.checkpoints import load_model
from train.data import DataSchema, to_batch
from train.evaluation.encoding import CPU, batches_of, check_dataset, encode_split
from train.evaluation.figures import grid_png
from train.evaluation.probes import unit_of
from train.evaluation.readout import Readout, median_error_deg

VIEW_TYPE = "azimuth"  # the batch type whose factor a novel view changes


def novel_views(model, reader: ShardReader, factor: str, read: Readout, max_batches: int | None = None):
    """Encode each test image of a view batch, set the view latents to the codes the readout
    (fitted on training images) gives for every other view of the batch, decode, and compare with
    the true render of that identity at that view. Returns the MSE, the references' MSEs over the
    same pairs ("copy_input", "no_rotation") and example images."""
    errors = {"novel_view": [], "copy_input": [], "no_rotation": []}
    examples = ()
    latents = list(read.latents)
    for i in range(batches_of(reader, VIEW_TYPE, max_batches)):
        images, labels = reader.batch(VIEW_TYPE, i)
        x = to_batch(images, CPU)
        codes = torch.as_tensor(read.codes(labels[factor]), dtype=torch.float32)
        with torch.no_grad():
            mu, _ = model.encode(x)
            for src in range(len(x)):
                z = mu[src:src + 1].repeat(len(x), 1)
                unrotated = model.decode_image(z[:1])
                z[:, latents] = codes
                out = model.decode_image(z)
                keep = torch.arange(len(x)) != src  # pairs of different views
                for key, guess in (("novel_view", out), ("copy_input", x[src:src + 1]), ("no_rotation", unrotated)):
                    errors[key].append(((guess - x) ** 2).mean(dim=(1, 2, 3))[keep].numpy())
                if i == 0 and src == 0:
                    examples = (x[:, 0].numpy(), out[:, 0].numpy())
    return {key: float(np.mean(np.concatenate(e))) for key, e in errors.items()}, examples


def fit_quality(read: Readout, mu: np.ndarray, values: np.ndarray, unit: str) -> dict:
    """How well a view readout fits the training images it was fitted on: the median error of a
    circular factor, Pearson r of the first latent for a factor on a line."""
    if read.circular:
        return {"median_error_deg_train": median_error_deg(read, mu, values, unit)}
    return {"r_train": float(np.corrcoef(mu[:, read.latents[0]], values.astype(float))[0, 1])}


def view_readout(net, reader: ShardReader, schema: DataSchema, assigned, max_batches=None) -> tuple[Readout, dict]:
    """A model's readout of the view factor, fitted on training images (an entangled model's
    latent: the paper's choice), and how well it fits them."""
    factor = schema.factor(VIEW_TYPE)
    enc = encode_split(net, reader, [VIEW_TYPE], max_batches)
    latents = assigned if assigned is not None else [unit_of(enc, VIEW_TYPE, None)]
    info = schema.factors[factor]
    read = Readout.fit(enc["mu"], enc["labels"][factor], latents, info["unit"], info.get("circular", False))
    return read, fit_quality(read, enc["mu"], enc["labels"][factor], info["unit"])


def novel_view_table(views: dict, data: Path, out: Path, max_batches=None) -> dict:
    """Novel-view MSE of each model (name -> (net, its view readout, the readout's fit on the
    training images)) and of the two references (for the first model), and figures/novel_views.png:
    true renders, then each model's re-renders of the first."""
    test_reader = ShardReader(data, "test")
    factor = DataSchema.of(test_reader).factor(VIEW_TYPE)
    table, rows, first = {}, [], None
    first_name = next(iter(views))
    for name, (net, read, fit) in views.items():
        mse, (truth, decoded) = novel_views(net, test_reader, factor, read, max_batches)
        table[name] = {"latents": list(read.latents), **fit, "novel_view_mse": mse["novel_view"]}
        rows = rows or [truth]
        rows.append(decoded)
        first = first or mse
    table["copy_input"] = {"novel_view_mse": first["copy_input"]}
    table[f"{first_name}_no_rotation"] = {"novel_view_mse": first["no_rotation"]}
    tiles = np.stack(rows).clip(0, 1)
    grid_png((tiles * 255 + 0.5).astype(np.uint8), out / "figures" / "novel_views.png")
    return table


def baseline_view(baseline_dir: Path, data: Path, max_batches=None) -> tuple:
    """The entangled baseline's entry for `novel_view_table`, its view latent chosen the paper's way."""
    baseline, cfg = load_model(baseline_dir)
    if cfg.get("mode") != "entangled":
        raise UserError(f"{baseline_dir}: a {cfg.get('mode')} model; expected the entangled baseline "
                        "(a model trained with mode: entangled)")
    reader = ShardReader(data, "train")
    check_dataset(cfg, baseline_dir, reader)
    return (baseline, *view_readout(baseline, reader, DataSchema.of(reader), None, max_batches))
