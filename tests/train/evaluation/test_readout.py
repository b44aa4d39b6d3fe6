"""Reading a factor from its latents and setting it back: lines, and loops for a full turn."""
import numpy as np
import pytest

from train.evaluation.readout import LineReadout, LoopReadout, Readout


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
    assert read.on_circle and isinstance(read, LoopReadout)
    test = np.array([0.0, np.pi, 4 * 2 * np.pi / 30, 2 * np.pi - 2 * np.pi / 30])  # values of the grid
    assert np.max(read.errors(circle_codes(test, rng), test)) < 1e-9
    between = np.array([0.1, 2 * np.pi - 0.05])  # on a chord of the loop: read within the chord's sag
    assert np.max(read.errors(circle_codes(between, rng), between)) < 0.02
    codes = read.codes(test)  # and back: the latents that stand for each angle
    assert codes == pytest.approx(np.column_stack([2 * np.cos(test) + 0.5, -np.sin(test)]), abs=1e-9)


def test_a_loop_follows_a_code_that_is_no_circle():
    """A learned turn bunches some views together and spreads others: a circle fitted to it (a
    linear map from the latents to cos and sin) misreads it; the loop through each value's mean
    code reads it exactly and sets codes on it."""
    angles = np.arange(24) * 360.0 / 24
    t = np.radians(angles)
    u = t + 0.9 * np.sin(2 * t)  # views bunch near 90 and 270 degrees
    bent = np.column_stack([np.cos(u), np.sin(u)])
    mu = np.zeros((len(t), 4))
    mu[:, [1, 2]] = bent
    read = Readout.fit(np.repeat(mu, 3, axis=0), np.repeat(angles, 3), [1, 2], "deg", circular=True)
    assert read.errors(mu, angles) == pytest.approx(np.zeros(24), abs=1e-9)
    halfway = read.codes([7.5])[0]  # half a step past the first knot: the middle of the first segment
    assert halfway == pytest.approx((bent[0] + bent[1]) / 2)
    assert read.codes([352.5])[0] == pytest.approx((bent[-1] + bent[0]) / 2)  # and across 0
    assert read.values(np.array([[0, *halfway, 0]]))[0] == pytest.approx(7.5)
    design = np.column_stack([bent, np.ones(len(t))])
    cos_sin = design @ np.linalg.lstsq(design, np.column_stack([np.cos(t), np.sin(t)]), rcond=None)[0]
    circle = np.degrees(np.arctan2(cos_sin[:, 1], cos_sin[:, 0]))
    assert np.median(np.abs(np.mod(circle - angles + 180, 360) - 180)) > 20


def test_a_loop_reads_a_code_between_two_knots_by_its_nearest_point():
    read = LoopReadout((0, 1), 360.0, np.array([0.0, 90.0, 180.0, 270.0]),
                       np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]))
    mu = np.array([[0.6, 0.6], [0.9, -0.2], [2.0, 0.0], [0.0, 0.0]])
    assert read.values(mu)[:3] == pytest.approx([45.0, 270.0 + 0.85 * 90, 0.0])  # the last step ends at 360 = 0
    assert 0 <= read.values(mu)[3] < 360  # the middle is as near to every segment: some value, no error
    assert read.varies() and not LoopReadout((0, 1), 360.0, np.array([0.0]), np.array([[1.0, 2.0]])).varies()


def test_circular_errors_wrap():
    """359 degrees read as 1 degree is 2 degrees off, not 358."""
    read = LineReadout((0,), 360.0, np.array([[1.0], [0.0]]), np.array([[1.0], [0.0]]))
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

    circle = LoopReadout((0, 1), 2 * np.pi, np.array([0.0, np.pi]), np.array([[1.0, 0.0], [-1.0, 0.0]]))
    values = sweep_values(circle, {"range": [0.0, 6.0]})
    assert values[0] == 0 and values[-1] < 2 * np.pi and np.allclose(np.diff(values), values[1])
    line = LineReadout((0,), 0.0, np.zeros((2, 1)), np.ones((2, 1)))
    values = sweep_values(line, {"range": [-1.0, 1.0]})
    assert values[0] == -1 and values[SWEEP_FRAMES - 1] == 1 and values[-1] > -1
