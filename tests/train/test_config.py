"""The training config: `train.defaults` under each model's section, checked against the dataset
schema; every bad value stops with one line naming the key where it was set."""
import copy

import pytest

from render.errors import UserError
from render.schema import schema_of
from tests.conftest import REPO, run_dcign, tiny_train, write_params
from train.config import model_names, train_config


def error_for(params, name="dcign_faces") -> str:
    with pytest.raises(UserError) as info:
        train_config(params, name)
    message = str(info.value)
    assert "\n" not in message and message.startswith("params.yaml: ")
    return message


def test_a_section_overrides_the_defaults_key_by_key_and_mappings_whole():
    params = tiny_train()
    params["train"]["defaults"]["latents"] = {"azimuth": [0], "elevation": [4], "light": [2]}
    params["train"]["defaults"]["batch_ratio"] = {"azimuth": 1, "elevation": 1, "light": 1, "intrinsic": 10}
    params["train"]["dcign_faces"]["latents"] = {"azimuth": [5]}
    params["train"]["dcign_faces"]["lr"] = 0.002
    del params["train"]["dcign_faces"]["batch_ratio"]
    cfg = train_config(params, "dcign_faces")
    assert cfg.lr == 0.002 and cfg.kl_weight == params["train"]["defaults"]["kl_weight"]
    # the section's latents replace the defaults' mapping: elevation is back at the schema's z1
    assert cfg.latents["azimuth"] == [5] and cfg.latents["elevation"] == [1] and cfg.latents["light"] == [2]
    assert cfg.batch_ratio == {"azimuth": 1.0, "elevation": 1.0, "light": 1.0, "intrinsic": 10.0}
    # chairs give their own batch_ratio, which must not be merged with the faces' one in defaults
    chairs = train_config(params, "dcign_chairs")
    assert chairs.batch_ratio == {"azimuth": 1.0, "intrinsic": 1.0}


@pytest.mark.parametrize("profile", ["params.yaml", "pipelines/profiles/paper.yaml"])
def test_model_sections_hold_only_what_differs_from_the_defaults(profile):
    import yaml

    train = yaml.safe_load((REPO / profile).read_text())["train"]
    for name in model_names({"train": train}):
        same = {k for k, v in train[name].items() if train["defaults"].get(k, object()) == v}
        assert not same, f"train.{name} repeats {sorted(same)} of train.defaults"


@pytest.mark.parametrize("dataset", ["faces", "chairs"])
def test_unassigned_latents_follow_the_schema(dataset):
    params = tiny_train()
    params["train"]["dcign_faces"].update(dataset=dataset, latents={},
                                          batch_ratio={t: 1 for t in schema_of(dataset).batch_types})
    cfg = train_config(params, "dcign_faces")
    assert cfg.latents == schema_of(dataset).default_latents(8)
    assert list(cfg.batch_ratio) == list(schema_of(dataset).batch_types)


def test_defaults_is_not_a_model():
    message = error_for(tiny_train(), "defaults")
    assert "train.defaults holds the keys every model shares" in message
    assert "expected one of ['baseline_faces', 'dcign_chairs', 'dcign_faces']" in message
    assert "no section train.cars; expected one of ['baseline_faces'," in error_for(tiny_train(), "cars")


def test_an_error_names_the_section_that_set_the_key():
    params = tiny_train()
    params["train"]["defaults"]["kl_weight"] = -1
    assert "train.defaults.kl_weight = -1: expected >= 0" in error_for(params)
    params["train"]["dcign_faces"]["kl_weight"] = -2
    assert "train.dcign_faces.kl_weight = -2: expected >= 0" in error_for(params)
    del params["train"]["dcign_faces"]["kl_weight"], params["train"]["defaults"]["kl_weight"]
    assert "key 'train.dcign_faces.kl_weight' is missing" in error_for(params)


@pytest.mark.parametrize("overrides,expect", [
    ({"feature_maps": 6}, "feature_maps = 6: expected a multiple of 4"),
    ({"mode": "other"}, "mode = 'other': expected one of clamped, entangled"),
    ({"clamp": "median"}, "clamp = 'median': expected one of mean, first"),
    ({"dataset": "cars"}, "train.dcign_faces.dataset = 'cars': expected one of faces, chairs"),
    ({"latents": {"azimuth": [0], "elevation": [0], "light": [2]}}, "assigned to two factors"),
    ({"latents": {"azimuth": [9]}}, "latents.azimuth = [9]: expected a list of latent indices in 0..7"),
    ({"latents": {"intrinsic": [3]}}, "latents.intrinsic: expected one of azimuth, elevation, light (intrinsic gets"),
    ({"dataset": "chairs", "latents": {"light": [2]}}, "latents.light: expected one of azimuth (intrinsic"),
    ({"batch_ratio": {"azimuth": 1}}, "batch_ratio = {'azimuth': 1}: expected a weight for each of"),
    ({"batch_ratio": {"azimuth": 0, "elevation": 0, "light": 0, "intrinsic": 0}}, "at least one positive weight"),
    ({"betas": [0.9]}, "betas = [0.9]: expected two numbers in [0, 1)"),
    ({"compile": "yes"}, "compile = 'yes': expected true or false"),
    ({"device": "tpu"}, "device = 'tpu'"),
    ({"factor_invariance_strength": -1}, "factor_invariance_strength = -1: expected a number >= 0, or null"),
    ({"factor_invariance_strength": "high"}, "factor_invariance_strength = 'high': expected a number >= 0, or null"),
])
def test_bad_values_name_key_found_and_expected(overrides, expect):
    assert expect in error_for(tiny_train(**overrides))


def test_a_factor_invariance_strength_pulls_the_factor_latents_alone():
    """null keeps the paper's one strength for every latent; a number sets the factors' latents'."""
    same = train_config(tiny_train(invariance_strength=0.5), "dcign_faces")
    assert same.factor_invariance_strength == 0.5 and set(same.invariance_strengths()) == {0.5}
    cfg = train_config(tiny_train(invariance_strength=0.5, factor_invariance_strength=10), "dcign_faces")
    factor = {i for t in ("azimuth", "elevation", "light") for i in cfg.latents[t]}
    assert [s for i, s in enumerate(cfg.invariance_strengths()) if i in factor] == [10.0] * len(factor)
    assert {s for i, s in enumerate(cfg.invariance_strengths()) if i not in factor} == {0.5}


def test_the_cli_stops_with_one_line(tmp_path):
    params = write_params(tmp_path / "params.yaml", tiny_train(feature_maps=6))
    for config, expect in (("dcign_faces", "feature_maps = 6: expected a multiple of 4"),
                           ("defaults", "train.defaults holds the keys every model shares")):
        proc = run_dcign("train", "--data", tmp_path / "none", "--config", config, "--params", params,
                         "--out", tmp_path / "m", cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dcign: error: ") and expect in lines[0]
    assert not (tmp_path / "m").exists()


def test_the_profiles_give_the_configs_they_always_gave():
    """The defaults layout is a way of writing the same three configs: spot values of each."""
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    faces, baseline, chairs = (train_config(copy.deepcopy(params), n)
                               for n in ("dcign_faces", "baseline_faces", "dcign_chairs"))
    assert (faces.mode, faces.steps, faces.feature_maps, faces.lr) == ("clamped", 8000, 8, 0.0005)
    assert faces.clamp_noise == "per_sample" and faces.batch_ratio == {"azimuth": 1, "elevation": 1, "light": 1, "intrinsic": 10}
    assert baseline.mode == "entangled"  # like for like: the baseline differs in its mode alone, steps included
    assert baseline.as_dict() | {"name": "x", "mode": "m"} == faces.as_dict() | {"name": "x", "mode": "m"}
    assert (chairs.dataset, chairs.steps, chairs.latents["azimuth"], chairs.clamp_noise) == ("chairs", 4000, [0, 1], "none")
