"""Contact sheet of a rendered dataset: one row per batch type, so a person sees at a glance
that each row varies only its own factor. Captions come from the schema's factors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from render.errors import UserError
from render.chunks import read_info, read_npz
from render.params import SPLITS
from render.schema import schema_of

LABEL_W = 110
CAPTION_H = 14
GAP = 4


def _first_batch(root: Path, info: dict, batch_type: str, frontal: str | None):
    """A batch of the first chunk of a type: for types that do not vary the frontal factor, the
    batch nearest its 0, where the varied factor (light above all) is easiest to see."""
    for split in SPLITS:
        for chunk in info["chunks"]:
            if chunk["split"] == split and chunk["batch_type"] == batch_type:
                data = read_npz(root / chunk["file"])
                best = 0
                if frontal is not None:
                    best = int(np.argmin(np.abs(np.angle(np.exp(1j * data[frontal][:, 0].astype(float))))))
                return split, {key: value[best:best + 1] for key, value in data.items() if value.ndim}
    return None, None


def contact_sheet(dataset_dir: str | Path, max_columns: int = 20) -> Image.Image:
    root = Path(dataset_dir)
    info = read_info(root)
    schema = schema_of(info["dataset"])
    rows = []
    for batch_type in info["batch_types"]:
        varied = info["type_factor"][batch_type] or "identity"
        frontal = None if varied == schema.frontal_factor else schema.frontal_factor
        split, data = _first_batch(root, info, batch_type, frontal)
        if data is not None:
            rows.append((batch_type, varied, split, data))
    if not rows:
        raise UserError(f"{root}: the render holds no batches to preview")
    size = rows[0][3]["images"].shape[-1]
    cols = min(max_columns, rows[0][3]["images"].shape[1])
    row_h = size + CAPTION_H + GAP
    sheet = Image.new("L", (LABEL_W + cols * (size + GAP), len(rows) * row_h + GAP), 255)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for r, (batch_type, varied, split, data) in enumerate(rows):
        y = GAP + r * row_h
        held = "\n".join(_caption(schema, name, data, 0) for name in (*schema.factors, "identity") if name != varied)
        draw.text((6, y + size // 2 - 24), f"{batch_type.upper()}\n({split})\n{held}", fill=0, font=font)
        for i in range(cols):
            x = LABEL_W + i * (size + GAP)
            sheet.paste(Image.fromarray(np.asarray(data["images"][0, i])), (x, y))
            draw.text((x + 2, y + size + 1), _caption(schema, varied, data, i), fill=60, font=font)
    return sheet


def _caption(schema, name: str, data: dict, i: int) -> str:
    """A factor's value (or the identity) of image i, as a short caption."""
    if name == "identity":
        return f"id {data['identity'][0, i]}"
    return schema.factors[name].format(float(data[name][0, i]))


def write_preview(dataset_dir: str | Path, out_png: str | Path) -> Path:
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(dataset_dir).save(out, optimize=False)
    return out
