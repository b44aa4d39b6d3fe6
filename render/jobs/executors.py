"""Who renders the chunks: a local process pool (or this process), or Ray tasks
(render/jobs/ray_executor.py). Every executor writes the same bytes."""
from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from render.chunks import INFO_FILE, chunk_bytes
from render.files import write_atomic
from render.jobs.config import ExecutorConfig
from render.jobs.plan import Chunk
from render.jobs.process_pool import ProcessPool
from render.jobs.resume import pending_chunks

_worker: dict = {}


def _die_with_parent() -> None:
    """A worker whose parent is killed outright (kill -9) is killed too (Linux PR_SET_PDEATHSIG),
    instead of rendering on and failing with a traceback when it reports to no one. Finished
    chunks are whole files, so nothing half-written stays; elsewhere this does nothing."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _init_worker(factory: Callable, factory_args: tuple, out_dir: str, fingerprint: str,
                 single_process: bool = False) -> None:
    if not single_process:
        # Cores are shared out between processes; llvmpipe's own threads would oversubscribe them.
        os.environ["LP_NUM_THREADS"] = "1"
        # Ctrl-C reaches every process of the terminal: the parent alone handles it (it terminates
        # the pool), so workers print no traceback of their own.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _die_with_parent()
    _worker.clear()
    _worker.update(source=factory(*factory_args), out_dir=Path(out_dir), fingerprint=fingerprint)


def _render_chunk(chunk: Chunk) -> int:
    write_atomic(_worker["out_dir"] / chunk.name, chunk_bytes(_worker["source"], chunk, _worker["fingerprint"]))
    return chunk.count


def render_chunks(out_dir: Path, chunks: list[Chunk], fingerprint: str, factory: Callable, factory_args: tuple,
                  executor: ExecutorConfig, images_per_batch: int, desc: str) -> None:
    """Render every chunk not already on disk, on a local process pool (1 worker: in this
    process; render/jobs/process_pool.py) or as Ray tasks.

    `factory(*factory_args)` builds, once per process, an object whose
    `render_batch(split, batch_type, index)` returns a batch's arrays (images first). Local
    workers each write their own chunks. The dataset's info file is removed first and written by
    the caller last: present only once every chunk is.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / INFO_FILE).unlink(missing_ok=True)
    todo = pending_chunks(out_dir, chunks, fingerprint)
    if len(todo) < len(chunks):
        print(f"dcign: resuming: {len(chunks) - len(todo)} of {len(chunks)} chunks already rendered", flush=True)
    total = sum(c.count for c in todo) * images_per_batch
    with tqdm(total=total, desc=desc, unit="img", dynamic_ncols=True, smoothing=0.1) as bar:
        if executor.kind == "ray":
            from render.jobs.ray_executor import render_on_ray

            render_on_ray(out_dir, todo, fingerprint, factory, factory_args, executor,
                          lambda n_batches: bar.update(n_batches * images_per_batch))
            return
        init_args = (factory, factory_args, str(out_dir), fingerprint)
        if executor.workers <= 1 or len(todo) <= 1:
            _init_worker(*init_args, single_process=True)
            for chunk in todo:
                bar.update(_render_chunk(chunk) * images_per_batch)
            return
        ProcessPool(executor.workers, _init_worker, init_args, _render_chunk).run(
            todo, lambda n_batches: bar.update(n_batches * images_per_batch), warn=bar.write)
