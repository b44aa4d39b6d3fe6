"""Tests for the embedded procedural morphable head (render/procedural_head.py)."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from render.faces.morphable import MorphableModel
from render.faces.procedural_head import (
    ALBEDO_COMPONENT_NAMES,
    SHAPE_COMPONENT_NAMES,
    build_procedural_head,
)


@pytest.fixture(scope="module")
def model() -> MorphableModel:
    return build_procedural_head()


def _components(n_vertices, triangles):
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    adj = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n_vertices, n_vertices))
    return connected_components(adj, directed=False)[1]


def _random_coeffs(model, seed):
    rng = np.random.default_rng(seed)
    return (
        np.clip(rng.standard_normal(model.n_shape), -3.0, 3.0),
        np.clip(rng.standard_normal(model.n_albedo), -3.0, 3.0),
    )


def test_build_is_deterministic(model):
    again = build_procedural_head()
    for field in ("mean_shape", "shape_basis", "shape_std", "mean_albedo", "albedo_basis", "albedo_std", "triangles"):
        a, b = getattr(model, field), getattr(again, field)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes(), field


def test_sizes_and_dtypes(model):
    model.validate("test")
    assert 10_000 <= model.n_vertices <= 30_000
    assert model.n_shape >= 50 and model.n_albedo >= 20
    assert model.n_shape == len(SHAPE_COMPONENT_NAMES) == len(set(SHAPE_COMPONENT_NAMES))
    assert model.n_albedo == len(ALBEDO_COMPONENT_NAMES) == len(set(ALBEDO_COMPONENT_NAMES))
    assert model.mean_shape.dtype == np.float32 and model.triangles.dtype == np.int32
    assert model.shape_basis.shape == (model.n_shape, model.n_vertices, 3)
    assert model.albedo_basis.shape == (model.n_albedo, model.n_vertices, 3)


def test_all_finite_and_unit_norm(model):
    for field in ("mean_shape", "shape_basis", "shape_std", "mean_albedo", "albedo_basis", "albedo_std"):
        assert np.all(np.isfinite(getattr(model, field))), field
    s_norm = np.linalg.norm(model.shape_basis.reshape(model.n_shape, -1).astype(np.float64), axis=1)
    a_norm = np.linalg.norm(model.albedo_basis.reshape(model.n_albedo, -1).astype(np.float64), axis=1)
    np.testing.assert_allclose(s_norm, 1.0, atol=1e-4)
    np.testing.assert_allclose(a_norm, 1.0, atol=1e-4)
    assert np.all(model.shape_std > 0) and np.all(model.albedo_std > 0)
    # a 3-sigma step of one component moves no vertex by more than a few centimetres
    max_move = (3 * model.shape_std[:, None] * np.linalg.norm(model.shape_basis, axis=2)).max(axis=1)
    assert np.all(max_move > 5e-4) and np.all(max_move < 0.03)


def test_mean_albedo(model):
    albedo = model.mean_albedo
    assert albedo.min() >= 0.0 and albedo.max() <= 1.0
    gray = albedo.mean(axis=1)
    # most of the surface is mid-light skin, with darker features (hair, brows, irises)
    assert 0.65 <= np.median(gray) <= 0.85
    assert gray.min() < 0.2 and gray.max() > 0.85


def test_mesh_closed_and_outward(model):
    tris = model.triangles
    verts = model.mean_shape.astype(np.float64)
    mesh = trimesh.Trimesh(verts, tris, process=False)
    assert mesh.is_watertight
    assert mesh.is_winding_consistent
    labels = _components(model.n_vertices, tris)
    n_comp = labels.max() + 1
    assert n_comp == 3  # head and two eyeballs
    for c in range(n_comp):
        part = tris[labels[tris[:, 0]] == c]
        sub = trimesh.Trimesh(verts, part, process=False)
        assert sub.is_watertight, c
        assert sub.volume > 0, c  # counter-clockwise seen from outside
    # the head holds the eyeballs: it is the component with the largest volume
    assert mesh.volume > 0.003


def test_mean_dimensions(model):
    v = model.mean_shape.astype(np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    # width including ears, and head breadth above the ears
    assert 0.14 <= hi[0] - lo[0] <= 0.21
    cranium = v[(v[:, 1] > 0.03) & (v[:, 1] < 0.07)]
    assert 0.13 <= np.ptp(cranium[:, 0]) <= 0.17
    # chin to crown
    face = v[(np.abs(v[:, 0]) < 0.02) & (v[:, 2] > 0.05)]
    chin = face[:, 1].min()
    assert 0.20 <= hi[1] - chin <= 0.26
    # origin roughly at the head's centre, face looking towards +Z, flat neck cut at the bottom
    assert abs(hi[0] + lo[0]) < 0.005
    assert -0.03 < (hi[1] + chin) / 2 < 0.03
    assert hi[2] > 0.09 and lo[2] < -0.08
    assert hi[2] > -lo[2]  # nose sticks out further than the back of the head
    assert np.sum(np.abs(v[:, 1] - lo[1]) < 1e-6) > 50


def test_random_instances_plausible(model):
    mean = model.mean_shape.astype(np.float64)
    tris = model.triangles

    def face_normals(v):
        a, b, c = v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]]
        return np.cross(b - a, c - a)

    n0 = face_normals(mean)
    big = np.linalg.norm(n0, axis=1) > 1e-6  # ignore marching-cubes slivers
    for seed in range(6):
        shape, albedo = _random_coeffs(model, seed)
        face = model.instance(shape, albedo)
        v = face.vertices.astype(np.float64)
        assert np.all(np.isfinite(v)) and np.all(np.isfinite(face.albedo))
        assert face.albedo.min() >= 0.0 and face.albedo.max() <= 1.0
        assert np.all(v.min(axis=0) > [-0.13, -0.26, -0.15]) and np.all(v.max(axis=0) < [0.13, 0.17, 0.17])
        assert np.abs(v - mean).max() < 0.04
        # smooth deformation: no triangle turns over
        n = face_normals(v)
        cos = np.einsum("ij,ij->i", n, n0)[big] / (np.linalg.norm(n, axis=1)[big] * np.linalg.norm(n0, axis=1)[big])
        assert cos.min() > 0.0, seed
        assert trimesh.Trimesh(v, tris, process=False).volume > 0.003


def test_single_components_at_three_sigma(model):
    mean = model.mean_shape.astype(np.float64)
    for k in range(model.n_shape):
        for sign in (-3.0, 3.0):
            coeffs = np.zeros(model.n_shape)
            coeffs[k] = sign
            v = model.instance(coeffs, []).vertices.astype(np.float64)
            assert np.all(np.isfinite(v))
            assert 0.0005 < np.abs(v - mean).max() < 0.03, SHAPE_COMPONENT_NAMES[k]
    for k in range(model.n_albedo):
        coeffs = np.zeros(model.n_albedo)
        coeffs[k] = 3.0
        a = model.instance([], coeffs).albedo
        assert np.abs(a - model.mean_albedo).max() > 0.02, ALBEDO_COMPONENT_NAMES[k]
