"""`dcign bench train`: the trainer's own step (train.loop.TrainStep: the uint8 batch converted on
the device, channels_last, bf16 autocast on CUDA) against a naive fp32 eager loop of the same
clamped step (the model's forward on a float NCHW batch, summed BCE + KL, backward, Adam), in
one run, with the model's FLOPs per image and the achieved fraction of the device's measured
matmul peak. Both start from the same weights, batch and noise, and the first step's losses and
gradients are compared, so the two loops are shown to compute the same thing."""
from __future__ import annotations

import time

import numpy as np
import torch

from render.schema import SCHEMAS
from train.config import TrainConfig
from train.distributed import pick_device
from train.loop import TrainStep, new_model
from train.model import DCIGN, loss_terms

# The first dataset of the schema and its first batch type: a clamped single-factor batch.
SCHEMA = next(iter(SCHEMAS.values()))
BATCH_TYPE = SCHEMA.batch_types[0]


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


def bench_config(feature_maps: int, latent_dim: int, steps: int, device: torch.device) -> TrainConfig:
    """The default training settings at the given size, for one batch per step."""
    return TrainConfig(name="bench", dataset=SCHEMA.name, mode="clamped", feature_maps=feature_maps,
                       latent_dim=latent_dim, latents=SCHEMA.default_latents(latent_dim), clamp="mean",
                       invariance_strength=0.01, batch_ratio={t: 1.0 for t in SCHEMA.batch_types},
                       batches_per_step=1, optimizer="adam", lr=5e-4, betas=(0.9, 0.99), kl_weight=1.0, steps=steps,
                       seed=0, checkpoint_every=steps, log_every=steps, device=device.type, compile=False)


def _flat_grad(model) -> torch.Tensor:
    return torch.cat([p.grad.detach().float().flatten().cpu() for p in model.parameters()])


def bench_train(feature_maps: int, latent_dim: int, batch: int, steps: int, device_name: str) -> dict:
    device = pick_device(device_name)
    cfg = bench_config(feature_maps, latent_dim, steps, device)
    images = np.random.default_rng(0).integers(0, 256, (batch, 150, 150), dtype=np.uint8)
    torch.manual_seed(0)
    project = new_model(cfg, device)
    step = TrainStep(cfg, project, device)
    naive = DCIGN(cfg.model).to(device)
    naive.load_state_dict(project.state_dict())
    naive_opt = torch.optim.Adam(naive.parameters(), lr=cfg.lr, betas=cfg.betas)
    x_naive = torch.from_numpy(images).unsqueeze(1).float().div(255).to(device)
    active = torch.tensor(cfg.latents[BATCH_TYPE], device=device)
    project_noise = [torch.Generator().manual_seed(0)]
    naive_noise = torch.Generator().manual_seed(0)

    def project_step() -> float:
        return step([(BATCH_TYPE, images)], project_noise)[0]["loss"]

    def naive_step() -> torch.Tensor:
        logits, mu, logvar, _ = naive(x_naive, active=active, clamp=cfg.clamp, strength=cfg.invariance_strength,
                                      generator=naive_noise)
        bce, kl = loss_terms(logits, x_naive, mu, logvar)
        loss = bce + cfg.kl_weight * kl
        naive_opt.zero_grad()
        loss.backward()
        naive_opt.step()
        return loss.detach()

    losses = {"dcign": project_step(), "naive": naive_step().item() / batch}
    g_project, g_naive = _flat_grad(project), _flat_grad(naive)
    grad_diff = float((g_project - g_naive).norm() / g_naive.norm())
    loss_diff = abs(losses["dcign"] - losses["naive"]) / abs(losses["naive"])

    rates = {"naive": _rate(naive_step, batch, steps, device), "dcign": _rate(project_step, batch, steps, device)}
    flops = flops_per_image(DCIGN(cfg.model).to(device), x_naive[:2])
    peak = matmul_peak(device, torch.bfloat16 if device.type == "cuda" else torch.float32)
    print(f"dcign bench train: F={feature_maps}, {latent_dim} latents, batch {batch}, {steps} steps on {device}")
    print(f"  model: {flops / 1e9:.2f} GFLOP per image per training step (forward + backward)")
    print(f"  first step from the same weights, batch and noise: loss per image dcign {losses['dcign']:.6f}, "
          f"naive {losses['naive']:.6f} (relative difference {loss_diff:.2e}); "
          f"gradients differ by {grad_diff:.2e} (relative L2)")
    for kind in ("dcign", "naive"):
        achieved = rates[kind] * flops
        print(f"  {kind:6s} {rates[kind]:9.1f} images/s  {achieved / 1e9:8.1f} GFLOP/s  "
              f"{achieved / peak:6.1%} of the measured matmul peak ({peak / 1e9:.0f} GFLOP/s)")
    print(f"speed-up vs naive: {rates['dcign'] / rates['naive']:.2f}x")
    return {**rates, "flops_per_image": flops, "peak": peak, "losses": losses, "loss_difference": loss_diff,
            "grad_difference": grad_diff}
