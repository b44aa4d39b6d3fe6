"""The supervised ceiling (train/ceiling.py): targets, scoring, and `dcign ceiling` end to end."""
import json

import numpy as np
import pytest

from tests.conftest import run_dcign
from train.data import DataSchema
from train.ceiling import CeilingConfig, score, target_columns, targets
from train.evaluation.ideal_code import reference_scores
from train.evaluation.probes import factor_classes

AZIMUTHS = np.round(np.arange(-1.5, 1.5001, 0.05), 4)  # rad, on a line
TURNS = np.radians(np.arange(0.0, 360.0, 30.0))  # rad, a circle of 12 views
LIGHTS = np.arange(-80.0, 81.0, 20.0)  # deg


def schema() -> DataSchema:
    return DataSchema(("azimuth", "turn", "light", "intrinsic"),
                      {"azimuth": "azimuth", "turn": "turn", "light": "light_azimuth", "intrinsic": None},
                      {"azimuth": {"unit": "rad", "values": AZIMUTHS.tolist()},
                       "turn": {"unit": "rad", "values": TURNS.tolist(), "circular": True},
                       "light_azimuth": {"unit": "deg", "values": LIGHTS.tolist()}})


def pool(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"azimuth": rng.choice(AZIMUTHS, n), "turn": rng.choice(TURNS, n), "light_azimuth": rng.choice(LIGHTS, n),
            "type": rng.choice(["azimuth", "turn", "light", "intrinsic"], n)}


FACTORS = ["azimuth", "turn", "light_azimuth"]


def test_a_line_is_scaled_over_its_grid_and_a_circle_becomes_cosine_and_sine():
    labels = {"azimuth": np.array([-1.5, 0.0, 1.5]), "turn": np.radians([0.0, 90.0, 360.0]),
              "light_azimuth": np.array([-80.0, 0.0, 80.0])}
    y = targets(labels, schema(), FACTORS)
    assert target_columns(schema(), FACTORS) == {"azimuth": [0], "turn": [1, 2], "light_azimuth": [3]}
    assert y.dtype == np.float32 and y.shape == (3, 4)
    assert np.allclose(y[:, 0], [-1, 0, 1]) and np.allclose(y[:, 3], [-1, 0, 1])
    assert np.allclose(y[:, 1:3], [[1, 0], [0, 1], [1, 0]], atol=1e-6)


def test_a_perfect_code_reads_exactly_and_scores_as_the_exact_reference():
    """Codes equal to the targets read every factor without error and score what the evaluation's
    exact reference code scores on the same rows: the ceiling is measured as a model is."""
    train, test = pool(1500, 1), pool(600, 2)
    columns = target_columns(schema(), FACTORS)
    codes = targets(train, schema(), FACTORS), targets(test, schema(), FACTORS)
    result = score(codes, (train, test), schema(), FACTORS, columns, "fast", seed=0)
    assert set(result["equivariance"]) == {"azimuth", "turn", "light"}
    for t, entry in result["equivariance"].items():
        assert entry["median_error_deg"] == pytest.approx(0.0, abs=1e-3), t
    assert result["equivariance"]["azimuth"]["pearson_r"] == pytest.approx(1.0)
    assert "pearson_r" not in result["equivariance"]["turn"]
    classes = factor_classes({"labels": train}, schema(), FACTORS), factor_classes({"labels": test}, schema(), FACTORS)
    exact = reference_scores(train, test, classes, schema(), FACTORS, {}, seed=0, preset="fast")["exact"]
    assert result["disentanglement"]["dci_disentanglement"] == pytest.approx(exact["dci_disentanglement"], abs=0.02)
    assert result["disentanglement"]["mig"] == pytest.approx(exact["mig"], abs=0.02)


def test_a_noisy_code_reads_worse_and_scores_lower():
    train, test = pool(1500, 1), pool(600, 2)
    columns = target_columns(schema(), FACTORS)
    rng = np.random.default_rng(3)
    clean = targets(train, schema(), FACTORS), targets(test, schema(), FACTORS)
    noisy = tuple(c + rng.normal(0, 0.2, c.shape).astype(np.float32) for c in clean)
    good = score(clean, (train, test), schema(), FACTORS, columns, "fast", seed=0)
    bad = score(noisy, (train, test), schema(), FACTORS, columns, "fast", seed=0)
    assert bad["equivariance"]["azimuth"]["median_error_deg"] > 3.0
    assert bad["disentanglement"]["dci_disentanglement"] < good["disentanglement"]["dci_disentanglement"] - 0.1


@pytest.mark.parametrize("field, value", [("steps", 0), ("batch_size", 0), ("lr", 0.0)])
def test_a_bad_setting_is_refused(field, value):
    from render.errors import UserError

    with pytest.raises(UserError, match=f"ceiling {field} = "):
        CeilingConfig(**{field: value})


def test_dcign_ceiling_on_faces_writes_its_scores_and_repeats_them(shards, tmp_path):
    args = ("--data", shards, "--feature-maps", 4, "--steps", 20, "--preset", "fast", "--device", "cpu")
    first = run_dcign("ceiling", *args, "--out", tmp_path / "a", env={"OMP_NUM_THREADS": "1"}, check=True)
    assert "median read errors azimuth" in first.stdout and "ceiling.json" in first.stdout
    result = json.loads((tmp_path / "a" / "ceiling.json").read_text())
    assert result["dataset"] == "faces" and result["config"]["steps"] == 20
    assert set(result["equivariance"]) == {"azimuth", "elevation", "light"}
    assert all(np.isfinite(e["median_error_deg"]) for e in result["equivariance"].values())
    assert {"mig", "dci_disentanglement"} <= set(result["disentanglement"])
    run_dcign("ceiling", *args, "--out", tmp_path / "b", env={"OMP_NUM_THREADS": "1"}, check=True)
    assert (tmp_path / "b" / "ceiling.json").read_text() == (tmp_path / "a" / "ceiling.json").read_text()


def test_dcign_ceiling_reads_a_chair_s_turn_around_the_circle(chair_shards, tmp_path):
    run_dcign("ceiling", "--data", chair_shards, "--out", tmp_path, "--feature-maps", 4, "--steps", 10,
              "--preset", "fast", "--device", "cpu", env={"OMP_NUM_THREADS": "1"}, check=True)
    result = json.loads((tmp_path / "ceiling.json").read_text())
    assert result["dataset"] == "chairs" and "azimuth" in result["factors"]
    turn = result["equivariance"]["azimuth"]
    assert 0 <= turn["median_error_deg"] <= 180 and "pearson_r" not in turn


def test_bad_input_is_one_line(tmp_path):
    proc = run_dcign("ceiling", "--data", tmp_path / "nothing", "--out", tmp_path / "out")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "manifest not found" in proc.stderr
    proc = run_dcign("ceiling", "--data", tmp_path, "--out", tmp_path / "out", "--feature-maps", "6")
    assert proc.returncode == 2 and "multiple of 4" in proc.stderr
