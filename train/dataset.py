"""The shards as PyTorch data, for the trainer and for a user's own training code: a Dataset over
one split of a shard directory, and the sampler that draws single-factor batches in a ratio of
batch types. `dcign train` draws every step's batches with this sampler (train/data.py), so a
DataLoader over the two gets exactly the batches `dcign train` would for the same seed.

Factors, their units and grids, the batch types and the split all come from the shard manifest
(`ShardDataset.factors`, `.batch_types`); nothing here knows a dataset by name.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from render.shards.reader import ShardReader


def check_ratio(ratio: dict, types) -> np.ndarray:
    """The ratio's weights in the order of `types`; a ratio that names other types, or has no
    positive weight, is a ValueError saying what is expected."""
    if not isinstance(ratio, dict) or set(ratio) != set(types):
        raise ValueError(f"ratio {ratio!r}: expected a weight for each batch type of the data: {', '.join(types)}")
    weights = np.array([ratio[t] for t in types], dtype=float)
    if not (np.isfinite(weights).all() and (weights >= 0).all() and weights.sum() > 0):
        raise ValueError(f"ratio {ratio!r}: expected weights >= 0, at least one of them positive")
    return weights / weights.sum()


class FactorBatchSampler(Sampler):
    """One random stream per batch of a step: each picks a batch type in the ratio, then a batch of
    that type uniformly, with replacement (as the authors: an epoch is a count of draws, not a pass
    over the data). As a torch batch sampler it yields, for each of `steps` steps and each stream,
    the Dataset indices of the picked batch's images: one single-factor batch per yield.

    The trainer calls `pick()` (the (type, index) of each stream's next batch) and saves and restores
    the streams' states with its checkpoints."""

    def __init__(self, types, counts: dict, ratio: dict, seeds: list[int], steps: int = 0, batch_size: int = 0,
                 positions=None):
        self.types, self.counts = list(types), counts
        self.type_p = check_ratio(ratio, self.types)
        self.seeds, self.steps, self.batch_size, self.positions = list(seeds), steps, batch_size, positions
        self.rngs = [np.random.default_rng(s) for s in self.seeds]

    @classmethod
    def over(cls, data: ShardDataset, ratio: dict, steps: int, seed: int = 0) -> FactorBatchSampler:
        """The sampler of a Dataset: `steps` batches from the stream `dcign train` uses with `seed`."""
        reader = data.reader
        return cls(reader.batch_types, {t: reader.count(t) for t in reader.batch_types}, ratio, [seed], steps,
                   data.batch_size, reader.position)

    def pick(self) -> list[tuple[str, int]]:
        """The next (batch type, index within the type) of every stream."""
        return [self._pick(rng) for rng in self.rngs]

    def _pick(self, rng: np.random.Generator) -> tuple[str, int]:
        t = self.types[int(rng.choice(len(self.types), p=self.type_p))]
        return t, int(rng.integers(self.counts[t]))

    def states(self) -> list[dict]:
        return [g.bit_generator.state for g in self.rngs]

    def restore(self, states: list[dict]) -> None:
        for rng, state in zip(self.rngs, states):
            rng.bit_generator.state = state

    def __iter__(self):
        if self.positions is None:
            raise TypeError("this sampler draws for the trainer; make one over a Dataset with FactorBatchSampler.over")
        self.rngs = [np.random.default_rng(s) for s in self.seeds]  # every pass draws the same batches
        for _ in range(self.steps):
            for t, i in self.pick():
                start = self.positions(t, i) * self.batch_size
                yield list(range(start, start + self.batch_size))

    def __len__(self) -> int:
        return self.steps * len(self.seeds)


class ShardDataset(Dataset):
    """The images of one split of a shard directory, one item per image: (image, labels), the image
    a float tensor (1, H, W) in [0, 1], the labels a dict of that image's ground truth: every factor
    (in its unit, `factors[name]["unit"]`), the identity and its coefficients, and its batch's
    "batch_type" (a name). The shards are memory-mapped and checked against the manifest's sha256
    once; a batch's images are read together when a DataLoader asks for them together."""

    def __init__(self, root: str | Path, split: str = "train"):
        self.reader = ShardReader(root, split)
        manifest = self.reader.manifest
        self.batch_size = int(manifest["image_shape"][0])
        self.batch_types = list(manifest["batch_types"])
        self.factors = dict(manifest["factors"])  # name -> {"unit", "values" (the grid), "circular"}
        self.type_factor = dict(manifest["type_factor"])  # batch type -> the factor it varies (None: identity)

    def __len__(self) -> int:
        return len(self.reader) * self.batch_size

    def __getitem__(self, index: int):
        return self.__getitems__([index])[0]

    def __getitems__(self, indices) -> list:
        """The items of `indices`, each batch read once (what a DataLoader with a batch sampler calls)."""
        cache = {}
        items = []
        for index in indices:
            if not 0 <= index < len(self):
                raise IndexError(f"image {index} of {len(self)} in {self.reader.root} ({self.reader.split})")
            position, row = divmod(int(index), self.batch_size)
            if position not in cache:
                cache[position] = self.reader.at(position)
            images, labels = cache[position]
            items.append((torch.from_numpy(images[row].astype(np.float32) / 255.0)[None], self._labels(labels, row)))
        return items

    def _labels(self, labels: dict, row: int) -> dict:
        out = {}
        for key, value in labels.items():
            value = np.asarray(value)
            if key == "batch_type":
                out[key] = self.batch_types[int(value)]
            elif key != "batch_index":
                out[key] = np.array(value[row] if value.ndim >= 1 and len(value) == self.batch_size else value)
        return out
