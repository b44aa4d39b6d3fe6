"""`dcign ceiling`: how precisely an encoder of the DC-IGN's shape can read a dataset's factors when
it is trained on their true values, scored as `dcign evaluate` scores a model.

The DC-IGN learns its pose latents from the clamp alone, never from the true values. Where a score
that rewards precision is missed (DCI on a fine grid: "Why DCI disentanglement is missed" in the
README), this says whether full supervision gets there with the same encoder at the same width and
length, or whether the target lies beyond this architecture at that size. The encoder's layers and
mean head (train/model.py) regress every scored factor of the training split, a factor on a line
scaled to -1..1 over its grid, a circular one as the cosine and sine of its angle; their outputs are
then the code: read by the same readouts on the test batches that vary each factor, and scored by
MIG and DCI on the same pools and grid classes as a model's. It lives beside the trainer, not in
train/evaluation/, which the pipeline's evaluation stages depend on as a whole: a reference command
that no stage runs should not make them re-run.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from render.errors import UserError
from render.files import write_atomic
from render.outputs import Outputs, output_dir
from render.shards.reader import ShardReader
from train.data import DataSchema
from train.device import describe_precision, pick_device, uses_bf16
from train.evaluation.metrics import mig_and_dci
from train.evaluation.probes import equivariance, factor_classes, readouts, scored_factors
from train.evaluation.readout import PERIOD
from train.model import DCIGN, ModelConfig

ENCODE_ROWS = 200  # images per encoder pass when scoring
CEILING = Outputs("ceiling")  # like evaluate's: one file, nothing removed, one writer at a time (render/outputs.py)


@dataclass(frozen=True)
class CeilingConfig:
    feature_maps: int = 16
    steps: int = 20000
    batch_size: int = 20  # training images per step, drawn from the whole split
    lr: float = 0.0005  # Adam, falling along half a cosine to 0 at `steps`
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    preset: str = "standard"

    def __post_init__(self):
        for key in ("steps", "batch_size"):
            if getattr(self, key) < 1:
                raise UserError(f"ceiling {key} = {getattr(self, key)}: expected an integer >= 1")
        if not self.lr > 0:
            raise UserError(f"ceiling lr = {self.lr}: expected a number > 0")


def target_columns(schema: DataSchema, factors: list) -> dict:
    """factor -> its columns of the regression target: one on a line, two (cosine, sine) for a circle."""
    columns, k = {}, 0
    for f in factors:
        width = 2 if schema.factors[f].get("circular") else 1
        columns[f] = list(range(k, k + width))
        k += width
    return columns


def targets(labels: dict, schema: DataSchema, factors: list) -> np.ndarray:
    """(N, C) float32 regression targets of the rows' true factor values."""
    out = []
    for f in factors:
        v = np.asarray(labels[f], dtype=np.float64)
        grid = np.asarray(schema.grid(f), dtype=np.float64)
        if schema.factors[f].get("circular"):
            angle = 2 * np.pi * v / PERIOD[schema.factors[f]["unit"]]
            out += [np.cos(angle), np.sin(angle)]
        else:
            span = grid.max() - grid.min()
            out.append((v - grid.min()) / span * 2 - 1 if span > 0 else np.zeros_like(v))
    return np.column_stack(out).astype(np.float32)


def _rows(reader: ShardReader, types) -> np.ndarray:
    """Batch positions in the order `dcign evaluate` encodes a split (by type, then index)."""
    return np.array([reader.position(t, i) for t in types for i in range(reader.count(t))], dtype=np.int64)


def _per_batch(reader: ShardReader) -> int:
    return reader.at(0)[0].shape[0]


def _labels(reader: ShardReader, positions: np.ndarray, factors: list) -> dict:
    """Per image of `positions`' batches: each factor's value and the batch type ("type")."""
    labels = {f: np.asarray(reader.labels[f])[positions].reshape(-1) for f in factors}
    types = np.asarray(reader.batch_types)[np.asarray(reader.labels["batch_type"])[positions]]
    labels["type"] = np.repeat(types, _per_batch(reader))
    return labels


def _images(reader: ShardReader, positions, rows) -> torch.Tensor:
    x = np.stack([reader.at(p)[0][r] for p, r in zip(positions, rows)])
    return torch.from_numpy(x).float().div_(255).unsqueeze(1).contiguous(memory_format=torch.channels_last)


def fit_encoder(reader: ShardReader, positions: np.ndarray, y: np.ndarray, cfg: CeilingConfig,
                device: torch.device, bf16: bool) -> DCIGN:
    """The DC-IGN's encoder trained to regress `y` (rows of `positions`' batches, in order) with the
    squared error on its first y.shape[1] mean outputs."""
    torch.manual_seed(cfg.seed)
    net = DCIGN(ModelConfig(feature_maps=cfg.feature_maps)).to(device, memory_format=torch.channels_last)
    params = list(net.encoder.parameters()) + list(net.mu.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, 0.99))
    rng = np.random.default_rng(cfg.seed)
    per_batch = _per_batch(reader)
    target = torch.from_numpy(y)
    for step in tqdm(range(cfg.steps), desc=f"ceiling F={cfg.feature_maps}", unit="step", mininterval=2):
        for group in opt.param_groups:
            group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        pick = rng.integers(0, len(positions) * per_batch, cfg.batch_size)
        x = _images(reader, positions[pick // per_batch], pick % per_batch).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            mu, _ = net.encode(x)
        loss = ((mu[:, :y.shape[1]].float() - target[pick].to(device)) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


def encode(net: DCIGN, reader: ShardReader, positions: np.ndarray, width: int, device: torch.device) -> np.ndarray:
    """(rows, width) fp32 outputs for every image of `positions`' batches, in order."""
    per_batch = _per_batch(reader)
    rows = np.arange(len(positions) * per_batch)
    out = []
    with torch.no_grad():
        for i in range(0, len(rows), ENCODE_ROWS):
            r = rows[i:i + ENCODE_ROWS]
            out.append(net.encode(_images(reader, positions[r // per_batch], r % per_batch).to(device))[0][:, :width]
                       .float().cpu().numpy())
    return np.concatenate(out)


def score(codes: tuple, labels: tuple, schema: DataSchema, factors: list, columns: dict, preset: str,
          seed: int) -> dict:
    """The evaluation's own readouts and equivariance (read errors per extrinsic batch type) and MIG
    and DCI (its disentanglement) of (train, test) codes whose columns regress `factors`."""
    train, test = codes
    enc = tuple({"mu": c, "type": lab["type"], "labels": lab} for c, lab in zip(codes, labels))
    reads = readouts(enc[0], {t: columns[schema.factor(t)] for t in schema.extrinsic}, schema)
    classes = tuple(factor_classes({"labels": lab}, schema, factors) for lab in labels)
    metrics = mig_and_dci(train, classes[0], test, classes[1], np.random.default_rng(seed), preset=preset)
    return {"equivariance": equivariance(enc[1], reads, schema), "disentanglement": metrics}


def ceiling(data: Path, out: Path, cfg: CeilingConfig) -> dict:
    """Train, score and write `out`/ceiling.json, holding `out` for the run; returns what it wrote."""
    train_reader, test_reader = ShardReader(data, "train"), ShardReader(data, "test")
    with output_dir(out, CEILING):
        result = _ceiling(train_reader, test_reader, data, cfg)
        write_atomic(Path(out) / "ceiling.json", json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


def _ceiling(train_reader: ShardReader, test_reader: ShardReader, data: Path, cfg: CeilingConfig) -> dict:
    schema = DataSchema.of(train_reader)
    positions = _rows(train_reader, schema.batch_types), _rows(test_reader, schema.batch_types)
    labels = tuple(_labels(r, p, [f for f in schema.factors if f in r.labels]) for r, p in
                   zip((train_reader, test_reader), positions))
    factors = scored_factors({"labels": {f: v for f, v in labels[0].items() if f in schema.factors}}, schema)
    if not factors:
        raise UserError(f"{data}: no labelled factor varies in the training split; nothing to regress")
    columns = target_columns(schema, factors)
    y = targets(labels[0], schema, factors)
    device = pick_device(cfg.device)
    bf16 = uses_bf16(cfg.precision, device)
    print(f"dcign ceiling: the encoder at F={cfg.feature_maps} regresses {', '.join(factors)} for {cfg.steps} steps "
          f"on {device.type}, {describe_precision(bf16, device)}", flush=True)
    net = fit_encoder(train_reader, positions[0], y, cfg, device, bf16)
    codes = tuple(encode(net, r, p, y.shape[1], device) for r, p in zip((train_reader, test_reader), positions))
    return {"config": asdict(cfg), "dataset": train_reader.manifest.get("dataset"), "factors": factors,
            **score(codes, labels, schema, factors, columns, cfg.preset, cfg.seed)}
