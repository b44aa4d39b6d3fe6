"""`dcign bench load`: batches delivered as float tensors in [0, 1] by the shard reader versus
the same batches read back from PNG files, in one run."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from render.errors import UserError
from render.shards.reader import ShardReader


def _to_tensor(images: np.ndarray):
    import torch

    return torch.from_numpy(np.array(images)).float().div_(255.0)


def _best_rate(read, n_images: int, repeats: int = 3) -> float:
    """Images/s of the fastest of `repeats` passes (the first pass also warms the page cache)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        read()
        best = min(best, time.perf_counter() - start)
    return n_images / best


def bench_load(root: str | Path, n_batches: int = 200, seed: int = 0) -> dict:
    import torch

    torch.set_num_threads(1)  # a data-loading worker's share, not the whole machine
    reader = ShardReader(root, "train")
    if len(reader) == 0:
        raise UserError(f"{root}: no train batches to read")
    positions = np.random.default_rng(seed).integers(0, len(reader), n_batches)
    b = reader.at(0)[0].shape[0]
    n_images = n_batches * b

    def from_shards():
        for p in positions:
            _to_tensor(reader.at(int(p))[0])

    with tempfile.TemporaryDirectory(prefix="dcign-bench-load-") as tmp:
        files = []
        for k, p in enumerate(positions):
            for j, image in enumerate(reader.at(int(p))[0]):
                path = Path(tmp) / f"{k:05d}-{j:02d}.png"
                Image.fromarray(np.asarray(image)).save(path, compress_level=1)
                files.append(path)

        def from_png():
            for k in range(n_batches):
                batch = np.stack([np.asarray(Image.open(f)) for f in files[k * b:(k + 1) * b]])
                _to_tensor(batch)

        shards_rate = _best_rate(from_shards, n_images)
        png_rate = _best_rate(from_png, n_images)
    print(f"dcign bench load: {n_batches} random batches of {b} images from {root}, one thread")
    print(f"  shards (memory-mapped .npy): {shards_rate:10.0f} images/s")
    print(f"  PNG files, one per image:    {png_rate:10.0f} images/s")
    print(f"speed-up: {shards_rate / png_rate:.1f}x; target >= 20000 images/s from the page cache")
    return {"shards": shards_rate, "png": png_rate, "speedup": shards_rate / png_rate}
