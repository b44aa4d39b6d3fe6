"""The dataset schema: the one place that declares, per dataset, its batch types, the factor each
type varies, every labelled factor with its unit and grid, and the default latent assignment.

Config parsing, sampling, the render jobs, shards, preview, training, evaluation and the CLI all
read it (training and evaluation through the copy each shard manifest carries). A new dataset is a
new package under `render/` that implements `render.source` plus one entry in `SCHEMAS`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from render.errors import UserError

INTRINSIC = "intrinsic"


@dataclass(frozen=True)
class Factor:
    """A generating factor that every image is labelled with."""

    name: str  # the label field in chunks and shards
    unit: str  # rad | deg
    label: str  # short caption in contact sheets and figures
    grid: str  # how params give its values: range (min, max, step) | circle (a count over 360 deg) | list (degrees)
    limit: float = 0.0  # |value| allowed for a range grid, in `unit`
    circular: bool = False  # values wrap around (a full turn)
    mirror: int = 0  # what flipping the image left-right does to the value: -1 negates it, +1 keeps it,
    #                  0 no sign rule a single latent could follow (training's mirror term, train/mirror.py)

    def format(self, value: float) -> str:
        """A value as a caption: angles in rad to two decimals, degrees whole."""
        return f"{self.label} {value:+.0f}" if self.unit == "deg" else f"{self.label} {value:+.2f}"

    def describe(self, values) -> dict:
        """The factor's entry in render_info.json and the shard manifest."""
        return {"unit": self.unit, "circular": self.circular, "values": [float(v) for v in values]}


@dataclass(frozen=True)
class DatasetSchema:
    name: str
    package: str  # the package implementing render.source for this dataset
    batch_types: tuple  # in the order the random streams index them; the intrinsic type last
    varies: dict  # extrinsic batch type -> the factor it varies (the intrinsic type varies the identity)
    factors: dict  # factor name -> Factor
    frontal_factor: str  # the factor a preview holds nearest 0 for the rows it does not vary

    @property
    def extrinsic(self) -> tuple:
        return tuple(t for t in self.batch_types if t != INTRINSIC)

    def factor_of(self, batch_type: str) -> str | None:
        return self.varies.get(batch_type)

    def type_factor(self) -> dict:
        """Batch type -> the factor it varies (None for the intrinsic type), as manifests record it."""
        return {t: self.factor_of(t) for t in self.batch_types}

    def mirror_signs(self) -> dict:
        """Extrinsic batch type -> the sign a left-right flip puts on its factor, where it has one."""
        return {t: self.factors[f].mirror for t, f in self.varies.items() if self.factors[f].mirror}

    def default_latents(self, latent_dim: int) -> dict:
        """The paper's assignment: one latent per extrinsic type in order (z1, z2, z3), the intrinsic
        type all the rest."""
        latents = {t: [i] for i, t in enumerate(self.extrinsic)}
        latents[INTRINSIC] = list(range(len(self.extrinsic), latent_dim))
        return latents

    def as_dict(self) -> dict:
        """What a render fingerprint covers of the schema: this dataset's entry, no other."""
        return {"name": self.name, "batch_types": list(self.batch_types), "varies": dict(self.varies),
                "factors": {k: {a: v for a, v in vars(f).items() if a != "mirror"} for k, f in self.factors.items()}}

    def module(self):
        """The dataset's package: `config(params, where, base_dir)`, `prepare(cfg)` and `Source`."""
        return importlib.import_module(self.package)


# A face seen from the left, mirrored, is a (mirrored) face seen from the right, lit from the other side
# at the same height: the flip negates azimuth and light azimuth and keeps elevation.
_AZIMUTH_RANGE = Factor("azimuth", "rad", "az", grid="range", limit=3.141592653589793, mirror=-1)
_ELEVATION_RANGE = Factor("elevation", "rad", "el", grid="range", limit=1.5707963267948966, mirror=1)

# The procedural chairs' families, by the index their 'family' label holds: chair i belongs to
# family i % len(CHAIR_FAMILIES), so the order is part of the data. Declared here, beside the
# factors, so the evaluation can name them without importing the generator.
CHAIR_FAMILIES = ("dining", "armchair", "office", "stool", "bar_stool", "cantilever", "rocking", "lounge")

SCHEMAS = {
    "faces": DatasetSchema(
        name="faces",
        package="render.faces",
        batch_types=("azimuth", "elevation", "light", INTRINSIC),
        varies={"azimuth": "azimuth", "elevation": "elevation", "light": "light_azimuth"},
        factors={
            "azimuth": _AZIMUTH_RANGE,
            "elevation": _ELEVATION_RANGE,
            "light_azimuth": Factor("light_azimuth", "deg", "light", grid="range", limit=180.0, mirror=-1),
        },
        frontal_factor="azimuth",
    ),
    "chairs": DatasetSchema(
        name="chairs",
        package="render.chairs",
        batch_types=("azimuth", INTRINSIC),
        varies={"azimuth": "azimuth"},
        factors={
            "azimuth": Factor("azimuth", "rad", "az", grid="circle", circular=True),
            "elevation": Factor("elevation", "rad", "el", grid="list"),
        },
        frontal_factor="azimuth",
    ),
}


def schema_of(dataset: str) -> DatasetSchema:
    try:
        return SCHEMAS[dataset]
    except KeyError:
        raise UserError(f"unknown dataset {dataset!r}; expected one of {', '.join(SCHEMAS)}") from None
