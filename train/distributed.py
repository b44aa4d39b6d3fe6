"""Data-parallel training across processes with torch.distributed, as launched by torchrun.

A training step consumes `batches_per_step` single-factor batches. Each is drawn from its own
random stream, so the same step sees the same batches however many processes share them: with
N processes each rank takes batches_per_step / N streams, DistributedDataParallel averages the
gradients, and the result matches one process accumulating all of them (to float rounding).
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import torch

from render.errors import UserError


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job; a single-process run is rank 0 of 1."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def streams(self, batches_per_step: int) -> range:
        """The batch streams this rank draws from."""
        per_rank = batches_per_step // self.world
        return range(self.rank * per_rank, (self.rank + 1) * per_rank)


def ranks_from_env() -> Ranks:
    """torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them this is a single process."""
    env = os.environ
    return Ranks(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))


def check_world(batches_per_step: int, world: int, name: str) -> None:
    if world < 1:
        raise UserError(f"--nproc {world}: expected a positive number of processes")
    if batches_per_step % world:
        raise UserError(f"train.{name}.batches_per_step = {batches_per_step} is not a multiple of the {world} "
                        f"training processes: each process needs whole single-factor batches (the clamp works on "
                        f"one batch type at a time); set batches_per_step to a multiple of {world}")


def start(ranks: Ranks, device: torch.device) -> None:
    """Join the process group: NCCL between GPUs, gloo on CPU."""
    if ranks.distributed and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend, rank=ranks.rank, world_size=ranks.world,
                                             device_id=device if device.type == "cuda" else None)


def stop(ranks: Ranks) -> None:
    if ranks.distributed and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def gather(ranks: Ranks, obj) -> list:
    """Every rank's `obj`, in rank order (just [obj] in a single process)."""
    if not ranks.distributed:
        return [obj]
    out = [None] * ranks.world
    torch.distributed.all_gather_object(out, obj)
    return out


def from_main(ranks: Ranks, obj):
    """Rank 0's `obj` on every rank."""
    if not ranks.distributed:
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def barrier(ranks: Ranks) -> None:
    if ranks.distributed:
        torch.distributed.barrier()


def launch(nproc: int, argv: list[str], env: dict | None = None) -> int:
    """`dcign train --nproc N` on one machine: torchrun (torch.distributed.run) with N local
    processes, each running the same `dcign` command line without --nproc, with `env` added."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "pipelines.cli", *without_nproc(argv)]
    return subprocess.call(cmd, env={**os.environ, **(env or {})})


def without_nproc(argv: list[str]) -> list[str]:
    """The command line for the ranks: without --nproc, which torchrun's own parser would take for
    an abbreviation of its --nproc-per-node even after the module name."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out
