"""The one interface every dataset package implements, and the loop that renders a batch.

A dataset package (`render.faces`, `render.chairs`; named by its schema entry) provides:

- `config(params, where, base_dir)`: its params section as a frozen config;
- `prepare(cfg)`: what it loads once per render (a face model, a chair catalogue), a `Prepared`
  that is shipped to every worker;
- `Source`: a `BatchSource` subclass, built once per worker process from (cfg, prepared).

The render jobs (`render.jobs`) see nothing else of a dataset.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class BatchSpec:
    """Ground truth of one sampled batch: every image's identity and factor values."""

    split: str
    batch_type: str
    index: int
    identity: np.ndarray  # (B,) int64
    factors: dict  # factor name of the schema -> (B,) values in its unit


@dataclass(frozen=True)
class Views:
    """Who is shown and how, per image of a batch: all the renderer needs."""

    identity: np.ndarray  # (B,) int64
    azimuth: np.ndarray  # (B,) rad
    elevation: np.ndarray  # (B,) rad
    light_azimuth: np.ndarray  # (B,) deg


class Prepared:
    """What a dataset loads once per render."""

    @property
    def digest(self) -> str:
        """What the render fingerprint needs to know of it beyond params and code."""
        raise NotImplementedError

    @property
    def summary(self) -> str:
        """One line for people (benchmarks, logs)."""
        raise NotImplementedError

    def describe(self, cfg) -> dict:
        """Its dataset-specific entries of render_info.json."""
        raise NotImplementedError

    def after_render(self, out_dir: Path) -> None:
        """Write any report of its own next to the chunks (nothing by default)."""


class BatchSource:
    """Renders whole single-factor batches of one dataset; the renderer is made on first use, so
    a source also answers `views()` where there is no GPU or EGL context (benchmarks, tests)."""

    def __init__(self, cfg, prepared: Prepared):
        self.cfg = cfg
        self.prepared = prepared
        self._renderer = None
        self._identity = None

    def framing(self):
        """Where the camera stands (render.gl.renderer.Framing)."""
        raise NotImplementedError

    def mesh(self, identity: int):
        """The AlbedoMesh of one identity."""
        raise NotImplementedError

    def views(self, split: str, batch_type: str, index: int) -> tuple[Views, dict]:
        """The batch's views and every per-image label it stores (factors, identity, extras)."""
        raise NotImplementedError

    @property
    def renderer(self):
        if self._renderer is None:
            from render.gl.renderer import Renderer

            cfg = self.cfg
            self._renderer = Renderer(self.framing(), cfg.image_size, ambient=cfg.lighting.ambient,
                                      intensity=cfg.lighting.intensity, light_elevation=cfg.lighting.elevation,
                                      background=cfg.background, supersample=cfg.supersample)
        return self._renderer

    def use(self, identity: int) -> None:
        """Upload an identity's mesh, once per run of its images."""
        if identity != self._identity:
            self.renderer.set_mesh(self.mesh(identity))
            self._identity = identity

    def render_batch(self, split: str, batch_type: str, index: int) -> dict:
        views, labels = self.views(split, batch_type, index)
        s = self.cfg.image_size
        images = np.empty((len(views.identity), s, s), np.uint8)
        for i in range(len(images)):
            self.use(int(views.identity[i]))
            images[i] = self.renderer.render(float(views.azimuth[i]), float(views.elevation[i]),
                                             float(views.light_azimuth[i]))
        return {"images": images, **labels}
