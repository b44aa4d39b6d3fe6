"""`dcign bench train`: the project's training step against a naive fp32 eager loop of the same
network and batch (plain PyTorch: forward, summed BCE + KL, backward, Adam), in one run, with
the model's FLOPs per image and the achieved fraction of the device's measured matmul peak."""
from __future__ import annotations

import time

import numpy as np
import torch

from train.model import DCIGN, ModelConfig, loss_terms


def _rate(step, n_images: int, steps: int, device) -> float:
    step()  # warm-up (and compilation, when enabled)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n_images * steps / (time.perf_counter() - start)


def matmul_peak(device, dtype) -> float:
    """FLOP/s of a large matmul: the practical peak this device reaches, measured here."""
    n = 4096 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    return _rate(lambda: a @ b, 2 * n ** 3, 20, device)


def flops_per_image(model, x) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        logits, mu, logvar, _ = model(x)
        bce, kl = loss_terms(logits, x, mu, logvar)
        (bce + kl).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / x.shape[0]


def bench_train(feature_maps: int, latent_dim: int, batch: int, steps: int, device_name: str) -> dict:
    from train.config import TrainConfig
    from train.trainer import pick_device, sgvb_step, to_batch

    device = pick_device(device_name)
    torch.manual_seed(0)
    images = np.random.default_rng(0).integers(0, 256, (batch, 150, 150), dtype=np.uint8)
    mc = ModelConfig(feature_maps=feature_maps, latent_dim=latent_dim)

    naive = DCIGN(mc).to(device)
    naive_opt = torch.optim.Adam(naive.parameters(), lr=5e-4, betas=(0.9, 0.99))
    x_naive = torch.from_numpy(images).unsqueeze(1).float().div(255).to(device)

    def naive_step():
        logits, mu, logvar, _ = naive(x_naive)
        bce, kl = loss_terms(logits, x_naive, mu, logvar)
        naive_opt.zero_grad()
        (bce + kl).backward()
        naive_opt.step()

    project = DCIGN(mc).to(device, memory_format=torch.channels_last)
    cfg = TrainConfig(name="bench", dataset="faces", mode="clamped", feature_maps=feature_maps, latent_dim=latent_dim,
                      latents={}, clamp="mean", invariance_strength=0.01, batch_ratio={}, batches_per_step=1,
                      optimizer="adam", lr=5e-4, betas=(0.9, 0.99), kl_weight=1.0, steps=steps, seed=0,
                      checkpoint_every=steps, log_every=steps, device=device.type, compile=False)
    opt = torch.optim.Adam(project.parameters(), lr=5e-4, betas=(0.9, 0.99))
    noise = torch.Generator().manual_seed(0)
    active = torch.tensor([0], device=device)

    def project_step():  # uint8 batch to the device and converted there, clamped, as in training
        sgvb_step(project, opt, to_batch(images, device), active, cfg, noise)

    rates = {"naive": _rate(naive_step, batch, steps, device), "dcign": _rate(project_step, batch, steps, device)}
    flops = flops_per_image(DCIGN(mc).to(device), x_naive[:2])
    peak = matmul_peak(device, torch.bfloat16 if device.type == "cuda" else torch.float32)
    print(f"dcign bench train: F={feature_maps}, {latent_dim} latents, batch {batch}, {steps} steps on {device}")
    print(f"  model: {flops / 1e9:.2f} GFLOP per image per training step (forward + backward)")
    for kind in ("dcign", "naive"):
        achieved = rates[kind] * flops
        print(f"  {kind:6s} {rates[kind]:9.1f} images/s  {achieved / 1e9:8.1f} GFLOP/s  "
              f"{achieved / peak:6.1%} of the measured matmul peak ({peak / 1e9:.0f} GFLOP/s)")
    print(f"speed-up vs naive: {rates['dcign'] / rates['naive']:.2f}x")
    return {**rates, "flops_per_image": flops, "peak": peak}
