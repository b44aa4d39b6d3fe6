"""Novel views, the paper's Fig. 7 as numbers: re-render test images at other azimuths by setting a
model's azimuth latents, for the DC-IGN and for its entangled baseline, against the true renders.

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
from train.evaluation.readout import Readout

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


def view_readout(net, reader: ShardReader, schema: DataSchema, assigned, max_batches=None) -> tuple[Readout, dict]:
    """A model's readout of the view factor, fitted on training images (an entangled model's
    latent: the paper's choice), and how well it fits them."""
    factor = schema.factor(VIEW_TYPE)
    enc = encode_split(net, reader, [VIEW_TYPE], max_batches)
    latents = assigned if assigned is not None else [unit_of(enc, VIEW_TYPE, None)]
    info = schema.factors[factor]
    read = Readout.fit(enc["mu"], enc["labels"][factor], latents, info["unit"], info.get("circular", False))
    y = enc["labels"][factor].astype(float)
    if read.circular:
        to_deg = 1.0 if info["unit"] == "deg" else 180 / np.pi
        return read, {"median_error_deg_train": float(np.median(read.errors(enc["mu"], y)) * to_deg)}
    return read, {"r_train": float(np.corrcoef(enc["mu"][:, latents[0]], y)[0, 1])}


def novel_view_table(nets: dict, data: Path, out: Path, max_batches=None) -> dict:
    """Novel-view MSE of each model (name -> (net, its view latents, or None for an entangled
    model)) and of the two references (for the first model), and figures/novel_views.png: true
    renders, then each model's re-renders of the first."""
    train_reader, test_reader = ShardReader(data, "train"), ShardReader(data, "test")
    schema = DataSchema.of(train_reader)
    table, rows, first = {}, [], None
    first_name = next(iter(nets))
    for name, (net, assigned) in nets.items():
        read, fit = view_readout(net, train_reader, schema, assigned, max_batches)
        mse, (truth, decoded) = novel_views(net, test_reader, schema.factor(VIEW_TYPE), read, max_batches)
        table[name] = {"latents": list(read.latents), **fit, "novel_view_mse": mse["novel_view"]}
        rows = rows or [truth]
        rows.append(decoded)
        first = first or mse
    table["copy_input"] = {"novel_view_mse": first["copy_input"]}
    table[f"{first_name}_no_rotation"] = {"novel_view_mse": first["no_rotation"]}
    tiles = np.stack(rows).clip(0, 1)
    grid_png((tiles * 255 + 0.5).astype(np.uint8), out / "figures" / "novel_views.png")
    return table


def compare_with_baseline(model, cfg: dict, baseline_dir: Path, data: Path, out: Path, max_batches=None) -> dict:
    """The DC-IGN (its assigned latents) against the entangled baseline (the paper's choice of unit)."""
    baseline, _ = load_model(baseline_dir)
    return novel_view_table({"dcign": (model, cfg["latents"][VIEW_TYPE]), "baseline": (baseline, None)},
                            data, out, max_batches)
