"""The face dataset: single-factor batches of a morphable model, rendered into chunk files."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from render.chunks import Chunk, plan_chunks, write_info
from render.config import BATCH_TYPES, SPLITS, ExecutorConfig, FacesConfig, code_digest
from render.errors import UserError
from render.executors import render_chunks
from render.factors import batch_spec, identity_coefficients
from render.morphable import MorphableModel

FORMAT_VERSION = 1


def load_model(cfg: FacesConfig) -> MorphableModel:
    from render.bfm import load_face_model

    return load_face_model(cfg.model, cfg.base_dir)


def components_used(cfg: FacesConfig, model: MorphableModel) -> tuple[int, int]:
    """The leading components identities use; asking for more than the model has is an error."""
    for key, want, have in (
        ("shape_components", cfg.shape_components, model.n_shape),
        ("albedo_components", cfg.albedo_components, model.n_albedo),
    ):
        if want > have:
            raise UserError(f"params: faces.{key} = {want}: model {model.name} has only {have}; expected at most {have}")
    return cfg.shape_components, cfg.albedo_components


def make_renderer(cfg: FacesConfig, model: MorphableModel):
    from render.renderer import Framing, Renderer

    return Renderer(
        Framing(model.mean_shape, cfg.camera.distance, cfg.camera.fill, model.frame_center, model.frame_radius),
        cfg.image_size,
        ambient=cfg.lighting.ambient,
        intensity=cfg.lighting.intensity,
        light_elevation=cfg.lighting.elevation,
        background=cfg.background,
        supersample=cfg.supersample,
    )


class FaceBatchRenderer:
    """Renders whole batches, uploading each identity's mesh once per run of its images."""

    def __init__(self, cfg: FacesConfig, model: MorphableModel):
        self.cfg = cfg
        self.model = model
        self.n_shape, self.n_albedo = components_used(cfg, model)
        self.renderer = make_renderer(cfg, model)
        self._identity = None

    def coefficients(self, identity: int):
        return identity_coefficients(self.cfg, identity, self.n_shape, self.n_albedo)

    def mesh(self, identity: int):
        return self.model.instance(*self.coefficients(identity))

    def use(self, identity: int) -> None:
        if identity != self._identity:
            self.renderer.set_mesh(self.mesh(identity))
            self._identity = identity

    def render_batch(self, split: str, batch_type: str, index: int) -> dict:
        spec = batch_spec(self.cfg, split, batch_type, index)
        s = self.cfg.image_size
        images = np.empty((self.cfg.batch_size, s, s), np.uint8)
        for i in range(self.cfg.batch_size):
            self.use(int(spec.identity[i]))
            images[i] = self.renderer.render(float(spec.azimuth[i]), float(spec.elevation[i]), float(spec.light_azimuth[i]))
        coeffs = [self.coefficients(int(k)) for k in spec.identity]
        return {
            "images": images,
            "azimuth": spec.azimuth,
            "elevation": spec.elevation,
            "light_azimuth": spec.light_azimuth,
            "identity": spec.identity,
            "shape_coeffs": np.stack([c[0] for c in coeffs]),
            "albedo_coeffs": np.stack([c[1] for c in coeffs]),
        }


def fingerprint(cfg: FacesConfig, model: MorphableModel) -> str:
    return cfg.fingerprint(f"code:{code_digest()} model:{model.digest()}")


def render_info(cfg: FacesConfig, model: MorphableModel, chunks: list[Chunk]) -> dict:
    """What a reader needs to interpret the chunks, and nothing that varies between runs."""
    config = asdict(cfg)
    config.pop("base_dir")
    return {
        "format_version": FORMAT_VERSION,
        "dataset": "faces",
        "fingerprint": fingerprint(cfg, model),
        "config": config,
        "model": {
            "name": model.name,
            "n_vertices": model.n_vertices,
            "n_triangles": int(model.triangles.shape[0]),
            "shape_components": cfg.shape_components,
            "albedo_components": cfg.albedo_components,
        },
        "batch_types": list(BATCH_TYPES),
        "factors": {
            name: {"min": g.min, "max": g.max, "step": g.step, "unit": g.unit, "n_values": len(g.values)}
            for name, g in cfg.factors.items()
        },
        "counts": cfg.batches,
        "image_shape": [cfg.batch_size, cfg.image_size, cfg.image_size],
        "chunks": [c.describe() for c in chunks],
    }


def render_faces(cfg: FacesConfig, out_dir: Path, executor: ExecutorConfig) -> dict:
    """Render every planned chunk not already on disk; returns the dataset's render_info."""
    model = load_model(cfg)
    components_used(cfg, model)
    chunks = plan_chunks(cfg.batches, cfg.chunk_batches, SPLITS, BATCH_TYPES)
    render_chunks(out_dir, chunks, fingerprint(cfg, model), FaceBatchRenderer, (cfg, model), executor,
                  cfg.batch_size, desc="render faces")
    info = render_info(cfg, model, chunks)
    write_info(out_dir, info)
    return info
