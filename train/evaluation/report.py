"""The reports: each evaluation's report.md (`dcign evaluate`, `dcign compare`) and `dcign report`,
one markdown page over every evaluated model, the way a reader wants it: a table of all metrics
side by side first, then each evaluation's own report with its figures.

The combined report only reads what the evaluations wrote (metrics.json, report.md, figures), so
it is cheap and the pipeline's last stage re-runs whenever any evaluation changes.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from render.errors import UserError

# (row label, path into metrics.json, format): the summary table, in reading order; the rows of
# each factor (its latent's Pearson r, its sweep's strength) come between these two parts
FIRST_ROWS = [
    ("training steps", ("training", "steps"), "d"),
    ("test reconstruction MSE", ("reconstruction", "mse"), ".5f"),
]
LAST_ROWS = [
    ("MIG", ("disentanglement", "mig"), ".3f"),
    ("DCI disentanglement", ("disentanglement", "dci_disentanglement"), ".3f"),
    ("DCI completeness", ("disentanglement", "dci_completeness"), ".3f"),
    ("DCI informativeness (test accuracy)", ("disentanglement", "dci_informativeness_test"), ".3f"),
    ("SAP", ("disentanglement", "sap"), ".3f"),
    ("FactorVAE score", ("disentanglement", "factor_vae"), ".3f"),
    ("BetaVAE score", ("disentanglement", "beta_vae"), ".3f"),
]


# the novel-view references (train/evaluation/novel_views.py), as the reports name them
REFERENCE_LABELS = {"copy_input": "copy the input", "dcign_no_rotation": "DC-IGN, no rotation"}


def summary_rows(metrics: list[dict]) -> list[tuple]:
    """The summary table's rows for these evaluations: one per factor any of them measured."""
    def factors(section):
        return list(dict.fromkeys(t for m in metrics for t in m.get(section, {})))

    return (FIRST_ROWS
            + [(f"{t}: Pearson r of its latent", ("equivariance", t, "pearson_r"), "+.3f")
               for t in factors("equivariance")]
            + [(f"{t} sweep / true image change", ("sweeps", t, "ratio"), ".3f") for t in factors("sweeps")]
            + LAST_ROWS)


def write_report(out: Path, cfg: dict, metrics: dict, eq: dict, figures: dict) -> None:
    """report.md of `dcign evaluate`."""
    lines = [f"# Evaluation of `{cfg['name']}` ({cfg['mode']}, {cfg['dataset']})", "",
             f"Trained for {cfg['steps']} steps of {cfg.get('batches_per_step', 1)} batch(es), F = {cfg['feature_maps']}, "
             f"{cfg['latent_dim']} latents. All numbers are on held-out test identities/chairs; codes are encoder "
             "means.", "",
             "## Reconstruction", "",
             "| per-pixel MSE on [0, 1] | the authors' convention (divided by 3 channels) |", "|---|---|",
             f"| {metrics['reconstruction']['mse']:.5f} | {metrics['reconstruction']['mse_authors_div3']:.5f} |", "",
             "## Inferred vs true factors (paper Fig. 6)", "",
             "| factor | latent | Pearson r | fit: value = a z + b |", "|---|---|---|---|"]
    for t, v in eq.items():
        lines.append(f"| {t} | z{v['latent']} | {v['pearson_r']:+.3f} | a = {v['slope']:.3g}, b = {v['intercept']:.3g} |")
    lines.append("")
    lines += [f"![{t}]({figures[f'equivariance_{t}']})" for t in eq]
    lines += ["", "## Invariance", "",
              "Mean within-batch spread of each latent group in batches where its factor is fixed, relative "
              "to its spread over the test set (0 = invariant).", "",
              "| latent group | " + " | ".join(f"{t} batches" for t in metrics["invariance"]) + " |",
              "|---" * (1 + len(metrics["invariance"])) + "|"]
    for group, spreads in metrics["invariance"].items():
        cells = ["—" if t == group else f"{spreads[t]:.2f}" for t in metrics["invariance"]]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    lines += ["", "## Latent sweeps (paper Figs. 4, 5, 8)", "",
              "Rows: test inputs. Columns: input, reconstruction, then the factor's latent swept across the "
              "range the encoder uses (2nd to 98th percentile), all other latents fixed.", ""]
    lines += ["How far each sweep moves the picture (mean absolute gray-level change between its end frames) "
              "against how far the factor moves the true renders (their two extreme views):", "",
              "| factor | sweep change | true change | ratio |", "|---|---|---|---|"]
    lines += [f"| {t} | {v['sweep_change']:.1f} | {v['true_change']:.1f} | {v['ratio']:.2f} |"
              for t, v in metrics["sweeps"].items()] + [""]
    for t in eq:
        lines += [f"### {t}", "", f"![sweep {t}]({figures[f'sweep_{t}']})", "",
                  f"Animated: [{figures[f'sweep_{t}_gif']}]({figures[f'sweep_{t}_gif']})", ""]
    if "novel_view" in metrics:
        lines += novel_view_lines(metrics["novel_view"], figures["novel_views"])
    lines += ["## Disentanglement metrics", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in sorted(metrics["disentanglement"].items())
              if isinstance(v, (int, float))]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def write_compare_report(out: Path, cfg: dict, baseline_dir: Path, table: dict) -> None:
    """report.md of `dcign compare`."""
    lines = [f"# `{cfg['name']}` vs the entangled baseline `{Path(baseline_dir).name}`", ""]
    (out / "report.md").write_text("\n".join(lines + novel_view_lines(table, "figures/novel_views.png")) + "\n")


def novel_view_lines(table: dict, figure: str) -> list[str]:
    lines = ["## Entangled vs disentangled (paper Fig. 7)", "",
             "Each test image of an azimuth batch is re-rendered at every other azimuth of its batch by "
             "setting the model's azimuth unit to the value a linear fit on training images predicts "
             "(the baseline's unit: its latent with the largest variance over azimuth batches), and "
             "compared with the true render. The references answer whether a model beats doing nothing: "
             "*copy the input* offers the input image itself as every other view; *DC-IGN, no rotation* "
             "offers the DC-IGN's reconstruction of the input at the input's own pose.", "",
             "| model | azimuth latent | r (train) | novel-view MSE |", "|---|---|---|---|"]
    for name, row in table.items():
        label = REFERENCE_LABELS.get(name, name)
        latent = f"z{row['latent']}" if "latent" in row else "—"
        r = f"{row['r_train']:+.3f}" if "r_train" in row else "—"
        lines.append(f"| {label} | {latent} | {r} | {row['novel_view_mse']:.5f} |")
    mse = {name: row["novel_view_mse"] for name, row in table.items()}
    ratios = [f"DC-IGN ÷ {REFERENCE_LABELS.get(name, name)}: {mse['dcign'] / mse[name]:.2f}"
              for name in ("baseline", "copy_input", "dcign_no_rotation") if name in mse and mse[name] > 0]
    lines += ["", "; ".join(ratios) + " (below 1: the DC-IGN does better).", "",
              "Rows: true renders of one test identity; DC-IGN re-renders of the first; baseline "
              "re-renders of the first.", "", f"![novel views]({figure})", ""]
    return lines


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
    for label, path, fmt in summary_rows([m for _, m in models]):
        values = [_lookup(m, path) for _, m in models]
        if all(v is None for v in values):
            continue
        lines.append(f"| {label} | " + " | ".join("—" if v is None else format(v, fmt) for v in values) + " |")
    for res, m in loaded:
        for name, row in m.get("novel_view", {}).items():
            lines.append(f"| novel-view MSE, {REFERENCE_LABELS.get(name, name)} (`{res.name}`) | " +
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
