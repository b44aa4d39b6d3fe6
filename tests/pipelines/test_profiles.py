"""The parameter profiles: every one is a complete, valid params file for the same pipeline."""
import pytest
import yaml

from render.schema import SCHEMAS
from render.shards.config import shard_params
from tests.conftest import REPO
from train.config import model_names, train_config

PROFILES = sorted((REPO / "pipelines" / "profiles").glob("*.yaml"))


def keys(tree, prefix=""):
    if not isinstance(tree, dict):
        return {prefix}
    return set().union(*(keys(v, f"{prefix}.{k}" if prefix else k) for k, v in tree.items()))


def layout(params: dict) -> dict:
    """The params with each model's section merged over train.defaults: where a profile writes a
    shared value (defaults or each model) is its own choice, which keys a model gets is not."""
    defaults = params["train"].get("defaults", {})
    return {**params, "train": {name: {**defaults, **params["train"][name]} for name in model_names(params)}}


@pytest.mark.parametrize("path", [REPO / "params.yaml", *PROFILES], ids=lambda p: p.name)
def test_profile_is_complete_and_valid(path):
    params = yaml.safe_load(path.read_text())
    default = yaml.safe_load((REPO / "params.yaml").read_text())
    assert keys(layout(params)) == keys(layout(default)), "a profile sets exactly the keys of params.yaml"
    for schema in SCHEMAS.values():
        schema.module().config(params, where=path.name)
    shard_params(params, where=path.name)
    assert set(model_names(params)) == set(model_names(default))
    for name in model_names(params):
        train_config(params, name, where=path.name)
    assert params["evaluate"]["preset"] in ("fast", "standard")


def test_paper_profile_has_the_papers_scale():
    paper = yaml.safe_load((REPO / "pipelines/profiles/paper.yaml").read_text())
    faces = paper["faces"]
    assert faces["batch_size"] == 20
    assert all(faces["batches"]["train"][t] == 3000 and faces["batches"]["test"][t] == 350
               for t in ("azimuth", "elevation", "light", "intrinsic"))
    chairs = paper["chairs"]
    assert chairs["count"]["train"] + chairs["count"]["test"] == 1357
    assert chairs["views"]["azimuths"] * len(chairs["views"]["elevations_deg"]) == 60
    images = chairs["batch_size"] * sum(sum(chairs["batches"][s].values()) for s in ("train", "test"))
    assert abs(images - 1357 * 60) < 1357 * 60 * 0.01
    configs = [train_config(paper, name) for name in model_names(paper)]
    for cfg in configs:
        assert cfg.feature_maps == 96 and cfg.latent_dim == 200 and cfg.device == "cuda"
    faces_cfg = train_config(paper, "dcign_faces")
    assert faces_cfg.batch_ratio == {"azimuth": 1, "elevation": 1, "light": 1, "intrinsic": 10}
