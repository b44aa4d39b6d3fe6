"""The intrinsic swap (train/swap.py): which rows pair up and how they are drawn, what the decoder
gets in a pose batch, that the reconstruction's gradient reaches the encoder's intrinsic code only
with it, that identity batches are untouched, and the configs that cannot have it."""
import copy

import numpy as np
import pytest
import torch

from tests.conftest import tiny_train
from tests.train.test_config import error_for
from train.clamp import latent_mask
from train.config import train_config
from train.loop import TrainStep, new_model
from train.swap import draw_partners, partner_rows


def test_each_row_takes_the_marked_columns_of_its_partner():
    x = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(6, 4)  # two groups of three rows
    swapped = torch.tensor([[False, True, True, False], [False, False, False, False]])
    out = partner_rows(x, swapped, torch.tensor([1, 2, 0, 4, 5, 3]))
    assert out[:3, 1:3].tolist() == x[[1, 2, 0], 1:3].tolist()
    assert out[:3, [0, 3]].tolist() == x[:3, [0, 3]].tolist()
    assert out[3:].tolist() == x[3:].tolist()


def test_the_gradient_of_a_swapped_row_reaches_its_partner():
    x = torch.zeros(4, 2, requires_grad=True)
    weights = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    (partner_rows(x, torch.tensor([[False, True]]), torch.tensor([2, 3, 0, 1])) * weights).sum().backward()
    assert x.grad.tolist() == [[1.0, 30.0], [2.0, 40.0], [3.0, 10.0], [4.0, 20.0]]


def test_partners_are_other_rows_of_the_same_group_each_shift_alike():
    generators = [torch.Generator().manual_seed(s) for s in (5, 6)]
    counts = np.zeros((5, 5))
    for _ in range(2000):
        partners = draw_partners(5, generators, [True, True]).numpy()
        assert sorted(partners[:5]) == [0, 1, 2, 3, 4] and sorted(partners[5:]) == [5, 6, 7, 8, 9]
        counts[np.arange(5), partners[:5]] += 1
    assert np.all(np.diag(counts) == 0)  # never its own partner
    off_diagonal = counts[~np.eye(5, dtype=bool)]
    assert off_diagonal.min() > 0.8 * 500 and off_diagonal.max() < 1.2 * 500  # each other row about 1/4


def test_partners_repeat_with_the_seed_and_a_group_that_does_not_swap_draws_nothing():
    def draws(swapping):
        generators = [torch.Generator().manual_seed(s) for s in (1, 2)]
        return draw_partners(6, generators, swapping), [g.get_state() for g in generators]
    (first, _), (again, _) = draws([True, True]), draws([True, True])
    assert torch.equal(first, again)
    kept, states = draws([True, False])
    assert kept[6:].tolist() == list(range(6, 12))
    assert torch.equal(states[1], torch.Generator().manual_seed(2).get_state())
    assert not torch.equal(states[0], torch.Generator().manual_seed(1).get_state())


def test_a_pose_batch_decodes_from_its_own_pose_latent_and_the_partners_intrinsic_code():
    cfg = train_config(tiny_train(feature_maps=4), "dcign_faces")
    torch.manual_seed(0)
    model = new_model(cfg, torch.device("cpu"))
    x = torch.rand(4, 1, 150, 150)
    own, intrinsic = latent_mask(cfg.latents["azimuth"], 8), latent_mask(cfg.latents["intrinsic"], 8)
    partners = torch.tensor([3, 0, 1, 2])
    _, mu, _, z = model(x, active=(own | intrinsic)[None], generator=torch.Generator().manual_seed(1),
                        clamped_noise=False, swap=(intrinsic[None], partners))
    plain = model.encode(x)[0]
    torch.testing.assert_close(mu[:, intrinsic], plain[partners][:, intrinsic])
    torch.testing.assert_close(mu[:, own], plain[:, own])
    clamped = ~(own | intrinsic)
    torch.testing.assert_close(z[:, clamped], plain[:, clamped].mean(0, keepdim=True).expand(4, -1))


def step_grads(cfg, model, types, images, at=None):
    step = TrainStep(cfg, model, torch.device("cpu"), bf16=False)
    if at is not None:
        step.schedule(at)
    grads = {}
    step.optimizer.register_step_pre_hook(
        lambda *_: grads.update({n: p.grad.clone() for n, p in model.named_parameters()}))
    terms = step(types, images, [torch.Generator().manual_seed(s) for s in range(len(types))])
    return grads, terms


@pytest.fixture
def pair():
    """The tiny faces model with the swap off and on, the same weights (F = 8: at F = 4 the untrained
    decoder's ReLUs pass no gradient at all)."""
    off = train_config(tiny_train(feature_maps=8, batches_per_step=2), "dcign_faces")
    on = train_config(tiny_train(feature_maps=8, batches_per_step=2, intrinsic_swap=True), "dcign_faces")
    torch.manual_seed(0)
    model = new_model(off, torch.device("cpu"))
    return off, on, model, copy.deepcopy(model)


def test_only_the_swap_sends_the_reconstruction_to_the_intrinsic_code_of_a_pose_batch(pair):
    off, on, model_off, model_on = pair
    images = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (10, 150, 150), dtype=np.uint8))
    rows = off.latents["intrinsic"]
    without = step_grads(off, model_off, ["azimuth", "light"], images)[0]["mu.weight"][rows].abs().sum()
    with_swap = step_grads(on, model_on, ["azimuth", "light"], images)[0]["mu.weight"][rows].abs().sum()
    assert with_swap > 100 * without  # off: only the invariance pull (0.01) reaches them


def test_identity_batches_are_the_same_with_the_swap_on(pair):
    off, on, model_off, model_on = pair
    images = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (10, 150, 150), dtype=np.uint8))
    grads_off, terms_off = step_grads(off, model_off, ["intrinsic", "intrinsic"], images)
    grads_on, terms_on = step_grads(on, model_on, ["intrinsic", "intrinsic"], images)
    assert torch.equal(terms_off, terms_on)
    for name, grad in grads_off.items():
        assert torch.equal(grad, grads_on[name]), name


@pytest.mark.parametrize("at,like", [(4, "off"), (5, "on"), (7, "on")])
def test_a_late_swap_keeps_the_clamp_until_its_first_step(pair, at, like):
    off, on, model_off, model_on = pair
    late = train_config(tiny_train(feature_maps=8, batches_per_step=2, intrinsic_swap=True,
                                   intrinsic_swap_start=5), "dcign_faces")
    images = torch.from_numpy(np.random.default_rng(4).integers(0, 256, (10, 150, 150), dtype=np.uint8))
    model_late = copy.deepcopy(model_off)
    expected = step_grads({"off": off, "on": on}[like], {"off": model_off, "on": model_on}[like],
                          ["azimuth", "light"], images, at=at)
    got = step_grads(late, model_late, ["azimuth", "light"], images, at=at)
    assert torch.equal(expected[1], got[1])
    for name, grad in expected[0].items():
        assert torch.equal(grad, got[0][name]), name


@pytest.mark.parametrize("overrides,expect", [
    ({"mode": "entangled", "intrinsic_swap": True}, "intrinsic_swap: the entangled baseline has no intrinsic"),
    ({"intrinsic_swap": 1}, "intrinsic_swap = 1: expected true or false"),
    ({"intrinsic_swap": True, "intrinsic_swap_start": 8},
     "intrinsic_swap_start = 8: the swap would never run in 8 steps; expected fewer than train.dcign_faces.steps"),
    ({"intrinsic_swap_start": -1}, "intrinsic_swap_start"),
])
def test_configs_that_cannot_have_the_swap(overrides, expect):
    assert expect in error_for(tiny_train(**overrides))


def test_the_swap_is_off_by_default():
    assert train_config(tiny_train(), "dcign_faces").intrinsic_swap is False
