"""The local executor's process pool: spawned workers that render chunks, watched one by one.

`multiprocessing.Pool` waits forever for a task whose worker died (a crash in the GL driver, the
out-of-memory killer): it replaces the process, but the task's result never comes, and a render
stops making progress without a word. Here the parent knows which chunk each worker holds, so a
chunk whose worker died or stopped making progress is given to a fresh worker, as the Ray executor
retries a lost task; after `retries` more losses the render stops with one line naming the chunk.
An error raised in a worker (bad input, a full disk, a bug) would be raised again by a retry: it
is raised here at once, as `multiprocessing.Pool` raised it, with the worker's traceback as cause.

A worker is taken for stuck when one chunk takes longer than `first_limit` seconds (its first
chunk, start-up included) or, after it has finished one, `slow_factor` times the slowest chunk any
worker finished in this render (at least `floor` seconds): chunks of one render are alike, so a
chunk ten times slower than any other is not rendering.
"""
from __future__ import annotations

import multiprocessing
import pickle
import signal
import time
import traceback
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Callable

from render.errors import UserError
from render.jobs.config import RETRIES
from render.jobs.plan import Chunk

_SPAWN = multiprocessing.get_context("spawn")
FIRST_LIMIT = 900.0
FLOOR = 120.0
SLOW_FACTOR = 10.0


class WorkerTraceback(Exception):
    """The traceback of an error raised in a worker: the cause of the error raised here."""


def _portable(error: BaseException) -> tuple[BaseException, str]:
    """The error itself where it survives pickling (else its type and text), and its traceback."""
    text = "".join(traceback.format_exception(error))
    try:
        pickle.loads(pickle.dumps(error))
        return error, text
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}"), text


def _serve(conn, init: Callable, init_args: tuple, render: Callable) -> None:
    """A worker: set up once, then render each chunk the parent sends until it sends None."""
    try:
        init(*init_args)
    except BaseException as e:
        conn.send(("error", _portable(e)))
        return
    while (chunk := conn.recv()) is not None:
        try:
            conn.send(("done", render(chunk)))
        except BaseException as e:
            conn.send(("error", _portable(e)))


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"its worker process was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"its worker process was killed by signal {-exitcode}"
    return f"its worker process exited with code {exitcode}"


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: object
    chunk: Chunk | None = None
    started: float = 0.0
    finished_one: bool = False


@dataclass
class ProcessPool:
    """Renders chunks on `workers` spawned processes; each runs `init(*init_args)` once, then
    `render(chunk)` (returning the chunk's batch count) for every chunk it is given. Both must
    be importable functions. Spawned, not forked, so each worker gets a clean EGL context."""

    workers: int
    init: Callable
    init_args: tuple
    render: Callable
    retries: int = RETRIES
    first_limit: float = FIRST_LIMIT
    floor: float = FLOOR
    slow_factor: float = SLOW_FACTOR

    def run(self, todo: list[Chunk], progress: Callable[[int], None],
            warn: Callable[[str], None] = print) -> None:
        """Render every chunk of `todo`; `progress` gets each finished chunk's batch count, `warn`
        a line for each chunk given to a fresh worker."""
        queue, failures, pool, slowest = deque(todo), {}, [], 0.0
        try:
            while queue or any(w.chunk for w in pool):
                while len(pool) < min(self.workers, len(queue) + sum(1 for w in pool if w.chunk)):
                    pool.append(self._start())
                for w in pool:
                    if w.chunk is None and queue:
                        w.chunk, w.started = queue.popleft(), time.monotonic()
                        w.conn.send(w.chunk)
                deadlines = [w.started + self._limit(w, slowest) for w in pool if w.chunk]
                ready = set(wait([w.conn for w in pool] + [w.process.sentinel for w in pool],
                                 timeout=max(0.0, min(deadlines) - time.monotonic()) if deadlines else None))
                for w in list(pool):
                    outcome = self._outcome(w, ready, slowest)
                    if outcome is None:
                        continue
                    status, payload = outcome
                    if status == "done":
                        slowest = max(slowest, time.monotonic() - w.started)
                        w.chunk, w.finished_one = None, True
                        progress(payload)
                        continue
                    if status == "error":
                        error, text = payload
                        raise error from WorkerTraceback(text)
                    pool.remove(w)
                    if w.chunk is not None:  # an idle worker that ended is replaced when there is work
                        self._retry(w.chunk, payload, failures, queue, warn)
        finally:
            for w in pool:
                self._stop(w)

    def _outcome(self, w: _Worker, ready: set, slowest: float) -> tuple | None:
        """What became of worker `w` in the last wait: ("done", batches), ("error", (exception,
        traceback)), ("lost", why), or None while it renders on (or idles)."""
        if w.conn in ready or (w.process.sentinel in ready and w.conn.poll()):
            try:
                return w.conn.recv()
            except (EOFError, OSError):
                return "lost", _exit_reason(self._reap(w))
        if w.process.sentinel in ready:
            return "lost", _exit_reason(self._reap(w))
        running = time.monotonic() - w.started
        if w.chunk and running > self._limit(w, slowest):
            self._reap(w)
            return "lost", f"its worker made no progress for {running:.0f} s and was stopped"
        return None

    def _retry(self, chunk: Chunk, why: str, failures: dict, queue: deque, warn: Callable[[str], None]) -> None:
        failures[chunk] = failures.get(chunk, 0) + 1
        if failures[chunk] > self.retries:
            raise UserError(f"{chunk.name}: rendering failed {failures[chunk]} times; last: {why}")
        warn(f"dcign: {chunk.name}: {why}; rendering it again (retry {failures[chunk]} of {self.retries})")
        queue.appendleft(chunk)

    def _limit(self, w: _Worker, slowest: float) -> float:
        if not w.finished_one:
            return self.first_limit
        return max(self.floor, self.slow_factor * slowest)

    def _start(self) -> _Worker:
        ours, theirs = _SPAWN.Pipe()
        process = _SPAWN.Process(target=_serve, args=(theirs, self.init, self.init_args, self.render), daemon=True)
        process.start()
        theirs.close()
        return _Worker(process, ours)

    @staticmethod
    def _reap(w: _Worker) -> int | None:
        """Stop a worker (it may be dead already); returns its exit code."""
        if w.process.is_alive():
            w.process.kill()
        w.process.join()
        w.conn.close()
        return w.process.exitcode

    @staticmethod
    def _stop(w: _Worker) -> None:
        """At the end (or on an error or Ctrl-C): an idle worker is asked to leave, a busy one killed."""
        if w.conn.closed:
            return
        if w.chunk is None:
            try:
                w.conn.send(None)
            except OSError:
                pass
            w.process.join(timeout=10)
        if w.process.is_alive():
            w.process.kill()
            w.process.join()
        w.conn.close()
