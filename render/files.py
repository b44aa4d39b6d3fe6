"""Files written whole: what every writer of a small file uses, so an interrupted or failed write
leaves the old file or the new one, never a part."""
from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes | str) -> None:
    """Temp file + rename. On a failed write (a full disk) no partial file stays behind and the
    OSError names the file that did not fit."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        (tmp.write_text if isinstance(data, str) else tmp.write_bytes)(data)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror, str(path)) from None
