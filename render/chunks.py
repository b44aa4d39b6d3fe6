"""Chunk files: planning, the file format, and which chunks a resumed render still needs
(render/executors.py renders them).

A chunk holds a run of consecutive batches of one split and type as one uncompressed .npz:
few files for DVC, loadable without pickle, byte-identical for identical content (fixed zip
timestamps), written atomically so an interrupted run leaves only whole chunks behind.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from render.errors import UserError

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


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


def npz_bytes(arrays: dict) -> bytes:
    """A deterministic .npz in memory: sorted members, fixed timestamps, so identical arrays give
    identical bytes wherever they were made (a local process or a Ray worker on another node)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[key], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    return out.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file + rename: an interrupted run leaves whole files or none."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_npz(path: Path, arrays: dict) -> None:
    write_atomic(path, npz_bytes(arrays))


def read_npz(path: Path) -> dict:
    """All arrays of a chunk; a damaged file is a UserError naming it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise UserError(f"{path}: chunk file not found") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise UserError(f"{path}: unreadable chunk ({e}); delete it and re-run the render to redo it") from None


def chunk_fingerprint(path: Path) -> str | None:
    """The params fingerprint a finished chunk was rendered with, or None if it is not usable."""
    try:
        with zipfile.ZipFile(path) as zf:
            if zf.testzip() is not None:
                return None
            with zf.open("fingerprint.npy") as f:
                return str(np.lib.format.read_array(f, allow_pickle=False))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return None


def pending_chunks(out_dir: Path, chunks: list[Chunk], fingerprint: str) -> list[Chunk]:
    """Chunks still to render. Finished chunks of the same fingerprint are kept (resume); files
    from other parameters, stray temp files and chunks no longer planned are removed."""
    out_dir = Path(out_dir)
    planned = {c.name for c in chunks}
    for path in sorted(out_dir.glob("*/*.npz")) + sorted(out_dir.glob("*/.*.tmp*")):
        rel = path.relative_to(out_dir).as_posix()
        if rel not in planned or chunk_fingerprint(path) != fingerprint:
            path.unlink()
    return [c for c in chunks if not (out_dir / c.name).exists()]


def chunk_arrays(source, chunk: Chunk, fingerprint: str) -> dict:
    """A chunk's arrays: its batches stacked, their indices and the params fingerprint."""
    parts = [source.render_batch(chunk.split, chunk.batch_type, chunk.first + i) for i in range(chunk.count)]
    arrays = {key: np.stack([p[key] for p in parts]) for key in parts[0]}
    arrays["batch_index"] = np.arange(chunk.first, chunk.first + chunk.count, dtype=np.int64)
    arrays["fingerprint"] = np.array(fingerprint)
    return arrays


INFO_FILE = "render_info.json"


def write_info(out_dir: Path, info: dict) -> None:
    """The dataset's render_info.json: sorted keys, no timestamps, so identical data gives identical bytes."""
    (Path(out_dir) / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
