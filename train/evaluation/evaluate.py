"""`dcign evaluate` and `dcign compare`: what the paper shows, on held-out identities/chairs, as
numbers DVC tracks and files a person opens: reconstruction error, inferred-vs-true factor plots
(Fig. 6), invariance of each latent group, latent sweeps (Figs. 4, 5, 8), disentanglement metrics
and novel views against the entangled baseline (Fig. 7).

Batch types, the factor each varies, units and grids come from the shard manifest.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from render.errors import UserError
from render.outputs import COMPARE, EVALUATE, output_dir
from render.schema import INTRINSIC
from render.shards.reader import ShardReader
from train.checkpoints import load_model
from train.data import DataSchema, to_batch
from train.evaluation.encoding import CPU, check_dataset, encode_split
from train.evaluation.figures import grid_png, scatter_png, sweep_gif, sweep_strength
from train.evaluation.ideal_code import reference_scores
from train.sheets import sweep_images
from train.evaluation.metrics import all_metrics
from train.evaluation.novel_views import VIEW_TYPE, baseline_view, fit_quality, novel_view_table, view_readout
from train.evaluation.probes import (entangled_latents, equivariance, factor_classes, identity_retrieval, invariance,
                                     readouts, scored_factors)
from train.evaluation.readout import Readout
from train.evaluation.routes import factor_routes
from train.evaluation.report import write_compare_report, write_report

SWEEP_STEPS = 8
SWEEP_INPUTS = 6  # test images of the first intrinsic batch: different identities, one view


def sweep_values(read: Readout, true: np.ndarray) -> np.ndarray:
    """The values a figure sweeps: a factor on a line from its smallest to its largest test value,
    a circular factor once around the circle."""
    if read.circular:
        return np.arange(SWEEP_STEPS) * read.period / SWEEP_STEPS
    return np.linspace(true.min(), true.max(), SWEEP_STEPS)


def factor_figures(model, test: dict, read: Readout, t: str, factor: str, unit: str, eq: dict, inputs,
                   reader: ShardReader, out: Path, max_batches) -> tuple[dict, dict]:
    """The scatter plot, its DVC plot rows, the sweep sheet and GIF of one factor, and the sweep's
    strength."""
    sel = np.flatnonzero(test["type"] == t)
    y = test["labels"][factor][sel].astype(float)
    if read.circular:
        inferred = read.values(test["mu"][sel])
        line = ([0, read.period], [0, read.period])
        ylabel, title = f"read {factor} ({unit})", f"{t}: median error {eq['median_error_deg']:.1f} deg"
    else:
        inferred = test["mu"][sel, read.latents[0]]
        xs = np.linspace(y.min(), y.max(), 10)
        line = (xs, read.codes(xs)[:, 0])
        ylabel, title = f"inferred z{read.latents[0]}", f"{t}: r = {eq['pearson_r']:.2f}"
    scatter_png(y, inferred, line, f"true {factor} ({unit})", ylabel, title, out / "figures" / f"equivariance_{t}.png")
    rows = [{"true": float(a), "inferred": float(b)} for a, b in zip(y, inferred)]
    (out / "plots" / f"equivariance_{t}.json").write_text(json.dumps(rows))
    tiles = sweep_images(model, inputs, read.latents, read.codes(sweep_values(read, y)))
    grid_png(tiles, out / "figures" / f"sweep_{t}.png")
    sweep_gif(tiles, out / "figures" / f"sweep_{t}.gif")
    figures = {f"equivariance_{t}": f"figures/equivariance_{t}.png", f"sweep_{t}": f"figures/sweep_{t}.png",
               f"sweep_{t}_gif": f"figures/sweep_{t}.gif"}
    return figures, sweep_strength(tiles, reader, t, factor, read.period, max_batches)


def evaluate(model_dir: Path, data: Path, out: Path, preset: str = "fast", max_batches: int | None = None,
             seed: int = 0, baseline: Path | None = None) -> dict:
    """`dcign evaluate`, holding `out` for its run (render/outputs.py)."""
    with output_dir(out, EVALUATE):
        return _evaluate(model_dir, data, Path(out), preset, max_batches, seed, baseline)


def _evaluate(model_dir: Path, data: Path, out: Path, preset: str, max_batches: int | None, seed: int,
              baseline: Path | None) -> dict:
    model, cfg = load_model(model_dir)
    reader = ShardReader(data, "test")
    check_dataset(cfg, model_dir, reader)
    schema = DataSchema.of(reader)
    types, extrinsic = list(schema.batch_types), schema.extrinsic
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    test = encode_split(model, reader, types, max_batches, keep=(INTRINSIC,))
    train = encode_split(model, ShardReader(data, "train"), types, max_batches)

    latents = cfg["latents"]
    if cfg["mode"] == "entangled":
        latents = entangled_latents(train, extrinsic, cfg["latent_dim"])
    reads = readouts(train, latents, schema)
    eq = equivariance(test, reads, schema)
    inv = invariance(test, latents, types)
    factors = scored_factors(train, schema)
    classes = factor_classes(train, schema, factors), factor_classes(test, schema, factors)
    disentanglement = all_metrics(train["mu"], classes[0], test["mu"], classes[1], np.random.default_rng(seed),
                                  preset=preset)
    reference = reference_scores(train["labels"], test["labels"], classes, schema, factors, eq, seed, preset)

    figures, strength, routes = {}, {}, {}
    inputs = to_batch(reader.batch(INTRINSIC, 0)[0][:SWEEP_INPUTS], CPU)
    for t in extrinsic:
        shown, strength[t] = factor_figures(model, test, reads[t], t, schema.factor(t), schema.unit(t), eq[t],
                                            inputs, reader, out, max_batches)
        figures.update(shown)
        routes[t] = factor_routes(model, reader, t, schema.factor(t), latents, reads[t].period, max_batches)

    novel = None
    if VIEW_TYPE in extrinsic:
        sel = train["type"] == VIEW_TYPE
        fit = fit_quality(reads[VIEW_TYPE], train["mu"][sel], train["labels"][schema.factor(VIEW_TYPE)][sel],
                          schema.unit(VIEW_TYPE))
        views = {"dcign" if cfg["mode"] == "clamped" else "baseline": (model, reads[VIEW_TYPE], fit)}
        if baseline is not None:
            views["baseline"] = baseline_view(Path(baseline), data, max_batches)
        novel = novel_view_table(views, data, out, max_batches)
        figures["novel_views"] = "figures/novel_views.png"
    metrics = {
        "training": {"steps": cfg["steps"], "batches_per_step": cfg.get("batches_per_step", 1)},
        "evaluation": {"preset": preset, "factors": factors},
        "reconstruction": {"mse": float(test["sq_err"].mean()), "mse_authors_div3": float(test["sq_err"].mean()) / 3},
        "identity": identity_retrieval(test["images"], test["recons"], test["kept"]),
        "equivariance": eq,
        "invariance": inv,
        "sweeps": strength,
        "routes": routes,
        "disentanglement": disentanglement,
        "disentanglement_reference": reference,
    }
    if novel is not None:
        metrics["novel_view"] = novel
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    latent_map = {"model": str(model_dir), "dataset": cfg["dataset"],
                  "factors": {t: {"readout": reads[t].as_dict(), "unit": schema.unit(t),
                                  "range": [float(min(schema.grid(schema.factor(t)))),
                                            float(max(schema.grid(schema.factor(t))))]}
                              for t in extrinsic}}
    (out / "latent_map.json").write_text(json.dumps(latent_map, indent=2, sort_keys=True) + "\n")
    write_report(out, cfg, metrics, figures)
    return metrics


def compare(model_dir: Path, baseline_dir: Path, data: Path, out: Path, max_batches: int | None = None) -> dict:
    """`dcign compare`: the novel-view comparison alone, as its own pipeline stage (it depends on
    both models, the per-model evaluations on one each)."""
    with output_dir(out, COMPARE):
        return _compare(model_dir, baseline_dir, data, Path(out), max_batches)


def _compare(model_dir: Path, baseline_dir: Path, data: Path, out: Path, max_batches: int | None) -> dict:
    model, cfg = load_model(model_dir)
    reader = ShardReader(data, "train")
    check_dataset(cfg, model_dir, reader)
    if VIEW_TYPE not in cfg["latents"]:
        raise UserError(f"{model_dir}: a {cfg['dataset']} model has no {VIEW_TYPE} latent to compare")
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    views = {"dcign": (model, *view_readout(model, reader, DataSchema.of(reader), cfg["latents"][VIEW_TYPE], max_batches)),
             "baseline": baseline_view(Path(baseline_dir), data, max_batches)}
    table = novel_view_table(views, data, out, max_batches)
    metrics = {"novel_view": table}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    write_compare_report(out, cfg, baseline_dir, table)
    return metrics
