"""The `render` section of params.yaml: where render chunks run.

It is in no fingerprint and no DVC dependency: every executor writes the same bytes, so switching
executors never invalidates data.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from render.errors import UserError
from render.params import check_keys, leaves

EXECUTORS = ("local", "ray")
# A lost chunk (its worker died, or in the local pool made no progress) is rendered again up to this
# many times by either executor; Ray also retries a task that raised, but never bad input (UserError).
RETRIES = 3


@dataclass(frozen=True)
class ExecutorConfig:
    kind: str = "local"  # local: a process pool on this machine | ray: one Ray task per chunk
    workers: int = 1  # local processes; the CPUs of a Ray instance started here
    ray_address: str | None = None  # None: $RAY_ADDRESS, else a new local Ray instance


def executor_config(params: dict, where: str = "params.yaml", workers: int | None = None,
                    executor: str | None = None, ray_address: str | None = None) -> ExecutorConfig:
    """The `render` section, with command-line values (when given) taking precedence."""
    section = params.get("render") or {}
    check_keys(section, "render", leaves("workers", "executor"), where)
    if workers is None:
        workers = section.get("workers", 0)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise UserError(f"{where}: render.workers = {workers!r}: expected 0 (all cores) or a positive integer")
    elif workers < 0:
        raise UserError(f"--workers {workers}: expected 0 (all cores) or a positive number of processes")
    kind = executor if executor is not None else section.get("executor", "local")
    if kind not in EXECUTORS:
        source = "--executor" if executor is not None else f"{where}: render.executor ="
        raise UserError(f"{source} {kind!r}: expected one of {', '.join(EXECUTORS)}")
    if ray_address is not None and kind != "ray":
        raise UserError(f"--ray-address {ray_address}: only used with the ray executor (--executor ray)")
    return ExecutorConfig(kind, workers or os.cpu_count() or 1, ray_address or None)
