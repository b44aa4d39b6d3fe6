"""`dcign bench train`: the trainer's own step (train.loop.TrainStep, fed by the trainer's data
path: batch streams, prefetching reader or GPU-held split) against the naive loop a user would
write first (the network as the authors wrote it, upsample then convolve, fp32, NCHW, eager, one
batch per step, the loss read back every step), in one run, at several widths F. It prints
images/s, GFLOP per image and the share of the device's measured fp32 and bf16 matmul peaks.

Both loops start from the same weights, batch and noise, and their first steps' losses and
gradients are compared, so the speed-up is shown to compute the same thing."""
from __future__ import annotations

import copy
import time

import numpy as np
import torch
import torch.nn as nn

from render.errors import UserError
from render.schema import SCHEMAS
from render.shards.reader import ShardReader
from train.config import TrainConfig
from train.data import Prefetch, split_bytes, step_batches, stream_seed
from train.device import data_on_gpu, describe_precision, has_fast_bf16, pick_device, uses_bf16
from train.loop import TrainStep, new_model, noise_streams
from train.model import DCIGN, UpConv, loss_terms

# The first dataset of the schema: its batch types and latents make the clamped steps.
SCHEMA = next(iter(SCHEMAS.values()))
TARGETS = {8: 2.0, 32: 3.0}  # CPU: the project step's speed-up over the naive loop (issue targets)


class RandomShards:
    """Random uint8 batches in memory, with the reader interface the data path uses: what the bench
    reads when no shard directory is given."""

    def __init__(self, batch: int, per_type: int = 8):
        rng = np.random.default_rng(0)
        self.batch_types = list(SCHEMA.batch_types)
        self.manifest = {"image_shape": [batch, 150, 150]}
        self.images = {t: rng.integers(0, 256, (per_type, batch, 150, 150), dtype=np.uint8) for t in self.batch_types}

    def count(self, batch_type: str) -> int:
        return len(self.images[batch_type])

    def batch(self, batch_type: str, i: int) -> tuple[np.ndarray, dict]:
        return self.images[batch_type][i], {}

    def __len__(self) -> int:
        return sum(self.count(t) for t in self.batch_types)


class _Literal(nn.Module):
    def __init__(self, layer: UpConv):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer.literal(x)


def literal_net(model: DCIGN) -> DCIGN:
    """A copy of the model that upsamples, then convolves, as the authors' network is written."""
    net = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    net.decoder = nn.Sequential(*[_Literal(m) if isinstance(m, UpConv) else m for m in net.decoder])
    return net


def bench_config(feature_maps: int, latent_dim: int, batches_per_step: int, device: torch.device,
                 precision: str, compile_: bool) -> TrainConfig:
    """The default training settings at the given size."""
    return TrainConfig(name="bench", dataset=SCHEMA.name, mode="clamped", feature_maps=feature_maps,
                       latent_dim=latent_dim, latents=SCHEMA.default_latents(latent_dim), clamp="mean",
                       clamp_noise="per_sample", invariance_strength=0.01, factor_invariance_strength=0.01,
                       batch_ratio={t: 1.0 for t in SCHEMA.batch_types},
                       batches_per_step=batches_per_step, optimizer="adam", lr=5e-4, lr_schedule="constant",
                       lr_warmup_steps=0, betas=(0.9, 0.99), kl_weight=1.0, kl_warmup_steps=0, mirror_weight=0.0,
                       intrinsic_swap=False, intrinsic_swap_start=0, steps=1, seed=0, checkpoint_every=1,
                       log_every=1, device=device.type,
                       precision=precision, data_on="auto", compile=compile_)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _rate(step, units: float, steps: int, device: torch.device) -> float:
    """units per second of `step`, after one untimed call (warm-up, compilation)."""
    step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return units * steps / (time.perf_counter() - start)


def matmul_peak(device: torch.device, dtype: torch.dtype, seconds: float = 1.0) -> float:
    """FLOP/s of a large square matmul: the practical peak this device reaches in `dtype`, measured
    here for at least `seconds`."""
    n = 8192 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    _sync(device)
    start, reps = time.perf_counter(), 0
    while reps < 3 or time.perf_counter() - start < seconds:
        a @ b
        reps += 1
        if device.type == "cuda" and reps % 10:
            continue
        _sync(device)
    _sync(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - start)


def flops_per_image(model: nn.Module, x: torch.Tensor) -> float:
    """Forward + backward FLOPs of one training image, as PyTorch's counter sees the model's ops."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        logits, mu, logvar, _ = model(x)
        bce, kl = loss_terms(logits, x, mu, logvar)
        (bce + kl).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / x.shape[0]


def _flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.detach().float().flatten().cpu() for p in model.parameters()])


class ProjectLoop:
    """The trainer's step and data path at one size: batch streams, prefetching reader (or the
    split held on the GPU), grouped batches, noise on the device."""

    def __init__(self, cfg: TrainConfig, model: DCIGN, device: torch.device, reader, bf16: bool):
        seeds = [stream_seed(0, k) for k in range(cfg.batches_per_step)]
        on_gpu = data_on_gpu(cfg.data_on, device, split_bytes(reader))
        self.batches: Prefetch = step_batches(reader, cfg.batch_ratio, seeds, device, on_gpu)
        self.noises = noise_streams(seeds, device)
        self.step = TrainStep(cfg, model, device, bf16)

    def __call__(self) -> torch.Tensor:
        types, images = self.batches.next()
        return self.step(types, images, self.noises)

    def close(self) -> None:
        self.batches.close()


def bench_width(feature_maps: int, args, device: torch.device, reader, peaks: dict) -> dict:
    """Every loop at one width; prints its table and returns the rates."""
    bf16 = uses_bf16(args.precision, device)
    base = bench_config(feature_maps, args.latent_dim, 1, device, args.precision, False)
    torch.manual_seed(0)
    project = new_model(base, device)
    naive = literal_net(project)
    naive_opt = torch.optim.Adam(naive.parameters(), lr=base.lr, betas=base.betas)
    batch_type = SCHEMA.batch_types[0]
    images = torch.from_numpy(np.array(reader.batch(batch_type, 0)[0]))
    x_naive = images.unsqueeze(1).float().div(255).to(device)
    active = base.latents[batch_type]
    naive_noise = torch.Generator(device=device).manual_seed(0)

    def naive_step() -> float:
        logits, mu, logvar, _ = naive(x_naive, active=active, clamp=base.clamp, strength=base.invariance_strength,
                                      generator=naive_noise)
        bce, kl = loss_terms(logits, x_naive, mu, logvar)
        loss = bce + base.kl_weight * kl
        naive_opt.zero_grad()
        loss.backward()
        naive_opt.step()
        return loss.item()

    # the first step of each, from the same weights, batch and noise (in fp32: the comparison is of
    # the computation, not of the rounding of bf16)
    check = TrainStep(base, project, device, bf16=False)
    first = check([batch_type], images.to(device), [torch.Generator(device=device).manual_seed(0)])[0, 0].item()
    naive_first = naive_step() / len(images)
    loss_diff = abs(first - naive_first) / abs(naive_first)
    grad_diff = float((_flat_grad(project) - _flat_grad(naive)).norm() / _flat_grad(naive).norm())

    x2 = x_naive[:2].contiguous(memory_format=torch.channels_last)
    written = flops_per_image(literal_net(DCIGN(base.model)).to(device), x_naive[:2])
    executed = flops_per_image(DCIGN(base.model).to(device, memory_format=torch.channels_last), x2)
    rows = {"naive fp32 eager, 1 batch/step": (_rate(naive_step, len(images), args.steps, device), written)}
    variants = [(1, False), (args.batches_per_step, False)] + ([(args.batches_per_step, True)] if args.compile else [])
    for groups, compiled in dict.fromkeys(variants):
        cfg = bench_config(feature_maps, args.latent_dim, groups, device, args.precision, compiled)
        torch.manual_seed(0)
        loop = ProjectLoop(cfg, new_model(cfg, device), device, reader, bf16)
        try:
            label = f"dcign, {groups} batch{'es' if groups > 1 else ''}/step{', compiled' if compiled else ''}"
            rows[label] = (_rate(loop, groups * len(images), args.steps, device), executed)
        finally:
            loop.close()

    naive_rate = rows["naive fp32 eager, 1 batch/step"][0]
    print(f"\nF={feature_maps}: {written / 1e9:.3f} GFLOP per image per training step as written (upsample, then 7x7 "
          f"convolution), {executed / 1e9:.3f} as the project computes it (polyphase decoder)")
    print(f"  first step from the same weights, batch and noise: loss per image dcign {first:.6f}, naive "
          f"{naive_first:.6f} (relative difference {loss_diff:.2e}); gradients differ by {grad_diff:.2e} (relative L2)")
    print(f"  {'loop':36s} {'images/s':>9s} {'vs naive':>9s} {'GFLOP/s':>9s} {'of fp32 peak':>13s} {'of bf16 peak':>13s}")
    for label, (rate, flops) in rows.items():
        achieved = rate * flops
        print(f"  {label:36s} {rate:9.1f} {rate / naive_rate:8.2f}x {achieved / 1e9:9.1f} "
              f"{achieved / peaks['fp32']:13.1%} {achieved / peaks['bf16']:13.1%}")
    return {"rates": {label: rate for label, (rate, _) in rows.items()}, "written_flops": written,
            "executed_flops": executed, "loss_difference": loss_diff, "grad_difference": grad_diff}


def bench_train(args) -> dict:
    device = pick_device(args.device)
    reader = ShardReader(args.data, "train") if args.data else RandomShards(args.batch)
    if args.data and reader.manifest["dataset"] != SCHEMA.name:
        raise UserError(f"{args.data}: holds {reader.manifest['dataset']} data; the bench trains on {SCHEMA.name}")
    bf16 = uses_bf16(args.precision, device)
    peaks = {"fp32": matmul_peak(device, torch.float32), "bf16": matmul_peak(device, torch.bfloat16)}
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"dcign bench train on {device} ({where}), torch {torch.__version__}: the project step in "
          f"{describe_precision(bf16, device)}; batch {reader.manifest['image_shape'][0]}, {args.latent_dim} latents, "
          f"{args.steps} timed steps per loop; data: {args.data or 'random images in memory'}")
    emulated = "" if has_fast_bf16(device) else " (emulated: no bf16 units)"
    print(f"measured matmul peak: fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s{emulated}")
    results = {f: bench_width(f, args, device, reader, peaks) for f in args.feature_maps}
    grouped = f"dcign, {args.batches_per_step} batch{'es' if args.batches_per_step > 1 else ''}/step"
    print("\nspeed-up of the project step over the naive loop (images/s):")
    for f, r in results.items():
        naive = r["rates"]["naive fp32 eager, 1 batch/step"]
        label, best = max(((k, v) for k, v in r["rates"].items() if k.startswith("dcign")), key=lambda kv: kv[1])
        line = f"  F={f}: {best / naive:.2f}x ({label}, the fastest); {r['rates'][grouped] / naive:.2f}x with {grouped}"
        if f in TARGETS and device.type == "cpu":
            line += f"; CPU target {TARGETS[f]:.0f}x: {'met' if best / naive >= TARGETS[f] else 'MISSED'}"
        print(line)
    return {"peaks": peaks, "widths": results}
