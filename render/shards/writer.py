"""Shards: the verified, versioned training layout between rendering and training.

A shard set holds, per split, the batches of a rendered dataset in a deterministic shuffled
order: images in a few large `.npy` files (`<split>-<nnnnn>.images.npy`, `[n, B, H, W]` uint8,
memory-mappable) and the labels of the whole split as one small `.npy` per field
(`<split>.<field>.npy`, first axis = position in the split). `manifest.json` records the format,
the parameters that produced the data and their hash, counts, the schema's batch types with the
factor each varies and every factor's unit and grid, and the sha256 and size of every file.
Nothing is pickled, nothing carries a timestamp or the render fingerprint: identical data,
identical bytes, whatever code version rendered it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from render.chunks import BOOKKEEPING, read_info, read_npz
from render.outputs import SHARD, output_dir
from render.params import SPLITS, load_params
from render.shards.config import ShardParams, shard_params
from render.shards.reader import FORMAT_VERSION, MANIFEST, sha256


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        np.lib.format.write_array(f, np.asarray(array, order="C"), allow_pickle=False)
    os.replace(tmp, path)


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
                key: value[row] for key, value in data.items() if key not in BOOKKEEPING}


def _allocated(path: Path, shape: tuple) -> np.memmap:
    """A uint8 .npy memory map whose disk blocks are reserved up front: a full disk is then an
    OSError here, not a SIGBUS when a page of a sparse file is first written."""
    try:
        array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape)
        with open(path, "r+b") as f:
            os.posix_fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
    except OSError as e:
        path.unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror, str(path.with_name(path.name.lstrip(".").removesuffix(".partial")))) from None
    return array


def write_shards(rendered: Path, out: Path, sp: ShardParams) -> dict:
    """Pack a finished render into shards; returns the manifest."""
    rendered, out = Path(rendered), Path(out)
    info = read_info(rendered)
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
        shards = [_allocated(out / f".{split}-{s:05d}.images.npy.partial", (min(per_shard, n - s * per_shard), b, h, w))
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
        files[name] = {"sha256": sha256(out / name), "size": (out / name).stat().st_size,
                       "shape": list(arr.shape), "dtype": str(arr.dtype)}
        del arr
    params_payload = {"render": info["config"], "shards": {"size_mb": sp.size_mb, "seed": sp.seed}}
    manifest = {
        "format_version": FORMAT_VERSION,
        "dataset": info["dataset"],
        "params": params_payload,
        "params_sha256": hashlib.sha256(json.dumps(params_payload, sort_keys=True).encode()).hexdigest(),
        "batch_types": info["batch_types"],
        "type_factor": info["type_factor"],
        "factors": info["factors"],
        "image_shape": info["image_shape"],
        "splits": splits,
        "files": files,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest




def shard_from_params(rendered: Path, out: Path, params_path: str | Path) -> dict:
    """`dcign shard`: the `shards` section of the params file -> shards of a finished render."""
    sp = shard_params(load_params(params_path), str(params_path))
    with output_dir(out, SHARD):
        return write_shards(rendered, out, sp)
