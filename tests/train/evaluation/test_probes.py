"""What the codes say: identity retrieval, the factors scored, and metrics that say nothing."""
import numpy as np
import pytest

from render.schema import CHAIR_FAMILIES as FAMILIES
from train.evaluation.metrics import all_metrics
from train.evaluation.probes import by_family, identity_retrieval, scored_factors


def test_identity_retrieval_tells_faithful_from_mean_reconstructions():
    rng = np.random.default_rng(0)
    images = rng.random((40, 6, 6))
    batches = np.repeat(["intrinsic:0", "intrinsic:1"], 20)
    faithful = identity_retrieval(images, images + 0.01 * rng.normal(size=images.shape), batches)
    assert faithful["top1"] == 1.0 and faithful["chance"] == pytest.approx(0.05)
    assert faithful["spread_ratio"] == pytest.approx(1.0, abs=0.05)
    mean = np.concatenate([np.repeat(images[b * 20:(b + 1) * 20].mean(0, keepdims=True), 20, 0) for b in range(2)])
    collapsed = identity_retrieval(images, mean, batches)
    assert collapsed["spread_ratio"] == pytest.approx(0.0) and collapsed["top1"] <= 0.1


def test_scored_factors_are_those_that_vary():
    from train.data import DataSchema

    schema = DataSchema(("azimuth", "intrinsic"), {"azimuth": "azimuth", "intrinsic": None},
                        {"azimuth": {"unit": "rad", "values": [0.0, 1.0]}, "elevation": {"unit": "rad", "values": [0.3]}})
    enc = {"labels": {"azimuth": np.array([0.0, 1.0]), "elevation": np.array([0.3, 0.3]), "identity": np.array([1, 2])}}
    assert scored_factors(enc, schema) == ["azimuth"]
    enc["labels"]["elevation"] = np.array([0.3, 0.5])
    assert scored_factors(enc, schema) == ["azimuth", "elevation"]


def test_scores_that_say_nothing_with_one_factor_are_not_reported():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 5, size=(300, 1))
    codes = np.column_stack([factors[:, 0] + 0.1 * rng.normal(size=300), rng.normal(size=(300, 3))])
    out = all_metrics(codes[:200], factors[:200], codes[200:], factors[200:], rng, preset="fast")
    assert set(out["not_applicable"]) == {"dci_disentanglement", "factor_vae", "beta_vae"}
    assert not set(out["not_applicable"]) & set(out)
    assert {"mig", "dci_completeness", "dci_informativeness_test", "sap"} <= set(out)
    two = np.column_stack([factors, rng.integers(0, 3, size=(300, 1))])
    out = all_metrics(codes[:200], two[:200], codes[200:], two[200:], rng, preset="fast")
    assert "not_applicable" not in out and {"dci_disentanglement", "factor_vae", "beta_vae"} <= set(out)


def test_errors_by_chair_family_name_each_family_and_skip_chairs_without_one():
    errors = np.array([10.0, 20.0, 90.0, 95.0, 100.0, 5.0])
    family = np.array([0, 0, 3, 3, 3, -1])
    assert by_family(errors, family) == {FAMILIES[0]: 15.0, "stool": 95.0}
    assert by_family(errors, np.full(6, -1)) == {}
