"""The data side of training and evaluation: a shard set checked against a config, what its
manifest says of batch types and factors, uint8 batches to tensors, and the random streams that
choose each step's batches."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from render.errors import UserError
from render.shards.reader import ShardReader
from train.config import TrainConfig


@dataclass(frozen=True)
class DataSchema:
    """The dataset schema as a shard manifest records it: training and evaluation take batch types,
    the factor each varies, and every factor's unit and grid from the data they read."""

    batch_types: tuple  # in stream order, the intrinsic type last
    type_factor: dict  # batch type -> the factor it varies; None for the intrinsic type
    factors: dict  # factor name -> {"unit": rad | deg, "values": the grid, "circular": bool}

    @classmethod
    def of(cls, reader: ShardReader) -> DataSchema:
        manifest = reader.manifest
        return cls(tuple(manifest["batch_types"]), dict(manifest["type_factor"]), dict(manifest["factors"]))

    @property
    def extrinsic(self) -> list[str]:
        """The batch types that vary one labelled factor."""
        return [t for t in self.batch_types if self.type_factor[t] is not None]

    def factor(self, batch_type: str) -> str:
        return self.type_factor[batch_type]

    def unit(self, batch_type: str) -> str:
        return self.factors[self.factor(batch_type)]["unit"]

    def grid(self, factor: str) -> list[float]:
        return self.factors[factor]["values"]


def open_data(cfg: TrainConfig, data: Path, split: str) -> ShardReader:
    """The shard reader, checked against what the config expects of it."""
    reader = ShardReader(data, split)
    manifest = reader.manifest
    if manifest["dataset"] != cfg.dataset:
        raise UserError(f"{data}: holds {manifest['dataset']} data, but train.{cfg.name}.dataset is {cfg.dataset!r}")
    if list(reader.batch_types) != list(cfg.batch_ratio):
        raise UserError(f"{data}: batch types {list(reader.batch_types)} do not match the {cfg.dataset} config's "
                        f"{list(cfg.batch_ratio)}")
    size = manifest["image_shape"][1:]
    if size != [cfg.model.image_size] * 2:
        raise UserError(f"{data}: images are {size[0]}x{size[1]}, the model expects "
                        f"{cfg.model.image_size}x{cfg.model.image_size}")
    for t, weight in cfg.batch_ratio.items():
        if weight > 0 and reader.count(t) == 0:
            raise UserError(f"{data}: the {split} split has no {t} batches, but train.{cfg.name}.batch_ratio.{t} "
                            f"= {weight:g}; expected data for every batch type with a positive weight")
    return reader


def to_batch(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (B, H, W) -> float (B, 1, H, W) in [0, 1], converted on the device."""
    x = torch.from_numpy(np.array(images))
    if device.type == "cuda":
        x = x.pin_memory().to(device, non_blocking=True)
    return x.unsqueeze(1).float().div_(255.0)


def stream_seed(seed: int, stream: int) -> int:
    """Seed of batch stream `stream` of a run; stream 0 uses the run's seed itself, so a run with
    one batch per step draws exactly what it always did."""
    return seed if stream == 0 else int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


class BatchStreams:
    """One random stream per batch of a step: each draws a batch type in the config's ratio, then a
    batch of that type uniformly, with replacement (as the authors: an epoch is a count of draws,
    not a pass over the data)."""

    def __init__(self, reader: ShardReader, ratio: dict, seeds: list[int]):
        self.reader = reader
        self.types = list(reader.batch_types)
        weights = np.array([ratio[t] for t in self.types])
        self.type_p = weights / weights.sum()
        self.rngs = [np.random.default_rng(s) for s in seeds]

    def draw(self) -> list[tuple[str, np.ndarray]]:
        """The next (batch type, uint8 images) of every stream."""
        return [self._draw(rng) for rng in self.rngs]

    def _draw(self, rng: np.random.Generator) -> tuple[str, np.ndarray]:
        t = self.types[int(rng.choice(len(self.types), p=self.type_p))]
        i = int(rng.integers(self.reader.count(t)))
        return t, self.reader.batch(t, i)[0]

    def states(self) -> list[dict]:
        return [g.bit_generator.state for g in self.rngs]

    def restore(self, states: list[dict]) -> None:
        for rng, state in zip(self.rngs, states):
            rng.bit_generator.state = state
