"""The OpenGL renderer on the procedural head: framing, lighting direction, pose, identities, and
the missing-EGL error."""
import numpy as np
import pytest

from render.faces.config import faces_config
from render.faces.sampling import identity_coefficients
from render.faces.source import FaceBatches, FaceModel
from tests.conftest import run_dcign, tiny_params, write_params


@pytest.fixture(scope="module")
def renderer(face_model):
    cfg = faces_config(tiny_params())
    r = FaceBatches(cfg, FaceModel(face_model, cfg.shape_components, cfg.albedo_components)).renderer
    r.set_mesh(face_model.instance(np.zeros(10), np.zeros(10)))
    yield r, cfg
    r.close()


def head_mask(image, background=255):
    return image < background - 2


def test_head_covers_20_to_80_percent_of_the_frame(renderer):
    r, _ = renderer
    for azimuth in (-1.5, 0.0, 1.5):
        for elevation in (-0.4, 0.4):
            coverage = head_mask(r.render(azimuth, elevation, 0.0)).mean()
            assert 0.2 <= coverage <= 0.8, (azimuth, elevation, coverage)


def test_light_from_the_left_brightens_the_left_half(renderer):
    r, _ = renderer

    def halves(light):
        image = r.render(0.0, 0.0, light).astype(float)
        mask = head_mask(image)
        mid = image.shape[1] // 2
        return image[:, :mid][mask[:, :mid]].mean(), image[:, mid:][mask[:, mid:]].mean()
    left, right = halves(-60.0)
    assert left > right + 15
    left, right = halves(60.0)
    assert right > left + 15


def test_pose_moves_the_head_and_identities_differ(renderer, face_model):
    r, cfg = renderer
    front = r.render(0.0, 0.0, 0.0)
    turned = r.render(0.8, 0.0, 0.0)
    assert np.abs(front.astype(int) - turned.astype(int)).mean() > 5
    images = []
    for identity in range(3):
        r.set_mesh(face_model.instance(*identity_coefficients(cfg, identity, 50, 20)))
        images.append(r.render(0.0, 0.0, 0.0).astype(int))
    r.set_mesh(face_model.instance(np.zeros(10), np.zeros(10)))
    assert np.abs(images[0] - images[1]).mean() > 2 and np.abs(images[1] - images[2]).mean() > 2


def test_missing_egl_is_one_clear_line(tmp_path):
    broken = tmp_path / "lib"
    broken.mkdir()
    (broken / "libEGL.so.1").write_bytes(b"not a library")
    (broken / "libEGL.so").write_bytes(b"not a library")
    params = write_params(tmp_path / "params.yaml", tiny_params())
    proc = run_dcign("render", "faces", "--params", params, "--out", tmp_path / "out", "--workers", 1,
                     env={"LD_LIBRARY_PATH": str(broken)})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("dcign: error: EGL: cannot create an offscreen OpenGL context"), proc.stderr
    assert "libegl-mesa0" in lines[-1] and "Traceback" not in proc.stderr
