"""The data side of training and evaluation: a shard set checked against a config, what its
manifest says of batch types and factors, uint8 batches to tensors, and where each step's batches
(drawn by the sampler of train/dataset.py) are read from (the memory-mapped shards on a
background thread, or a copy of the split held on the GPU)."""
from __future__ import annotations

import copy
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from render.errors import UserError
from render.shards.reader import ShardReader
from train.config import TrainConfig
from train.dataset import FactorBatchSampler


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
    return to_float(torch.from_numpy(np.array(images)).to(device))


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W) -> float (B, 1, H, W) in [0, 1], channels_last, on the images' device."""
    return images.unsqueeze(1).float().div_(255.0).contiguous(memory_format=torch.channels_last)


def stream_seed(seed: int, stream: int) -> int:
    """Seed of batch stream `stream` of a run; stream 0 uses the run's seed itself, so a run with
    one batch per step draws exactly what it always did."""
    return seed if stream == 0 else int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


PREFETCH = 2  # steps whose batches are read ahead


class HostImages:
    """Batches read from the memory-mapped shards into one uint8 array per step. On CUDA the array
    is a page-locked buffer, reused round-robin, so the copy to the GPU runs asynchronously; a
    buffer is refilled only after the GPU has finished reading it."""

    def __init__(self, reader: ShardReader, device: torch.device, groups: int, slots: int):
        self.reader, self.device = reader, device
        batch, height, width = reader.manifest["image_shape"]
        shape = (groups * batch, height, width)
        pinned = device.type == "cuda"
        self.buffers = [torch.empty(shape, dtype=torch.uint8, pin_memory=pinned) for _ in range(slots)]
        self.copied = [None] * slots  # CUDA event after the last copy out of each buffer
        self.next_slot = 0

    def load(self, picks: list[tuple[str, int]]) -> int:
        """Read the picked batches into the next buffer (on the loading thread); returns its slot."""
        slot, self.next_slot = self.next_slot, (self.next_slot + 1) % len(self.buffers)
        if self.copied[slot] is not None:
            self.copied[slot].synchronize()
        out = self.buffers[slot].numpy()
        rows = len(out) // len(picks)
        for k, (t, i) in enumerate(picks):
            out[k * rows:(k + 1) * rows] = self.reader.batch(t, i)[0]
        return slot

    def images(self, slot: int) -> torch.Tensor:
        """The loaded buffer as uint8 images on the device (on the training thread)."""
        if self.device.type != "cuda":
            return self.buffers[slot]
        images = self.buffers[slot].to(self.device, non_blocking=True)
        self.copied[slot] = torch.cuda.Event()
        self.copied[slot].record()
        return images


class GpuImages:
    """The whole uint8 training split copied to the GPU once; a step's batches are indexed there."""

    def __init__(self, reader: ShardReader, device: torch.device):
        self.by_type = {}
        for t in reader.batch_types:
            n = reader.count(t)
            held = torch.empty((n, *reader.manifest["image_shape"]), dtype=torch.uint8, device=device)
            for start in range(0, n, 256):
                chunk = np.stack([reader.batch(t, i)[0] for i in range(start, min(n, start + 256))])
                held[start:start + len(chunk)].copy_(torch.from_numpy(chunk))
            self.by_type[t] = held

    def load(self, picks: list[tuple[str, int]]) -> list[tuple[str, int]]:
        return picks

    def images(self, picks: list[tuple[str, int]]) -> torch.Tensor:
        return torch.cat([self.by_type[t][i] for t, i in picks])


def step_batches(reader: ShardReader, ratio: dict, seeds: list[int], device: torch.device, on_gpu: bool,
                 depth: int = PREFETCH) -> Prefetch:
    """The training data path: one batch stream per seed, each step's batches read `depth` steps
    ahead from the shards, or indexed in a copy of the split on the GPU."""
    images = (GpuImages(reader, device) if on_gpu
              else HostImages(reader, device, groups=len(seeds), slots=depth + 1))
    counts = {t: reader.count(t) for t in reader.batch_types}
    return Prefetch(FactorBatchSampler(reader.batch_types, counts, ratio, seeds), images, depth)


def split_bytes(reader: ShardReader) -> int:
    return len(reader) * int(np.prod(reader.manifest["image_shape"]))


class Prefetch:
    """Each step's batches, loaded `depth` steps ahead on a background thread so reading overlaps
    training. The picks are drawn ahead on the training thread, and the stream states from before
    each pending pick are kept: `states()` is always the state before the first batch not yet
    trained on, so a checkpoint resumes exactly."""

    def __init__(self, streams: FactorBatchSampler, source, depth: int = 2):
        self.streams, self.source, self.depth = streams, source, depth
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="dcign-prefetch")
        self.pending: deque = deque()  # (stream states before the picks, batch types, future)

    def _fill(self) -> None:
        while len(self.pending) < self.depth:
            states = copy.deepcopy(self.streams.states())
            picks = self.streams.pick()
            self.pending.append((states, [t for t, _ in picks], self.pool.submit(self.source.load, picks)))

    def next(self) -> tuple[list[str], torch.Tensor]:
        """The batch types of the next step and their images, stacked (uint8, on the device)."""
        self._fill()
        _, types, loaded = self.pending.popleft()
        images = self.source.images(loaded.result())
        self._fill()
        return types, images

    def states(self) -> list[dict]:
        self._fill()
        return self.pending[0][0]

    def restore(self, states: list[dict]) -> None:
        for _, _, loaded in self.pending:
            loaded.result()
        self.pending.clear()
        self.streams.restore(states)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
