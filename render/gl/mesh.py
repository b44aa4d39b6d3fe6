"""The mesh type every renderer input is converted to, and the normals the renderer needs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AlbedoMesh:
    """A triangle mesh with per-vertex RGB albedo in [0, 1] (a face identity, a chair)."""

    vertices: np.ndarray  # (N, 3) float32, metres or normalised units
    albedo: np.ndarray  # (N, 3) float32 in [0, 1]
    triangles: np.ndarray  # (M, 3) int32, counter-clockwise seen from outside
    normals: np.ndarray | None = None  # (N, 3) float32 unit normals; None: smooth, computed when rendered


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted smooth vertex normals (unit length), in the dtype of `vertices`."""
    v = vertices.astype(np.float64)
    a, b, c = v[triangles[:, 0]], v[triangles[:, 1]], v[triangles[:, 2]]
    face_n = np.cross(b - a, c - a)
    normals = np.zeros_like(v)
    for k in range(3):
        for axis in range(3):
            normals[:, axis] += np.bincount(triangles[:, k], weights=face_n[:, axis], minlength=len(v))
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    length[length == 0] = 1.0
    return (normals / length).astype(vertices.dtype)


def facet(mesh: AlbedoMesh) -> AlbedoMesh:
    """Give every triangle its own three vertices, so smooth normals become flat ones: hard-edged
    CAD models (chairs) shade as facets instead of melting into blobs."""
    corners = mesh.triangles.reshape(-1)
    v = mesh.vertices.astype(np.float64)
    a, b, c = (v[mesh.triangles[:, k]] for k in range(3))
    face_n = np.cross(b - a, c - a)
    face_n /= np.maximum(np.linalg.norm(face_n, axis=1, keepdims=True), 1e-20)
    return AlbedoMesh(
        vertices=np.ascontiguousarray(mesh.vertices[corners]),
        albedo=np.ascontiguousarray(mesh.albedo[corners]),
        triangles=np.arange(len(corners), dtype=np.int32).reshape(-1, 3),
        normals=np.repeat(face_n, 3, axis=0).astype(np.float32),
    )


def normalised(mesh: AlbedoMesh) -> AlbedoMesh:
    """Centre the bounding box at the origin and scale its largest extent to 1, so chairs of any
    source and unit fill the frame alike."""
    lo, hi = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    scale = float((hi - lo).max())
    vertices = (mesh.vertices - (lo + hi) / 2) / (scale if scale > 0 else 1.0)
    return AlbedoMesh(vertices.astype(np.float32), mesh.albedo, mesh.triangles)
