"""The learning-rate and KL-weight schedules: the paper's constant default and the named departures."""
import pytest

from train.schedule import kl_factor, lr_factor


def test_constant_is_the_paper():
    assert [lr_factor("constant", 0, 100, s) for s in (0, 50, 99)] == [1.0, 1.0, 1.0]
    assert [kl_factor(0, s) for s in (0, 99)] == [1.0, 1.0]


def test_warmup_then_cosine_to_zero():
    f = [lr_factor("cosine", 10, 110, s) for s in range(110)]
    assert f[0] == pytest.approx(0.1) and f[9] == 1.0 and f[10] == 1.0
    assert f[60] == pytest.approx(0.5) and f[-1] < 0.001
    assert all(a >= b for a, b in zip(f[10:], f[11:]))  # falls monotonically after the warm-up
    assert lr_factor("cosine", 0, 100, 200) == pytest.approx(0.0)  # past the end: stays at 0


def test_kl_warmup_rises_linearly():
    assert [kl_factor(4, s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
