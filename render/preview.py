"""Contact sheet of a rendered dataset: one row per batch type, so a person sees at a glance
that each row varies only its own factor."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from render.chunks import INFO_FILE, read_npz
from render.errors import UserError

LABEL_W = 110
CAPTION_H = 14
GAP = 4


def _first_batch(root: Path, info: dict, batch_type: str):
    """A batch of the first chunk of a type: for types other than azimuth, the most frontal one,
    where the varied factor (light above all) is easiest to see."""
    for split in ("train", "test"):
        for chunk in info["chunks"]:
            if chunk["split"] == split and chunk["batch_type"] == batch_type:
                data = read_npz(root / chunk["file"])
                wrapped = np.abs(np.angle(np.exp(1j * data["azimuth"][:, 0].astype(float))))
                best = 0 if batch_type == "azimuth" else int(np.argmin(wrapped))
                return split, {key: value[best:best + 1] for key, value in data.items() if value.ndim}
    return None, None


def _caption(batch_type: str, data: dict, i: int) -> str:
    if batch_type == "azimuth":
        return f"az {data['azimuth'][0, i]:+.2f}"
    if batch_type == "elevation":
        return f"el {data['elevation'][0, i]:+.2f}"
    if batch_type == "light":
        return f"light {data['light_azimuth'][0, i]:+.0f}"
    if "identity" in data:
        return f"id {data['identity'][0, i]}"
    return ""


def contact_sheet(dataset_dir: str | Path, max_columns: int = 20) -> Image.Image:
    root = Path(dataset_dir)
    info_path = root / INFO_FILE
    if not info_path.is_file():
        raise UserError(f"{info_path}: not found; expected a finished render (run 'dcign render faces' or 'dcign render chairs' first)")
    info = json.loads(info_path.read_text())
    rows = []
    for batch_type in info["batch_types"]:
        split, data = _first_batch(root, info, batch_type)
        if data is not None:
            rows.append((batch_type, split, data))
    if not rows:
        raise UserError(f"{root}: the render holds no batches to preview")
    size = rows[0][2]["images"].shape[-1]
    cols = min(max_columns, rows[0][2]["images"].shape[1])
    row_h = size + CAPTION_H + GAP
    sheet = Image.new("L", (LABEL_W + cols * (size + GAP), len(rows) * row_h + GAP), 255)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for r, (batch_type, split, data) in enumerate(rows):
        y = GAP + r * row_h
        fixed = _fixed_description(batch_type, data)
        draw.text((6, y + size // 2 - 24), f"{batch_type.upper()}\n({split})\n{fixed}", fill=0, font=font)
        for i in range(cols):
            x = LABEL_W + i * (size + GAP)
            sheet.paste(Image.fromarray(np.asarray(data["images"][0, i])), (x, y))
            draw.text((x + 2, y + size + 1), _caption(batch_type, data, i), fill=60, font=font)
    return sheet


def _fixed_description(batch_type: str, data: dict) -> str:
    """The factors a row holds fixed, so the sheet documents the invariant it shows."""
    parts = []
    if batch_type != "azimuth" and "azimuth" in data:
        parts.append(f"az {data['azimuth'][0, 0]:+.2f}")
    if batch_type != "elevation" and "elevation" in data:
        parts.append(f"el {data['elevation'][0, 0]:+.2f}")
    if batch_type != "light" and "light_azimuth" in data:
        parts.append(f"light {data['light_azimuth'][0, 0]:+.0f}")
    if batch_type != "intrinsic" and "identity" in data:
        parts.append(f"id {data['identity'][0, 0]}")
    return "\n".join(parts)


def write_preview(dataset_dir: str | Path, out_png: str | Path) -> Path:
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(dataset_dir).save(out, optimize=False)
    return out
