"""Encoding a split: encoder means, reconstruction errors and labels of its batches, on the CPU.

Codes are the encoder means (the sampled code adds noise that says nothing about the encoder).
"""
from __future__ import annotations

import numpy as np
import torch

from render.errors import UserError
from render.shards.reader import ShardReader
from train.data import to_batch

CPU = torch.device("cpu")


def check_dataset(cfg: dict, model_dir, reader: ShardReader) -> None:
    """A model is evaluated on the dataset it was trained on (another's factors mean nothing to it)."""
    found = reader.manifest.get("dataset")
    if cfg.get("dataset") != found:
        raise UserError(f"{model_dir}: a {cfg.get('dataset')} model, but {reader.root} holds {found} shards; "
                        f"expected the {cfg.get('dataset')} shards it was trained on")


def batches_of(reader: ShardReader, batch_type: str, max_batches: int | None = None) -> int:
    """How many batches of a type to read: all of them, or at most `max_batches`."""
    n = reader.count(batch_type)
    return n if max_batches is None else min(max_batches, n)


def encode_split(model, reader: ShardReader, batch_types, max_batches: int | None = None, keep=()) -> dict:
    """Encoder means, reconstructions' squared error and labels of every batch of the given types;
    for the types in `keep` also the inputs and reconstructions ("images", "recons", "kept")."""
    out = {"mu": [], "type": [], "batch": [], "sq_err": [], "labels": {}, "images": [], "recons": [], "kept": []}
    for t in batch_types:
        for i in range(batches_of(reader, t, max_batches)):
            images, labels = reader.batch(t, i)
            x = to_batch(images, CPU)
            with torch.no_grad():
                mu, _ = model.encode(x)
                recon = model.decode_image(mu)
            out["mu"].append(mu.numpy())
            out["sq_err"].append(((recon - x) ** 2).mean(dim=(1, 2, 3)).numpy())
            out["type"] += [t] * len(x)
            out["batch"] += [f"{t}:{i}"] * len(x)
            if t in keep:
                out["images"].append(x[:, 0].numpy())
                out["recons"].append(recon[:, 0].numpy())
                out["kept"] += [f"{t}:{i}"] * len(x)
            for key, value in labels.items():
                if np.ndim(value) >= 1 and len(value) == len(x):
                    out["labels"].setdefault(key, []).append(np.asarray(value))
    result = {"mu": np.concatenate(out["mu"]), "sq_err": np.concatenate(out["sq_err"]),
              "type": np.array(out["type"]), "batch": np.array(out["batch"])}
    result["labels"] = {k: np.concatenate(v) for k, v in out["labels"].items()}
    if out["kept"]:
        result.update(images=np.concatenate(out["images"]), recons=np.concatenate(out["recons"]),
                      kept=np.array(out["kept"]))
    return result
