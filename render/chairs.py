"""The chairs dataset: procedural or real CAD chairs as AZIMUTH and INTRINSIC batches, rendered
with the same renderer and chunk machinery as the faces."""
from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from render.chunks import plan_chunks, write_info
from render.config import CHAIR_BATCH_TYPES, SPLITS, ChairsConfig, ExecutorConfig, code_digest
from render.errors import UserError
from render.executors import render_chunks
from render.factors import chair_batch_spec, chair_split
from render.mesh import AlbedoMesh, facet, normalised

FORMAT_VERSION = 1
SKIPPED_FILE = "skipped_chairs.json"
# Normalised chairs fit a unit box; this sphere holds any of them turned about the vertical axis.
FRAME_RADIUS = 0.7


@dataclass(frozen=True)
class ChairCatalog:
    """Which chairs exist, which split each belongs to, and how to build one."""

    source: str  # 'procedural' or the resolved folder
    chair_ids: tuple  # str ids; position = identity label
    files: tuple  # per chair: tuple of files (folder sources), () for procedural
    pools: dict  # split -> list of positions
    skipped: tuple  # ({chair_id, files, reason}, ...) for folder sources
    listing: str  # digest of the folder listing, part of the fingerprint

    def family(self, identity: int) -> int:
        if self.source != "procedural":
            return -1
        from render.procedural_chairs import FAMILIES

        return identity % len(FAMILIES)


def build_catalog(cfg: ChairsConfig) -> ChairCatalog:
    if cfg.source == "procedural":
        n_train, n_test = cfg.count["train"], cfg.count["test"]
        ids = tuple(str(i) for i in range(n_train + n_test))
        pools = {"train": list(range(n_train)), "test": list(range(n_train, n_train + n_test))}
        return ChairCatalog("procedural", ids, tuple(() for _ in ids), pools, (), "")
    from render.chair_meshes import BrokenMesh, find_chairs, load_chair

    root = (Path(cfg.base_dir) / cfg.source).resolve()
    usable, skipped = [], []
    for source in tqdm(find_chairs(root), desc="check chairs", unit="chair", dynamic_ncols=True):
        try:
            load_chair(source, root, up=cfg.up_axis, front=cfg.front_axis, max_faces=cfg.max_faces)
            usable.append(source)
        except BrokenMesh as e:
            skipped.append({"chair_id": source.chair_id, "files": list(source.files), "reason": str(e)})
    if not usable:
        raise UserError(f"chairs.source = {cfg.source!r}: no usable chair among {len(skipped)} found "
                        f"(first: {skipped[0]['chair_id']}: {skipped[0]['reason']})" if skipped else
                        f"chairs.source = {cfg.source!r}: no chair meshes found")
    ids = tuple(s.chair_id for s in usable)
    pools = chair_split(cfg.seed, list(ids), cfg.test_fraction)
    for split in SPLITS:
        need = cfg.batch_size if cfg.batches[split]["intrinsic"] else 1
        if any(cfg.batches[split].values()) and len(pools[split]) < need:
            raise UserError(f"chairs.source = {cfg.source!r}: the {split} split holds {len(pools[split])} usable "
                            f"chairs, expected at least {need} (more chairs, or another chairs.test_fraction)")
    listing = [(s.chair_id, [(f, (root / f).stat().st_size, (root / f).stat().st_mtime_ns) for f in s.files])
               for s in usable]
    import hashlib

    digest = hashlib.sha256(json.dumps([listing, skipped], sort_keys=True).encode()).hexdigest()[:16]
    return ChairCatalog(str(root), ids, tuple(s.files for s in usable), pools, tuple(skipped), digest)


class ChairBatchRenderer:
    """Renders chair batches; meshes are built or loaded once and kept in a cache (a procedural
    chair takes ~30 ms to build, several times its render)."""

    CACHE = 512

    def __init__(self, cfg: ChairsConfig, catalog: ChairCatalog):
        from render.renderer import Framing, Renderer

        self.cfg = cfg
        self.catalog = catalog
        framing = Framing(None, cfg.camera.distance, cfg.camera.fill, center=(0.0, 0.0, 0.0), radius=FRAME_RADIUS)
        self.renderer = Renderer(framing, cfg.image_size, ambient=cfg.lighting.ambient,
                                 intensity=cfg.lighting.intensity, light_elevation=cfg.lighting.elevation,
                                 background=cfg.background, supersample=cfg.supersample)
        self._cache: OrderedDict = OrderedDict()
        self._current = None

    def mesh(self, identity: int) -> AlbedoMesh:
        if identity not in self._cache:
            self._cache[identity] = facet(self._build(identity))
            if len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
        self._cache.move_to_end(identity)
        return self._cache[identity]

    def _build(self, identity: int) -> AlbedoMesh:
        if self.catalog.source == "procedural":
            from render.procedural_chairs import procedural_chair

            return normalised(procedural_chair(self.cfg.seed, identity)[0])
        from render.chair_meshes import ChairSource, load_chair

        source = ChairSource(self.catalog.chair_ids[identity], self.catalog.files[identity])
        return load_chair(source, self.catalog.source, up=self.cfg.up_axis, front=self.cfg.front_axis,
                          max_faces=self.cfg.max_faces)

    def use(self, identity: int) -> None:
        if identity != self._current:
            self.renderer.set_mesh(self.mesh(identity))
            self._current = identity

    def render_batch(self, split: str, batch_type: str, index: int) -> dict:
        spec = chair_batch_spec(self.cfg, split, batch_type, index, self.catalog.pools[split])
        s = self.cfg.image_size
        images = np.empty((self.cfg.batch_size, s, s), np.uint8)
        for i in range(self.cfg.batch_size):
            self.use(int(spec.identity[i]))
            images[i] = self.renderer.render(float(spec.azimuth[i]), float(spec.elevation[i]), self.cfg.light_azimuth)
        return {
            "images": images,
            "azimuth": spec.azimuth,
            "elevation": spec.elevation,
            "identity": spec.identity,
            "family": np.array([self.catalog.family(int(k)) for k in spec.identity], dtype=np.int64),
        }


def fingerprint(cfg: ChairsConfig, catalog: ChairCatalog) -> str:
    return cfg.fingerprint(f"code:{code_digest()} listing:{catalog.listing}")


def render_info(cfg: ChairsConfig, catalog: ChairCatalog, chunks) -> dict:
    config = asdict(cfg)
    config.pop("base_dir")
    info = {
        "format_version": FORMAT_VERSION,
        "dataset": "chairs",
        "fingerprint": fingerprint(cfg, catalog),
        "config": config,
        "chairs": {
            "source": cfg.source,
            "usable": len(catalog.chair_ids),
            "skipped": len(catalog.skipped),
            "per_split": {s: len(catalog.pools[s]) for s in SPLITS},
            "ids": {s: [catalog.chair_ids[k] for k in catalog.pools[s]] for s in SPLITS},
        },
        "batch_types": list(CHAIR_BATCH_TYPES),
        "factors": {
            "azimuth": {"values": list(cfg.azimuths), "unit": "rad"},
            "elevation": {"values": list(cfg.elevations), "unit": "rad"},
        },
        "counts": cfg.batches,
        "image_shape": [cfg.batch_size, cfg.image_size, cfg.image_size],
        "chunks": [c.describe() for c in chunks],
    }
    if catalog.source == "procedural":
        from render.procedural_chairs import FAMILIES

        info["chairs"]["families"] = list(FAMILIES)
    return info


def render_chairs(cfg: ChairsConfig, out_dir: Path, executor: ExecutorConfig) -> dict:
    """Render every planned chunk not already on disk; broken meshes are reported, not fatal."""
    out_dir = Path(out_dir)
    catalog = build_catalog(cfg)
    chunks = plan_chunks(cfg.batches, cfg.chunk_batches, SPLITS, CHAIR_BATCH_TYPES)
    render_chunks(out_dir, chunks, fingerprint(cfg, catalog), ChairBatchRenderer, (cfg, catalog), executor,
                  cfg.batch_size, desc="render chairs")
    (out_dir / SKIPPED_FILE).write_text(json.dumps(list(catalog.skipped), indent=2, sort_keys=True) + "\n")
    if catalog.skipped:
        print(f"dcign: skipped {len(catalog.skipped)} broken chair meshes; reasons in {out_dir / SKIPPED_FILE}")
    info = render_info(cfg, catalog, chunks)
    write_info(out_dir, info)
    return info
