"""Strict params: a misspelt or repeated key is an error naming it, never silently ignored."""
import pytest

from render.chairs.config import chairs_config
from render.errors import UserError
from render.faces.config import faces_config
from render.jobs.config import executor_config
from render.params import load_params
from render.shards.config import shard_params
from tests.conftest import run_dcign, tiny_params, write_params
from train.config import train_config


def with_key(section: list[str], key: str, value=1) -> dict:
    params = tiny_params()
    node = params
    for part in section:
        node = node.setdefault(part, {})
    node[key] = value
    return params


@pytest.mark.parametrize("section, key, validate, expect", [
    (["train", "dcign_faces"], "stepz", lambda p: train_config(p, "dcign_faces"),
     "unknown key train.dcign_faces.stepz: did you mean 'steps'?"),
    (["train", "baseline_faces"], "lr_shedule", lambda p: train_config(p, "dcign_faces"),
     "unknown key train.baseline_faces.lr_shedule: did you mean 'lr_schedule'?"),
    (["train", "defaults"], "kl_wieght", lambda p: train_config(p, "dcign_chairs"),
     "unknown key train.defaults.kl_wieght: did you mean 'kl_weight'?"),
    (["faces"], "supersampel", faces_config, "unknown key faces.supersampel: did you mean 'supersample'?"),
    (["faces", "factors", "azimuth"], "stp", faces_config, "unknown key faces.factors.azimuth.stp: did you mean 'step'?"),
    (["faces", "batches", "train"], "azimut", faces_config, "unknown key faces.batches.train.azimut: did you mean 'azimuth'?"),
    (["chairs"], "cuont", chairs_config, "unknown key chairs.cuont: did you mean 'count'?"),
    (["chairs", "lighting"], "azimuth_deg", chairs_config, "unknown key chairs.lighting.azimuth_deg: did you mean 'azimuth'?"),
    (["shards"], "size_md", shard_params, "unknown key shards.size_md: did you mean 'size_mb'?"),
    (["render"], "wrokers", executor_config, "unknown key render.wrokers: did you mean 'workers'?"),
    (["faces"], "colour", faces_config, "unknown key faces.colour: expected one of model, region, seed,"),
])
def test_unknown_keys_are_named_with_the_closest_known_one(section, key, validate, expect):
    with pytest.raises(UserError, match="^params.yaml: " + expect.replace("?", r"\?").replace(".", r"\.")):
        validate(with_key(section, key))


def test_unknown_sections_and_evaluate_keys_are_refused_on_load(tmp_path):
    params = tiny_params()
    params["trian"] = params.pop("train")
    with pytest.raises(UserError, match=r"unknown key trian: did you mean 'train'\?"):
        load_params(write_params(tmp_path / "params.yaml", params))
    params = with_key(["evaluate"], "presett", "fast")
    with pytest.raises(UserError, match=r"unknown key evaluate\.presett: did you mean 'preset'\?"):
        load_params(write_params(tmp_path / "params.yaml", params))


def test_every_shipped_params_file_is_accepted():
    from pathlib import Path

    from train.config import model_names
    for path in [Path("params.yaml"), *sorted(Path("pipelines/profiles").glob("*.yaml"))]:
        params = load_params(path)
        faces_config(params), chairs_config(params), shard_params(params), executor_config(params)
        assert [train_config(params, name).name for name in model_names(params)] == model_names(params)


def test_a_key_given_twice_is_an_error_with_its_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("shards:\n  size_mb: 1\n  seed: 0\n  size_mb: 2\n")
    with pytest.raises(UserError, match=r"params.yaml: line 4: key 'size_mb' is given twice; expected each key once$"):
        load_params(path)


@pytest.mark.parametrize("make, expect", [
    (lambda p: p.mkdir(), "is a directory; expected a params YAML file"),
    (lambda p: p.write_bytes(b"shards:\n  seed: \xff\xfe\n"), "not UTF-8 text (byte 16); expected a params YAML file"),
    (lambda p: p.write_text("- a list\n"), "expected a mapping of parameter groups at the top level"),
])
def test_a_params_file_that_is_not_a_yaml_mapping_is_one_line(tmp_path, make, expect):
    make(tmp_path / "params.yaml")
    with pytest.raises(UserError, match="params.yaml: " + expect.replace("(", r"\(").replace(")", r"\)")):
        load_params(tmp_path / "params.yaml")


def test_the_cli_reports_a_misspelt_key_in_one_line(tmp_path):
    path = write_params(tmp_path / "params.yaml", with_key(["train", "dcign_faces"], "stepz", 5))
    proc = run_dcign("train", "--params", path, "--config", "dcign_faces", "--data", tmp_path / "none",
                     "--out", tmp_path / "model")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"dcign: error: {path}: unknown key train.dcign_faces.stepz: did you mean 'steps'? expected one of "
        + ", ".join(k for k in train_config(tiny_params(), "dcign_faces").as_dict() if k != "name")]
