"""The mirror term (train/mirror.py): which latents it ties and with which sign, what it charges a
signed and a folded code, that the grouped step adds exactly its gradient, and the configs that
cannot have it."""
import copy

import numpy as np
import pytest
import torch

from tests.conftest import tiny_train
from tests.train.test_config import error_for
from train.config import train_config
from train.data import to_float
from train.loop import TrainStep, new_model
from train.mirror import STRIDE, MirrorTerm, mirror_signs, sampled_rows

TYPES = ["azimuth", "light", "intrinsic"]


def test_the_flip_negates_azimuth_and_light_and_keeps_elevation():
    latents = {"azimuth": [0, 3], "elevation": [1], "light": [2], "intrinsic": [4, 5]}
    assert mirror_signs("faces", latents) == {0: -1, 3: -1, 1: 1, 2: -1}
    assert mirror_signs("chairs", {"azimuth": [0, 1], "intrinsic": [2]}) == {}


def test_a_signed_code_pays_nothing_and_a_folded_one_pays_four_times_its_square():
    term = MirrorTerm({0: -1, 1: 1}, torch.device("cpu"))
    mu = torch.tensor([[0.5, 2.0, 9.0], [-1.0, 3.0, 9.0]])
    signed = torch.tensor([[-0.5, 2.0, -7.0], [1.0, 3.0, 0.0]])  # latent 2 has no rule: never charged
    folded = torch.tensor([[0.5, 2.0, 9.0], [-1.0, 3.0, 9.0]])
    assert term(mu, signed, groups=1).tolist() == [0.0]
    assert term(mu, folded, groups=2).tolist() == [4 * 0.25, 4 * 1.0]
    assert term(mu, folded, groups=1, scale=5).tolist() == [5 * 4 * 1.25]


def test_the_term_samples_every_stride_th_image_of_each_batch():
    assert STRIDE == 4
    assert sampled_rows(2, 10).tolist() == [0, 4, 8, 10, 14, 18]
    assert sampled_rows(3, 4, stride=2).tolist() == [0, 2, 4, 6, 8, 10]


def test_the_model_encodes_the_flipped_images_in_the_same_pass():
    cfg = train_config(tiny_train(feature_maps=8), "dcign_faces")
    torch.manual_seed(0)
    model = new_model(cfg, torch.device("cpu"))
    x = torch.rand(4, 1, 150, 150)
    rows = torch.tensor([0, 3])
    plain = model(x, active=[0], generator=torch.Generator().manual_seed(3), clamped_noise=False)
    logits, mu, logvar, z, (raw, flipped) = model(x, active=[0], generator=torch.Generator().manual_seed(3),
                                                  clamped_noise=False, mirror=rows)
    for a, b in zip(plain, (logits, mu, logvar, z)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(raw, model.encode(x[rows])[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(flipped, model.encode(x[rows].flip(-1))[0], rtol=1e-5, atol=1e-6)


def test_the_step_adds_exactly_the_terms_gradient():
    weight = 3.0
    on = train_config(tiny_train(feature_maps=8, batches_per_step=3, mirror_weight=weight), "dcign_faces")
    off = train_config(tiny_train(feature_maps=8, batches_per_step=3, mirror_weight=0), "dcign_faces")
    images = torch.from_numpy(np.random.default_rng(4).integers(0, 256, (len(TYPES) * 5, 150, 150), dtype=np.uint8))
    torch.manual_seed(0)
    model = new_model(on, torch.device("cpu"))
    plain, alone = copy.deepcopy(model), copy.deepcopy(model)

    def step_grads(cfg, net):
        grads = {}
        step = TrainStep(cfg, net, torch.device("cpu"), bf16=False)
        step.optimizer.register_step_pre_hook(
            lambda *_: grads.update({n: p.grad.clone() for n, p in net.named_parameters()}))
        terms = step(TYPES, images, [torch.Generator().manual_seed(s) for s in (1, 2, 3)])
        return grads, terms, step.terms

    with_term, terms, names = step_grads(on, model)
    without, _, _ = step_grads(off, plain)
    assert names == ("loss", "bce", "kl", "mirror") and terms.shape == (3, 4)
    x = to_float(images)[sampled_rows(3, 5)]  # rows 0 and 4 of each batch of 5
    mu, flipped = alone.encode(x)[0], alone.encode(x.flip(-1))[0]
    term = MirrorTerm(mirror_signs("faces", on.latents), torch.device("cpu"))(mu, flipped, 3, scale=5 / 2)
    (weight * term.sum() / 3).backward()
    torch.testing.assert_close(terms[:, 3], term.detach() / 5)
    for name, p in alone.named_parameters():
        extra = p.grad if p.grad is not None else torch.zeros_like(p)
        torch.testing.assert_close(with_term[name], without[name] + extra, rtol=1e-4, atol=1e-5, msg=name)
    assert alone.mu.weight.grad.abs().sum() > 0  # the term reaches the encoder


@pytest.mark.parametrize("overrides,expect", [
    ({"mode": "entangled", "mirror_weight": 1}, "mirror_weight = 1: the entangled baseline has no factor latents"),
    ({"dataset": "chairs", "latents": {"azimuth": [0, 1]}, "batch_ratio": {"azimuth": 1, "intrinsic": 1},
      "mirror_weight": 2}, "mirror_weight = 2: no factor of chairs has a left-right flip sign"),
    ({"mirror_weight": -1}, "mirror_weight = -1: expected >= 0"),
])
def test_configs_that_cannot_have_the_term(overrides, expect):
    assert expect in error_for(tiny_train(**overrides))
