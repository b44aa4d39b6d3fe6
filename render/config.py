"""Render configuration: `params.yaml` -> plain, validated dataclasses.

Every check names the dotted params key, what was found and what is expected, so a bad
value stops the run with one line instead of a traceback deep inside rendering.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from render.errors import UserError

BATCH_TYPES = ("azimuth", "elevation", "light", "intrinsic")
# The factor each extrinsic batch type varies.
TYPE_FACTOR = {"azimuth": "azimuth", "elevation": "elevation", "light": "light_azimuth"}
SPLITS = ("train", "test")


@dataclass(frozen=True)
class FactorGrid:
    """A factor's allowed values: min + k * step, so evaluation can treat factors as discrete."""

    name: str
    min: float
    max: float
    step: float
    unit: str

    @property
    def values(self) -> np.ndarray:
        n = int(math.floor((self.max - self.min) / self.step + 1e-9)) + 1
        return np.round(self.min + self.step * np.arange(n), 10)


@dataclass(frozen=True)
class Lighting:
    ambient: float
    intensity: float
    elevation: float  # radians, fixed; the light moves in azimuth only


@dataclass(frozen=True)
class Camera:
    distance: float  # in bounding radii of the model's mean shape
    fill: float  # fraction of the half-frame the bounding radius spans


@dataclass(frozen=True)
class FacesConfig:
    model: str
    seed: int
    batch_size: int
    image_size: int
    shape_components: int
    albedo_components: int
    coeff_clip: float
    identities: dict  # split -> number of identities
    batches: dict  # split -> {batch type -> number of batches}
    factors: dict  # factor name -> FactorGrid
    fixed_factors: str  # random | neutral: the values the non-varied factors of a batch hold
    lighting: Lighting
    camera: Camera
    background: int
    supersample: int
    chunk_batches: int
    base_dir: str = "."

    def fingerprint(self, inputs: str = "") -> str:
        """Hash of everything that changes pixels or labels: these params plus `inputs` (digests of
        the code and the model). Chunks carry it so stale files are never reused."""
        return _fingerprint(self, inputs)

    def grid(self, factor: str) -> np.ndarray:
        return self.factors[factor].values


def _fingerprint(cfg, inputs: str) -> str:
    payload = asdict(cfg)
    payload.pop("base_dir")
    payload["inputs"] = inputs
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


# The modules that decide pixels and labels (the render stages' code deps in dvc.yaml).
RENDER_CODE = ("bfm.py", "chair_meshes.py", "chairs.py", "chunks.py", "config.py", "faces.py", "factors.py",
               "mesh.py", "morphable.py", "procedural_chairs.py", "procedural_head.py", "renderer.py")


def code_digest() -> str:
    """Digest of the rendering code and shaders: any change to how pixels are made invalidates
    finished chunks (DVC re-runs the stage; this stops a resume from keeping them)."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for path in [root / name for name in RENDER_CODE] + sorted((root / "shaders").glob("*")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _get(tree: dict, key: str, where: str):
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise UserError(f"{where}: key '{key}' is missing")
        node = node[part]
    return node


def _number(tree, key, where, *, integer=False, lo=None, hi=None, lo_open=False, expect=""):
    value = _get(tree, key, where)
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)):
        kind = "an integer" if integer else "a finite number"
        raise UserError(f"{where}: {key} = {value!r}: expected {kind}")
    bad_lo = lo is not None and (value <= lo if lo_open else value < lo)
    bad_hi = hi is not None and value > hi
    if bad_lo or bad_hi:
        if not expect:
            lo_s = "" if lo is None else (f"> {lo}" if lo_open else f">= {lo}")
            hi_s = "" if hi is None else f"<= {hi}"
            expect = " and ".join(s for s in (lo_s, hi_s) if s)
        raise UserError(f"{where}: {key} = {value!r}: expected {expect}")
    return value


def _factor(tree, name, where, unit, limit, batch_size) -> FactorGrid:
    prefix = f"faces.factors.{name}"
    lim = {"lo": -limit, "hi": limit, "expect": f"a value within +-{limit:.4f} {unit}"} if limit else {}
    lo = _number(tree, f"{prefix}.min", where, **lim)
    hi = _number(tree, f"{prefix}.max", where, **lim)
    step = _number(tree, f"{prefix}.step", where, lo=0, lo_open=True)
    if hi < lo:
        raise UserError(f"{where}: {prefix}.max = {hi} is below {prefix}.min = {lo}: expected max >= min")
    grid = FactorGrid(name, float(lo), float(hi), float(step), unit)
    n = len(grid.values)
    if n < batch_size:
        raise UserError(
            f"{where}: {prefix} = {lo}..{hi} step {step} gives {n} grid values: "
            f"expected at least faces.batch_size = {batch_size} distinct values"
        )
    return grid


def _view_settings(params: dict, section: str, where: str) -> dict:
    """Lighting, camera and output settings the faces and chairs sections share."""
    def num(key, **kw):
        return _number(params, f"{section}.{key}", where, **kw)

    return dict(
        lighting=Lighting(
            ambient=float(num("lighting.ambient", lo=0, hi=1)),
            intensity=float(num("lighting.intensity", lo=0, hi=4)),
            elevation=float(num("lighting.elevation", lo=-math.pi / 2, hi=math.pi / 2,
                                expect="a value within +-1.5708 rad")),
        ),
        camera=Camera(
            distance=float(num("camera.distance", lo=1.5, hi=100,
                               expect="a distance between 1.5 and 100 bounding radii")),
            fill=float(num("camera.fill", lo=0.1, hi=3)),
        ),
        background=num("background", integer=True, lo=0, hi=255),
        supersample=num("supersample", integer=True, lo=1, hi=4),
        chunk_batches=num("chunk_batches", integer=True, lo=1),
    )


def _fixed_factors(params, where) -> str:
    value = _get(params, "faces.fixed_factors", where)
    if value not in ("random", "neutral"):
        raise UserError(f"{where}: faces.fixed_factors = {value!r}: expected 'random' (each batch draws the values "
                        "it holds fixed from the grids) or 'neutral' (the grid values nearest 0)")
    return value


def faces_config(params: dict, where: str = "params.yaml", base_dir: str = ".") -> FacesConfig:
    """Validate the `faces` section of a params tree."""
    b = _number(params, "faces.batch_size", where, integer=True, lo=2)
    model = _get(params, "faces.model", where)
    if not isinstance(model, str) or not model:
        raise UserError(f"{where}: faces.model = {model!r}: expected 'procedural' or a path to a BFM .mat/.h5 file")
    if model != "procedural":
        path = Path(base_dir) / model
        if not path.is_file():
            raise UserError(
                f"{where}: faces.model = {model!r}: file not found; expected 'procedural' "
                "or a path to a Basel Face Model file (.mat 2009, .h5 2017/2019)"
            )
        if path.suffix.lower() not in (".mat", ".h5", ".hdf5"):
            raise UserError(f"{where}: faces.model = {model!r}: expected a .mat (BFM 2009) or .h5 (BFM 2017/2019) file")
    identities = {s: _number(params, f"faces.identities.{s}", where, integer=True, lo=1) for s in SPLITS}
    batches = {
        s: {t: _number(params, f"faces.batches.{s}.{t}", where, integer=True, lo=0) for t in BATCH_TYPES}
        for s in SPLITS
    }
    for s in SPLITS:
        if batches[s]["intrinsic"] and identities[s] < b:
            raise UserError(
                f"{where}: faces.identities.{s} = {identities[s]}: expected at least faces.batch_size = {b} "
                "identities, since an intrinsic batch shows that many different faces"
            )
    factors = {
        "azimuth": _factor(params, "azimuth", where, "rad", math.pi, b),
        "elevation": _factor(params, "elevation", where, "rad", math.pi / 2, b),
        "light_azimuth": _factor(params, "light_azimuth", where, "deg", 180.0, b),
    }
    return FacesConfig(
        model=model,
        seed=_number(params, "faces.seed", where, integer=True, lo=0),
        batch_size=b,
        image_size=_number(params, "faces.image_size", where, integer=True, lo=16, hi=2048),
        shape_components=_number(params, "faces.shape_components", where, integer=True, lo=0),
        albedo_components=_number(params, "faces.albedo_components", where, integer=True, lo=0),
        coeff_clip=float(_number(params, "faces.coeff_clip", where, lo=0, lo_open=True)),
        identities=identities,
        batches=batches,
        factors=factors,
        fixed_factors=_fixed_factors(params, where),
        **_view_settings(params, "faces", where),
        base_dir=str(base_dir),
    )


def load_params(path: str | Path) -> dict:
    path = Path(path)
    try:
        with open(path) as f:
            params = yaml.safe_load(f)
    except FileNotFoundError:
        raise UserError(f"{path}: params file not found") from None
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(params, dict):
        raise UserError(f"{path}: expected a mapping of parameter groups at the top level")
    return params


def load_faces_config(path: str | Path) -> FacesConfig:
    path = Path(path)
    return faces_config(load_params(path), where=str(path), base_dir=str(path.parent))


CHAIR_BATCH_TYPES = ("azimuth", "intrinsic")
AXES = ("+x", "-x", "+y", "-y", "+z", "-z")


@dataclass(frozen=True)
class ChairsConfig:
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
    lighting: Lighting  # light fixed relative to the camera
    light_azimuth: float  # deg
    camera: Camera
    background: int
    supersample: int
    chunk_batches: int
    base_dir: str = "."

    def fingerprint(self, inputs: str = "") -> str:
        """As FacesConfig.fingerprint; `inputs` also covers the chair folder's listing."""
        return _fingerprint(self, inputs)

    def grid(self, factor: str) -> np.ndarray:
        return np.asarray(self.azimuths if factor == "azimuth" else self.elevations, dtype=np.float64)


def chairs_config(params: dict, where: str = "params.yaml", base_dir: str = ".") -> ChairsConfig:
    """Validate the `chairs` section of a params tree."""
    b = _number(params, "chairs.batch_size", where, integer=True, lo=2)
    source = _get(params, "chairs.source", where)
    if not isinstance(source, str) or not source:
        raise UserError(f"{where}: chairs.source = {source!r}: expected 'procedural' or a folder of CAD meshes")
    if source != "procedural" and not (Path(base_dir) / source).is_dir():
        raise UserError(f"{where}: chairs.source = {source!r}: folder not found; expected 'procedural' or a folder "
                        "of CAD meshes (ShapeNet, ModelNet .off, .obj/.glb/.gltf/.ply/.stl)")
    n_az = _number(params, "chairs.views.azimuths", where, integer=True, lo=b,
                   expect=f"at least chairs.batch_size = {b} azimuths, since an azimuth batch shows that many")
    elevations = _get(params, "chairs.views.elevations_deg", where)
    if not isinstance(elevations, list) or not elevations:
        raise UserError(f"{where}: chairs.views.elevations_deg = {elevations!r}: expected a non-empty list of degrees")
    for i, e in enumerate(elevations):
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not -90 <= e <= 90:
            raise UserError(f"{where}: chairs.views.elevations_deg[{i}] = {e!r}: expected degrees within +-90")
    count = {s: _number(params, f"chairs.count.{s}", where, integer=True, lo=1) for s in SPLITS}
    batches = {
        s: {t: _number(params, f"chairs.batches.{s}.{t}", where, integer=True, lo=0) for t in CHAIR_BATCH_TYPES}
        for s in SPLITS
    }
    if source == "procedural":
        for s in SPLITS:
            if batches[s]["intrinsic"] and count[s] < b:
                raise UserError(f"{where}: chairs.count.{s} = {count[s]}: expected at least chairs.batch_size = {b} "
                                "chairs, since an intrinsic batch shows that many different chairs")
    up = _get(params, "chairs.up_axis", where)
    front = _get(params, "chairs.front_axis", where)
    for key, axis in (("chairs.up_axis", up), ("chairs.front_axis", front)):
        if axis not in AXES:
            raise UserError(f"{where}: {key} = {axis!r}: expected one of {', '.join(AXES)}")
    if up[1] == front[1]:
        raise UserError(f"{where}: chairs.front_axis = {front!r} is parallel to chairs.up_axis = {up!r}: "
                        "expected two different axes")
    return ChairsConfig(
        source=source,
        seed=_number(params, "chairs.seed", where, integer=True, lo=0),
        batch_size=b,
        image_size=_number(params, "chairs.image_size", where, integer=True, lo=16, hi=2048),
        count=count,
        test_fraction=float(_number(params, "chairs.test_fraction", where, lo=0, hi=1, lo_open=True,
                                    expect="a fraction in (0, 1]")),
        batches=batches,
        azimuths=tuple(float(np.round(2 * math.pi * k / n_az, 10)) for k in range(n_az)),
        elevations=tuple(float(np.round(math.radians(e), 10)) for e in elevations),
        up_axis=up,
        front_axis=front,
        max_faces=_number(params, "chairs.max_faces", where, integer=True, lo=4),
        light_azimuth=float(_number(params, "chairs.lighting.azimuth", where, lo=-180, hi=180)),
        **_view_settings(params, "chairs", where),
        base_dir=str(base_dir),
    )


EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class ExecutorConfig:
    """Where render chunks run. It is in no fingerprint and no DVC dependency: every executor
    writes the same bytes, so switching executors never invalidates data."""

    kind: str = "local"  # local: a process pool on this machine | ray: one Ray task per chunk
    workers: int = 1  # local processes; the CPUs of a Ray instance started here
    ray_address: str | None = None  # None: $RAY_ADDRESS, else a new local Ray instance


def executor_config(params: dict, where: str = "params.yaml", workers: int | None = None,
                    executor: str | None = None, ray_address: str | None = None) -> ExecutorConfig:
    """The `render` section, with command-line values (when given) taking precedence."""
    section = params.get("render") or {}
    if workers is None:
        workers = section.get("workers", 0)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise UserError(f"{where}: render.workers = {workers!r}: expected 0 (all cores) or a positive integer")
    elif workers < 0:
        raise UserError(f"--workers {workers}: expected 0 (all cores) or a positive number of processes")
    kind = executor if executor is not None else section.get("executor", "local")
    if kind not in EXECUTORS:
        source = "--executor" if executor is not None else f"{where}: render.executor ="
        raise UserError(f"{source} {kind!r}: expected one of {', '.join(EXECUTORS)}")
    if ray_address is not None and kind != "ray":
        raise UserError(f"--ray-address {ray_address}: only used with the ray executor (--executor ray)")
    return ExecutorConfig(kind, workers or os.cpu_count() or 1, ray_address or None)
