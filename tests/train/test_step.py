"""The training step: one grouped pass over a step's single-factor batches computes what the
batches would one after another; precision and data placement; the prefetching batch reader
replays exactly from a saved state; the CUDA paths (run by pipelines/gpu_check.sh)."""
import copy

import numpy as np
import pytest
import torch

from render.errors import UserError
from render.shards.reader import ShardReader
from tests.conftest import cuda, tiny_train
from train.config import train_config
from train.data import GpuImages, HostImages, Prefetch, to_float
from train.dataset import FactorBatchSampler
from train.device import data_on_gpu, has_fast_bf16, uses_bf16
from train.loop import TrainStep, new_model
from train.model import loss_terms

TYPES = ["azimuth", "light", "intrinsic"]


def step_config(mode="clamped", clamp="mean", **overrides):
    return train_config(tiny_train(mode=mode, clamp=clamp, batches_per_step=len(TYPES), invariance_strength=0.5,
                                   feature_maps=8,
                                   **overrides), "dcign_faces")


def sequential_gradients(cfg, model, images, seeds):
    """The reference: each batch on its own, its loss and invariance pull weighted 1/len, the
    gradients accumulated."""
    model.zero_grad(set_to_none=True)
    n = len(TYPES)
    for t, batch, seed in zip(TYPES, images.split(len(images) // n), seeds):
        x = to_float(batch)
        active = cfg.latents[t] if cfg.mode == "clamped" else None
        strength = torch.tensor(cfg.invariance_strengths()) / n
        logits, mu, logvar, _ = model(x, active=active, clamp=cfg.clamp, strength=strength,
                                      generator=torch.Generator().manual_seed(seed),
                                      clamped_noise=cfg.clamp_noise == "per_sample")
        bce, kl = loss_terms(logits, x, mu, logvar)
        ((bce + cfg.kl_weight * kl) / n).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("mode, clamp, noise, factor_strength", [
    ("clamped", "mean", "none", None), ("clamped", "mean", "per_sample", None), ("clamped", "first", "none", None),
    ("entangled", "mean", "none", None), ("clamped", "mean", "none", 5.0)])
def test_a_grouped_step_equals_its_batches_one_by_one(mode, clamp, noise, factor_strength):
    cfg = step_config(mode, clamp, clamp_noise=noise, factor_invariance_strength=factor_strength)
    images = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (len(TYPES) * 5, 150, 150), dtype=np.uint8))
    seeds = [11, 12, 13]
    torch.manual_seed(0)
    model = new_model(cfg, torch.device("cpu"))
    reference = copy.deepcopy(model)
    step = TrainStep(cfg, model, torch.device("cpu"), bf16=False)
    # capture the gradients the step applied: Adam's update happens after them
    grads = {}
    step.optimizer.register_step_pre_hook(
        lambda *_: grads.update({n: p.grad.clone() for n, p in model.named_parameters()}))
    terms = step(TYPES, images, [torch.Generator().manual_seed(s) for s in seeds])
    expected = sequential_gradients(cfg, reference, images, seeds)
    assert terms.shape == (len(TYPES), 3)
    for name, grad in expected.items():
        torch.testing.assert_close(grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    if mode == "clamped":  # the pull on each group's clamped latents is there, weighted like the loss
        assert grads["mu.weight"].abs().sum() > 0


def test_step_losses_stay_on_the_device_per_batch():
    cfg = step_config()
    torch.manual_seed(0)
    model = new_model(cfg, torch.device("cpu"))
    images = torch.full((len(TYPES) * 5, 150, 150), 255, dtype=torch.uint8)
    images[:5] = 0  # the first batch is black, the others white: different losses
    terms = TrainStep(cfg, model, torch.device("cpu"), bf16=False)(
        TYPES, images, [torch.Generator().manual_seed(s) for s in (1, 2, 3)])
    assert isinstance(terms, torch.Tensor) and not terms.requires_grad
    torch.testing.assert_close(terms[:, 0], terms[:, 1] + terms[:, 2])
    assert terms[0, 1] != terms[1, 1]


def test_precision_choices():
    cpu = torch.device("cpu")
    assert uses_bf16("auto", cpu) == has_fast_bf16(cpu)
    assert uses_bf16("bf16", cpu) and not uses_bf16("fp32", cpu)
    with pytest.raises(UserError, match="expected one of auto, fp32, bf16"):
        uses_bf16("fp16", cpu)
    assert not data_on_gpu("auto", cpu, 10) and not data_on_gpu("host", cpu, 10)
    with pytest.raises(UserError, match="data_on = 'gpu' but training runs on cpu"):
        data_on_gpu("gpu", cpu, 10)


def test_bf16_step_keeps_fp32_weights_and_fp32_losses():
    cfg = step_config()
    torch.manual_seed(0)
    model = new_model(cfg, torch.device("cpu"))
    images = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (len(TYPES) * 5, 150, 150), dtype=np.uint8))
    terms = TrainStep(cfg, model, torch.device("cpu"), bf16=True)(
        TYPES, images, [torch.Generator().manual_seed(s) for s in (1, 2, 3)])
    assert terms.dtype == torch.float32 and torch.isfinite(terms).all()
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_prefetched_batches_replay_exactly_from_a_saved_state(shards):
    reader = ShardReader(shards, "train")
    counts = {t: reader.count(t) for t in reader.batch_types}
    ratio = {t: 1.0 for t in reader.batch_types}

    def streams():
        return FactorBatchSampler(reader.batch_types, counts, ratio, [5, 6])

    direct = streams()
    expected = [direct.pick() for _ in range(6)]
    prefetch = Prefetch(streams(), HostImages(reader, torch.device("cpu"), groups=2, slots=3), depth=2)
    try:
        seen, states = [], None
        for k in range(6):
            if k == 3:
                states = copy.deepcopy(prefetch.states())
            types, images = prefetch.next()
            seen.append((types, images.clone()))
        for (types, images), picks in zip(seen, expected):
            assert types == [t for t, _ in picks]
            want = np.concatenate([reader.batch(t, i)[0] for t, i in picks])
            assert np.array_equal(images.numpy(), want)
        prefetch.restore(states)
        for k in range(3, 6):
            types, images = prefetch.next()
            assert types == seen[k][0] and torch.equal(images, seen[k][1])
    finally:
        prefetch.close()


@cuda
def test_gpu_resident_data_gives_the_batches_the_shards_do(shards):
    reader = ShardReader(shards, "train")
    device = torch.device("cuda")
    picks = [(t, reader.count(t) - 1) for t in reader.batch_types]
    held = GpuImages(reader, device)
    host = HostImages(reader, device, groups=len(picks), slots=2)
    assert torch.equal(held.images(held.load(picks)).cpu(), host.images(host.load(picks)).cpu())
    assert data_on_gpu("auto", device, 10)


@cuda
def test_a_bf16_cuda_step_matches_the_fp32_cpu_step_closely():
    cfg = step_config()
    images = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (len(TYPES) * 5, 150, 150), dtype=np.uint8))
    terms = {}
    for device, bf16 in ((torch.device("cpu"), False), (torch.device("cuda"), True)):
        torch.manual_seed(0)
        model = new_model(cfg, device)
        noises = [torch.Generator(device=device).manual_seed(s) for s in (1, 2, 3)]
        terms[device.type] = TrainStep(cfg, model, device, bf16=bf16)(TYPES, images.to(device), noises).cpu()
    torch.testing.assert_close(terms["cuda"][:, 1], terms["cpu"][:, 1], rtol=2e-2, atol=0)
