"""Where and how training computes: the device, the precision, and where the training images live.

bf16 autocast pays only on hardware with bf16 units: NVIDIA GPUs since Ampere, and CPUs with AMX
or AVX512-BF16, where oneDNN runs bf16 convolutions and matmuls on them (measured on an AMX CPU,
2 cores: a DC-IGN Adam step 1.5x faster at F = 8, 3.2x at F = 32). A CPU without them (AVX2 only,
e.g. AMD Zen 3) emulates bf16 and ran the same step about 10x slower than fp32, so `auto` keeps
fp32 there. Weights, optimiser state and loss sums stay fp32 either way.
"""
from __future__ import annotations

import torch

from render.errors import UserError

PRECISIONS = ("auto", "fp32", "bf16")
DATA_PLACES = ("auto", "host", "gpu")
GPU_DATA_SHARE = 0.5  # `data_on: auto` keeps the training split on the GPU when it needs at most this share of free memory


def pick_device(requested: str, local_rank: int = 0) -> torch.device:
    """The device this process trains on: with CUDA, local rank k takes GPU k of its node."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("train device = 'cuda' but no CUDA GPU is available here; use device: auto or cpu")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and local_rank > 0:
        if local_rank >= torch.cuda.device_count():
            raise UserError(f"training process {local_rank} on this node has no GPU of its own "
                            f"({torch.cuda.device_count()} visible); start at most one process per GPU")
        return torch.device("cuda", local_rank)
    return torch.device(requested)


def has_fast_bf16(device: torch.device) -> bool:
    """Whether the device has bf16 units (not emulation)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return bool(torch.backends.mkldnn.is_available()
                and (torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()))


def uses_bf16(precision: str, device: torch.device) -> bool:
    """`precision` (auto | fp32 | bf16) on this device: True for bf16 autocast."""
    if precision not in PRECISIONS:
        raise UserError(f"precision = {precision!r}: expected one of {', '.join(PRECISIONS)}")
    return has_fast_bf16(device) if precision == "auto" else precision == "bf16"


def describe_precision(bf16: bool, device: torch.device) -> str:
    units = "has" if has_fast_bf16(device) else "has no"
    return f"{'bf16 autocast' if bf16 else 'fp32'} ({device.type} {units} bf16 units)"


def data_on_gpu(place: str, device: torch.device, nbytes: int) -> bool:
    """`data_on` (auto | host | gpu): whether the uint8 training split is copied to the GPU once
    and batches are indexed there, instead of read from the memory-mapped shards each step."""
    if place not in DATA_PLACES:
        raise UserError(f"data_on = {place!r}: expected one of {', '.join(DATA_PLACES)}")
    if place == "gpu" and device.type != "cuda":
        raise UserError(f"data_on = 'gpu' but training runs on {device.type}; use data_on: auto or host")
    if place != "auto":
        return place == "gpu"
    return device.type == "cuda" and nbytes <= GPU_DATA_SHARE * torch.cuda.mem_get_info(device)[0]
