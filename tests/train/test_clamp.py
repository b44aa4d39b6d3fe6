"""The clamp: forward values, the hand-written (non-derivative) backward, and gradient flow in the model.

torch.autograd.gradcheck is NOT applicable here: the backward deliberately is not the true
derivative of the forward (clamped dims get an invariance signal instead), so the gradients
are checked against a hand computation instead.
"""
import pytest
import torch

from tests.conftest import cuda
from train.clamp import Clamp, clamp
from train.model import DCIGN, ModelConfig, loss_terms

ACTIVE = [1, 3]
INACTIVE = [0, 2, 4]


def make_x(dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, 5, generator=g, dtype=dtype)


@pytest.mark.parametrize("mode", ["mean", "first"])
def test_forward_values(mode):
    x = make_x()
    y = clamp(x, ACTIVE, mode=mode)
    assert torch.equal(y[:, ACTIVE], x[:, ACTIVE])
    shared = x.mean(0) if mode == "mean" else x[0]
    for j in INACTIVE:
        assert torch.all(y[:, j] == y[0, j])  # constant across the batch
        assert torch.allclose(y[:, j], shared[j].expand(4), rtol=0, atol=1e-12)


def test_active_accepts_tensor_and_all_active_is_identity():
    x = make_x()
    assert torch.equal(clamp(x, torch.tensor(ACTIVE)), clamp(x, ACTIVE))
    assert torch.equal(clamp(x, list(range(5))), x)


@pytest.mark.parametrize("mode", ["mean", "first"])
@pytest.mark.parametrize("strength", [0.01, 0.0])
def test_gradients_match_hand_computation(mode, strength):
    x = make_x().requires_grad_()
    w = torch.randn(4, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (w * clamp(x, ACTIVE, mode=mode, strength=strength)).sum().backward()

    expected = strength * (x.detach() - x.detach().mean(0))
    expected[:, ACTIVE] = w[:, ACTIVE]
    torch.testing.assert_close(x.grad, expected, rtol=0, atol=1e-15)
    if strength == 0:
        assert torch.all(x.grad[:, INACTIVE] == 0)


def test_a_strength_per_latent_pulls_each_clamped_latent_by_its_own():
    x = make_x().requires_grad_()
    strength = torch.tensor([10.0, 0.5, 0.01, 2.0, 0.0], dtype=torch.float64)
    w = torch.randn(4, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (w * clamp(x, ACTIVE, strength=strength)).sum().backward()
    expected = strength * (x.detach() - x.detach().mean(0))
    expected[:, ACTIVE] = w[:, ACTIVE]
    torch.testing.assert_close(x.grad, expected, rtol=0, atol=1e-15)


def test_a_strength_per_latent_of_another_length_is_refused():
    with pytest.raises(ValueError, match=r"one per latent, \(5,\)"):
        clamp(make_x(), ACTIVE, strength=torch.ones(4))


def test_bad_mode_names_clamp():
    with pytest.raises(ValueError, match="clamp"):
        clamp(make_x(), ACTIVE, mode="median")


def test_bf16_stays_in_dtype():
    x = make_x(torch.bfloat16).requires_grad_()
    y = clamp(x, ACTIVE)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == torch.bfloat16
    assert torch.equal(x.grad[:, ACTIVE], torch.ones(4, 2, dtype=torch.bfloat16))


@cuda
def test_cuda_matches_cpu():
    x = make_x(torch.float32)
    w = torch.randn(4, 5)
    grads = []
    for device in ("cpu", "cuda"):
        xd = x.to(device).requires_grad_()
        (w.to(device) * clamp(xd, ACTIVE)).sum().backward()
        grads.append(xd.grad.cpu())
    torch.testing.assert_close(grads[0], grads[1])


def test_gradients_flow_through_the_model_into_the_encoder():
    torch.manual_seed(0)
    model = DCIGN(ModelConfig(feature_maps=8, latent_dim=6))
    x = torch.rand(4, 1, 150, 150)
    logits, mu, logvar, z = model(x, active=[0], strength=0.0)
    assert torch.all(mu[:, 1:] == mu[:1, 1:]) and torch.all(logvar[:, 1:] == logvar[:1, 1:])
    bce, kl = loss_terms(logits, x, mu, logvar)
    (bce + kl).backward()

    # only the active latent carries signal back: with strength 0 the other head rows get nothing
    for head in (model.mu, model.logvar):
        assert head.weight.grad[0].abs().sum() > 0
        assert torch.all(head.weight.grad[1:] == 0) and torch.all(head.bias.grad[1:] == 0)
    for conv in (m for m in model.encoder if isinstance(m, torch.nn.Conv2d)):
        assert conv.weight.grad.abs().sum() > 0


def test_invariance_signal_reaches_clamped_rows_but_not_their_bias():
    torch.manual_seed(0)
    model = DCIGN(ModelConfig(feature_maps=8, latent_dim=6))
    x = torch.rand(4, 1, 150, 150)
    logits, mu, logvar, _ = model(x, active=[0], strength=0.01)
    sum(loss_terms(logits, x, mu, logvar)).backward()
    assert model.mu.weight.grad[1:].abs().sum() > 0
    # sum_k s * (h_k - mean h) = 0: the pull towards the batch mean never moves the bias
    torch.testing.assert_close(model.mu.bias.grad[1:], torch.zeros(5), rtol=0, atol=1e-8)


def test_function_signature_directly():
    x = make_x().requires_grad_()
    mask = torch.tensor([[False, True, False, True, False]])  # one group
    y = Clamp.apply(x, mask, "first", 0.5)
    y.sum().backward()
    torch.testing.assert_close(x.grad[:, 0], 0.5 * (x[:, 0] - x[:, 0].mean()).detach())


@pytest.mark.parametrize("mode", ["mean", "first"])
def test_groups_clamp_as_their_batches_would_one_by_one(mode):
    """A (G, D) mask clamps each of G equal groups of rows within itself: values and gradients
    are those of clamping each group on its own."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3 * 4, 5, generator=g, dtype=torch.float64)
    w = torch.randn(3 * 4, 5, generator=g, dtype=torch.float64)
    actives = [[1], [0, 2], [3, 4]]
    mask = torch.zeros(3, 5, dtype=torch.bool)
    for k, active in enumerate(actives):
        mask[k, active] = True
    grouped = x.clone().requires_grad_()
    (w * clamp(grouped, mask, mode=mode, strength=0.3)).sum().backward()
    for k, active in enumerate(actives):
        rows = slice(4 * k, 4 * k + 4)
        alone = x[rows].clone().requires_grad_()
        y = clamp(alone, active, mode=mode, strength=0.3)
        (w[rows] * y).sum().backward()
        assert torch.equal(clamp(x, mask, mode=mode)[rows], y.detach())
        torch.testing.assert_close(grouped.grad[rows], alone.grad, rtol=0, atol=1e-15)


def test_a_mask_that_does_not_split_the_batch_is_refused():
    with pytest.raises(ValueError, match="equal groups"):
        clamp(make_x(), torch.ones(3, 5, dtype=torch.bool))
