"""The `faces` section of params.yaml -> a validated FacesConfig."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from render.errors import UserError
from render.gl.config import ViewConfig, view_settings
from render.gl.config import LIGHTING_KEYS, VIEW_KEYS
from render.faces.ict import NEUTRAL
from render.params import SPLITS, check_keys, choice, get, leaves, number
from render.schema import SCHEMAS, Factor

SCHEMA = SCHEMAS["faces"]
FIXED_FACTORS = ("random", "neutral")
KEYS = {**leaves("model", "region", "seed", "batch_size", "image_size", "shape_components", "albedo_components",
                 "coeff_clip", "fixed_factors"),
        "identities": leaves(*SPLITS), "batches": {s: leaves(*SCHEMA.batch_types) for s in SPLITS},
        "factors": {name: leaves("min", "max", "step") for name in SCHEMA.factors},
        "lighting": leaves(*LIGHTING_KEYS), **VIEW_KEYS}


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
class FacesConfig(ViewConfig):
    model: str
    region: str  # face | head: what of an ICT-FaceKit mesh is rendered (render/faces/ict.py)
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
    base_dir: str = "."

    def grid(self, factor: str) -> np.ndarray:
        return self.factors[factor].values


def _factor(tree, factor: Factor, where, batch_size) -> FactorGrid:
    prefix = f"faces.factors.{factor.name}"
    limit = factor.limit
    lim = {"lo": -limit, "hi": limit, "expect": f"a value within +-{limit:.4f} {factor.unit}"}
    lo = number(tree, f"{prefix}.min", where, **lim)
    hi = number(tree, f"{prefix}.max", where, **lim)
    step = number(tree, f"{prefix}.step", where, lo=0, lo_open=True)
    if hi < lo:
        raise UserError(f"{where}: {prefix}.max = {hi} is below {prefix}.min = {lo}: expected max >= min")
    grid = FactorGrid(factor.name, float(lo), float(hi), float(step), factor.unit)
    n = len(grid.values)
    if n < batch_size:
        raise UserError(
            f"{where}: {prefix} = {lo}..{hi} step {step} gives {n} grid values: "
            f"expected at least faces.batch_size = {batch_size} distinct values"
        )
    return grid


MODELS = "'procedural', a Basel Face Model file (.mat 2009, .h5 2017/2019) or an ICT-FaceKit FaceXModel folder"
REGIONS = ("face", "head")


def _model(params, where, base_dir) -> str:
    model = get(params, "faces.model", where)
    if not isinstance(model, str) or not model:
        raise UserError(f"{where}: faces.model = {model!r}: expected {MODELS}")
    if model != "procedural":
        path = Path(base_dir) / model
        if path.is_dir():
            if not (path / NEUTRAL).is_file():
                raise UserError(f"{where}: faces.model = {model!r}: a folder without {NEUTRAL}; expected {MODELS}")
        elif not path.is_file():
            raise UserError(f"{where}: faces.model = {model!r}: not found; expected {MODELS}")
        elif path.suffix.lower() not in (".mat", ".h5", ".hdf5"):
            raise UserError(f"{where}: faces.model = {model!r}: expected {MODELS}")
    return model


def _region(params, where, model: str, base_dir) -> str:
    region = choice(params, "faces.region", where, REGIONS)
    if region != "face" and not (Path(base_dir) / model).is_dir():
        raise UserError(f"{where}: faces.region = {region!r}: only an ICT-FaceKit model has a head beyond the face; "
                        "expected 'face'")
    return region


def _fixed_factors(params, where) -> str:
    value = get(params, "faces.fixed_factors", where)
    if value not in FIXED_FACTORS:
        raise UserError(f"{where}: faces.fixed_factors = {value!r}: expected 'random' (each batch draws the values "
                        "it holds fixed from the grids) or 'neutral' (the grid values nearest 0)")
    return value


def faces_config(params: dict, where: str = "params.yaml", base_dir: str = ".") -> FacesConfig:
    """Validate the `faces` section of a params tree."""
    check_keys(params.get("faces"), "faces", KEYS, where)
    b = number(params, "faces.batch_size", where, integer=True, lo=2)
    identities = {s: number(params, f"faces.identities.{s}", where, integer=True, lo=1) for s in SPLITS}
    batches = {
        s: {t: number(params, f"faces.batches.{s}.{t}", where, integer=True, lo=0) for t in SCHEMA.batch_types}
        for s in SPLITS
    }
    for s in SPLITS:
        if batches[s]["intrinsic"] and identities[s] < b:
            raise UserError(
                f"{where}: faces.identities.{s} = {identities[s]}: expected at least faces.batch_size = {b} "
                "identities, since an intrinsic batch shows that many different faces"
            )
    return FacesConfig(
        model=_model(params, where, base_dir),
        region=_region(params, where, get(params, "faces.model", where), base_dir),
        seed=number(params, "faces.seed", where, integer=True, lo=0),
        batch_size=b,
        image_size=number(params, "faces.image_size", where, integer=True, lo=16, hi=2048),
        shape_components=number(params, "faces.shape_components", where, integer=True, lo=0),
        albedo_components=number(params, "faces.albedo_components", where, integer=True, lo=0),
        coeff_clip=float(number(params, "faces.coeff_clip", where, lo=0, lo_open=True)),
        identities=identities,
        batches=batches,
        factors={name: _factor(params, f, where, b) for name, f in SCHEMA.factors.items()},
        fixed_factors=_fixed_factors(params, where),
        **view_settings(params, "faces", where),
        base_dir=str(base_dir),
    )
