"""The chunk file format and the dataset's render_info.json.

A chunk is one uncompressed .npz: loadable without pickle, byte-identical for identical content
(sorted members, fixed zip timestamps), written atomically so an interrupted run leaves only whole
chunks behind. Besides its batches it records the fingerprint it was rendered with and its own
name, which only a resumed render reads (render.jobs.resume): a chunk is kept only where it was
written, for the same parameters and code, with every member's zip CRC intact. Shards leave them out.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from render.errors import UserError
from render.files import write_atomic

FORMAT_VERSION = 1
INFO_FILE = "render_info.json"
# Members that describe the chunk itself rather than its images.
BOOKKEEPING = ("fingerprint", "batch_index", "chunk")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict) -> bytes:
    """A deterministic .npz in memory: identical arrays give identical bytes wherever they were
    made (a local process or a Ray worker on another node)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[key], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    return out.getvalue()


def read_npz(path: Path) -> dict:
    """All arrays of a chunk; a damaged file is a UserError naming it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise UserError(f"{path}: chunk file not found") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise UserError(f"{path}: unreadable chunk ({e}); delete it and re-run the render to redo it") from None


def chunk_stamp(path: Path) -> tuple[str, str] | None:
    """(fingerprint, chunk name) a finished chunk records, or None if it is not usable (damaged: a
    member's CRC fails; or written before chunks recorded their names)."""
    try:
        with zipfile.ZipFile(path) as zf:
            if zf.testzip() is not None:
                return None
            values = []
            for member in ("fingerprint.npy", "chunk.npy"):
                with zf.open(member) as f:
                    values.append(str(np.lib.format.read_array(f, allow_pickle=False)))
            return values[0], values[1]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return None


def chunk_bytes(source, chunk, fingerprint: str) -> bytes:
    """A chunk rendered by a batch source: its batches stacked, their indices and the fingerprint."""
    parts = [source.render_batch(chunk.split, chunk.batch_type, chunk.first + i) for i in range(chunk.count)]
    arrays = {key: np.stack([p[key] for p in parts]) for key in parts[0]}
    arrays["batch_index"] = np.arange(chunk.first, chunk.first + chunk.count, dtype=np.int64)
    arrays["fingerprint"] = np.array(fingerprint)
    arrays["chunk"] = np.array(chunk.name)
    return npz_bytes(arrays)


def read_info(out_dir: Path) -> dict:
    path = Path(out_dir) / INFO_FILE
    if not path.is_file():
        raise UserError(f"{path}: not found; expected a finished render (run 'dcign render <dataset>' first)")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: damaged ({e}); re-run 'dcign render' to rewrite it (finished chunks are kept)") from None


def write_info(out_dir: Path, info: dict) -> None:
    """render_info.json: sorted keys, no timestamps, so identical data gives identical bytes;
    written atomically, so a full disk never leaves a partial one."""
    write_atomic(Path(out_dir) / INFO_FILE, (json.dumps(info, indent=2, sort_keys=True) + "\n").encode())
