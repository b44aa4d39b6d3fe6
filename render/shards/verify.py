"""`dcign verify`: every shard file's size and sha256 against the manifest."""
from __future__ import annotations

import json
from pathlib import Path

from tqdm import tqdm

from render.errors import UserError
from render.params import SPLITS
from render.shards.reader import MANIFEST, ShardReader, sha256


def verify(root: str | Path) -> int:
    """Check every file's size and sha256 against the manifest; returns the number of files."""
    root = Path(root)
    for split in ShardReader(root, SPLITS[0]).manifest["splits"]:
        ShardReader(root, split)  # format, presence, sizes, shapes
    manifest = json.loads((root / MANIFEST).read_text())
    for name, entry in tqdm(sorted(manifest["files"].items()), desc="verify", unit="file", dynamic_ncols=True):
        digest = sha256(root / name)
        if digest != entry["sha256"]:
            raise UserError(f"{root / name}: sha256 {digest[:16]}... does not match the manifest's "
                            f"{entry['sha256'][:16]}... (corrupted); restore it with 'dvc checkout' or re-shard")
    return len(manifest["files"])
