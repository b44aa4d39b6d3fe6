"""The ideal codes that MIG and DCI are measured against (train/evaluation/ideal_code.py)."""
import numpy as np
import pytest

from train.data import DataSchema
from train.evaluation.ideal_code import NORMAL_MEDIAN_ABS, ideal_code, read_error_sd, reference_scores
from train.evaluation.probes import factor_classes

AZIMUTHS = np.round(np.arange(-1.5, 1.5001, 0.05), 4)  # 61 values, the full-range faces' grid (rad)
LIGHTS = np.arange(-80.0, 81.0, 20.0)  # 9 values (deg): coarser than MIG's 20 bins


def schema() -> DataSchema:
    return DataSchema(("azimuth", "light", "intrinsic"), {"azimuth": "azimuth", "light": "light_azimuth",
                                                          "intrinsic": None},
                      {"azimuth": {"unit": "rad", "values": AZIMUTHS.tolist()},
                       "light_azimuth": {"unit": "deg", "values": LIGHTS.tolist()}})


def pool(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"labels": {"azimuth": rng.choice(AZIMUTHS, n), "light_azimuth": rng.choice(LIGHTS, n)}}


def references(factors: list, eq: dict) -> dict:
    """The reference scores on a 2000-row training and a 700-row test pool, as `dcign evaluate` calls them."""
    train, test = pool(2000, 1), pool(700, 2)
    classes = factor_classes(train, schema(), factors), factor_classes(test, schema(), factors)
    return reference_scores(train["labels"], test["labels"], classes, schema(), factors, eq, seed=0, preset="fast")


def test_an_exact_code_holds_the_value_and_a_circular_one_its_angle():
    rng = np.random.default_rng(0)
    values = np.array([0.0, 90.0, 180.0, 360.0])
    assert np.array_equal(ideal_code(values, 0.0, 0.0, rng), values[:, None])
    circle = ideal_code(values, 0.0, 360.0, rng)
    assert circle.shape == (4, 2) and np.allclose(np.hypot(circle[:, 0], circle[:, 1]), 1)
    assert np.allclose(circle[1], [0, 1], atol=1e-12) and np.allclose(circle[0], circle[3])


def test_errors_have_the_model_s_median_in_the_factor_s_unit():
    eq = {"azimuth": {"median_error_deg": 9.0}, "light": {"median_error_deg": 6.0}}
    sd = read_error_sd(eq, schema(), ["azimuth", "light_azimuth"])
    assert sd["azimuth"] == pytest.approx(np.radians(9.0) / NORMAL_MEDIAN_ABS)
    assert sd["light_azimuth"] == pytest.approx(6.0 / NORMAL_MEDIAN_ABS)
    values = np.zeros(200_000)
    noisy = ideal_code(values, sd["light_azimuth"], 0.0, np.random.default_rng(1))[:, 0]
    assert np.median(np.abs(noisy)) == pytest.approx(6.0, rel=0.01)


def test_a_factor_no_latent_reads_has_no_precision_to_copy():
    reason = read_error_sd({"azimuth": {"median_error_deg": 9.0}}, schema(), ["azimuth", "light_azimuth"])
    assert isinstance(reason, str) and reason.startswith("light_azimuth: no latent of the model reads it")


def test_the_grid_caps_an_exact_code_and_read_errors_cost_more():
    """With 20 bins per latent, MIG of an exact code is near 1 on a 9-value grid and well below on a
    61-value one; errors of a few grid steps pull MIG and DCI disentanglement down further."""
    factors = ["azimuth", "light_azimuth"]
    eq = {"azimuth": {"median_error_deg": 8.0}, "light": {"median_error_deg": 15.0}}
    scores = references(factors, eq)
    exact, noisy = scores["exact"], scores["model_precision"]
    assert 0.7 < exact["mig"] < 0.9 and exact["dci_disentanglement"] > 0.9
    assert noisy["mig"] < exact["mig"] - 0.1 and noisy["dci_disentanglement"] < exact["dci_disentanglement"] - 0.1
    assert set(noisy["error_sd"]) == set(factors) and "not_applicable" not in scores
    again = references(factors, eq)
    assert again == scores
    coarse = references(["light_azimuth"], eq)
    assert coarse["exact"]["mig"] == pytest.approx(1.0) and "dci_disentanglement" not in coarse["exact"]
