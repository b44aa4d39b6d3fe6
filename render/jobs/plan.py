"""Render jobs: which chunk files a dataset is made of.

A chunk holds a run of consecutive batches of one split and type; few files for DVC, and the unit
one worker (a local process or a Ray task) renders at a time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Chunk:
    """Batches [first, first + count) of one split and batch type."""

    split: str
    batch_type: str
    index: int
    first: int
    count: int

    @property
    def name(self) -> str:
        return f"{self.split}/{self.batch_type}-{self.index:05d}.npz"

    def describe(self) -> dict:
        """The chunk's entry in render_info.json."""
        return {"file": self.name, "split": self.split, "batch_type": self.batch_type,
                "first": self.first, "count": self.count}


def plan_chunks(counts: dict, chunk_batches: int, splits: Iterable[str], batch_types: Iterable[str]) -> list[Chunk]:
    """Split `counts[split][type]` batches into chunks of at most `chunk_batches` batches."""
    chunks = []
    for split in splits:
        for batch_type in batch_types:
            n = counts[split][batch_type]
            for index, first in enumerate(range(0, n, chunk_batches)):
                chunks.append(Chunk(split, batch_type, index, first, min(chunk_batches, n - first)))
    return chunks
