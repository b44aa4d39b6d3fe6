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
from render.schema import INTRINSIC
from render.shards.reader import ShardReader
from train.checkpoints import load_model
from train.data import DataSchema, to_batch
from train.evaluation.encoding import CPU, encode_split
from train.evaluation.figures import grid_png, scatter_png, sweep_gif, sweep_images, sweep_strength
from train.evaluation.metrics import all_metrics
from train.evaluation.novel_views import VIEW_TYPE, compare_with_baseline
from train.evaluation.probes import entangled_latents, equivariance, factor_classes, invariance
from train.evaluation.report import write_compare_report, write_report

SWEEP_STEPS = 8
SWEEP_INPUTS = 6  # test images of the first intrinsic batch: different identities, one view


def evaluate(model_dir: Path, data: Path, out: Path, preset: str = "fast", max_batches: int | None = None,
             seed: int = 0, baseline: Path | None = None) -> dict:
    model, cfg = load_model(model_dir)
    reader = ShardReader(data, "test")
    schema = DataSchema.of(reader)
    types, extrinsic = list(schema.batch_types), schema.extrinsic
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    test = encode_split(model, reader, types, max_batches)
    train = encode_split(model, ShardReader(data, "train"), types, max_batches)

    latents = cfg["latents"]
    if cfg["mode"] == "entangled":
        latents = entangled_latents(train, extrinsic, cfg["latent_dim"])
    mse = float(test["sq_err"].mean())
    eq = equivariance(test, latents, schema)
    inv = invariance(test, latents, types)
    factors = [schema.factor(t) for t in extrinsic]
    disentanglement = all_metrics(train["mu"], factor_classes(train, schema, factors), test["mu"],
                                  factor_classes(test, schema, factors), np.random.default_rng(seed), preset=preset)

    figures, strength = {}, {}
    sweep_inputs = to_batch(reader.batch(INTRINSIC, 0)[0][:SWEEP_INPUTS], CPU)
    for t in extrinsic:
        factor = schema.factor(t)
        scatter_png(test, eq, t, factor, out / "figures" / f"equivariance_{t}.png")
        figures[f"equivariance_{t}"] = f"figures/equivariance_{t}.png"
        sel = np.flatnonzero(test["type"] == t)
        rows = [{"true": float(test["labels"][factor][i]), "inferred": float(test["mu"][i, eq[t]["latent"]])}
                for i in sel]
        (out / "plots" / f"equivariance_{t}.json").write_text(json.dumps(rows))
        lo, hi = eq[t]["z_range"]
        tiles = sweep_images(model, sweep_inputs, eq[t]["latent"], np.linspace(lo, hi, SWEEP_STEPS))
        strength[t] = sweep_strength(tiles, reader, t, max_batches)
        grid_png(tiles, out / "figures" / f"sweep_{t}.png")
        sweep_gif(tiles, out / "figures" / f"sweep_{t}.gif")
        figures[f"sweep_{t}"] = f"figures/sweep_{t}.png"
        figures[f"sweep_{t}_gif"] = f"figures/sweep_{t}.gif"

    comparison = None
    if baseline is not None and VIEW_TYPE in extrinsic:
        comparison = compare_with_baseline(model, cfg, Path(baseline), data, out, max_batches)
        figures["novel_views"] = "figures/novel_views.png"
    metrics = {
        "training": {"steps": cfg["steps"], "batches_per_step": cfg.get("batches_per_step", 1)},
        "reconstruction": {"mse": mse, "mse_authors_div3": mse / 3},
        "equivariance": {t: {"pearson_r": v["pearson_r"], "abs_r": abs(v["pearson_r"])} for t, v in eq.items()},
        "invariance": inv,
        "sweeps": strength,
        "disentanglement": disentanglement,
    }
    if comparison is not None:
        metrics["novel_view"] = comparison
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    latent_map = {"model": str(model_dir), "dataset": cfg["dataset"],
                  "factors": {t: {"latent": v["latent"], "slope": v["slope"], "intercept": v["intercept"],
                                  "unit": schema.unit(t),
                                  "range": [float(test["labels"][schema.factor(t)].min()),
                                            float(test["labels"][schema.factor(t)].max())]}
                              for t, v in eq.items()}}
    (out / "latent_map.json").write_text(json.dumps(latent_map, indent=2, sort_keys=True) + "\n")
    write_report(out, cfg, metrics, eq, figures)
    return metrics


def compare(model_dir: Path, baseline_dir: Path, data: Path, out: Path, max_batches: int | None = None) -> dict:
    """`dcign compare`: the novel-view comparison alone, as its own pipeline stage (it depends on
    both models, the per-model evaluations on one each)."""
    model, cfg = load_model(model_dir)
    if VIEW_TYPE not in cfg["latents"]:
        raise UserError(f"{model_dir}: a {cfg['dataset']} model has no {VIEW_TYPE} latent to compare")
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    table = compare_with_baseline(model, cfg, Path(baseline_dir), data, out, max_batches)
    metrics = {"novel_view": table}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    write_compare_report(out, cfg, baseline_dir, table)
    return metrics
