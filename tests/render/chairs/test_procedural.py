"""Tests for the embedded procedural chair generator (render/chairs/procedural/)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import trimesh

from render.chairs.procedural.chair_params import ChairParams
from render.schema import CHAIR_FAMILIES
from render.chairs.procedural.families import build_chair
from render.chairs.procedural.sampling import procedural_chair, sample_chair_params
from render.gl.mesh import AlbedoMesh

IDS_PER_FAMILY = 15
MAX_TRIANGLES = 30_000  # keeps a chair cheap to render
ALL_IDS = range(len(CHAIR_FAMILIES) * IDS_PER_FAMILY)


@pytest.fixture(scope="module")
def chairs():
    return {cid: procedural_chair(3, cid) for cid in ALL_IDS}


def test_families_are_the_contract():
    assert CHAIR_FAMILIES == ("dining", "armchair", "office", "stool", "bar_stool", "cantilever", "rocking", "lounge")


def test_family_cycles_over_ids_and_all_appear():
    families = [sample_chair_params(5, cid).family for cid in range(len(CHAIR_FAMILIES))]
    assert families == list(CHAIR_FAMILIES)
    assert sample_chair_params(5, 8 + 2).family == CHAIR_FAMILIES[2]


@pytest.mark.parametrize("cid", ALL_IDS)
def test_chair_mesh_is_valid(chairs, cid):
    mesh, params = chairs[cid]
    assert isinstance(mesh, AlbedoMesh) and isinstance(params, ChairParams)
    v, a, f = mesh.vertices, mesh.albedo, mesh.triangles
    assert v.dtype == np.float32 and a.dtype == np.float32 and f.dtype == np.int32
    assert v.ndim == 2 and v.shape[1] == 3 and a.shape == v.shape and f.shape[1] == 3
    assert np.isfinite(v).all()
    assert (a >= 0).all() and (a <= 1).all()
    assert np.array_equal(a[:, 0], a[:, 1]) and np.array_equal(a[:, 0], a[:, 2])  # gray
    assert a.min() >= 0.1 - 1e-6 and a.max() <= 0.9 + 1e-6
    assert f.min() >= 0 and f.max() < len(v)
    assert 0 < len(f) <= MAX_TRIANGLES

    vd = v.astype(np.float64)
    areas = np.linalg.norm(np.cross(vd[f[:, 1]] - vd[f[:, 0]], vd[f[:, 2]] - vd[f[:, 0]]), axis=1) / 2
    assert areas.min() > 1e-9, "zero-area triangle"

    for part in trimesh.Trimesh(vd, f, process=False).split(only_watertight=False):
        assert part.is_watertight, f"{params.family}: a part is not closed"
        assert part.volume > 0, f"{params.family}: a part is wound inside out"

    lo, hi = vd.min(axis=0), vd.max(axis=0)
    height, width = hi[1] - lo[1], hi[0] - lo[0]
    assert 0.4 <= height <= 1.6, (params.family, height)
    assert 0.3 <= width <= 1.2, (params.family, width)
    assert abs(lo[1]) < 1e-4, "the chair stands on the floor"
    assert abs(lo[0] + hi[0]) < 1e-4 and abs(lo[2] + hi[2]) < 1e-4, "centred on x = z = 0"


def test_chair_faces_plus_z_and_back_is_behind():
    """The back (the highest part of a chair with a back) sits at -Z, the knees go to +Z."""
    for cid in (0, 1, 2, 5, 6, 7, 8, 9, 10):
        mesh, params = procedural_chair(1, cid)
        v = mesh.vertices
        top = v[v[:, 1] > v[:, 1].max() - 0.1]
        assert top[:, 2].mean() < 0.0, params.family


def test_build_is_deterministic_and_ids_differ():
    m1, p1 = procedural_chair(7, 12)
    m2, p2 = procedural_chair(7, 12)
    assert p1 == p2
    for field in ("vertices", "albedo", "triangles"):
        assert np.array_equal(getattr(m1, field), getattr(m2, field))
    m3 = build_chair(sample_chair_params(7, 12))
    assert np.array_equal(m1.vertices, m3.vertices)
    for other in (12 + len(CHAIR_FAMILIES), 12 + 2 * len(CHAIR_FAMILIES)):  # same family, other chairs
        m4, p4 = procedural_chair(7, other)
        assert p4.family == p1.family and p4 != p1
        assert m4.vertices.shape != m1.vertices.shape or not np.array_equal(m4.vertices, m1.vertices)
    _, p5 = procedural_chair(8, 12)
    assert p5 != p1


def test_params_are_json_serialisable():
    for cid in range(len(CHAIR_FAMILIES)):
        params = sample_chair_params(2, cid)
        data = dataclasses.asdict(params)
        text = json.dumps(data)
        assert ChairParams(**json.loads(text)) == params
        for value in data.values():
            assert isinstance(value, (int, float, str)) and not isinstance(value, bool)


def test_variety_within_a_family():
    """Held-out chairs are new: proportions, styles and tones vary within each family."""
    for fi, family in enumerate(CHAIR_FAMILIES):
        ps = [sample_chair_params(0, fi + len(CHAIR_FAMILIES) * k) for k in range(20)]
        assert len({round(p.seat_width, 7) for p in ps}) == 20
        assert len({round(p.back_height, 7) for p in ps}) == 20
        assert np.ptp([p.tone_frame for p in ps]) > 0.3
    styles = {sample_chair_params(0, len(CHAIR_FAMILIES) * k).back_style for k in range(40)}
    assert len(styles) >= 4  # dining backs
    legs = {sample_chair_params(0, 3 + len(CHAIR_FAMILIES) * k).leg_profile for k in range(20)}
    assert legs == {"square", "round"}


def test_unknown_family_is_rejected():
    params = dataclasses.replace(sample_chair_params(0, 0), family="sofa")
    with pytest.raises(ValueError):
        build_chair(params)
