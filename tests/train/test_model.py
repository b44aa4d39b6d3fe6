"""The DC-IGN net: the authors' exact shapes and parameter count, init, loss terms, and that it trains."""
import math

import pytest
import torch

from train.model import DCIGN, ModelConfig, count_parameters, loss_terms


def small(latent_dim=10):
    return DCIGN(ModelConfig(feature_maps=8, latent_dim=latent_dim))


def expected_count(f, d):
    """Hand count: encoder convs, two heads, decoder fc and four 7x7 convs."""
    c = f // 4
    conv = lambda cin, cout, k: cin * cout * k * k + cout
    enc = conv(1, f, 5) + conv(f, f // 2, 5) + conv(f // 2, c, 5)
    heads = 2 * (c * 225 * d + d)
    dec = (d * c * 225 + c * 225) + conv(c, f // 2, 7) + conv(f // 2, f, 7) + conv(f, f, 7) + conv(f, 1, 7)
    return enc + heads + dec


def test_shapes():
    torch.manual_seed(0)
    model = DCIGN(ModelConfig(feature_maps=8, latent_dim=200))
    x = torch.rand(3, 1, 150, 150)
    logits, mu, logvar, z = model(x)
    assert logits.shape == (3, 1, 150, 150)
    assert mu.shape == logvar.shape == z.shape == (3, 200)
    assert model.decode(z).shape == (3, 1, 150, 150)
    img = model.decode_image(z)
    assert img.min() >= 0 and img.max() <= 1


def test_parameter_count_matches_the_authors_net():
    assert count_parameters(DCIGN()) == 4_131_137 == expected_count(96, 200)
    assert count_parameters(DCIGN(ModelConfig(feature_maps=12, latent_dim=7))) == expected_count(12, 7)


def test_linear_init_std_is_001():
    torch.manual_seed(0)
    model = DCIGN()
    for lin in (model.mu, model.logvar, model.decoder[0]):
        assert abs(lin.weight.std().item() - 0.01) < 0.001
        assert abs(lin.weight.mean().item()) < 0.001
        assert abs(lin.bias.std().item() - 0.01) < 0.002


def test_bce_matches_hand_computation():
    logits = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
    x = torch.tensor([[0.2, 1.0], [0.0, 0.7]])
    sig = lambda v: 1 / (1 + math.exp(-v))
    hand = -sum(t * math.log(sig(l)) + (1 - t) * math.log(1 - sig(l))
                for l, t in zip(logits.flatten().tolist(), x.flatten().tolist()))
    bce, _ = loss_terms(logits, x, torch.zeros(1, 2), torch.zeros(1, 2))
    assert bce.item() == pytest.approx(hand, rel=1e-6)


def test_kl_closed_form():
    _, kl = loss_terms(torch.zeros(2, 1), torch.zeros(2, 1), torch.zeros(2, 5), torch.zeros(2, 5))
    assert kl.item() == 0.0
    mu = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
    logvar = torch.tensor([[0.0, 1.0], [-1.0, 0.3]])
    # KL(N(mu, s^2) || N(0, 1)) = log(1/s) + (s^2 + mu^2) / 2 - 1/2, summed
    hand = sum(-0.5 * lv + 0.5 * (math.exp(lv) + m * m) - 0.5
               for m, lv in zip(mu.flatten().tolist(), logvar.flatten().tolist()))
    _, kl = loss_terms(torch.zeros(2, 1), torch.zeros(2, 1), mu, logvar)
    assert kl.item() == pytest.approx(hand, rel=1e-6)


def test_all_active_equals_no_clamp():
    torch.manual_seed(0)
    model = small()
    x = torch.rand(3, 1, 150, 150)
    _, mu0, lv0, _ = model(x)
    _, mu1, lv1, _ = model(x, active=list(range(10)))
    assert torch.equal(mu0, mu1) and torch.equal(lv0, lv1)


def test_clamped_forward_shares_inactive_latents():
    torch.manual_seed(0)
    model = small()
    x = torch.rand(3, 1, 150, 150)
    _, mu, logvar, z = model(x, active=[2], clamp="first")
    mu_free, lv_free = model.encode(x)
    assert torch.equal(mu[:, 2], mu_free[:, 2])
    assert torch.equal(mu[:, 0], mu_free[0, 0].expand(3)) and torch.equal(logvar[:, 5], lv_free[0, 5].expand(3))


def test_without_clamped_noise_a_batch_shares_its_clamped_code():
    """clamp_noise: none -- the clamped latents are the clamped mean itself, one value for the
    batch (per group); the free ones still draw their noise, the same draws as with noise."""
    torch.manual_seed(0)
    model = small()
    x = torch.rand(6, 1, 150, 150)
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[0, 1], mask[1, 3] = True, True
    g = lambda: [torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)]  # noqa: E731
    _, mu, _, z = model(x, active=mask, generator=g(), clamped_noise=False)
    _, _, _, noisy = model(x, active=mask, generator=g())
    free = mask.repeat_interleave(3, 0)
    assert torch.equal(z[~free], mu[~free]) and torch.equal(z[free], noisy[free])
    assert torch.equal(z[:3, 0], z[0, 0].expand(3)) and not torch.equal(noisy[:3, 0], noisy[0, 0].expand(3))


def test_deterministic_under_seed_and_generator():
    x = torch.rand(2, 1, 150, 150)
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = small()
        outs.append(model(x))
    for a, b in zip(*outs):
        assert torch.equal(a, b)
    # an explicit generator fixes eps independently of the global RNG
    za = model(x, generator=torch.Generator().manual_seed(5))[3]
    torch.manual_seed(999)
    zb = model(x, generator=torch.Generator().manual_seed(5))[3]
    assert torch.equal(za, zb)


def test_a_few_adam_steps_reduce_the_loss():
    torch.manual_seed(0)
    model = small()
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 150), torch.linspace(-1, 1, 150), indexing="ij")
    x = torch.stack([torch.exp(-((xx - s) ** 2 + yy ** 2) * 8) for s in (-0.3, 0.3)]).unsqueeze(1)
    opt = torch.optim.Adam(model.parameters(), lr=5e-4, betas=(0.9, 0.99))
    losses = []
    for step in range(8):
        logits, mu, logvar, _ = model(x, generator=torch.Generator().manual_seed(step))
        bce, kl = loss_terms(logits, x, mu, logvar)
        loss = bce + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.98 * losses[0]


@pytest.mark.parametrize("field, kwargs", [
    ("image_size", dict(image_size=64)),
    ("feature_maps", dict(feature_maps=10)),
    ("feature_maps", dict(feature_maps=0)),
    ("latent_dim", dict(latent_dim=1)),
])
def test_config_validation(field, kwargs):
    with pytest.raises(ValueError, match=field) as info:
        ModelConfig(**kwargs)
    assert "\n" not in str(info.value)



def test_upconv_computes_upsample_then_convolve():
    """The decoder's polyphase layer gives the authors' upsample + 7x7 convolution, values and
    gradients, from the same 7x7 parameters."""
    from train.model import UpConv

    torch.manual_seed(0)
    layer = UpConv(3, 5, 7).double()
    x = torch.randn(2, 3, 15, 11, dtype=torch.float64, requires_grad=True)
    fast = layer(x)
    grads_fast = torch.autograd.grad(fast.square().sum(), [x, layer.weight, layer.bias])
    slow = layer.literal(x)
    grads_slow = torch.autograd.grad(slow.square().sum(), [x, layer.weight, layer.bias])
    assert fast.shape == slow.shape == (2, 5, 24, 16)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)
    for a, b in zip(grads_fast, grads_slow):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-10)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.weight.shape == (5, 3, 7, 7)


def test_grouped_forward_equals_batches_one_by_one():
    """Two batches through one pass, each clamped to its own latents and with its own noise, give
    each batch's own outputs."""
    torch.manual_seed(0)
    model = small().double()
    x = torch.rand(6, 1, 150, 150, dtype=torch.float64)
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[0, [0]] = True
    mask[1, 2:] = True
    together = model(x, active=mask, generator=[torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)])
    first = model(x[:3], active=[0], generator=torch.Generator().manual_seed(1))
    second = model(x[3:], active=list(range(2, 10)), generator=torch.Generator().manual_seed(2))
    for both, a, b in zip(together, first, second):
        torch.testing.assert_close(both, torch.cat([a, b]), rtol=1e-10, atol=1e-12)
    bce, kl = loss_terms(*together[:1], x, *together[1:3], groups=2)
    bce_a, kl_a = loss_terms(first[0], x[:3], first[1], first[2])
    torch.testing.assert_close(bce[0], bce_a)
    torch.testing.assert_close(kl[0], kl_a)
