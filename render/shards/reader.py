"""Reading shards: O(1) random access to any batch, checked against the manifest on opening.

The format is written by render/shards/writer.py. Opening checks every file's size and shape, and
the first opening of a directory in a process every file's sha256 (`check_contents`): a byte
flipped in the images or an edited label would otherwise train and evaluate silently. The sha256
pass is skipped for files whose size, mtime and inode match a stamp of an earlier pass (kept in the
user's cache directory, never in the shard directory, which is a DVC output); rewriting a file
changes its mtime, so only a deliberate mtime reset evades it, and `dcign verify` always hashes.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from render.errors import UserError
from render.files import write_atomic

# 2: the manifest records each batch type's factor and every factor's unit and grid values
FORMAT_VERSION = 2
MANIFEST = "manifest.json"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _stamp_path(root: Path) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:32]
    return cache / "dcign" / "verified" / f"{key}.json"


def _signature(root: Path, files) -> dict:
    stats = {}
    for name in sorted(files):
        try:
            stats[name] = (root / name).stat()
        except FileNotFoundError:
            raise UserError(f"{root / name}: shard file missing; restore it with 'dvc pull' or 'dvc checkout', "
                            "or re-run 'dcign shard'") from None
    return {name: [s.st_size, s.st_mtime_ns, s.st_ino] for name, s in stats.items()}


_checked: set = set()  # (directory, its stamp) checked in this process


def check_contents(root: Path, manifest: dict, force: bool = False) -> int:
    """Every file's sha256 against the manifest, unless a stamp says this very content was checked
    (or `force`); a mismatch is a one-line error naming the file. Returns the files hashed."""
    root = Path(root)
    files = manifest["files"]
    stamp = {"manifest_sha256": hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest(),
             "files": _signature(root, files)}
    key = (str(root.resolve()), json.dumps(stamp, sort_keys=True))
    path = _stamp_path(root)
    if not force:
        if key in _checked:
            return 0
        try:
            if json.loads(path.read_text()) == stamp:
                _checked.add(key)
                return 0
        except (OSError, ValueError):
            pass
    for name, entry in tqdm(sorted(files.items()), desc=f"verify {root.name}", unit="file", dynamic_ncols=True,
                            leave=False):
        digest = sha256(root / name)
        if digest != entry["sha256"]:
            raise UserError(f"{root / name}: sha256 {digest[:16]}... does not match the manifest's "
                            f"{entry['sha256'][:16]}... (corrupted); restore it with 'dvc checkout' or re-shard")
    _checked.add(key)
    try:
        write_atomic(path, json.dumps(stamp, sort_keys=True))
    except OSError:
        pass  # no cache directory: the next process hashes again
    return len(files)


class ShardReader:
    """O(1) random access to batch i of a type, without reading the data set into memory.

    Opening checks the manifest's format and every file's size and array shape; `verify()`
    also checks every sha256. Images come back as uint8 views of memory maps; the trainer
    converts them (on the GPU when there is one).
    """

    def __init__(self, root: str | Path, split: str, check: bool = True):
        self.root = Path(root)
        path = self.root / MANIFEST
        if not path.is_file():
            raise UserError(f"{path}: manifest not found; expected a shard directory made by 'dcign shard'")
        try:
            self.manifest = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"{path}: not valid JSON ({e})") from None
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"{path}: unreadable ({e})") from None
        if not isinstance(self.manifest, dict):
            raise UserError(f"{path}: expected a JSON object written by 'dcign shard'")
        version = self.manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise UserError(f"{path}: format_version {version!r} is newer than this dcign reads ({FORMAT_VERSION}); "
                            "upgrade dcign or re-shard the data")
        if version < FORMAT_VERSION:
            raise UserError(f"{path}: format_version {version} is older than this dcign reads ({FORMAT_VERSION}); "
                            "re-run 'dcign shard' (or 'dvc repro') to rewrite it")
        try:
            self._open_split(split, check)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise UserError(f"{path}: a field is missing or of the wrong type ({type(e).__name__}: {e}); expected "
                            "a manifest written by 'dcign shard' (re-run it)") from None

    def _open_split(self, split: str, check: bool) -> None:
        if split not in self.manifest["splits"]:
            raise UserError(f"{self.root / MANIFEST}: no split {split!r}; expected one of "
                            f"{sorted(self.manifest['splits'])}")
        self.split = split
        self.batch_types = list(self.manifest["batch_types"])
        meta = self.manifest["splits"][split]
        self.per_shard = int(meta["batches_per_shard"])
        self.shards = [self._open(f"{split}-{s:05d}.images.npy") for s in range(meta["shards"])]
        prefix = f"{split}."
        self.labels = {name[len(prefix):-len(".npy")]: np.asarray(self._open(name))
                       for name in sorted(self.manifest["files"]) if name.startswith(prefix)}
        if check:
            check_contents(self.root, self.manifest)
        types = self.labels.get("batch_type", np.zeros(0, np.int8))
        self._positions = {t: np.flatnonzero(types == k) for k, t in enumerate(self.batch_types)}

    def _open(self, name: str) -> np.ndarray:
        path = self.root / name
        entry = self.manifest["files"].get(name)
        if entry is None:
            raise UserError(f"{self.root / MANIFEST}: lists no file {name}; the manifest does not match the reader")
        if not path.is_file():
            raise UserError(f"{path}: shard file missing (expected {entry['size']} bytes); "
                            "restore it with 'dvc pull' or 'dvc checkout', or re-run 'dcign shard'")
        size = path.stat().st_size
        if size != entry["size"]:
            raise UserError(f"{path}: {size} bytes, expected {entry['size']} (truncated or replaced); "
                            "restore it with 'dvc checkout' or re-run 'dcign shard'")
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as e:
            raise UserError(f"{path}: not a readable .npy file ({e})") from None
        if list(array.shape) != entry["shape"] or str(array.dtype) != entry["dtype"]:
            raise UserError(f"{path}: array {list(array.shape)} {array.dtype}, manifest says "
                            f"{entry['shape']} {entry['dtype']}")
        return array

    def count(self, batch_type: str) -> int:
        return len(self._positions[batch_type])

    def __len__(self) -> int:
        return sum(len(p) for p in self._positions.values())

    def position(self, batch_type: str, i: int) -> int:
        return int(self._positions[batch_type][i])

    def batch(self, batch_type: str, i: int) -> tuple[np.ndarray, dict]:
        """Images (B, H, W) uint8 and labels of the i-th batch of a type."""
        return self.at(self.position(batch_type, i))

    def at(self, position: int) -> tuple[np.ndarray, dict]:
        images = self.shards[position // self.per_shard][position % self.per_shard]
        return images, {key: value[position] for key, value in self.labels.items()}
