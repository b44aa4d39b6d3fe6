"""The local executor's process pool: a chunk whose worker died or got stuck is rendered again by
a fresh worker, a chunk that keeps failing stops the render with one line, an error raised in a
worker is raised at once, and the real face render survives a worker killed mid-chunk byte for
byte."""
import os
import signal
import time
from pathlib import Path

import pytest

from render.errors import UserError
from render.faces.config import SCHEMA, faces_config
from render.faces.source import FaceBatches, prepare
from render.jobs.config import ExecutorConfig
from render.jobs.executors import render_chunks
from render.jobs.fingerprint import fingerprint
from render.jobs.plan import Chunk, plan_chunks
from render.jobs.process_pool import ProcessPool
from render.outputs import MARKER
from render.params import SPLITS
from tests.conftest import tiny_params, tree_digest

_marks: dict = {}


def _init(marks: str, init_error: Exception | None = None) -> None:
    if init_error is not None:
        raise init_error
    _marks["dir"] = Path(marks)


def _attempts(chunk: Chunk) -> int:
    return len(list(_marks["dir"].glob(f"{chunk.batch_type}-{chunk.index}-*")))


def _render(chunk: Chunk) -> int:
    """Behaves as the chunk's batch type says: ok, or fails its first attempt (crash, hang) or every
    attempt (always, and raising: bad-input, bug)."""
    attempt = _attempts(chunk)
    (_marks["dir"] / f"{chunk.batch_type}-{chunk.index}-{attempt}").write_text("")
    kind = chunk.batch_type
    if kind == "bad-input":
        raise UserError("broken.obj: not a mesh (expected a triangle mesh)")
    if kind == "bug":
        raise KeyError("azimuth")
    if kind == "always" or (attempt == 0 and kind in ("crash", "hang")):
        if kind == "hang":
            time.sleep(3600)
        os.kill(os.getpid(), signal.SIGKILL)
    return chunk.count


def chunks(*kinds: str) -> list[Chunk]:
    return [Chunk("train", kind, i, 0, 2) for i, kind in enumerate(kinds)]


def attempts(marks: Path) -> dict:
    counts: dict = {}
    for mark in marks.iterdir():
        kind, index, _ = mark.name.rsplit("-", 2)
        counts[(kind, int(index))] = counts.get((kind, int(index)), 0) + 1
    return counts


@pytest.fixture
def marks(tmp_path):
    path = tmp_path / "marks"
    path.mkdir()
    return path


def test_chunks_of_workers_that_died_or_got_stuck_are_rendered_again(marks):
    todo = chunks("ok", "crash", "ok", "hang", "ok")
    done, warnings = [], []
    pool = ProcessPool(2, _init, (str(marks),), _render, first_limit=20, floor=3, slow_factor=2)
    pool.run(todo, done.append, warn=warnings.append)
    assert sum(done) == 2 * len(todo)
    assert attempts(marks) == {(c.batch_type, c.index): 1 if c.batch_type == "ok" else 2 for c in todo}
    assert len(warnings) == 2
    crash, hang = sorted(warnings)
    assert crash == ("dcign: train/crash-00001.npz: its worker process was killed by SIGKILL; "
                     "rendering it again (retry 1 of 3)")
    assert hang.startswith("dcign: train/hang-00003.npz: its worker made no progress for ")
    assert hang.endswith(" s and was stopped; rendering it again (retry 1 of 3)")


def test_a_chunk_that_keeps_failing_stops_the_render_with_one_line(marks):
    with pytest.raises(UserError) as error:
        ProcessPool(2, _init, (str(marks),), _render, retries=2).run(chunks("ok", "always"), lambda n: None,
                                                                       warn=lambda line: None)
    assert str(error.value) == ("train/always-00001.npz: rendering failed 3 times; last: its worker process "
                                "was killed by SIGKILL")
    assert attempts(marks)[("always", 1)] == 3


@pytest.mark.parametrize("kind, error, message", [
    ("bad-input", UserError, r"^broken.obj: not a mesh \(expected a triangle mesh\)$"),
    ("bug", KeyError, r"^'azimuth'$"),
])
def test_an_error_raised_in_a_worker_is_raised_at_once_with_its_traceback(marks, kind, error, message):
    with pytest.raises(error, match=message) as raised:
        ProcessPool(2, _init, (str(marks),), _render).run(chunks(kind), lambda n: None)
    assert attempts(marks) == {(kind, 0): 1}
    assert "in _render" in str(raised.value.__cause__)  # where in the worker it was raised


@pytest.mark.parametrize("init_error", [UserError("face model: no such file"), RuntimeError("no EGL display")])
def test_a_worker_that_cannot_start_is_an_error_not_a_wait(marks, init_error):
    with pytest.raises(type(init_error), match=f"^{init_error}$"):
        ProcessPool(2, _init, (str(marks), init_error), _render).run(chunks("ok"), lambda n: None)


class KilledOnce(FaceBatches):
    """The real face renderer, except that the first attempt at each batch named in `kill` kills
    its worker process outright, as a crash in the GL driver or the out-of-memory killer would."""

    def __init__(self, cfg, model, kill: tuple, marks: str):
        super().__init__(cfg, model)
        self.kill, self.marks = kill, Path(marks)

    def render_batch(self, split, batch_type, index):
        mark = self.marks / f"{split}-{batch_type}-{index}"
        if f"{split}/{batch_type}/{index}" in self.kill and not mark.exists():
            mark.write_text("")
            os.kill(os.getpid(), signal.SIGKILL)
        return super().render_batch(split, batch_type, index)


def test_a_face_render_whose_worker_is_killed_mid_chunk_completes_byte_identical(rendered_faces, marks, tmp_path,
                                                                                  capsys):
    cfg = faces_config(tiny_params())
    model = prepare(cfg)
    planned = plan_chunks(cfg.batches, cfg.chunk_batches, SPLITS, SCHEMA.batch_types)
    kill = ("train/azimuth/0", "test/light/0")
    render_chunks(tmp_path / "out", planned, fingerprint(SCHEMA, cfg, model.digest), KilledOnce,
                  (cfg, model, kill, str(marks)), ExecutorConfig("local", 2), cfg.batch_size, desc="render faces")
    assert sorted(p.name for p in marks.iterdir()) == ["test-light-0", "train-azimuth-0"]
    assert capsys.readouterr().out.count("was killed by SIGKILL; rendering it again (retry 1 of 3)") == 2
    expected = {k: v for k, v in tree_digest(rendered_faces).items() if k not in ("render_info.json", MARKER)}
    assert tree_digest(tmp_path / "out") == expected
