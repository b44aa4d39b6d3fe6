"""ICT-FaceKit (USC ICT Vision and Graphics Lab, MIT licence) as a morphable model, for users who
download it: point `faces.model` at its `FaceXModel` folder. Nothing of it ships with the project.

The folder holds the neutral mesh (`generic_neutral_mesh.obj`) and one mesh per identity mode
(`identity000.obj`, `identity001.obj`, ...), each the neutral face moved by one unit of that mode's
weight; a face is neutral + sum w_i (identity_i - neutral) with the weights standard normal. Both
are quad meshes in centimetres, +Y up, the face towards +Z. There is no albedo model: the skin is
one colour (`faces.albedo_components` must be 0).

The meshes hold the whole head with its interior (mouth socket, eye sockets, gums, teeth, eyeballs,
lashes): ICT-FaceKit orders the polygons by region, the face's 9,230 first, then the head and neck's
1,914. `faces.region` keeps the face alone or the face with head and neck (`face` | `head`); the
interior parts are never rendered.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from render.errors import UserError
from render.faces.morphable import MorphableModel, from_pca

NEUTRAL = "generic_neutral_mesh.obj"
IDENTITY = "identity{:03d}.obj"
REGION_POLYGONS = {"face": 9230, "head": 9230 + 1914}  # leading polygons of each region, in file order
SKIN = (0.80, 0.64, 0.55)  # one albedo for the whole face, in [0, 1]
CM = 0.01  # metres per file unit

LABEL = "faces.model"


def is_ict(path: Path) -> bool:
    return Path(path).is_dir() and (Path(path) / NEUTRAL).is_file()


def _err(path, message: str) -> UserError:
    return UserError(f"{LABEL}: {path}: {message}")


def read_obj(path: Path, polygons: bool = True) -> tuple[np.ndarray, list]:
    """Vertices (N, 3) and, with `polygons`, the 0-based vertex indices of each face (`f` lines,
    `v/vt/vn` forms and negative indices as OBJ allows)."""
    try:
        lines = Path(path).read_text(errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise _err(path, f"unreadable ({e})") from None
    try:
        vertices = np.array([line.split()[1:4] for line in lines if line.startswith("v ")], dtype=np.float64)
    except ValueError:
        raise _err(path, "a 'v' line does not hold three numbers") from None
    if vertices.ndim != 2 or vertices.shape[1:] != (3,) or not np.isfinite(vertices).all():
        raise _err(path, "expected 'v x y z' lines with finite coordinates")
    faces = []
    if polygons:
        n = len(vertices)
        for line in lines:
            if line.startswith("f "):
                try:
                    idx = [int(token.split("/")[0]) for token in line.split()[1:]]
                except ValueError:
                    raise _err(path, f"a face line is not vertex indices: {line[:60]!r}") from None
                idx = [i - 1 if i > 0 else n + i for i in idx]
                if len(idx) < 3 or min(idx) < 0 or max(idx) >= n:
                    raise _err(path, f"a face line refers to vertices outside 1..{n}: {line[:60]!r}")
                faces.append(idx)
    return vertices, faces


def load_ict(folder, region: str = "face") -> MorphableModel:
    """The model in `folder` (the FaceXModel layout), restricted to `region`."""
    folder = Path(folder)
    neutral, polygons = read_obj(folder / NEUTRAL)
    keep = REGION_POLYGONS[region]
    if len(polygons) < keep:
        raise _err(folder / NEUTRAL, f"{len(polygons)} polygons; expected at least {keep} (ICT-FaceKit's "
                   f"{region} region comes first)")
    triangles = np.array([(p[0], p[k], p[k + 1]) for p in polygons[:keep] for k in range(1, len(p) - 1)])
    used = np.unique(triangles)  # the region's vertices, in file order
    modes = []
    while (folder / IDENTITY.format(len(modes))).is_file():
        path = folder / IDENTITY.format(len(modes))
        shape, _ = read_obj(path, polygons=False)
        if shape.shape != neutral.shape:
            raise _err(path, f"{len(shape)} vertices; expected {len(neutral)} as {NEUTRAL}")
        modes.append((shape - neutral)[used])
    if not modes:
        raise _err(folder, f"no {IDENTITY.format(0)}; expected the identity modes beside {NEUTRAL}")
    remap = np.full(len(neutral), -1)
    remap[used] = np.arange(len(used))
    basis = np.stack(modes, axis=-1).reshape(3 * len(used), len(modes)) * CM
    skin = np.tile(SKIN, (len(used), 1))
    model = from_pca(f"ict-facekit:{folder.name}:{region}", neutral[used] * CM, basis, np.ones(len(modes)),
                     skin, np.zeros((3 * len(used), 0)), np.zeros(0), remap[triangles])
    try:
        model.validate(f"{LABEL}: {folder}")
    except ValueError as e:
        raise UserError(str(e)) from None
    return model
