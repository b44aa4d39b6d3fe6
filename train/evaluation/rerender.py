"""`dcign rerender`: the paper's "learned graphics engine" as a tool. Encode a user's image, set
factor latents to the codes the readout saved by `dcign evaluate` (latent_map.json) gives for the
requested pose or light (in the unit the map records, the shard manifest's), decode; the input is
shown beside the result, and the factor values the model reads from the input are returned."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from render.errors import UserError
from train.checkpoints import load_model
from train.evaluation.readout import Readout
from train.sheets import grid

SWEEP_FRAMES = 24
MIN_SIDE = 32  # pixels: a smaller image holds too little to encode; upsampling it would only blur
LUMA = np.array([0.21, 0.72, 0.07], np.float32)  # the renderer's grayscale


def gray_of(image: Image.Image, path: Path) -> np.ndarray:
    """An image of any mode as grayscale in [0, 1], as the renders are: 8- or 16-bit integers by
    their full range, floats as they are when within [0, 1] (else refused), transparency composited
    on white (the renders' background)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(image, dtype=np.float32) / 65535
    if mode == "I":  # 32-bit integers: what PIL opens 16-bit PNGs as
        values = np.asarray(image, dtype=np.float64)
        top = 255 if values.max() <= 255 else 65535 if values.max() <= 65535 else None
        if top is None or values.min() < 0:
            raise UserError(f"{path}: 32-bit integer pixels from {values.min():g} to {values.max():g}; expected "
                            "8- or 16-bit values (0..255 or 0..65535)")
        return (values / top).astype(np.float32)
    if mode == "F":
        values = np.asarray(image, dtype=np.float32)
        if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
            raise UserError(f"{path}: floating-point pixels from {np.nanmin(values):g} to {np.nanmax(values):g}; "
                            "expected values in [0, 1]")
        return values
    if "A" in mode or "transparency" in image.info:
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return np.asarray(image.convert("RGB"), dtype=np.float32) @ LUMA / 255


def load_image(path: Path, size: int = 150) -> torch.Tensor:
    """Any image -> upright (EXIF) -> centre square crop -> size x size grayscale in [0, 1]."""
    try:
        with Image.open(path) as opened:
            opened.seek(0)  # the first frame of an animation or a multi-page file
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise UserError(f"{path}: not a readable image ({e})") from None
    w, h = image.size
    side = min(w, h)
    if side < MIN_SIDE:
        raise UserError(f"{path}: {w}x{h} pixels; expected at least {MIN_SIDE} pixels on each side")
    gray = gray_of(image, path)
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(np.ascontiguousarray(gray[top:top + side, left:left + side], dtype=np.float32))
    resized = np.asarray(square.resize((size, size), Image.LANCZOS), dtype=np.float32).clip(0, 1)
    return torch.from_numpy(resized)[None, None]


def parse_sets(sets: list[str], latent_map: dict) -> dict:
    values = {}
    for item in sets:
        name, _, value = item.partition("=")
        if name not in latent_map["factors"]:
            raise UserError(f"--set {item}: unknown factor {name!r}; expected one of {sorted(latent_map['factors'])}")
        try:
            values[name] = float(value)
        except ValueError:
            values[name] = float("nan")
        entry = latent_map["factors"][name]
        if not np.isfinite(values[name]):
            raise UserError(f"--set {item}: expected a finite number after '=' ({entry['unit']})")
        lo, hi = entry["range"]
        circular = entry["readout"]["period"] > 0
        if not circular and not lo - 1e-9 <= values[name] <= hi + 1e-9:
            raise UserError(f"--set {item}: outside the range this model was trained and tested on; expected "
                            f"{lo:g}..{hi:g} {entry['unit']}")
    return values


def readout_of(name: str, entry: dict) -> Readout:
    read = Readout.from_dict(entry["readout"])
    if not read.varies():
        raise UserError(f"{name}: latents {list(read.latents)} do not vary with the factor in this model; cannot set it")
    return read


def sweep_values(read: Readout, entry: dict) -> np.ndarray:
    """There and back over the test range, or once around the circle for a circular factor."""
    if read.circular:
        return np.arange(2 * SWEEP_FRAMES - 2) * read.period / (2 * SWEEP_FRAMES - 2)
    lo, hi = entry["range"]
    return np.concatenate([np.linspace(lo, hi, SWEEP_FRAMES), np.linspace(hi, lo, SWEEP_FRAMES)[1:-1]])


def inferred(mu: np.ndarray, latent_map: dict) -> dict:
    """Each factor's value as the model reads it from an image's code (the evaluation's readout),
    in the factor's unit."""
    return {name: float(Readout.from_dict(entry["readout"]).values(mu)[0])
            for name, entry in latent_map["factors"].items()}


def beside(x: torch.Tensor, frames: torch.Tensor) -> list[Image.Image]:
    """Each decoded frame (N, 1, H, W) to the right of the input image, as the user sees them."""
    tiles = torch.stack([x[0, 0].expand_as(frames[:, 0]), frames[:, 0]], dim=1)
    return [Image.fromarray(grid(t[None])) for t in (tiles.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)]


def rerender(model_dir: Path, map_path: Path, image: Path, sets: list[str], sweep: str | None,
             out: Path) -> tuple[Path, dict]:
    """Write input | re-render (a PNG, or with `sweep` a GIF of the factor's sweep); returns the
    file and the factor values the model infers from the input image."""
    if not Path(map_path).is_file():
        raise UserError(f"{map_path}: latent map not found; run 'dcign evaluate' for this model first "
                        "(or pass --map results/<name>/latent_map.json)")
    latent_map = json.loads(Path(map_path).read_text())
    model, _ = load_model(model_dir)
    values = parse_sets(sets, latent_map)
    if sweep is not None and sweep not in latent_map["factors"]:
        raise UserError(f"--sweep {sweep}: unknown factor; expected one of {sorted(latent_map['factors'])}")
    x = load_image(image)
    with torch.no_grad():
        mu, _ = model.encode(x)
        seen = inferred(mu.numpy(), latent_map)
        for name, value in values.items():
            read = readout_of(name, latent_map["factors"][name])
            mu[0, list(read.latents)] = torch.as_tensor(read.codes([value])[0], dtype=mu.dtype)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if sweep is None:
            beside(x, model.decode_image(mu))[0].save(out)
            return out, seen
        entry = latent_map["factors"][sweep]
        read = readout_of(sweep, entry)
        z = mu.repeat(2 * SWEEP_FRAMES - 2, 1)
        z[:, list(read.latents)] = torch.as_tensor(read.codes(sweep_values(read, entry)), dtype=z.dtype)
        frames = beside(x, model.decode_image(z))
        frames[0].save(out, save_all=True, append_images=frames[1:], duration=80, loop=0)
    return out, seen
