"""The `shards` section of params.yaml."""
from __future__ import annotations

from dataclasses import dataclass

from render.params import check_keys, leaves, number


@dataclass(frozen=True)
class ShardParams:
    size_mb: float  # target shard size
    seed: int  # shuffle order of batches within a split


def shard_params(params: dict, where: str = "params.yaml") -> ShardParams:
    check_keys(params.get("shards"), "shards", leaves("size_mb", "seed"), where)
    return ShardParams(
        size_mb=float(number(params, "shards.size_mb", where, lo=0, lo_open=True)),
        seed=number(params, "shards.seed", where, integer=True, lo=0),
    )
