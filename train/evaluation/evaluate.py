"""`dcign evaluate`: what the paper shows, on held-out identities/chairs, as numbers DVC tracks
and files a person opens: reconstruction error, inferred-vs-true factor plots (Fig. 6),
invariance of each latent group, latent sweeps (Figs. 4, 5, 8) and disentanglement metrics.

Codes are the encoder means (the sampled code adds noise that says nothing about the encoder).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from render.errors import UserError
from render.shards import ShardReader
from train.config import BATCH_TYPES
from train.trainer import to_batch

FACTOR_OF = {"azimuth": "azimuth", "elevation": "elevation", "light": "light_azimuth"}
SWEEP_STEPS = 8
CPU = torch.device("cpu")


def encode_split(model, reader: ShardReader, batch_types, max_batches: int | None = None) -> dict:
    """Encoder means, reconstructions' squared error and labels of every batch of the given types."""
    out = {"mu": [], "type": [], "batch": [], "sq_err": [], "labels": {}}
    for t in batch_types:
        for i in range(reader.count(t) if max_batches is None else min(max_batches, reader.count(t))):
            images, labels = reader.batch(t, i)
            x = to_batch(images, CPU)
            with torch.no_grad():
                mu, _ = model.encode(x)
                recon = model.decode_image(mu)
            out["mu"].append(mu.numpy())
            out["sq_err"].append(((recon - x) ** 2).mean(dim=(1, 2, 3)).numpy())
            out["type"] += [t] * len(x)
            out["batch"] += [f"{t}:{i}"] * len(x)
            for key, value in labels.items():
                if np.ndim(value) >= 1 and len(value) == len(x):
                    out["labels"].setdefault(key, []).append(np.asarray(value))
    result = {"mu": np.concatenate(out["mu"]), "sq_err": np.concatenate(out["sq_err"]),
              "type": np.array(out["type"]), "batch": np.array(out["batch"])}
    result["labels"] = {k: np.concatenate(v) for k, v in out["labels"].items()}
    return result


def equivariance(enc: dict, latents: dict, extrinsic) -> dict:
    """Per extrinsic factor: its latent's mean against the true value on batches where it varies,
    with Pearson r and the least-squares line value = slope * z + intercept."""
    result = {}
    for t in extrinsic:
        sel = enc["type"] == t
        z = enc["mu"][sel, latents[t][0]]
        y = enc["labels"][FACTOR_OF[t]][sel].astype(float)
        r = float(np.corrcoef(z, y)[0, 1]) if z.std() > 0 and y.std() > 0 else 0.0
        slope, intercept = np.polyfit(z, y, 1) if z.std() > 0 else (0.0, float(y.mean()))
        result[t] = {"latent": int(latents[t][0]), "pearson_r": r, "slope": float(slope),
                     "intercept": float(intercept), "z_range": [float(np.percentile(z, 2)), float(np.percentile(z, 98))],
                     "n": int(sel.sum())}
    return result


def invariance(enc: dict, latents: dict, types) -> dict:
    """Per latent group: its mean within-batch spread in single-factor batches of the other types,
    relative to its spread over the whole test set (0 = perfectly invariant, ~1 = ignores the batch)."""
    result = {}
    for group in types:
        z = enc["mu"][:, latents[group]]
        total = z.std(axis=0).mean()
        spreads = {}
        for other in types:
            if other == group:
                continue
            batches = np.unique(enc["batch"][enc["type"] == other])
            within = [z[enc["batch"] == b].std(axis=0).mean() for b in batches]
            spreads[other] = float(np.mean(within) / total) if total > 0 and within else 0.0
        result[group] = spreads
    return result


def discrete_factors(enc: dict, names) -> np.ndarray:
    return np.stack([np.unique(enc["labels"][n], return_inverse=True)[1] for n in names], axis=1)


def sweep_images(model, inputs: torch.Tensor, latent: int, values) -> np.ndarray:
    """[input, reconstruction, decoded with z_latent = v for v in values] per input, uint8."""
    with torch.no_grad():
        mu, _ = model.encode(inputs)
        rows = [inputs[:, 0], model.decode_image(mu)[:, 0]]
        for v in values:
            z = mu.clone()
            z[:, latent] = float(v)
            rows.append(model.decode_image(z)[:, 0])
    return (torch.stack(rows, dim=1).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)


def sweep_strength(tiles: np.ndarray, reader: ShardReader, batch_type: str, max_batches: int | None = None) -> dict:
    """How much a sweep changes the picture, against how much the factor really does: the mean
    absolute gray-level difference between the sweep's two end frames, and between the two extreme
    views of the true renders in the test batches of that type (sorted, so first and last). A ratio
    near 1 means the sweep moves the image as far as the factor does; near 0, the decoder ignores
    the latent, however well the encoder's value correlates with the factor."""
    swept = float(np.abs(tiles[:, -1].astype(float) - tiles[:, 2].astype(float)).mean())
    n = reader.count(batch_type) if max_batches is None else min(max_batches, reader.count(batch_type))
    true = [np.abs(im[-1].astype(float) - im[0].astype(float)).mean()
            for im in (reader.batch(batch_type, i)[0] for i in range(n))]
    true_change = float(np.mean(true))
    return {"sweep_change": swept, "true_change": true_change,
            "ratio": swept / true_change if true_change > 0 else 0.0}


def grid_png(tiles: np.ndarray, path: Path, gap: int = 4) -> None:
    from PIL import Image

    n_rows, n_cols, h, w = tiles.shape
    sheet = np.full((n_rows * (h + gap) + gap, n_cols * (w + gap) + gap), 255, np.uint8)
    for r in range(n_rows):
        for c in range(n_cols):
            sheet[gap + r * (h + gap):gap + r * (h + gap) + h, gap + c * (w + gap):gap + c * (w + gap) + w] = tiles[r, c]
    Image.fromarray(sheet).save(path)


def sweep_gif(tiles: np.ndarray, path: Path) -> None:
    """Frames: the sweep columns of all inputs side by side, there and back."""
    from PIL import Image

    frames = [np.concatenate(list(tiles[:, c]), axis=1) for c in range(2, tiles.shape[1])]
    frames = frames + frames[-2:0:-1]
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=120, loop=0)


def scatter_png(enc: dict, eq: dict, t: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sel = enc["type"] == t
    z = enc["mu"][sel, eq[t]["latent"]]
    y = enc["labels"][FACTOR_OF[t]][sel]
    fig, ax = plt.subplots(figsize=(4, 3.2), dpi=100)
    ax.scatter(y, z, s=6, alpha=0.4, color="tab:blue")
    if eq[t]["slope"]:
        zz = np.linspace(z.min(), z.max(), 10)
        ax.plot(eq[t]["slope"] * zz + eq[t]["intercept"], zz, color="tab:red", lw=1)
    ax.set_xlabel(f"true {FACTOR_OF[t]}")
    ax.set_ylabel(f"inferred z{eq[t]['latent']}")
    ax.set_title(f"{t}: r = {eq[t]['pearson_r']:.2f}")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def batch_unit(enc: dict, batch_type: str) -> int:
    """The paper's way to find an entangled model's unit for a factor: the latent with the largest
    variance over the batches in which only that factor varies."""
    sel = enc["type"] == batch_type
    return int(np.argmax(enc["mu"][sel].var(axis=0)))


def azimuth_latent(enc: dict, assigned: int | None) -> int:
    """The model's azimuth unit: its assigned latent, or for the entangled baseline the paper's choice."""
    return assigned if assigned is not None else batch_unit(enc, "azimuth")


def novel_views(model, reader: ShardReader, latent: int, fit: tuple, max_batches: int | None = None):
    """Encode each test image of an azimuth batch, set the azimuth latent to what the linear fit
    z = a * azimuth + b (fitted on training images) predicts for every other azimuth of the batch,
    decode, and compare with the true render of that identity at that pose."""
    a, b = fit
    errors, examples = [], []
    n = reader.count("azimuth") if max_batches is None else min(max_batches, reader.count("azimuth"))
    for i in range(n):
        images, labels = reader.batch("azimuth", i)
        x = to_batch(images, CPU)
        with torch.no_grad():
            mu, _ = model.encode(x)
            for src in range(len(x)):
                z = mu[src:src + 1].repeat(len(x), 1)
                z[:, latent] = torch.as_tensor(a * labels["azimuth"] + b, dtype=z.dtype)
                out = model.decode_image(z)
                errors.append(((out - x) ** 2).mean(dim=(1, 2, 3)).numpy())
                if i == 0 and src == 0:
                    examples = (x[:, 0].numpy(), out[:, 0].numpy())
    return float(np.mean(np.concatenate(errors))), examples


def compare_with_baseline(model, cfg, baseline_dir: Path, data: Path, out: Path, max_batches=None) -> dict:
    """The paper's Fig. 7 as numbers: novel-view synthesis by the DC-IGN and the entangled baseline."""
    from train.trainer import load_model

    baseline, _ = load_model(baseline_dir)
    train_reader, test_reader = ShardReader(data, "train"), ShardReader(data, "test")
    table, outputs = {}, {}
    for name, net, assigned in (("dcign", model, cfg["latents"]["azimuth"][0]), ("baseline", baseline, None)):
        enc = encode_split(net, train_reader, ["azimuth"], max_batches)
        latent = azimuth_latent(enc, assigned)
        z, y = enc["mu"][:, latent], enc["labels"]["azimuth"].astype(float)
        a, b = np.polyfit(y, z, 1)
        mse, (truth, decoded) = novel_views(net, test_reader, latent, (a, b), max_batches)
        table[name] = {"latent": latent, "r_train": float(np.corrcoef(z, y)[0, 1]), "novel_view_mse": mse}
        outputs[name] = decoded
    tiles = np.stack([truth, outputs["dcign"], outputs["baseline"]]).clip(0, 1)
    grid_png((tiles * 255 + 0.5).astype(np.uint8), out / "figures" / "novel_views.png")
    return table


def evaluate(model_dir: Path, data: Path, out: Path, preset: str = "fast", max_batches: int | None = None,
             seed: int = 0, baseline: Path | None = None) -> dict:
    from train.metrics import all_metrics
    from train.trainer import load_model

    model, cfg = load_model(model_dir)
    types = list(BATCH_TYPES[cfg["dataset"]])
    extrinsic = [t for t in types if t != "intrinsic"]
    latents = cfg["latents"]
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    test = encode_split(model, ShardReader(data, "test"), types, max_batches)
    train = encode_split(model, ShardReader(data, "train"), types, max_batches)

    if cfg["mode"] == "entangled":  # no assigned units: each factor's unit is chosen on training batches
        units = {t: [batch_unit(train, t)] for t in extrinsic}
        used = {u[0] for u in units.values()}
        latents = {**units, "intrinsic": [k for k in range(cfg["latent_dim"]) if k not in used]}
    mse = float(test["sq_err"].mean())
    eq = equivariance(test, latents, extrinsic)
    inv = invariance(test, latents, types)
    names = [FACTOR_OF[t] for t in extrinsic]
    rng = np.random.default_rng(seed)
    disentanglement = all_metrics(train["mu"], discrete_factors(train, names), test["mu"], discrete_factors(test, names),
                                  rng, preset=preset)

    figures, strength = {}, {}
    reader = ShardReader(data, "test")
    sweep_inputs = reader.batch("intrinsic", 0)[0][:6]  # six different test identities, one view
    for t in extrinsic:
        scatter_png(test, eq, t, out / "figures" / f"equivariance_{t}.png")
        figures[f"equivariance_{t}"] = f"figures/equivariance_{t}.png"
        sel = np.flatnonzero(test["type"] == t)
        rows = [{"true": float(test["labels"][FACTOR_OF[t]][i]), "inferred": float(test["mu"][i, eq[t]["latent"]])}
                for i in sel]
        (out / "plots" / f"equivariance_{t}.json").write_text(json.dumps(rows))
        lo, hi = eq[t]["z_range"]
        x = to_batch(sweep_inputs, CPU)
        tiles = sweep_images(model, x, eq[t]["latent"], np.linspace(lo, hi, SWEEP_STEPS))
        strength[t] = sweep_strength(tiles, reader, t, max_batches)
        grid_png(tiles, out / "figures" / f"sweep_{t}.png")
        sweep_gif(tiles, out / "figures" / f"sweep_{t}.gif")
        figures[f"sweep_{t}"] = f"figures/sweep_{t}.png"
        figures[f"sweep_{t}_gif"] = f"figures/sweep_{t}.gif"

    comparison = None
    if baseline is not None and "azimuth" in extrinsic:
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
                                  "unit": "deg" if t == "light" else "rad",
                                  "range": [float(test["labels"][FACTOR_OF[t]].min()),
                                            float(test["labels"][FACTOR_OF[t]].max())]}
                              for t, v in eq.items()}}
    (out / "latent_map.json").write_text(json.dumps(latent_map, indent=2, sort_keys=True) + "\n")
    write_report(out, cfg, metrics, eq, figures)
    return metrics


def novel_view_lines(table: dict, figure: str) -> list[str]:
    lines = ["## Entangled vs disentangled (paper Fig. 7)", "",
             "Each test image of an azimuth batch is re-rendered at every other azimuth of its batch by "
             "setting the model's azimuth unit to the value a linear fit on training images predicts "
             "(the baseline's unit: its latent with the largest variance over azimuth batches), and "
             "compared with the true render.", "",
             "| model | azimuth latent | r (train) | novel-view MSE |", "|---|---|---|---|"]
    for name, row in table.items():
        lines.append(f"| {name} | z{row['latent']} | {row['r_train']:+.3f} | {row['novel_view_mse']:.5f} |")
    lines += ["", "Rows: true renders of one test identity; DC-IGN re-renders of the first; baseline "
              "re-renders of the first.", "", f"![novel views]({figure})", ""]
    return lines


def compare(model_dir: Path, baseline_dir: Path, data: Path, out: Path, max_batches: int | None = None) -> dict:
    """`dcign compare`: the novel-view comparison alone, as its own pipeline stage (it depends on
    both models, the per-model evaluations on one each)."""
    from train.trainer import load_model

    model, cfg = load_model(model_dir)
    if "azimuth" not in cfg["latents"]:
        raise UserError(f"{model_dir}: a {cfg['dataset']} model has no azimuth latent to compare")
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    table = compare_with_baseline(model, cfg, Path(baseline_dir), data, out, max_batches)
    metrics = {"novel_view": table}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    lines = [f"# `{cfg['name']}` vs the entangled baseline `{Path(baseline_dir).name}`", ""]
    (out / "report.md").write_text("\n".join(lines + novel_view_lines(table, "figures/novel_views.png")) + "\n")
    return metrics


def write_report(out: Path, cfg: dict, metrics: dict, eq: dict, figures: dict) -> None:
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
