"""`dcign rerender`: the paper's "learned graphics engine" as a tool. Encode a user's image, set
factor latents to the values the linear latent-to-factor map saved by `dcign evaluate` gives for
the requested pose or light (in the unit the map records, the shard manifest's), decode."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from render.errors import UserError
from train.checkpoints import load_model

SWEEP_FRAMES = 24


def load_image(path: Path, size: int = 150) -> torch.Tensor:
    """Any image -> centre square crop -> size x size grayscale (0.21 R + 0.72 G + 0.07 B) in [0, 1]."""
    try:
        image = Image.open(path).convert("RGB")
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not a readable image ({e})") from None
    w, h = image.size
    side = min(w, h)
    image = image.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
    rgb = np.asarray(image.resize((size, size), Image.LANCZOS), dtype=np.float32) / 255
    gray = rgb @ np.array([0.21, 0.72, 0.07], np.float32)
    return torch.from_numpy(gray)[None, None]


def parse_sets(sets: list[str], latent_map: dict) -> dict:
    values = {}
    for item in sets:
        name, _, value = item.partition("=")
        if name not in latent_map["factors"]:
            raise UserError(f"--set {item}: unknown factor {name!r}; expected one of {sorted(latent_map['factors'])}")
        try:
            values[name] = float(value)
        except ValueError:
            raise UserError(f"--set {item}: expected a number after '=' "
                            f"({latent_map['factors'][name]['unit']})") from None
    return values


def latent_value(entry: dict, value: float) -> float:
    if entry["slope"] == 0:
        raise UserError(f"latent z{entry['latent']} does not vary with its factor in this model; cannot set it")
    return (value - entry["intercept"]) / entry["slope"]


def rerender(model_dir: Path, map_path: Path, image: Path, sets: list[str], sweep: str | None, out: Path) -> Path:
    if not Path(map_path).is_file():
        raise UserError(f"{map_path}: latent map not found; run 'dcign evaluate' for this model first "
                        "(or pass --map results/<name>/latent_map.json)")
    latent_map = json.loads(Path(map_path).read_text())
    model, _ = load_model(model_dir)
    values = parse_sets(sets, latent_map)
    x = load_image(image)
    with torch.no_grad():
        mu, _ = model.encode(x)
        for name, value in values.items():
            entry = latent_map["factors"][name]
            mu[0, entry["latent"]] = latent_value(entry, value)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if sweep is None:
            frame = model.decode_image(mu)[0, 0].numpy()
            Image.fromarray((frame * 255 + 0.5).astype(np.uint8)).save(out)
            return out
        if sweep not in latent_map["factors"]:
            raise UserError(f"--sweep {sweep}: unknown factor; expected one of {sorted(latent_map['factors'])}")
        entry = latent_map["factors"][sweep]
        lo, hi = entry["range"]
        frames = []
        for value in np.concatenate([np.linspace(lo, hi, SWEEP_FRAMES), np.linspace(hi, lo, SWEEP_FRAMES)[1:-1]]):
            z = mu.clone()
            z[0, entry["latent"]] = latent_value(entry, float(value))
            frames.append(Image.fromarray((model.decode_image(z)[0, 0].numpy() * 255 + 0.5).astype(np.uint8)))
        frames[0].save(out, save_all=True, append_images=frames[1:], duration=80, loop=0)
    return out
