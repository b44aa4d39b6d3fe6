"""Every bad parameter stops the run with one line naming the key, what was found and what is expected."""
import math

import numpy as np

import pytest

from render.faces.config import faces_config
from render.jobs.dataset import load_config
from render.errors import UserError
from tests.conftest import run_dcign, tiny_params, write_params


def error_for(**overrides) -> str:
    with pytest.raises(UserError) as info:
        faces_config(tiny_params(**overrides), where="params.yaml")
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("profile", ["params.yaml", "pipelines/profiles/paper.yaml"])
def test_profiles_follow_the_authors_grids(profile):
    """The paper profile has their grids; the default keeps them but turns faces to one side only."""
    from tests.conftest import REPO

    _, cfg = load_config("faces", REPO / profile)
    az = cfg.grid("azimuth")
    authors_az = np.round(np.arange(-30, 31) * 0.05, 10)
    if profile == "params.yaml":
        assert az[0] == 0.0 and az[-1] == 1.5 and len(az) == 31
        authors_az = authors_az[authors_az >= 0]
    assert np.allclose(az, authors_az)
    light = cfg.grid("light_azimuth")
    assert light[0] == -80 and light[-1] == 80 and len(light) == 81
    el = cfg.grid("elevation")
    assert el[0] == -0.4 and el[-1] == 0.4
    authors_el = [round(-0.4 + 0.05 * k, 10) for k in range(17)]
    assert all(min(abs(el - v)) < 1e-9 for v in authors_el)
    assert len(el) >= cfg.batch_size


@pytest.mark.parametrize("key,value,expect", [
    ("factors.elevation.max", 2.0, "faces.factors.elevation.max = 2.0"),
    ("factors.elevation.min", -math.pi, "faces.factors.elevation.min"),
    ("factors.azimuth.step", 0, "faces.factors.azimuth.step = 0: expected > 0"),
    ("factors.light_azimuth.step", -2, "faces.factors.light_azimuth.step = -2"),
    ("batch_size", 1, "faces.batch_size = 1: expected >= 2"),
    ("factors.azimuth.max", 0.1, "gives 3 grid values: expected at least faces.batch_size = 4"),
    ("factors.azimuth.max", -1.6, "expected max >= min"),
    ("model", "no/such/model.mat", "faces.model = 'no/such/model.mat': not found"),
    ("model", "", "faces.model"),
    ("identities.test", 2, "faces.identities.test = 2"),
    ("lighting.ambient", 1.5, "faces.lighting.ambient = 1.5"),
    ("image_size", "big", "faces.image_size = 'big': expected an integer"),
])
def test_bad_values_name_key_found_and_expected(key, value, expect):
    message = error_for(**{key: value})
    assert message.startswith("params.yaml: ")
    assert expect in message
    assert "expected" in message


def test_range_with_fewer_grid_values_than_batch_size():
    message = error_for(**{"batch_size": 20, "identities": {"train": 40, "test": 40}, "factors.elevation.step": 0.05})
    assert "gives 17 grid values" in message and "faces.batch_size = 20" in message


def test_missing_key_is_named():
    params = tiny_params()
    del params["faces"]["lighting"]["ambient"]
    with pytest.raises(UserError, match="key 'faces.lighting.ambient' is missing"):
        faces_config(params)


@pytest.mark.parametrize("key,value,expect", [
    ("factors.elevation.max", 1.7, "faces.factors.elevation.max = 1.7"),
    ("factors.azimuth.step", 0.0, "faces.factors.azimuth.step = 0.0"),
    ("batch_size", 1, "faces.batch_size = 1"),
    ("model", "missing.h5", "faces.model = 'missing.h5': not found"),
])
def test_cli_prints_one_line_without_traceback(tmp_path, key, value, expect):
    params = write_params(tmp_path / "params.yaml", tiny_params(**{key: value}))
    proc = run_dcign("render", "faces", "--params", params, "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("dcign: error: ") and expect in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_cli_reports_unreadable_params(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("faces: [unclosed\n")
    proc = run_dcign("render", "faces", "--params", bad, cwd=tmp_path)
    assert proc.returncode == 2 and "not valid YAML" in proc.stderr and "Traceback" not in proc.stderr
