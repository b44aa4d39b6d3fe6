"""Output directories: dcign writes only where it may, one writer at a time.

A command that removes or replaces files in its `--out` (render, shard, train) first claims the
directory: a marker file names the command whose outputs it holds, and a directory holding anything
else stops the command with one line instead of losing a user's files. A directory without a marker
is adopted only when everything in it is that command's own output (written before markers
existed). Every writer (evaluate too) holds an exclusive lock on the directory for its run: an
`flock`, which the kernel drops when the holder dies, so a killed run never leaves a stale lock. The
lock file is removed on exit, so DVC never sees it in an output.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from render.errors import UserError
from render.files import write_atomic

MARKER = ".dcign-output"
LOCK = ".dcign-lock"
HELD_ENV = "DCIGN_OUTPUT_HELD"  # set by a process that holds an output directory for the processes it starts


@dataclass(frozen=True)
class Outputs:
    """What one command writes at the top level of its output directory."""

    command: str  # the dcign subcommand
    patterns: tuple = ()  # fnmatch patterns of the entries it writes; () = it only overwrites its own files
    signature: tuple = ()  # patterns of which one marks an unmarked directory as the command's

    @property
    def owns(self) -> bool:
        return bool(self.patterns)


RENDER = Outputs("render", ("render_info.json", "skipped_chairs.json", "train", "test", ".*.tmp*"),
                 ("render_info.json", "train", "test"))
SHARD = Outputs("shard", ("*.npy", "manifest.json", ".*.tmp*", ".*.partial"), ("manifest.json", "*.images.npy"))
TRAIN = Outputs("train", ("ckpt-*", ".tmp-ckpt-*", "model.safetensors", "config.json", "checksums.json", "live"),
                ("ckpt-*", "model.safetensors"))
EVALUATE = Outputs("evaluate")
EXPLORE = Outputs("explore", ("index.html", "app.js", "style.css", "explorer.json", "*.onnx", "ort*", "images"),
                  ("explorer.json",))
COMPARE = Outputs("compare")


def _matches(name: str, patterns) -> bool:
    return any(fnmatch(name, p) for p in patterns)


def _owner(path: Path) -> str | None:
    marker = path / MARKER
    if not marker.exists():
        return None
    try:
        return json.loads(marker.read_text())["written_by"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{marker}: damaged marker of dcign's outputs; expected "
                        '{"written_by": "dcign <command>"}: delete the directory or use another --out') from None


def claim(path: Path, outputs: Outputs) -> None:
    """Check that `path` holds nothing but this command's outputs, and mark it as the command's."""
    entries = sorted(p.name for p in path.iterdir() if p.name not in (MARKER, LOCK))
    owner = _owner(path)
    mine = f"dcign {outputs.command}"
    if owner is not None and owner != mine:
        raise UserError(f"{path}: holds the output of `{owner}`; `{mine}` would overwrite it: use another --out")
    foreign = [e for e in entries if not _matches(e, outputs.patterns)]
    if owner is None and entries and not any(_matches(e, outputs.signature) for e in entries):
        foreign = entries
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise UserError(f"{path}: holds {foreign[0]!r}{more}, which `{mine}` did not write; it removes and replaces "
                        "files in its output directory, so it stops: move them or use another --out")
    if owner is None:
        write_atomic(path / MARKER, json.dumps({"written_by": mine}) + "\n")


def clear(path: Path, outputs: Outputs) -> None:
    """Remove what a previous run of the command wrote at the top level of `path` (its patterns),
    for a command that writes its folder whole; anything else stays."""
    for entry in list(Path(path).iterdir()):
        if entry.name in (MARKER, LOCK) or not _matches(entry.name, outputs.patterns):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@contextmanager
def output_dir(path, outputs: Outputs):
    """Create `path` if needed, lock it for this process (a second writer gets one line naming the
    holder) and, for a command that removes files, claim it. Yields the path."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{path}: is a file; expected an output directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{path}: cannot create the output directory ({e.strerror})") from None
    fd = _lock(path, outputs)
    try:
        if outputs.owns:
            claim(path, outputs)
        yield path
    finally:
        (path / LOCK).unlink(missing_ok=True)
        os.close(fd)


def _lock(path: Path, outputs: Outputs) -> int:
    """An exclusive flock on path/LOCK, held until the descriptor is closed (or the process dies).
    The file is removed by its holder on exit, so after locking, check that the locked file is still
    the one at the path (else another process removed it in between: lock the new one)."""
    lock = path / LOCK
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise UserError(f"{path}: cannot write in the output directory ({e.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another dcign process"
            os.close(fd)
            raise UserError(f"{path}: in use by {holder}; wait for it to finish or stop it") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"dcign {outputs.command} (pid {os.getpid()} on {socket.gethostname()})".encode(), 0)
    return fd
