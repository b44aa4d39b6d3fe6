"""Face batches: identities of a morphable model under the poses and lights of the sampled batch."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from render.errors import UserError
from render.faces.config import FacesConfig
from render.faces.morphable import MorphableModel
from render.faces.sampling import batch_spec, identity_coefficients
from render.source import BatchSource, Prepared, Views


@dataclass(frozen=True)
class FaceModel(Prepared):
    """The face model a render uses, with the leading components identities draw."""

    model: MorphableModel
    n_shape: int
    n_albedo: int

    @property
    def digest(self) -> str:
        return f"model:{self.model.digest()}"

    @property
    def summary(self) -> str:
        return f"{self.model.name} ({self.model.n_vertices} vertices, {len(self.model.triangles)} triangles)"

    def describe(self, cfg: FacesConfig) -> dict:
        return {"model": {"name": self.model.name, "n_vertices": self.model.n_vertices,
                          "n_triangles": int(self.model.triangles.shape[0]),
                          "shape_components": self.n_shape, "albedo_components": self.n_albedo}}


def prepare(cfg: FacesConfig) -> FaceModel:
    """Load the face model; asking for more components than it has is an error."""
    from render.faces.loaders import load_face_model

    model = load_face_model(cfg.model, cfg.base_dir, cfg.region)
    for key, want, have in (
        ("shape_components", cfg.shape_components, model.n_shape),
        ("albedo_components", cfg.albedo_components, model.n_albedo),
    ):
        if want > have:
            raise UserError(f"params: faces.{key} = {want}: model {model.name} has only {have}; expected at most {have}")
    return FaceModel(model, cfg.shape_components, cfg.albedo_components)


class FaceBatches(BatchSource):
    def framing(self):
        from render.gl.renderer import Framing

        model = self.prepared.model
        return Framing(model.mean_shape, self.cfg.camera.distance, self.cfg.camera.fill, model.frame_center,
                       model.frame_radius)

    def coefficients(self, identity: int):
        return identity_coefficients(self.cfg, identity, self.prepared.n_shape, self.prepared.n_albedo)

    def mesh(self, identity: int):
        return self.prepared.model.instance(*self.coefficients(identity))

    def views(self, split: str, batch_type: str, index: int) -> tuple[Views, dict]:
        spec = batch_spec(self.cfg, split, batch_type, index)
        coeffs = [self.coefficients(int(k)) for k in spec.identity]
        f = spec.factors
        labels = {**f, "identity": spec.identity, "shape_coeffs": np.stack([c[0] for c in coeffs]),
                  "albedo_coeffs": np.stack([c[1] for c in coeffs])}
        return Views(spec.identity, f["azimuth"], f["elevation"], f["light_azimuth"]), labels
