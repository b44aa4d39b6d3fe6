"""`dcign report`: one markdown page over every evaluated model, the way a reader wants it: a
table of all metrics side by side first, then each evaluation's own report with its figures.

It only reads what `dcign evaluate` / `dcign compare` wrote (metrics.json, report.md, figures),
so it is cheap and the pipeline's last stage re-runs whenever any evaluation changes.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from render.errors import UserError

# (row label, path into metrics.json, format): the summary table, in reading order
SUMMARY_ROWS = [
    ("training steps", ("training", "steps"), "d"),
    ("test reconstruction MSE", ("reconstruction", "mse"), ".5f"),
    ("azimuth: Pearson r of its latent", ("equivariance", "azimuth", "pearson_r"), "+.3f"),
    ("elevation: Pearson r of its latent", ("equivariance", "elevation", "pearson_r"), "+.3f"),
    ("light: Pearson r of its latent", ("equivariance", "light", "pearson_r"), "+.3f"),
    ("azimuth sweep / true image change", ("sweeps", "azimuth", "ratio"), ".3f"),
    ("MIG", ("disentanglement", "mig"), ".3f"),
    ("DCI disentanglement", ("disentanglement", "dci_disentanglement"), ".3f"),
    ("DCI completeness", ("disentanglement", "dci_completeness"), ".3f"),
    ("DCI informativeness (test accuracy)", ("disentanglement", "dci_informativeness_test"), ".3f"),
    ("SAP", ("disentanglement", "sap"), ".3f"),
    ("FactorVAE score", ("disentanglement", "factor_vae"), ".3f"),
    ("BetaVAE score", ("disentanglement", "beta_vae"), ".3f"),
]


def _lookup(metrics: dict, path: tuple):
    for key in path:
        if not isinstance(metrics, dict) or key not in metrics:
            return None
        metrics = metrics[key]
    return metrics if isinstance(metrics, (int, float)) else None


def _embed(report: str, prefix: str) -> list[str]:
    """A per-model report inside the combined one: headings one level down, links re-rooted."""
    lines = []
    for line in report.splitlines():
        if line.startswith("#"):
            line = "#" + line
        line = re.sub(r"\]\((?!https?:|/|#)([^)]+)\)", lambda m: f"]({prefix}/{m.group(1)})", line)
        lines.append(line)
    return lines


def combined_report(results: list[Path], out: Path, previews: list[Path] = ()) -> Path:
    out = Path(out)
    loaded = []
    for res in map(Path, results):
        for name in ("metrics.json", "report.md"):
            if not (res / name).exists():
                raise UserError(f"{res / name}: missing; expected the output of dcign evaluate or dcign compare")
        try:
            metrics = json.loads((res / "metrics.json").read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"{res / 'metrics.json'}: not valid JSON ({e})") from None
        loaded.append((res, metrics))
    rel = lambda p: Path(os.path.relpath(Path(p).resolve(), out.parent.resolve())).as_posix()

    models = [(res, m) for res, m in loaded if "reconstruction" in m]
    lines = ["# DC-IGN: results of this pipeline run", "",
             "Every number is on held-out test identities / chairs (never seen in training), from encoder "
             "means. Regenerate with `dvc repro`; compare runs with `dvc metrics diff` and `dvc plots diff`.", "",
             "## All metrics", "",
             "| metric | " + " | ".join(f"`{res.name}`" for res, _ in models) + " |",
             "|---" * (1 + len(models)) + "|"]
    for label, path, fmt in SUMMARY_ROWS:
        values = [_lookup(m, path) for _, m in models]
        if all(v is None for v in values):
            continue
        lines.append(f"| {label} | " + " | ".join("—" if v is None else format(v, fmt) for v in values) + " |")
    for res, m in loaded:
        for name, row in m.get("novel_view", {}).items():
            lines.append(f"| novel-view MSE, {name} (`{res.name}`) | " +
                         " | ".join(f"{row['novel_view_mse']:.5f}" if i == 0 else "" for i in range(len(models))) + " |")
    lines.append("")
    if previews:
        lines += ["## Training data", "", "Contact sheets of rendered single-factor batches: each row varies one "
                  "factor and holds the others fixed.", ""]
        lines += [f"![{Path(p).stem}]({rel(p)})" for p in previews] + [""]
    for res, _ in loaded:
        lines += _embed((res / "report.md").read_text(), rel(res)) + [""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines).rstrip() + "\n")
    return out
