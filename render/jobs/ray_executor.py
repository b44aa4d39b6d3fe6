"""Render chunks on a Ray cluster: one Ray task per chunk.

A task returns its chunk as the bytes of the .npz the local executor would write, and this
process (the driver) writes the file. So the cluster needs no shared filesystem, the files are
byte-identical to a local run's, and the resume rules are the local ones: a finished chunk is
a file on disk here, and a re-run renders only the missing ones. Each Ray worker process builds
its batch renderer (and EGL context) once and reuses it for every task it runs.
"""
from __future__ import annotations

import os
from typing import Callable

from render.chunks import chunk_bytes
from render.files import write_atomic
from render.jobs.config import RETRIES, ExecutorConfig
from render.jobs.plan import Chunk
from render.errors import UserError

# Tasks submitted per Ray CPU: enough to keep every worker busy, few enough that finished
# chunks do not pile up in the object store while the driver writes.
IN_FLIGHT_PER_CPU = 2

_renderers: dict = {}  # in each Ray worker process: the current render's id -> its batch renderer


def import_ray():
    try:
        import ray
    except ImportError:
        raise UserError("render executor 'ray' needs Ray, which is not installed: pip install -e '.[ray]' "
                        "(or use executor: local)") from None
    return ray


def _render_task(fingerprint: str, source: list, chunk: Chunk) -> tuple[str, bytes | str]:
    """Runs in a Ray worker. `source` is [ObjectRef of (factory, factory_args)], wrapped in a list
    so that Ray does not fetch it for every task, only for a worker's first of this render."""
    key = source[0].hex()
    renderer = _renderers.get(key)
    if renderer is None:
        import ray

        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        os.environ["LP_NUM_THREADS"] = "1"  # one CPU per task, as Ray schedules them
        factory, factory_args = ray.get(source[0])
        _renderers.clear()
        renderer = _renderers[key] = factory(*factory_args)
    try:
        return "ok", chunk_bytes(renderer, chunk, fingerprint)
    except UserError as e:  # bad input fails the same way on every retry: report it, do not retry
        return "error", str(e)


def connect(ray, executor: ExecutorConfig) -> bool:
    """Join the cluster at the address (or $RAY_ADDRESS), else start a local instance with
    `executor.workers` CPUs. Returns whether this call started Ray (and so should stop it)."""
    if ray.is_initialized():
        return False
    address = executor.ray_address or os.environ.get("RAY_ADDRESS")
    options = dict(include_dashboard=False, logging_level="warning", log_to_driver=True)
    try:
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=executor.workers, **options)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise UserError(f"could not connect to {where}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return True


def render_on_ray(out_dir, todo: list[Chunk], fingerprint: str, factory: Callable, factory_args: tuple,
                  executor: ExecutorConfig, progress: Callable[[int], None]) -> None:
    """Render the `todo` chunks as Ray tasks and write each as soon as it arrives; `progress`
    gets the number of batches of each finished chunk."""
    ray = import_ray()
    started = connect(ray, executor)
    pending: dict = {}
    try:
        if not todo:
            return
        task = ray.remote(num_cpus=1, max_retries=RETRIES, retry_exceptions=True)(_render_task)
        source = [ray.put((factory, factory_args))]
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        print(f"dcign: {len(todo)} chunks as Ray tasks on {cpus} CPUs ({nodes} node(s))", flush=True)
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < IN_FLIGHT_PER_CPU * cpus:
                chunk = queue.pop(0)
                pending[task.remote(fingerprint, source, chunk)] = chunk
            ready, _ = ray.wait(list(pending), num_returns=1)
            chunk = pending.pop(ready[0])
            try:
                status, payload = ray.get(ready[0])
            except ray.exceptions.RayError as e:
                first = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
                raise UserError(f"{chunk.name}: the Ray task failed {RETRIES + 1} times; last error: {first}") from None
            if status == "error":
                raise UserError(payload)
            write_atomic(out_dir / chunk.name, payload)
            progress(chunk.count)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()
