"""Which chunks a render still needs: finished chunks of the same fingerprint are kept."""
from __future__ import annotations

from pathlib import Path

from render.chunks import chunk_stamp
from render.jobs.plan import Chunk


def pending_chunks(out_dir: Path, chunks: list[Chunk], fingerprint: str) -> list[Chunk]:
    """Chunks still to render. Files from other parameters or code, damaged ones, ones written under
    another chunk's name, stray temp files and chunks no longer planned are removed."""
    out_dir = Path(out_dir)
    planned = {c.name for c in chunks}
    for path in sorted(out_dir.glob("*/*.npz")) + sorted(out_dir.glob("*/.*.tmp*")):
        rel = path.relative_to(out_dir).as_posix()
        if rel not in planned or chunk_stamp(path) != (fingerprint, rel):
            path.unlink()
    return [c for c in chunks if not (out_dir / c.name).exists()]
