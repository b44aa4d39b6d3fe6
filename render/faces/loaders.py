"""Loaders for the Basel Face Models, for users who have registered and downloaded them (and the
way to ICT-FaceKit's folder, render/faces/ict.py).

Nothing ships with the project; these turn a user's BFM 2009 ``01_MorphableModel.mat`` or
BFM 2017/2019 ``.h5`` into the shared MorphableModel convention (metres, standard deviations,
0-based counter-clockwise triangles). A bad file is reported as a one-line UserError naming
the file and the key, because users point at these files by hand in their params.
"""
from __future__ import annotations

import os

import numpy as np

from render.errors import UserError
from render.faces.morphable import MorphableModel, from_pca

LABEL = "faces.model"

BFM2009_KEYS = {
    "shapeMU": "a 3N x 1 array of mean vertex positions in micrometres",
    "shapePC": "a 3N x K array of shape components",
    "shapeEV": "a K x 1 array of standard deviations",
    "texMU": "a 3N x 1 array of mean RGB values in 0..255",
    "texPC": "a 3N x K array of texture components",
    "texEV": "a K x 1 array of standard deviations",
    "tl": "an M x 3 array of 1-based triangle indices",
}

BFM2017_KEYS = {
    "shape/model/mean": "a 3N array of mean vertex positions in millimetres",
    "shape/model/pcaBasis": "a 3N x K array of shape components",
    "shape/model/pcaVariance": "a K array of variances",
    "color/model/mean": "a 3N array of mean RGB values in 0..1",
    "color/model/pcaBasis": "a 3N x K array of colour components",
    "color/model/pcaVariance": "a K array of variances",
    "shape/representer/cells": "a 3 x M array of 0-based triangle indices",
}


def _err(path, message: str) -> UserError:
    """One line, prefixed with the param and the file, so the CLI can print it as is."""
    return UserError(" ".join(f"{LABEL}: {path}: {message}".split()))


def _is_hdf5(path) -> bool:
    import h5py

    try:
        return bool(h5py.is_hdf5(path))
    except Exception:  # unreadable: let the .mat reader report it
        return False


def _read_hdf5(path, keys) -> dict:
    """Datasets named by `keys` (slash paths); absent ones are left out, reported by the caller."""
    import h5py

    out = {}
    try:
        with h5py.File(path, "r") as f:
            for key in keys:
                try:
                    obj = f.get(key)
                    if isinstance(obj, h5py.Dataset):
                        out[key] = obj[()]
                except Exception as exc:
                    raise _err(path, f"cannot read '{key}' ({type(exc).__name__}: {exc})") from None
                if obj is not None and not isinstance(obj, h5py.Dataset):
                    raise _err(path, f"'{key}' is a {type(obj).__name__}, expected a dataset ({keys[key]})")
    except UserError:
        raise
    except Exception as exc:
        raise _err(path, f"cannot read as an HDF5 file ({type(exc).__name__}: {exc})") from None
    return out


def _read_mat(path, keys) -> dict:
    """MATLAB v7.3 files are HDF5 (arrays transposed); older ones go through scipy."""
    if _is_hdf5(path):
        return _read_hdf5(path, keys)
    import scipy.io

    try:
        return scipy.io.loadmat(path, variable_names=list(keys))
    except Exception as exc:
        raise _err(path, f"cannot read as a MATLAB .mat file ({type(exc).__name__}: {exc})") from None


def _get(path, arrays, keys, key) -> np.ndarray:
    """A finite float64 array for `key`, or a UserError saying what was expected."""
    if key not in arrays:
        raise _err(path, f"key '{key}' is missing (expected {keys[key]})")
    try:
        arr = np.asarray(arrays[key], dtype=np.float64)
    except (TypeError, ValueError):
        found = getattr(arrays[key], "dtype", type(arrays[key]).__name__)
        raise _err(path, f"'{key}' holds {found} data, expected {keys[key]}") from None
    if not np.all(np.isfinite(arr)):
        raise _err(path, f"'{key}' holds NaN or infinite values")
    return arr


def _vector(path, key, arr, expected) -> np.ndarray:
    """Flatten a K, K x 1 or 1 x K array (MATLAB gives 2-D, HDF5 1-D)."""
    if arr.ndim > 2 or (arr.ndim == 2 and 1 not in arr.shape):
        raise _err(path, f"'{key}' has shape {arr.shape}, expected {expected}")
    return arr.ravel()


def _with_rows(arr, rows):
    """`arr` with `rows` rows, transposed if it was stored the other way (MATLAB v7.3); else None."""
    if arr.ndim == 2 and arr.shape[0] == rows:
        return arr
    if arr.ndim == 2 and arr.shape[1] == rows:
        return arr.T
    return None


def _pca(path, arrays, keys, mu_key, pc_key, ev_key, n=None, ref=None):
    """Mean (3N), basis (3N x K) and scale (K) with their sizes cross-checked."""
    mu = _vector(path, mu_key, _get(path, arrays, keys, mu_key), keys[mu_key])
    if n is None:
        if mu.size == 0 or mu.size % 3:
            raise _err(path, f"'{mu_key}' has {mu.size} values, expected 3N (x, y, z per vertex)")
        n = mu.size // 3
    elif mu.size != 3 * n:
        raise _err(path, f"'{mu_key}' has {mu.size} values, expected 3N = {3 * n} to match {ref}")
    raw = _get(path, arrays, keys, pc_key)
    pc = _with_rows(raw, 3 * n)
    if pc is None or pc.shape[1] == 0:
        raise _err(path, f"'{pc_key}' has shape {raw.shape}, expected (3N, K) = ({3 * n}, K) to match {mu_key}")
    k = pc.shape[1]
    ev = _vector(path, ev_key, _get(path, arrays, keys, ev_key), keys[ev_key])
    if ev.size != k:
        raise _err(path, f"'{ev_key}' has {ev.size} values, expected K = {k} to match {pc_key}")
    if np.any(ev < 0):
        raise _err(path, f"'{ev_key}' holds negative values, expected {keys[ev_key]}")
    return mu, pc, ev, n


def _triangles(path, arrays, keys, key, n, base, rows_first) -> np.ndarray:
    """M x 3 zero-based indices from M x 3 or 3 x M storage, checked against the vertex count."""
    raw = _get(path, arrays, keys, key)
    # 3 x M either way; the preferred layout wins when M == 3
    tri = _with_rows(raw, 3) if rows_first else _with_rows(raw.T, 3)
    if tri is None or tri.size == 0:
        raise _err(path, f"'{key}' has shape {raw.shape}, expected {keys[key]}")
    tri = tri.T
    if np.any(tri != np.round(tri)):
        raise _err(path, f"'{key}' holds non-integer values, expected {keys[key]}")
    lo, hi = int(tri.min()), int(tri.max())
    if lo < base or hi > n - 1 + base:
        raise _err(
            path,
            f"'{key}' indices span {lo}..{hi}, expected {base}..{n - 1 + base} "
            f"({base}-based, N = {n} vertices)",
        )
    return tri.astype(np.int64) - base


def _finish(path, name, mu, pc, std, tmu, tpc, tstd, tri) -> MorphableModel:
    """Build through from_pca and let MorphableModel.validate have the last word."""
    try:
        model = from_pca(name, mu, pc, std, tmu, tpc, tstd, tri)
        model.validate(f"{LABEL}: {path}")
    except ValueError as exc:
        text = str(exc)
        if not text.startswith(f"{LABEL}: "):
            text = f"{LABEL}: {path}: {text}"
        raise UserError(" ".join(text.split())) from None
    return model


def load_bfm2009(path) -> MorphableModel:
    """BFM 2009: micrometres, EV are standard deviations, RGB 0..255, 1-based clockwise `tl`."""
    path = os.fspath(path)
    arrays = _read_mat(path, BFM2009_KEYS)
    k = BFM2009_KEYS
    mu, pc, ev, n = _pca(path, arrays, k, "shapeMU", "shapePC", "shapeEV")
    tmu, tpc, tev, _ = _pca(path, arrays, k, "texMU", "texPC", "texEV", n=n, ref="shapeMU")
    tri = _triangles(path, arrays, k, "tl", n, base=1, rows_first=False)
    tri = tri[:, [0, 2, 1]]  # BFM 2009 winds the other way round
    um, rgb = 1e-6, 1.0 / 255.0
    name = f"bfm2009:{os.path.basename(path)}"
    return _finish(path, name, mu * um, pc, ev * um, tmu * rgb, tpc, tev * rgb, tri)


def load_bfm2017(path) -> MorphableModel:
    """BFM 2017/2019: millimetres, pcaVariance are variances, RGB 0..1, 0-based 3 x M cells."""
    path = os.fspath(path)
    arrays = _read_hdf5(path, BFM2017_KEYS)
    k = BFM2017_KEYS
    mu, pc, var, n = _pca(path, arrays, k, "shape/model/mean", "shape/model/pcaBasis", "shape/model/pcaVariance")
    tmu, tpc, tvar, _ = _pca(
        path, arrays, k, "color/model/mean", "color/model/pcaBasis", "color/model/pcaVariance",
        n=n, ref="shape/model/mean",
    )
    tri = _triangles(path, arrays, k, "shape/representer/cells", n, base=0, rows_first=True)
    mm = 1e-3
    name = f"bfm2017:{os.path.basename(path)}"
    return _finish(path, name, mu * mm, pc, np.sqrt(var) * mm, tmu, tpc, np.sqrt(tvar), tri)


def load_face_model(spec: str, base_dir=".", region: str = "face") -> MorphableModel:
    """'procedural', a path to a BFM file (relative to `base_dir`) picked by its extension, or an
    ICT-FaceKit folder (restricted to `region`, render/faces/ict.py)."""
    if not isinstance(spec, (str, os.PathLike)) or not os.fspath(spec).strip():
        raise UserError(
            f"{LABEL}: got {spec!r}, expected 'procedural' or a path to a BFM 2009 .mat or BFM 2017 .h5 file"
        )
    spec = os.fspath(spec).strip()
    if spec == "procedural":
        from render.faces.procedural_head import build_procedural_head

        return build_procedural_head()
    path = os.path.join(os.fspath(base_dir), os.path.expanduser(spec))
    from render.faces.ict import is_ict, load_ict

    if is_ict(path):
        return load_ict(path, region)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".mat":
        loader = load_bfm2009
    elif ext in (".h5", ".hdf5"):
        loader = load_bfm2017
    else:
        raise _err(path, f"unknown extension {ext or '(none)'!r}, expected 'procedural', .mat (BFM 2009) or .h5/.hdf5 (BFM 2017)")
    if not os.path.isfile(path):
        raise _err(path, "file not found (expected a BFM 2009 .mat or BFM 2017 .h5 file)")
    return loader(path)
