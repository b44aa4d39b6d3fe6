"""ICT-FaceKit folders (render/faces/ict.py) on a small model the test writes in that layout: a quad
mesh whose leading polygons are the face, then the head and neck, then interior parts; identity
modes as whole meshes. Loaded, restricted to a region, and rendered by the real CLI."""
import json

import numpy as np
import pytest
from PIL import Image

from render.errors import UserError
from render.faces.config import faces_config
from render.faces.ict import IDENTITY, NEUTRAL, REGION_POLYGONS, load_ict
from tests.conftest import run_dcign, tiny_params, write_params

ROWS, COLS = 100, 120  # 11,781 quads: more than the face and the head regions hold
INTERIOR = 6  # vertices after the grid, used only by polygons after the head (an "eyeball")


def grid_head() -> np.ndarray:
    """An ellipsoid in centimetres, +Y up, its front towards +Z, as ICT's meshes."""
    theta = np.linspace(0.15, np.pi - 0.15, ROWS)[:, None]
    phi = np.linspace(-2.6, 2.6, COLS)[None]
    x, y, z = 7 * np.sin(theta) * np.sin(phi), 11 * np.cos(theta), 9 * np.sin(theta) * np.cos(phi)
    return np.stack(np.broadcast_arrays(x, y, z), -1).reshape(-1, 3)


def write_obj(path, vertices, polygons=()):
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices]
    lines += ["f " + " ".join(f"{i + 1}/{i + 1}" for i in p) for p in polygons]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def ict_folder(tmp_path):
    folder = tmp_path / "FaceXModel"
    folder.mkdir()
    grid = grid_head()
    eye = grid[:INTERIOR] * 0.1 + [0, 0, 5]
    neutral = np.concatenate([grid, eye])
    quads = [(r * COLS + c, (r + 1) * COLS + c, (r + 1) * COLS + c + 1, r * COLS + c + 1)  # outward, counter-clockwise
             for r in range(ROWS - 1) for c in range(COLS - 1)]
    inner = [(len(grid) + k, len(grid) + k + 1, len(grid) + k + 2) for k in range(INTERIOR - 2)]
    write_obj(folder / NEUTRAL, neutral, quads[:REGION_POLYGONS["head"]] + inner + quads[REGION_POLYGONS["head"]:])
    rng = np.random.default_rng(0)
    for k in range(3):
        bump = np.exp(-((grid[:, 1] - rng.uniform(-8, 8)) ** 2) / 20)[:, None] * rng.normal(0, 0.5, 3)
        write_obj(folder / IDENTITY.format(k), neutral + np.concatenate([bump, np.zeros((INTERIOR, 3))]))
    return folder


def test_a_region_keeps_its_leading_polygons_and_their_vertices(ict_folder):
    face, head = load_ict(ict_folder, "face"), load_ict(ict_folder, "head")
    assert len(face.triangles) == 2 * REGION_POLYGONS["face"] and len(head.triangles) == 2 * REGION_POLYGONS["head"]
    assert face.n_vertices < head.n_vertices < ROWS * COLS  # never the interior vertices
    assert face.n_shape == 3 and face.n_albedo == 0 and face.name == "ict-facekit:FaceXModel:face"
    assert np.allclose(face.mean_shape[:COLS], grid_head()[:COLS] * 0.01, atol=1e-7)  # centimetres to metres


def test_a_face_is_the_neutral_plus_its_weighted_identity_modes(ict_folder):
    model = load_ict(ict_folder, "head")
    neutral = np.loadtxt((ict_folder / NEUTRAL).read_text().splitlines(), usecols=(1, 2, 3),
                         comments="f")
    mode0 = np.loadtxt((ict_folder / IDENTITY.format(0)).read_text().splitlines(), usecols=(1, 2, 3))
    mesh = model.instance([1.5, 0, 0], [])
    # the region's first row of the grid keeps its vertex indices
    expected = (neutral[:COLS] + 1.5 * (mode0[:COLS] - neutral[:COLS])) * 0.01
    assert np.allclose(mesh.vertices[:COLS], expected, atol=1e-6)
    assert not np.allclose(expected, neutral[:COLS] * 0.01, atol=1e-4)  # the mode moves them


def test_a_broken_folder_is_one_line(ict_folder):
    (ict_folder / IDENTITY.format(1)).write_text("v 1 2 3\n")
    with pytest.raises(UserError, match=r"identity001.obj: 1 vertices; expected 12006 as generic_neutral_mesh.obj"):
        load_ict(ict_folder)
    for k in range(3):
        (ict_folder / IDENTITY.format(k)).unlink()
    with pytest.raises(UserError, match="no identity000.obj; expected the identity modes"):
        load_ict(ict_folder)
    (ict_folder / NEUTRAL).write_text("v 1 2\n")
    with pytest.raises(UserError, match="a 'v' line does not hold three numbers|expected 'v x y z' lines"):
        load_ict(ict_folder)


def test_params_name_an_ict_folder_and_its_region(ict_folder, tmp_path):
    params = tiny_params(model=str(ict_folder), region="head", albedo_components=0, shape_components=3)
    assert faces_config(params).region == "head"
    with pytest.raises(UserError, match="faces.region = 'head': only an ICT-FaceKit model has a head"):
        faces_config(tiny_params(region="head"))
    with pytest.raises(UserError, match="faces.region = 'neck': expected one of face, head"):
        faces_config(tiny_params(region="neck"))
    with pytest.raises(UserError, match="a folder without generic_neutral_mesh.obj"):
        faces_config(tiny_params(model=str(tmp_path)))


def test_the_cli_renders_an_ict_folder(ict_folder, tmp_path):
    params = tiny_params(model=str(ict_folder), albedo_components=0, shape_components=3,
                         batches={"train": {"azimuth": 1, "elevation": 0, "light": 0, "intrinsic": 1},
                                  "test": {"azimuth": 0, "elevation": 0, "light": 0, "intrinsic": 0}})
    path = write_params(tmp_path / "params.yaml", params)
    run_dcign("render", "faces", "--params", path, "--out", tmp_path / "r", "--workers", 1, check=True)
    info = json.loads((tmp_path / "r" / "render_info.json").read_text())
    assert info["model"]["name"] == "ict-facekit:FaceXModel:face" and info["model"]["albedo_components"] == 0
    chunk = next((tmp_path / "r").rglob("*.npz"))
    images = np.load(chunk)["images"]
    assert images.shape[-2:] == (150, 150) and (images < 200).mean() > 0.05  # a lit shape on white
    first = images.reshape(-1, 150, 150)[0]
    assert first[75, 75] < 250  # the front faces the camera (not culled: the winding is kept)
    Image.fromarray(first).save(tmp_path / "look.png")
