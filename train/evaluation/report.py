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
from train.evaluation.metrics import AS_STANDARD

# (row label, path into metrics.json, format): the summary table, in reading order; the rows of
# each factor (its read-out error, its latent's Pearson r, its sweep's strength) come between the parts
FIRST_ROWS = [
    ("training steps", ("training", "steps"), "d"),
    ("test reconstruction MSE", ("reconstruction", "mse"), ".5f"),
    ("identity kept: retrieval top-1 (chance 1 / batch)", ("identity", "top1"), ".3f"),
    ("identity spread of reconstructions / of inputs", ("identity", "spread_ratio"), ".3f"),
]
LAST_ROWS = [
    ("MIG", ("disentanglement", "mig"), ".3f"),
    ("DCI disentanglement", ("disentanglement", "dci_disentanglement"), ".3f"),
    ("MIG of an exact ideal code (the most on these grids)", ("disentanglement_reference", "exact", "mig"), ".3f"),
    ("DCI disentanglement of an exact ideal code", ("disentanglement_reference", "exact", "dci_disentanglement"), ".3f"),
    ("MIG of an ideal code with the model's read errors", ("disentanglement_reference", "model_precision", "mig"),
     ".3f"),
    ("DCI disentanglement of an ideal code with the model's read errors",
     ("disentanglement_reference", "model_precision", "dci_disentanglement"), ".3f"),
    ("DCI completeness", ("disentanglement", "dci_completeness"), ".3f"),
    ("DCI informativeness (test accuracy)", ("disentanglement", "dci_informativeness_test"), ".3f"),
    ("SAP", ("disentanglement", "sap"), ".3f"),
    ("FactorVAE score", ("disentanglement", "factor_vae"), ".3f"),
    ("BetaVAE score", ("disentanglement", "beta_vae"), ".3f"),
]

# where each disentanglement metric's codes come from (train/evaluation/metrics.py, all_metrics)
METRIC_POOLS = {
    "mig": "training pool",
    "dci_disentanglement": "trees fit on the training pool",
    "dci_completeness": "trees fit on the training pool",
    "dci_informativeness_train": "training pool",
    "dci_informativeness_test": "trees fit on the training pool, scored on the test pool",
    "sap": "fit on the training pool, scored on the test pool",
    "factor_vae": "batches drawn from the training and test pools together",
    "beta_vae": "batches drawn from the training and test pools together",
}

# the ideal codes of train/evaluation/ideal_code.py and the scores shown beside the model's
REFERENCE_CODES = {"exact": "ideal code, exact", "model_precision": "ideal code, with this model's read errors"}
REFERENCE_METRICS = [("mig", "MIG"), ("dci_disentanglement", "DCI disentanglement"),
                     ("dci_completeness", "DCI completeness"), ("dci_informativeness_test", "DCI informativeness (test)")]

# the novel-view references (train/evaluation/novel_views.py), as the reports name them
REFERENCE_LABELS = {"dcign": "DC-IGN", "copy_input": "copy the input", "dcign_no_rotation": "DC-IGN, no rotation",
                    "baseline_no_rotation": "baseline, no rotation"}


def summary_rows(metrics: list[dict]) -> list[tuple]:
    """The summary table's rows for these evaluations: one per factor any of them measured."""
    def factors(section, key=None):
        return list(dict.fromkeys(t for m in metrics for t, v in m.get(section, {}).items()
                                  if key is None or key in v))

    return (FIRST_ROWS
            + [(f"{t}: median error of the value read from its latents (deg)", ("equivariance", t, "median_error_deg"),
                ".1f") for t in factors("equivariance")]
            + [(f"{t}: Pearson r of its latent", ("equivariance", t, "pearson_r"), "+.3f")
               for t in factors("equivariance", "pearson_r")]
            + [(f"{t} sweep / true image change", ("sweeps", t, "ratio"), ".3f") for t in factors("sweeps")]
            + [(f"{t}: change drawn through the intrinsic latents / true change", ("routes", t, "intrinsic"), ".3f")
               for t in factors("routes")]
            + LAST_ROWS)


def write_report(out: Path, cfg: dict, metrics: dict, figures: dict) -> None:
    """report.md of `dcign evaluate`."""
    eq = metrics["equivariance"]
    identity = metrics["identity"]
    lines = [f"# Evaluation of `{cfg['name']}` ({cfg['mode']}, {cfg['dataset']})", "",
             f"Trained for {cfg['steps']} steps of {cfg.get('batches_per_step', 1)} batch(es), F = {cfg['feature_maps']}, "
             f"{cfg['latent_dim']} latents. Codes are encoder means. Every number is on held-out test "
             "identities/chairs, except where the disentanglement section names the training pool.", "",
             "## Reconstruction", "",
             "| per-pixel MSE on [0, 1] | the authors' convention (divided by 3 channels) |", "|---|---|",
             f"| {metrics['reconstruction']['mse']:.5f} | {metrics['reconstruction']['mse_authors_div3']:.5f} |", "",
             "## Identity", "",
             "In the test batches where only the identity varies (pose and light fixed): the share of "
             "reconstructions nearer to their own input than to any other identity's input of the batch, and "
             "how much the reconstructions differ from each other against how much the inputs do (0 = one "
             "mean face for everyone).", "",
             "| retrieval top-1 | chance | spread of reconstructions / of inputs |", "|---|---|---|",
             f"| {identity['top1']:.3f} | {identity['chance']:.3f} | {identity['spread_ratio']:.3f} |", "",
             "## Inferred vs true factors (paper Fig. 6)", "",
             "Each factor is read from its latents as fitted on the training images: by a least-squares line, or "
             "for a circular factor with two latents as the nearest point of the loop through the mean training "
             "code of each grid value. The error is taken on the test images, around the circle for a circular "
             "factor.", "",
             "| factor | latents | median error (deg) | Pearson r of its first latent |", "|---|---|---|---|"]
    for t, v in eq.items():
        r = f"{v['pearson_r']:+.3f}" if "pearson_r" in v else "n/a (circular)"
        lines.append(f"| {t} | {', '.join(f'z{k}' for k in v['latents'])} | {v['median_error_deg']:.1f} | {r} |")
    lines.append("")
    for t, v in eq.items():
        if "median_error_deg_by_family" in v:
            families = v["median_error_deg_by_family"]
            lines += [f"{t} by chair family, median error (deg): a stool that looks the same after a quarter turn "
                      "has no angle to read.", "", "| " + " | ".join(families) + " |", "|---" * len(families) + "|",
                      "| " + " | ".join(f"{e:.1f}" for e in families.values()) + " |", ""]
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
              "Rows: test inputs. Columns: input, reconstruction, then the factor's latents set to what the fit "
              "gives for values from the factor's smallest to its largest test value (a circular factor: once "
              "around the circle), all other latents kept.", ""]
    lines += ["How far each sweep moves the picture (mean absolute gray-level change between its end frames; "
              "circular: frames half a turn apart) against how far the factor moves the true renders (the two "
              "extreme views of a batch; circular: views half a turn apart):", "",
              "| factor | sweep change | true change | ratio |", "|---|---|---|---|"]
    lines += [f"| {t} | {v['sweep_change']:.1f} | {v['true_change']:.1f} | {v['ratio']:.2f} |"
              for t, v in metrics["sweeps"].items()] + [""]
    lines += route_lines(metrics.get("routes", {}))
    for t in eq:
        lines += [f"### {t}", "", f"![sweep {t}]({figures[f'sweep_{t}']})", "",
                  f"Animated: [{figures[f'sweep_{t}_gif']}]({figures[f'sweep_{t}_gif']})", ""]
    if "novel_view" in metrics:
        lines += novel_view_lines(metrics["novel_view"], figures["novel_views"])
    lines += disentanglement_lines(metrics)
    (out / "report.md").write_text("\n".join(lines) + "\n")


def route_lines(routes: dict) -> list[str]:
    """Through which latents each factor reaches the picture (train/evaluation/routes.py)."""
    if not routes:
        return []
    lines = ["Through which latents the decoder draws each factor: two test renders of a batch that differ only "
             "in the factor (its extremes; circular: half a turn apart), the first one's code decoded with one "
             "group of latents taken from the second's; the picture's change over the true change. A "
             "disentangled model draws the factor through its own latents (about as far as its reconstructions "
             "move) and not through the intrinsic ones.", "",
             "| factor | reconstructions | own latents | intrinsic latents | other factors' latents |",
             "|---|---|---|---|---|"]
    cell = lambda v, key: f"{v[key]:.2f}" if key in v else "—"
    lines += [f"| {t} | " + " | ".join(cell(v, key) for key in ("reconstruction", "own", "intrinsic", "other_factors"))
              + " |" for t, v in routes.items()]
    return lines + [""]


def disentanglement_lines(metrics: dict) -> list[str]:
    scores = metrics["disentanglement"]
    evaluation = metrics["evaluation"]
    preset = evaluation["preset"]
    lines = ["## Disentanglement metrics", "",
             f"Preset `{preset}` (train/evaluation/metrics.py): `standard` follows the disentanglement_lib "
             "settings; `fast` computes MIG, DCI and SAP as `standard` does and FactorVAE / BetaVAE from fewer votes "
             "(noisier). "
             f"Factors scored: {', '.join(evaluation['factors'])}. Training and test pools are the encoded "
             "training and test images; the test identities are never seen in training.", "",
             "| metric | value | computed on | settings |", "|---|---|---|---|"]
    same = AS_STANDARD.get(preset, ())
    lines += [f"| {k} | {v:.3f} | {METRIC_POOLS.get(k, '')} | {'standard' if k in same else preset + ', departs'} |"
              for k, v in sorted(scores.items()) if isinstance(v, (int, float))]
    lines += [f"| {k} | n/a | {reason} | |" for k, reason in sorted(scores.get("not_applicable", {}).items())]
    return lines + [""] + reference_lines(metrics)


def reference_lines(metrics: dict) -> list[str]:
    """The model's MIG and DCI beside an ideal code's on the same rows (train/evaluation/ideal_code.py)."""
    reference = metrics.get("disentanglement_reference")
    if not reference:
        return []
    own = metrics["disentanglement"]
    cell = lambda scores, key: f"{scores[key]:.3f}" if key in scores else "n/a"
    rows = [("this model", own)] + [(label, reference[key]) for key, label in REFERENCE_CODES.items()
                                    if key in reference]
    lines = ["### Against an ideal code on the same grids", "",
             "MIG and DCI score each factor as classes on its grid. An ideal code holds one latent per factor "
             "(two, cosine and sine, for a circular one), built from the true values of the same rows and scored "
             "with the same preset: *exact*, and *with this model's read errors* (independent Gaussian errors "
             "with the model's median read error on the test images). The exact row is the most these scores "
             "can give on these grids; the gap between the model and the second row is what its code loses to "
             "entanglement rather than to precision (its errors are not independent, so this is a reference, "
             "not a bound).", "",
             "| code | " + " | ".join(label for _, label in REFERENCE_METRICS) + " |",
             "|---" * (1 + len(REFERENCE_METRICS)) + "|"]
    lines += [f"| {name} | " + " | ".join(cell(scores, key) for key, _ in REFERENCE_METRICS) + " |"
              for name, scores in rows]
    lines += [f"| {REFERENCE_CODES[key]} | n/a: {reason} |" + " |" * (len(REFERENCE_METRICS) - 1)
              for key, reason in reference.get("not_applicable", {}).items()]
    return lines + [""]


def write_compare_report(out: Path, cfg: dict, baseline_dir: Path, table: dict) -> None:
    """report.md of `dcign compare`."""
    lines = [f"# `{cfg['name']}` vs the entangled baseline `{Path(baseline_dir).name}`", ""]
    (out / "report.md").write_text("\n".join(lines + novel_view_lines(table, "figures/novel_views.png")) + "\n")


def novel_view_lines(table: dict, figure: str) -> list[str]:
    lines = ["## Novel views (paper Fig. 7)", "",
             "Each test image of an azimuth batch is re-rendered at every other azimuth of its batch by "
             "setting the model's azimuth latents to the codes a fit on training images gives for that azimuth "
             "(an entangled model's unit: its latent with the largest variance over azimuth batches), and "
             "compared with the true render. The references answer whether a model beats doing nothing: "
             "*copy the input* offers the input image itself as every other view; *no rotation* "
             "offers the first model's reconstruction of the input at the input's own pose.", "",
             "| model | azimuth latents | fit on training images | novel-view MSE |", "|---|---|---|---|"]
    for name, row in table.items():
        label = REFERENCE_LABELS.get(name, name)
        latents = ", ".join(f"z{k}" for k in row["latents"]) if "latents" in row else "—"
        fit = (f"r = {row['r_train']:+.3f}" if "r_train" in row else
               f"median error {row['median_error_deg_train']:.1f} deg" if "median_error_deg_train" in row else "—")
        lines.append(f"| {label} | {latents} | {fit} | {row['novel_view_mse']:.5f} |")
    mse = {name: row["novel_view_mse"] for name, row in table.items()}
    models = [name for name, row in table.items() if "latents" in row]
    first = "dcign" if "dcign" in models else models[0]
    ratios = [f"{REFERENCE_LABELS.get(first, first)} ÷ {REFERENCE_LABELS.get(name, name)}: {mse[first] / mse[name]:.2f}"
              for name in table if name != first and mse[name] > 0]
    lines += ["", "; ".join(ratios) + " (below 1: the first model does better).", "",
              "Rows: true renders of one test identity, then each model's re-renders of the first.", "",
              f"![novel views]({figure})", ""]
    return lines


def _lookup(metrics: dict, path: tuple):
    for key in path:
        if not isinstance(metrics, dict) or key not in metrics:
            return None
        metrics = metrics[key]
    return metrics if isinstance(metrics, (int, float)) else None


def own_novel_views(metrics: dict) -> dict:
    """A model's own novel-view MSE and its references' from its evaluation, if it made them."""
    table = metrics.get("novel_view", {})
    models = [name for name, row in table.items() if "latents" in row]
    if not models:
        return {}
    name = "dcign" if "dcign" in models else models[0]
    out = {"model": table[name]["novel_view_mse"]}
    for key, ref in (("copy_input", "copy_input"), ("no_rotation", f"{name}_no_rotation")):
        if ref in table:
            out[key] = table[ref]["novel_view_mse"]
    return out


def _not_applicable(metrics: dict, path: tuple) -> bool:
    """Whether a missing score is one the evaluation says does not apply, rather than one it never computed."""
    own = metrics.get("disentanglement", {}).get("not_applicable", {})
    if path[0] == "disentanglement":
        return path[-1] in own
    if path[0] == "disentanglement_reference":
        return path[1] in metrics.get(path[0], {}).get("not_applicable", {}) or path[-1] in own
    return False


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
             "Numbers are on held-out test identities / chairs (never seen in training), from encoder means; "
             "the disentanglement metrics name their pools and preset in each model's section. Regenerate with "
             "`dvc repro`; compare runs with `dvc metrics diff` and `dvc plots diff`.", "",
             "## All metrics", "",
             "| metric | " + " | ".join(f"`{res.name}`" for res, _ in models) + " |",
             "|---" * (1 + len(models)) + "|"]
    lines.append("| disentanglement metric preset | " + " | ".join(
        f"`{m.get('evaluation', {}).get('preset', '?')}`" for _, m in models) + " |")
    for label, path, fmt in summary_rows([m for _, m in models]):
        values = [_lookup(m, path) for _, m in models]
        if all(v is None for v in values):
            continue
        cells = [format(v, fmt) if v is not None else "n/a" if _not_applicable(m, path) else "—"
                 for v, (_, m) in zip(values, models)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    views = [own_novel_views(m) for _, m in models]
    for key, label in (("model", "novel-view MSE, the model's re-renders"), ("copy_input", "novel-view MSE, copy the input"),
                       ("no_rotation", "novel-view MSE, the model without rotation")):
        if any(key in v for v in views):
            lines.append(f"| {label} | " + " | ".join(f"{v[key]:.5f}" if key in v else "—" for v in views) + " |")
    lines.append("")
    for res, m in loaded:
        if "reconstruction" not in m and "novel_view" in m:
            cells = "; ".join(f"{REFERENCE_LABELS.get(name, name)} {row['novel_view_mse']:.5f}"
                              for name, row in m["novel_view"].items())
            lines += [f"Novel views, `{res.name}`: {cells}.", ""]
    if previews:
        lines += ["## Training data", "", "Contact sheets of rendered single-factor batches: each row varies one "
                  "factor and holds the others fixed.", ""]
        lines += [f"![{Path(p).stem}]({rel(p)})" for p in previews] + [""]
    for res, _ in loaded:
        lines += _embed((res / "report.md").read_text(), rel(res)) + [""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines).rstrip() + "\n")
    return out
