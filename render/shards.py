"""Shards: the verified, versioned training layout between rendering and training.

A shard set holds, per split, the batches of a rendered dataset in a deterministic shuffled
order: images in a few large `.npy` files (`<split>-<nnnnn>.images.npy`, `[n, B, H, W]` uint8,
memory-mappable) and the labels of the whole split as one small `.npy` per field
(`<split>.<field>.npy`, first axis = position in the split). `manifest.json` records the format,
the parameters that produced the data and their hash, counts, factors, and the sha256 and size of
every file. Nothing is pickled, nothing carries a timestamp: identical data, identical bytes.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from render.chunks import INFO_FILE, read_npz
from render.config import SPLITS
from render.errors import UserError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        np.lib.format.write_array(f, np.asarray(array, order="C"), allow_pickle=False)
    os.replace(tmp, path)


@dataclass(frozen=True)
class ShardParams:
    size_mb: float  # target shard size
    seed: int  # shuffle order of batches within a split


def shard_params(params: dict, where: str = "params.yaml") -> ShardParams:
    from render.config import _number

    return ShardParams(
        size_mb=float(_number(params, "shards.size_mb", where, lo=0, lo_open=True)),
        seed=_number(params, "shards.seed", where, integer=True, lo=0),
    )


def _ordered_chunks(info: dict, split: str) -> list[dict]:
    """A split's chunks in canonical (type, first batch) order: independent of worker count,
    chunking and file-system order."""
    types = info["batch_types"]
    return sorted((c for c in info["chunks"] if c["split"] == split),
                  key=lambda c: (types.index(c["batch_type"]), c["first"]))


def _batch_keys(info: dict, split: str) -> list[tuple[int, int]]:
    types = info["batch_types"]
    return [(types.index(c["batch_type"]), c["first"] + row)
            for c in _ordered_chunks(info, split) for row in range(c["count"])]


def _batches_of(rendered: Path, info: dict, split: str):
    """(type, index, arrays) of every batch of a split, in canonical order."""
    types = info["batch_types"]
    for chunk in _ordered_chunks(info, split):
        data = read_npz(rendered / chunk["file"])
        for row in range(chunk["count"]):
            yield types.index(chunk["batch_type"]), chunk["first"] + row, {
                key: value[row] for key, value in data.items() if key not in ("fingerprint", "batch_index")}


def write_shards(rendered: Path, out: Path, sp: ShardParams) -> dict:
    """Pack a finished render into shards; returns the manifest."""
    rendered, out = Path(rendered), Path(out)
    info_path = rendered / INFO_FILE
    if not info_path.is_file():
        raise UserError(f"{info_path}: not found; expected a finished render (run 'dcign render' first)")
    info = json.loads(info_path.read_text())
    out.mkdir(parents=True, exist_ok=True)
    for stale in list(out.glob("*.npy")) + list(out.glob(MANIFEST)) + list(out.glob(".*.tmp*")):
        stale.unlink()
    b, h, w = info["image_shape"]
    per_shard = max(1, int(sp.size_mb * (1 << 20)) // (b * h * w))
    files, splits = {}, {}
    for split in SPLITS:
        keys = _batch_keys(info, split)
        order = np.random.default_rng([sp.seed, SPLITS.index(split)]).permutation(len(keys))
        position = {keys[k]: p for p, k in enumerate(order)}
        n = len(keys)
        labels: dict = {}
        shard_count = (n + per_shard - 1) // per_shard
        shards = [np.lib.format.open_memmap(out / f".{split}-{s:05d}.images.npy.partial", mode="w+", dtype=np.uint8,
                                            shape=(min(per_shard, n - s * per_shard), b, h, w))
                  for s in range(shard_count)]
        for t, i, arrays in tqdm(_batches_of(rendered, info, split), total=n, desc=f"shard {split}", unit="batch",
                                 dynamic_ncols=True):
            p = position[(t, i)]
            shards[p // per_shard][p % per_shard] = arrays.pop("images")
            arrays.update(batch_type=np.int8(t), batch_index=np.int64(i))
            for key, value in arrays.items():
                if key not in labels:
                    labels[key] = np.zeros((n,) + np.shape(value), dtype=np.asarray(value).dtype)
                labels[key][p] = value
        for s, shard in enumerate(shards):
            shard.flush()
            del shard
            name = f"{split}-{s:05d}.images.npy"
            os.replace(out / f".{name}.partial", out / name)
            files[name] = None
        for key in sorted(labels):
            name = f"{split}.{key}.npy"
            _save_npy(out / name, labels[key])
            files[name] = None
        counts = {name: sum(1 for t, _ in keys if t == k) for k, name in enumerate(info["batch_types"])}
        splits[split] = {"batches": n, "counts": counts, "shards": shard_count, "batches_per_shard": int(per_shard)}
    for name in sorted(files):
        arr = np.load(out / name, mmap_mode="r")
        files[name] = {"sha256": _sha256(out / name), "size": (out / name).stat().st_size,
                       "shape": list(arr.shape), "dtype": str(arr.dtype)}
        del arr
    params_payload = {"render": info["config"], "render_fingerprint": info["fingerprint"],
                      "shards": {"size_mb": sp.size_mb, "seed": sp.seed}}
    manifest = {
        "format_version": FORMAT_VERSION,
        "dataset": info["dataset"],
        "params": params_payload,
        "params_sha256": hashlib.sha256(json.dumps(params_payload, sort_keys=True).encode()).hexdigest(),
        "batch_types": info["batch_types"],
        "factors": info["factors"],
        "image_shape": info["image_shape"],
        "splits": splits,
        "files": files,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


class ShardReader:
    """O(1) random access to batch i of a type, without reading the data set into memory.

    Opening checks the manifest's format and every file's size and array shape; `verify()`
    also checks every sha256. Images come back as uint8 views of memory maps; the trainer
    converts them (on the GPU when there is one).
    """

    def __init__(self, root: str | Path, split: str):
        self.root = Path(root)
        path = self.root / MANIFEST
        if not path.is_file():
            raise UserError(f"{path}: manifest not found; expected a shard directory made by 'dcign shard'")
        try:
            self.manifest = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"{path}: not valid JSON ({e})") from None
        version = self.manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise UserError(f"{path}: format_version {version!r} is newer than this dcign reads ({FORMAT_VERSION}); "
                            "upgrade dcign or re-shard the data")
        if split not in self.manifest["splits"]:
            raise UserError(f"{path}: no split {split!r}; expected one of {sorted(self.manifest['splits'])}")
        self.split = split
        self.batch_types = self.manifest["batch_types"]
        meta = self.manifest["splits"][split]
        self.per_shard = meta["batches_per_shard"]
        self.shards = [self._open(f"{split}-{s:05d}.images.npy") for s in range(meta["shards"])]
        prefix = f"{split}."
        self.labels = {name[len(prefix):-len(".npy")]: np.asarray(self._open(name))
                       for name in sorted(self.manifest["files"]) if name.startswith(prefix)}
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


def verify(root: str | Path) -> int:
    """Check every file's size and sha256 against the manifest; returns the number of files."""
    root = Path(root)
    for split in ShardReader(root, SPLITS[0]).manifest["splits"]:
        ShardReader(root, split)  # format, presence, sizes, shapes
    manifest = json.loads((root / MANIFEST).read_text())
    for name, entry in tqdm(sorted(manifest["files"].items()), desc="verify", unit="file", dynamic_ncols=True):
        digest = _sha256(root / name)
        if digest != entry["sha256"]:
            raise UserError(f"{root / name}: sha256 {digest[:16]}... does not match the manifest's "
                            f"{entry['sha256'][:16]}... (corrupted); restore it with 'dvc checkout' or re-shard")
    return len(manifest["files"])
