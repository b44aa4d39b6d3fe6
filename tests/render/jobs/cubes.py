"""A third dataset that exists only for a test: boxes of different proportions turning about the
vertical axis. It is what a new dataset takes: this one module (config, prepare, Source) and one
schema entry; nothing else in the project names it."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from render.gl.config import ViewConfig, view_settings
from render.gl.mesh import AlbedoMesh, facet
from render.params import SPLITS, number
from render.schema import INTRINSIC, DatasetSchema, Factor
from render.source import BatchSource, Prepared, Views

SCHEMA = DatasetSchema(
    name="cubes",
    package="tests.render.jobs.cubes",
    batch_types=("azimuth", INTRINSIC),
    varies={"azimuth": "azimuth"},
    factors={"azimuth": Factor("azimuth", "rad", "az", grid="circle", circular=True)},
    frontal_factor="azimuth",
)


@dataclass(frozen=True)
class CubesConfig(ViewConfig):
    seed: int
    batch_size: int
    image_size: int
    count: int  # boxes per split
    batches: dict  # split -> {batch type -> number of batches}
    azimuths: tuple
    base_dir: str = "."

    def grid(self, factor: str) -> np.ndarray:
        return np.asarray(self.azimuths)


def config(params: dict, where: str = "params.yaml", base_dir: str = ".") -> CubesConfig:
    b = number(params, "cubes.batch_size", where, integer=True, lo=2)
    n = number(params, "cubes.views", where, integer=True, lo=b)
    return CubesConfig(
        seed=number(params, "cubes.seed", where, integer=True, lo=0), batch_size=b,
        image_size=number(params, "cubes.image_size", where, integer=True, lo=16),
        count=number(params, "cubes.count", where, integer=True, lo=b),
        batches={s: {t: number(params, f"cubes.batches.{s}.{t}", where, integer=True, lo=0)
                     for t in SCHEMA.batch_types} for s in SPLITS},
        azimuths=tuple(2 * math.pi * k / n for k in range(n)),
        **view_settings(params, "cubes", where), base_dir=base_dir)


class Boxes(Prepared):
    digest = "boxes:1"
    summary = "boxes"

    def describe(self, cfg) -> dict:
        return {"cubes": {"count": cfg.count}}


def prepare(cfg: CubesConfig) -> Boxes:
    return Boxes()


class Source(BatchSource):
    def framing(self):
        from render.gl.renderer import Framing

        return Framing(None, self.cfg.camera.distance, self.cfg.camera.fill, center=(0.0, 0.0, 0.0), radius=0.9)

    def mesh(self, identity: int) -> AlbedoMesh:
        import trimesh

        extents = np.random.default_rng([self.cfg.seed, identity]).uniform(0.3, 1.0, 3)
        box = trimesh.creation.box(extents=extents)
        gray = np.full((len(box.vertices), 3), 0.8, np.float32)
        return facet(AlbedoMesh(box.vertices.astype(np.float32), gray, box.faces.astype(np.int32)))

    def views(self, split: str, batch_type: str, index: int) -> tuple[Views, dict]:
        b = self.cfg.batch_size
        rng = np.random.default_rng([self.cfg.seed, SPLITS.index(split), SCHEMA.batch_types.index(batch_type), index])
        first = 0 if split == "train" else self.cfg.count
        grid = self.cfg.grid("azimuth")
        if batch_type == "azimuth":
            azimuth, identity = np.sort(rng.choice(grid, b, replace=False)), np.full(b, first + rng.integers(self.cfg.count))
        else:
            azimuth, identity = np.full(b, rng.choice(grid)), first + rng.choice(self.cfg.count, b, replace=False)
        azimuth, identity = azimuth.astype(np.float32), identity.astype(np.int64)
        views = Views(identity, azimuth, np.full(b, 0.3, np.float32), np.full(b, -30.0))
        return views, {"azimuth": azimuth, "identity": identity}
