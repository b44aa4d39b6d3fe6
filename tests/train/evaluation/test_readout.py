"""Reading a factor from its latents and setting it back: lines, and circles for a full turn."""
import numpy as np
import pytest

from train.evaluation.readout import Readout


def circle_codes(angles, rng, noise=0.0):
    """Codes whose latents 3 and 5 hold an angle on an ellipse, the others noise."""
    mu = rng.normal(size=(len(angles), 8))
    mu[:, 3] = 2.0 * np.cos(angles) + 0.5 + noise * rng.normal(size=len(angles))
    mu[:, 5] = -1.0 * np.sin(angles) + noise * rng.normal(size=len(angles))
    return mu


def test_a_circular_factor_is_read_around_the_circle():
    rng = np.random.default_rng(0)
    angles = np.arange(30) * 2 * np.pi / 30
    read = Readout.fit(circle_codes(angles, rng), angles, [3, 5], "rad", circular=True)
    assert read.on_circle
    test = np.array([0.0, 0.1, np.pi, 2 * np.pi - 0.05])
    assert np.max(read.errors(circle_codes(test, rng), test)) < 1e-6
    assert read.values(circle_codes(np.array([2 * np.pi - 0.05]), rng))[0] == pytest.approx(2 * np.pi - 0.05)
    codes = read.codes(test)  # and back: the latents that stand for each angle
    assert codes == pytest.approx(np.column_stack([2 * np.cos(test) + 0.5, -np.sin(test)]), abs=1e-6)


def test_circular_errors_wrap():
    """359 degrees read as 1 degree is 2 degrees off, not 358."""
    read = Readout((0,), 360.0, np.array([[1.0], [0.0]]), np.array([[1.0], [0.0]]))
    mu = np.array([[1.0], [359.0], [181.0]])
    assert read.errors(mu, np.array([359.0, 1.0, 1.0])) == pytest.approx([2.0, 2.0, 180.0])


def test_a_line_with_one_latent_is_the_least_squares_fit():
    rng = np.random.default_rng(1)
    values = rng.uniform(-1.5, 1.5, 200)
    mu = rng.normal(size=(200, 4))
    mu[:, 2] = 0.8 * values - 0.3 + 0.05 * rng.normal(size=200)
    read = Readout.fit(mu, values, [2], "rad", circular=False)
    assert not read.circular
    slope, intercept = np.polyfit(values, mu[:, 2], 1)
    assert read.codes([1.0])[0, 0] == pytest.approx(slope + intercept)
    assert read.values(mu) == pytest.approx(np.polyval(np.polyfit(mu[:, 2], values, 1), mu[:, 2]))
    assert np.median(read.errors(mu, values)) < 0.1


def test_a_readout_survives_json():
    rng = np.random.default_rng(2)
    angles = rng.uniform(0, 360, 50)
    mu = circle_codes(np.radians(angles), rng, noise=0.1)
    read = Readout.fit(mu, angles, [3, 5], "deg", circular=True)
    again = Readout.from_dict(read.as_dict())
    assert again.values(mu) == pytest.approx(read.values(mu)) and again.codes([10.0]) == pytest.approx(read.codes([10.0]))


def test_a_rerender_sweep_goes_once_around_a_circle_and_there_and_back_on_a_line():
    from train.evaluation.rerender import SWEEP_FRAMES, sweep_values

    circle = Readout((0, 1), 2 * np.pi, np.zeros((3, 2)), np.ones((3, 2)))
    values = sweep_values(circle, {"range": [0.0, 6.0]})
    assert values[0] == 0 and values[-1] < 2 * np.pi and np.allclose(np.diff(values), values[1])
    line = Readout((0,), 0.0, np.zeros((2, 1)), np.ones((2, 1)))
    values = sweep_values(line, {"range": [-1.0, 1.0]})
    assert values[0] == -1 and values[SWEEP_FRAMES - 1] == 1 and values[-1] > -1
