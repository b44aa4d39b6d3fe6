"""Output directories: never overwrite or remove what dcign did not write; one writer at a time,
with real processes holding and dying."""
import json
import os
import signal
import subprocess
import sys

import pytest

from render.errors import UserError
from render.outputs import EXPLORE, LOCK, MARKER, SHARD, TRAIN, claim, clear, output_dir
from tests.conftest import run_dcign, tiny_params, write_params


def test_a_new_directory_is_marked_and_the_lock_file_is_gone_after(tmp_path):
    with output_dir(tmp_path / "m" / "deep", TRAIN) as out:
        assert (out / LOCK).exists()
        (out / "model.safetensors").write_bytes(b"x")
    assert json.loads((out / MARKER).read_text()) == {"written_by": "dcign train"}
    assert not (out / LOCK).exists()
    with output_dir(out, TRAIN):  # its own directory again
        pass


@pytest.mark.parametrize("names, foreign", [
    (["notes.txt"], "'notes.txt'"),
    (["ckpt-00000002", "thesis.pdf", "z.txt"], "'thesis.pdf' and 1 more"),
    (["config.json"], "'config.json'"),  # one of train's names, but no sign of a training run: the user's
])
def test_a_directory_holding_a_users_files_is_refused_and_left_alone(tmp_path, names, foreign):
    for name in names:
        (tmp_path / name).write_text("mine")
    with pytest.raises(UserError, match=f"^{tmp_path}: holds {foreign}, which `dcign train` did not write; "):
        with output_dir(tmp_path, TRAIN):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)  # no marker, nothing removed


def test_an_unmarked_directory_of_the_commands_own_outputs_is_adopted(tmp_path):
    (tmp_path / "ckpt-00000002").mkdir()
    (tmp_path / "model.safetensors").write_bytes(b"x")
    claim(tmp_path, TRAIN)
    assert json.loads((tmp_path / MARKER).read_text())["written_by"] == "dcign train"


def test_clear_removes_the_commands_own_entries_only(tmp_path):
    with output_dir(tmp_path, EXPLORE):
        for name in ("index.html", "decoder.onnx", "ort.wasm", "explorer.json"):
            (tmp_path / name).write_text("old")
        (tmp_path / "images").mkdir()
        (tmp_path / "images" / "0.png").write_text("old")
        clear(tmp_path, EXPLORE)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([LOCK, MARKER])


def test_another_commands_directory_is_refused(tmp_path):
    with output_dir(tmp_path, SHARD):
        (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(UserError, match="holds the output of `dcign shard`; `dcign train` would overwrite it"):
        with output_dir(tmp_path, TRAIN):
            pass
    (tmp_path / MARKER).write_text("not json")
    with pytest.raises(UserError, match=f"{MARKER}: damaged marker of dcign's outputs"):
        claim(tmp_path, SHARD)


def test_an_out_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError, match="f: is a file; expected an output directory$"):
        with output_dir(tmp_path / "f", SHARD):
            pass


def hold(path, seconds=60, kind="TRAIN") -> subprocess.Popen:
    """Another process holding `path` as `dcign train` (or `kind`) would."""
    code = (f"import time\nfrom render.outputs import {kind}, output_dir\n"
            f"with output_dir({str(path)!r}, {kind}):\n    print('held', flush=True)\n    time.sleep({seconds})\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_gets_one_line_naming_the_holder_and_a_killed_holder_frees_it(tmp_path):
    holder = hold(tmp_path)
    try:
        with pytest.raises(UserError, match=rf"in use by dcign train \(pid {holder.pid} on .*\); wait for it"):
            with output_dir(tmp_path, TRAIN):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (tmp_path / LOCK).exists()  # left by the killed holder: stale, not held
    with output_dir(tmp_path, TRAIN):
        assert str(os.getpid()) in (tmp_path / LOCK).read_text()
    assert not (tmp_path / LOCK).exists()


def test_the_lock_is_released_when_the_holder_exits(tmp_path):
    holder = hold(tmp_path, seconds=0.2)
    holder.wait()
    with output_dir(tmp_path, TRAIN):
        pass


def test_shard_into_a_directory_with_a_users_files_stops_and_keeps_them(rendered_faces, tmp_path):
    out = tmp_path / "shards"
    out.mkdir()
    (out / "results.npy").write_bytes(b"my data")
    params = write_params(tmp_path / "params.yaml", tiny_params())
    proc = run_dcign("shard", "--in", rendered_faces, "--out", out, "--params", params)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"dcign: error: {out}: holds 'results.npy', which "
                                                           "`dcign shard` did not write")
    assert (out / "results.npy").read_bytes() == b"my data"


def test_a_render_into_a_directory_another_render_is_writing_stops(tmp_path):
    out = tmp_path / "rendered"
    holder = hold(out, kind="RENDER")
    try:
        params = write_params(tmp_path / "params.yaml", tiny_params())
        proc = run_dcign("render", "faces", "--params", params, "--out", out, "--workers", 1)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (f"dcign: error: {out}: in use by dcign render (pid {holder.pid} "
                                                    f"on {os.uname().nodename}); wait for it to finish or stop it")
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, LOCK])  # nothing rendered beside it
