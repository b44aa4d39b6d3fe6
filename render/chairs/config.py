"""The `chairs` section of params.yaml -> a validated ChairsConfig."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from render.errors import UserError
from render.gl.config import ViewConfig, view_settings
from render.gl.config import LIGHTING_KEYS, VIEW_KEYS
from render.params import SPLITS, check_keys, get, leaves, number
from render.schema import SCHEMAS

SCHEMA = SCHEMAS["chairs"]
AXES = ("+x", "-x", "+y", "-y", "+z", "-z")
KEYS = {**leaves("source", "seed", "batch_size", "image_size", "test_fraction", "up_axis", "front_axis", "max_faces"),
        "count": leaves(*SPLITS), "batches": {s: leaves(*SCHEMA.batch_types) for s in SPLITS},
        "views": leaves("azimuths", "elevations_deg"), "lighting": leaves(*LIGHTING_KEYS, "azimuth"), **VIEW_KEYS}


@dataclass(frozen=True)
class ChairsConfig(ViewConfig):
    source: str  # 'procedural' or a folder of CAD meshes
    seed: int
    batch_size: int
    image_size: int
    count: dict  # split -> number of procedural chairs
    test_fraction: float
    batches: dict  # split -> {batch type -> number of batches}
    azimuths: tuple  # rad, evenly over 360 degrees
    elevations: tuple  # rad
    up_axis: str
    front_axis: str
    max_faces: int
    light_azimuth: float  # deg, fixed relative to the camera
    base_dir: str = "."

    def grid(self, factor: str) -> np.ndarray:
        return np.asarray({"azimuth": self.azimuths, "elevation": self.elevations}[factor], dtype=np.float64)


def _source(params, where, base_dir) -> str:
    source = get(params, "chairs.source", where)
    if not isinstance(source, str) or not source:
        raise UserError(f"{where}: chairs.source = {source!r}: expected 'procedural' or a folder of CAD meshes")
    if source != "procedural" and not (Path(base_dir) / source).is_dir():
        raise UserError(f"{where}: chairs.source = {source!r}: folder not found; expected 'procedural' or a folder "
                        "of CAD meshes (ShapeNet, ModelNet .off, .obj/.glb/.gltf/.ply/.stl)")
    return source


def _elevations(params, where) -> list:
    elevations = get(params, "chairs.views.elevations_deg", where)
    if not isinstance(elevations, list) or not elevations:
        raise UserError(f"{where}: chairs.views.elevations_deg = {elevations!r}: expected a non-empty list of degrees")
    for i, e in enumerate(elevations):
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not -90 <= e <= 90:
            raise UserError(f"{where}: chairs.views.elevations_deg[{i}] = {e!r}: expected degrees within +-90")
    return elevations


def _axes(params, where) -> tuple[str, str]:
    up = get(params, "chairs.up_axis", where)
    front = get(params, "chairs.front_axis", where)
    for key, axis in (("chairs.up_axis", up), ("chairs.front_axis", front)):
        if axis not in AXES:
            raise UserError(f"{where}: {key} = {axis!r}: expected one of {', '.join(AXES)}")
    if up[1] == front[1]:
        raise UserError(f"{where}: chairs.front_axis = {front!r} is parallel to chairs.up_axis = {up!r}: "
                        "expected two different axes")
    return up, front


def chairs_config(params: dict, where: str = "params.yaml", base_dir: str = ".") -> ChairsConfig:
    """Validate the `chairs` section of a params tree."""
    check_keys(params.get("chairs"), "chairs", KEYS, where)
    b = number(params, "chairs.batch_size", where, integer=True, lo=2)
    source = _source(params, where, base_dir)
    n_az = number(params, "chairs.views.azimuths", where, integer=True, lo=b,
                  expect=f"at least chairs.batch_size = {b} azimuths, since an azimuth batch shows that many")
    elevations = _elevations(params, where)
    count = {s: number(params, f"chairs.count.{s}", where, integer=True, lo=1) for s in SPLITS}
    batches = {
        s: {t: number(params, f"chairs.batches.{s}.{t}", where, integer=True, lo=0) for t in SCHEMA.batch_types}
        for s in SPLITS
    }
    if source == "procedural":
        for s in SPLITS:
            if batches[s]["intrinsic"] and count[s] < b:
                raise UserError(f"{where}: chairs.count.{s} = {count[s]}: expected at least chairs.batch_size = {b} "
                                "chairs, since an intrinsic batch shows that many different chairs")
    up, front = _axes(params, where)
    return ChairsConfig(
        source=source,
        seed=number(params, "chairs.seed", where, integer=True, lo=0),
        batch_size=b,
        image_size=number(params, "chairs.image_size", where, integer=True, lo=16, hi=2048),
        count=count,
        test_fraction=float(number(params, "chairs.test_fraction", where, lo=0, hi=1, lo_open=True,
                                   expect="a fraction in (0, 1]")),
        batches=batches,
        azimuths=tuple(float(np.round(2 * math.pi * k / n_az, 10)) for k in range(n_az)),
        elevations=tuple(float(np.round(math.radians(e), 10)) for e in elevations),
        up_axis=up,
        front_axis=front,
        max_faces=number(params, "chairs.max_faces", where, integer=True, lo=4),
        light_azimuth=float(number(params, "chairs.lighting.azimuth", where, lo=-180, hi=180)),
        **view_settings(params, "chairs", where),
        base_dir=str(base_dir),
    )
