"""`dcign verify`: every shard file's size and sha256 against the manifest."""
from __future__ import annotations

from pathlib import Path

from render.params import SPLITS
from render.shards.reader import ShardReader, check_contents


def verify(root: str | Path) -> int:
    """Check every file's size, shape and sha256 against the manifest; returns the number of files."""
    root = Path(root)
    reader = ShardReader(root, SPLITS[0], check=False)
    for split in reader.manifest["splits"]:
        ShardReader(root, split, check=False)  # format, presence, sizes, shapes
    return check_contents(root, reader.manifest, force=True)
