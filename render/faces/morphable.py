"""The morphable-model type shared by the procedural head and the Basel Face Model loaders.

Coordinates are metres, +Y up, +Z out of the face (towards the camera at zero azimuth).
Coefficients are standard normal; a component's displacement is ``coeff * std * basis``,
as in the Basel Face Model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from render.gl.mesh import AlbedoMesh


@dataclass(frozen=True)
class MorphableModel:
    """Linear shape and albedo model: mean + basis @ (coeffs * std)."""

    name: str
    mean_shape: np.ndarray  # (N, 3) float32, metres
    shape_basis: np.ndarray  # (Ks, N, 3) float32, unit-norm components
    shape_std: np.ndarray  # (Ks,) float32, metres
    mean_albedo: np.ndarray  # (N, 3) float32 in [0, 1]
    albedo_basis: np.ndarray  # (Ka, N, 3) float32, unit-norm components
    albedo_std: np.ndarray  # (Ka,) float32
    triangles: np.ndarray  # (M, 3) int32
    # Optional framing hint: the sphere the camera should fit, e.g. a head without its neck.
    # None: the mean shape's bounding box centre and radius.
    frame_center: tuple | None = None
    frame_radius: float | None = None

    @property
    def n_vertices(self) -> int:
        return int(self.mean_shape.shape[0])

    @property
    def n_shape(self) -> int:
        return int(self.shape_std.shape[0])

    @property
    def n_albedo(self) -> int:
        return int(self.albedo_std.shape[0])

    def instance(self, shape_coeffs, albedo_coeffs) -> AlbedoMesh:
        """Mesh for standard-normal coefficients; shorter vectors use the leading components."""
        shape_coeffs = np.asarray(shape_coeffs, dtype=np.float64).ravel()
        albedo_coeffs = np.asarray(albedo_coeffs, dtype=np.float64).ravel()
        if shape_coeffs.size > self.n_shape or albedo_coeffs.size > self.n_albedo:
            raise ValueError(
                f"model {self.name} has {self.n_shape} shape and {self.n_albedo} albedo components, "
                f"got {shape_coeffs.size} and {albedo_coeffs.size} coefficients"
            )
        ks, ka = shape_coeffs.size, albedo_coeffs.size
        vertices = self.mean_shape + np.tensordot(
            (shape_coeffs * self.shape_std[:ks]).astype(np.float32), self.shape_basis[:ks], axes=1
        )
        albedo = self.mean_albedo + np.tensordot(
            (albedo_coeffs * self.albedo_std[:ka]).astype(np.float32), self.albedo_basis[:ka], axes=1
        )
        return AlbedoMesh(
            vertices=np.ascontiguousarray(vertices, dtype=np.float32),
            albedo=np.clip(albedo, 0.0, 1.0).astype(np.float32),
            triangles=self.triangles,
        )

    def digest(self) -> str:
        """Content hash of the arrays, so data rendered from another model is never reused."""
        import hashlib

        h = hashlib.sha256(self.name.encode())
        for field in ("mean_shape", "shape_basis", "shape_std", "mean_albedo", "albedo_basis", "albedo_std", "triangles"):
            h.update(np.ascontiguousarray(getattr(self, field)).tobytes())
        return h.hexdigest()[:16]

    def validate(self, source: str) -> None:
        """Raise ValueError naming `source` when arrays disagree in shape or hold non-finite values."""
        n = self.n_vertices
        expected = {
            "mean_shape": (n, 3),
            "shape_basis": (self.n_shape, n, 3),
            "mean_albedo": (n, 3),
            "albedo_basis": (self.n_albedo, n, 3),
        }
        for field, shape in expected.items():
            found = getattr(self, field).shape
            if found != shape:
                raise ValueError(f"{source}: {field} has shape {found}, expected {shape}")
        if self.triangles.ndim != 2 or self.triangles.shape[1] != 3 or self.triangles.size == 0:
            raise ValueError(f"{source}: triangles have shape {self.triangles.shape}, expected (M, 3)")
        if self.triangles.min() < 0 or self.triangles.max() >= n:
            raise ValueError(
                f"{source}: triangle indices span {self.triangles.min()}..{self.triangles.max()}, "
                f"expected 0..{n - 1}"
            )
        for field in ("mean_shape", "shape_basis", "shape_std", "mean_albedo", "albedo_basis", "albedo_std"):
            if not np.all(np.isfinite(getattr(self, field))):
                raise ValueError(f"{source}: {field} holds NaN or infinite values")


def from_pca(
    name: str,
    mean_shape,
    shape_pc,
    shape_std,
    mean_albedo,
    albedo_pc,
    albedo_std,
    triangles,
) -> MorphableModel:
    """Build a model from flat PCA arrays (3N means, 3N x K bases) and renormalise the bases.

    Bases are stored unit-norm with the scale folded into the std, so every model in the
    project means the same thing by 'one standard deviation'.
    """
    mean_shape = np.asarray(mean_shape, dtype=np.float64).reshape(-1, 3)
    n = mean_shape.shape[0]
    shape_pc = np.asarray(shape_pc, dtype=np.float64).reshape(3 * n, -1)
    albedo_pc = np.asarray(albedo_pc, dtype=np.float64).reshape(3 * n, -1)
    s_norm = np.linalg.norm(shape_pc, axis=0)
    a_norm = np.linalg.norm(albedo_pc, axis=0)
    s_norm[s_norm == 0] = 1.0
    a_norm[a_norm == 0] = 1.0
    return MorphableModel(
        name=name,
        mean_shape=mean_shape.astype(np.float32),
        shape_basis=(shape_pc / s_norm).T.reshape(-1, n, 3).astype(np.float32),
        shape_std=(np.asarray(shape_std, dtype=np.float64).ravel() * s_norm).astype(np.float32),
        mean_albedo=np.asarray(mean_albedo, dtype=np.float64).reshape(n, 3).astype(np.float32),
        albedo_basis=(albedo_pc / a_norm).T.reshape(-1, n, 3).astype(np.float32),
        albedo_std=(np.asarray(albedo_std, dtype=np.float64).ravel() * a_norm).astype(np.float32),
        triangles=np.asarray(triangles, dtype=np.int32).reshape(-1, 3),
    )
