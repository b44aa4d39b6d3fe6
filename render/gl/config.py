"""The view settings every dataset section shares (`<dataset>.lighting`, `.camera`, `.background`,
`.supersample`, `.chunk_batches`), validated into plain dataclasses."""
from __future__ import annotations

import math
from dataclasses import dataclass

from render.params import leaves, number

LIGHTING_KEYS = ("ambient", "intensity", "elevation")
VIEW_KEYS = {"camera": leaves("distance", "fill"), **leaves("background", "supersample", "chunk_batches")}


@dataclass(frozen=True)
class Lighting:
    ambient: float
    intensity: float
    elevation: float  # radians, fixed; the light moves in azimuth only


@dataclass(frozen=True)
class Camera:
    distance: float  # in bounding radii of the framed object
    fill: float  # fraction of the half-frame the bounding radius spans


@dataclass(frozen=True)
class ViewConfig:
    """How a dataset's images are lit, framed and stored; each dataset's config extends it."""

    lighting: Lighting
    camera: Camera
    background: int  # gray level
    supersample: int  # anti-aliasing: render k*k pixels per output pixel and average
    chunk_batches: int  # batches per chunk file


def view_settings(params: dict, section: str, where: str) -> dict:
    """Lighting, camera and output settings of a dataset section, as keyword arguments of its config."""
    def num(key, **kw):
        return number(params, f"{section}.{key}", where, **kw)

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
