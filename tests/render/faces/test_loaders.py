"""Basel Face Model loaders, against tiny files written in the real BFM layouts."""
import types

import h5py
import numpy as np
import pytest
import scipy.io

from render.faces import loaders as bfm
from render.faces.loaders import load_bfm2009, load_bfm2017, load_face_model
from render.errors import UserError
from render.faces.morphable import MorphableModel

REMOVE = object()


def octahedron():
    """Six vertices, eight faces wound counter-clockwise seen from outside."""
    verts, index = [], {}
    for axis in range(3):
        for sign in (1, -1):
            v = np.zeros(3)
            v[axis] = sign
            index[axis, sign] = len(verts)
            verts.append(v)
    tris = []
    for sx in (1, -1):
        for sy in (1, -1):
            for sz in (1, -1):
                t = [index[0, sx], index[1, sy], index[2, sz]]
                tris.append(t if sx * sy * sz > 0 else [t[0], t[2], t[1]])
    return np.array(verts), np.array(tris)


def outward(vertices, triangles):
    """Per-face: does the counter-clockwise normal point away from the centroid?"""
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    normal = np.cross(b - a, c - a)
    return np.einsum("ij,ij->i", normal, (a + b + c) / 3 - vertices.mean(axis=0)) > 0


@pytest.fixture
def truth():
    """A known model in project units: metres, std devs, albedo in 0..1, CCW 0-based triangles."""
    rng = np.random.default_rng(7)
    verts, tris = octahedron()
    assert outward(verts, tris).all()
    n = len(verts)
    shape_pc = np.linalg.qr(rng.normal(size=(3 * n, 3)))[0]  # unit-norm columns, as in BFM
    albedo_pc = np.linalg.qr(rng.normal(size=(3 * n, 2)))[0]
    return types.SimpleNamespace(
        n=n,
        mean=verts * 0.1 + np.array([0.0, 0.02, 0.05]),
        shape_pc=shape_pc,
        shape_std=np.array([0.01, 0.004, 0.002]),
        albedo=rng.uniform(0.2, 0.8, size=(n, 3)),
        albedo_pc=albedo_pc,
        albedo_std=np.array([0.05, 0.02]),
        tris=tris,
    )


def bfm2009_arrays(t):
    return {
        "shapeMU": (t.mean.ravel() * 1e6)[:, None],
        "shapePC": t.shape_pc,
        "shapeEV": (t.shape_std * 1e6)[:, None],
        "texMU": (t.albedo.ravel() * 255)[:, None],
        "texPC": t.albedo_pc,
        "texEV": (t.albedo_std * 255)[:, None],
        "tl": (t.tris[:, [0, 2, 1]] + 1).astype(np.float64),  # 1-based, clockwise
    }


def apply(arrays, changes):
    for key, value in changes.items():
        if value is REMOVE:
            del arrays[key]
        else:
            arrays[key] = value(arrays[key]) if callable(value) else value
    return arrays


def write_bfm2009(path, t, changes=()):
    scipy.io.savemat(path, apply(bfm2009_arrays(t), dict(changes)))
    return path


def write_bfm2009_v73(path, t, changes=()):
    """MATLAB v7.3 style: HDF5 behind a 512-byte user block, every array transposed."""
    arrays = apply(bfm2009_arrays(t), dict(changes))
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in arrays.items():
            f[key] = np.asarray(value).T
    return path


def write_bfm2017(path, t, changes=()):
    arrays = {
        "shape/model/mean": (t.mean.ravel() * 1e3).astype(np.float32),
        "shape/model/pcaBasis": t.shape_pc.astype(np.float32),
        "shape/model/pcaVariance": ((t.shape_std * 1e3) ** 2).astype(np.float32),
        "color/model/mean": t.albedo.ravel().astype(np.float32),
        "color/model/pcaBasis": t.albedo_pc.astype(np.float32),
        "color/model/pcaVariance": (t.albedo_std**2).astype(np.float32),
        "shape/representer/cells": t.tris.T.astype(np.uint32),  # 3 x M, 0-based, CCW
        "expression/model/mean": np.zeros(3 * t.n, np.float32),  # present in 2017, ignored
    }
    with h5py.File(path, "w") as f:
        for key, value in apply(arrays, dict(changes)).items():
            f[key] = value
    return path


def check_model(model, t, prefix):
    assert isinstance(model, MorphableModel)
    assert model.name.startswith(prefix + ":")
    assert (model.n_vertices, model.n_shape, model.n_albedo) == (t.n, 3, 2)
    np.testing.assert_allclose(model.mean_shape, t.mean, atol=1e-7)
    np.testing.assert_allclose(model.shape_std, t.shape_std, rtol=1e-5)
    np.testing.assert_allclose(model.mean_albedo, t.albedo, atol=1e-6)
    np.testing.assert_allclose(model.albedo_std, t.albedo_std, rtol=1e-5)
    assert model.triangles.dtype == np.int32 and model.triangles.min() == 0
    np.testing.assert_array_equal(model.triangles, t.tris)
    assert outward(model.mean_shape, model.triangles).all()

    cs, ca = np.array([1.5, -0.7, 2.0]), np.array([-1.0, 0.8])
    mesh = model.instance(cs, ca)
    expected_v = t.mean + (t.shape_pc @ (cs * t.shape_std)).reshape(-1, 3)
    expected_a = t.albedo + (t.albedo_pc @ (ca * t.albedo_std)).reshape(-1, 3)
    np.testing.assert_allclose(mesh.vertices, expected_v, atol=1e-6)
    np.testing.assert_allclose(mesh.albedo, np.clip(expected_a, 0, 1), atol=1e-6)
    assert 0.0 <= mesh.albedo.min() and mesh.albedo.max() <= 1.0


def test_bfm2009_v5_converts_units_std_albedo_and_winding(tmp_path, truth):
    path = write_bfm2009(tmp_path / "01_MorphableModel.mat", truth)
    raw = scipy.io.loadmat(path)
    assert not outward(raw["shapeMU"].reshape(-1, 3), raw["tl"].astype(int) - 1).any()  # file is clockwise
    model = load_bfm2009(path)
    check_model(model, truth, "bfm2009")
    assert model.name == "bfm2009:01_MorphableModel.mat"


def test_bfm2009_v73_hdf5_with_transposed_arrays(tmp_path, truth):
    path = write_bfm2009_v73(tmp_path / "01_MorphableModel.mat", truth)
    with h5py.File(path, "r") as f:
        assert f["shapeMU"].shape == (1, 3 * truth.n) and f["tl"].shape == (3, 8)
    check_model(load_bfm2009(path), truth, "bfm2009")


def test_bfm2017_converts_millimetres_variance_and_keeps_winding(tmp_path, truth):
    path = write_bfm2017(tmp_path / "model2017-1_face12_nomouth.h5", truth)
    model = load_bfm2017(path)
    check_model(model, truth, "bfm2017")
    assert model.name == "bfm2017:model2017-1_face12_nomouth.h5"


def test_load_face_model_dispatches_on_extension_and_base_dir(tmp_path, truth):
    write_bfm2009(tmp_path / "a.mat", truth)
    write_bfm2017(tmp_path / "b.h5", truth)
    write_bfm2017(tmp_path / "c.HDF5", truth)
    assert load_face_model("a.mat", base_dir=tmp_path).name == "bfm2009:a.mat"
    assert load_face_model("b.h5", base_dir=tmp_path).name == "bfm2017:b.h5"
    assert load_face_model(str(tmp_path / "c.HDF5"), base_dir="/nonexistent").name == "bfm2017:c.HDF5"


def test_load_face_model_procedural_builds_the_embedded_head():
    model = load_face_model("procedural")
    assert model.name == "procedural_head" and model.n_shape >= 50


def assert_one_line_error(call, path, key=None):
    with pytest.raises(UserError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and message.startswith("faces.model: ")
    assert str(path) in message
    if key is not None:
        assert f"'{key}'" in message
    return message


def _nan_at(i):
    def change(a):
        a = np.array(a, dtype=np.float64)
        a.flat[i] = np.nan
        return a

    return change


BAD_2009 = [
    ("shapeEV", REMOVE, "missing"),
    ("tl", REMOVE, "missing"),
    ("shapeMU", lambda a: a[:-1], "17 values"),
    ("shapePC", lambda a: np.vstack([a, a[:3]]), (21, 3)),
    ("shapeEV", lambda a: a[:2], "expected K = 3"),
    ("shapeEV", lambda a: -a, "negative"),
    ("shapeEV", "abc", "expected"),
    ("texMU", lambda a: np.vstack([a, a[:3]]), "21 values"),
    ("texPC", lambda a: a[:-3], (15, 2)),
    ("texEV", lambda a: np.vstack([a, a]), "expected K = 2"),
    ("tl", lambda a: np.hstack([a, a[:, :1]]), (8, 4)),
    ("tl", lambda a: a - 1, "1-based"),
    ("tl", lambda a: np.where(a == 6, 7, a), "1..6"),
    ("tl", lambda a: a + 0.5, "non-integer"),
    ("shapePC", _nan_at(4), "NaN"),
    ("texMU", lambda a: a * np.inf, "infinite"),
]


@pytest.mark.parametrize("key,change,words", BAD_2009)
@pytest.mark.parametrize("writer", [write_bfm2009, write_bfm2009_v73])
def test_bfm2009_bad_input_is_one_line_user_error(tmp_path, truth, writer, key, change, words):
    if writer is write_bfm2009_v73:
        if isinstance(change, str):
            return  # MATLAB strings are not plain HDF5 strings; the v5 case covers it
        if isinstance(words, tuple):
            words = words[::-1]  # shapes are reported as stored, and v7.3 stores them transposed
    path = writer(tmp_path / "01_MorphableModel.mat", truth, {key: change})
    message = assert_one_line_error(lambda: load_bfm2009(path), path, key)
    assert str(words) in message


BAD_2017 = [
    ("shape/model/pcaVariance", REMOVE, "missing"),
    ("color/model/mean", REMOVE, "missing"),
    ("shape/representer/cells", REMOVE, "missing"),
    ("shape/model/mean", lambda a: a[:-2], "16 values"),
    ("shape/model/pcaBasis", lambda a: a[:-3], "(15, 3)"),
    ("shape/model/pcaVariance", lambda a: a[:2], "expected K = 3"),
    ("shape/model/pcaVariance", lambda a: -a, "negative"),
    ("color/model/mean", lambda a: a[:-3], "expected 3N = 18"),
    ("color/model/pcaBasis", _nan_at(0), "NaN"),
    ("shape/representer/cells", lambda a: np.vstack([a, a[:1]]), "(4, 8)"),
    ("shape/representer/cells", lambda a: a + 1, "0..5"),
]


@pytest.mark.parametrize("key,change,words", BAD_2017)
def test_bfm2017_bad_input_is_one_line_user_error(tmp_path, truth, key, change, words):
    path = write_bfm2017(tmp_path / "model.h5", truth, {key: change})
    message = assert_one_line_error(lambda: load_bfm2017(path), path, key)
    assert words in message


def test_bfm2017_group_instead_of_dataset(tmp_path, truth):
    path = write_bfm2017(tmp_path / "model.h5", truth, {"shape/model/mean": REMOVE})
    with h5py.File(path, "a") as f:
        f.create_group("shape/model/mean")
    assert "Group" in assert_one_line_error(lambda: load_bfm2017(path), path, "shape/model/mean")


@pytest.mark.parametrize("name", ["x.mat", "x.h5"])
@pytest.mark.parametrize("content", [b"", b"not a model\n" * 40, b"\x89HDF\r\n\x1a\n" + b"\0" * 64])
def test_corrupt_files_are_one_line_user_errors(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert_one_line_error(lambda: load_face_model(str(path)), path)


def test_truncated_hdf5_is_user_error(tmp_path, truth):
    path = write_bfm2017(tmp_path / "model.h5", truth)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_one_line_error(lambda: load_bfm2017(path), path)


def test_load_face_model_rejects_missing_files_and_other_extensions(tmp_path, truth):
    assert "not found" in assert_one_line_error(lambda: load_face_model("nope.mat", tmp_path), tmp_path / "nope.mat")
    write_bfm2009(tmp_path / "m.mat", truth)
    (tmp_path / "m.obj").write_bytes((tmp_path / "m.mat").read_bytes())
    assert "'.obj'" in assert_one_line_error(lambda: load_face_model("m.obj", tmp_path), tmp_path / "m.obj")
    (tmp_path / "dir.h5").mkdir()
    assert_one_line_error(lambda: load_face_model("dir.h5", tmp_path), tmp_path / "dir.h5")
    with pytest.raises(UserError):
        load_face_model("  ")


def test_validate_failures_become_one_line_user_errors(tmp_path, truth, monkeypatch):
    def broken(self, source):
        raise ValueError(f"{source}: mean_shape has shape (6, 3),\nexpected something else")

    monkeypatch.setattr(bfm.MorphableModel, "validate", broken)
    path = write_bfm2009(tmp_path / "01_MorphableModel.mat", truth)
    message = assert_one_line_error(lambda: load_bfm2009(path), path)
    assert message.count(str(path)) == 1 and "mean_shape" in message
