"""`dcign`: the one command-line entry point; DVC stages call it too.

User errors (bad params, broken model files, missing EGL) and the system's (a full disk, a file
that cannot be read or written) end the run with one line on stderr and exit status 2; Ctrl-C and
`kill` end it with one line and 130 (143 for kill); finished work stays on disk either way.
"""
from __future__ import annotations

import argparse
import json
import errno
import signal
import sys
from pathlib import Path

from pipelines.host_memory import keep_freed_memory
from render.errors import UserError
from render.schema import SCHEMAS


def cmd_render(args) -> None:
    from render.jobs.dataset import render_from_params

    out = Path(args.out or f"data/rendered/{args.dataset}")
    info = render_from_params(args.dataset, args.params, out, args.workers, args.executor, args.ray_address)
    n = sum(c["count"] for c in info["chunks"]) * info["image_shape"][0]
    print(f"dcign: {n} {args.dataset} images in {len(info['chunks'])} chunks under {out}")


def cmd_preview(args) -> None:
    from render.shards.preview import write_preview

    print(f"dcign: preview written to {write_preview(args.dir, args.out)}")


def cmd_shard(args) -> None:
    from render.shards.writer import shard_from_params

    manifest = shard_from_params(Path(args.input), Path(args.out), args.params)
    sizes = {s: m["batches"] for s, m in manifest["splits"].items()}
    print(f"dcign: {len(manifest['files'])} files under {args.out}, batches per split: {sizes}")


def cmd_verify(args) -> None:
    from render.shards.verify import verify

    print(f"dcign: {args.dir}: all {verify(args.dir)} files match the manifest")


def cmd_train(args) -> int:
    from train.loop import train_command

    return train_command(args.params, args.config, Path(args.data), Path(args.out or f"models/{args.config}"),
                         args.nproc, args.restart_if_changed, args.argv)


def cmd_evaluate(args) -> None:
    from train.evaluation.evaluate import evaluate

    metrics = evaluate(Path(args.model), Path(args.data), Path(args.out), preset=args.preset,
                       baseline=Path(args.baseline) if args.baseline else None)
    r = ", ".join(f"{t} r={v['pearson_r']:+.2f}" if "pearson_r" in v else f"{t} median error {v['median_error_deg']:.1f} deg"
                  for t, v in metrics["equivariance"].items())
    print(f"dcign: test MSE {metrics['reconstruction']['mse']:.5f}; {r}; identity top-1 {metrics['identity']['top1']:.2f}; "
          f"report in {Path(args.out) / 'report.md'}")


def cmd_ceiling(args) -> None:
    from train.ceiling import CeilingConfig, ceiling

    cfg = CeilingConfig(feature_maps=args.feature_maps, steps=args.steps, seed=args.seed, device=args.device,
                        precision=args.precision, preset=args.preset)
    result = ceiling(Path(args.data), Path(args.out), cfg)
    reads = ", ".join(f"{t} {v['median_error_deg']:.2f} deg" for t, v in result["equivariance"].items())
    scores = ", ".join(f"{k} {v:.3f}" for k, v in result["disentanglement"].items() if k in ("mig", "dci_disentanglement"))
    print(f"dcign: median read errors {reads}; {scores}; in {Path(args.out) / 'ceiling.json'}")


def cmd_compare(args) -> None:
    from train.evaluation.evaluate import compare

    metrics = compare(Path(args.model), Path(args.baseline), Path(args.data), Path(args.out))
    cells = ", ".join(f"{k} {v['novel_view_mse']:.5f}" for k, v in metrics["novel_view"].items())
    print(f"dcign: novel-view MSE {cells}; report in {Path(args.out) / 'report.md'}")


def cmd_report(args) -> None:
    from train.evaluation.report import combined_report

    out = combined_report([Path(r) for r in args.results], Path(args.out), [Path(p) for p in args.preview or []])
    print(f"dcign: wrote {out}")


def cmd_explore(args) -> None:
    from train.evaluation.explore import explore

    map_path = Path(args.map or f"results/{Path(args.model).name}/latent_map.json")
    info = explore(Path(args.model), Path(args.data), map_path, Path(args.out))
    diff = ", ".join(f"{k} {v:.1e}" for k, v in info["onnx_max_abs_diff"].items())
    print(f"dcign: explorer for {args.model} in {args.out} ({len(info['images'])} test images; ONNX vs PyTorch max "
          f"abs difference: {diff}); view it with: python -m http.server --directory {args.out}")


def cmd_rerender(args) -> None:
    from train.evaluation.rerender import rerender

    map_path = Path(args.map or f"results/{Path(args.model).name}/latent_map.json")
    out, seen = rerender(Path(args.model), map_path, Path(args.image), args.set or [], args.sweep, Path(args.out))
    units = {name: entry["unit"] for name, entry in json.loads(map_path.read_text())["factors"].items()}
    read = ", ".join(f"{name} {value:+.3f} {units[name]}" if units[name] == "rad" else f"{name} {value:+.1f} {units[name]}"
                     for name, value in seen.items())
    print(f"dcign: the model reads from {args.image}: {read}")
    print(f"dcign: re-rendered {args.image} to {out} (input | re-render)")


def cmd_bench_render(args) -> None:
    from render.bench.render import run_bench

    run_bench(args.dataset, args.params, args.images, args.workers, args.executor, args.ray_address)


def cmd_bench_load(args) -> None:
    from render.bench.load import bench_load

    bench_load(args.data, n_batches=args.batches)


def cmd_bench_train(args) -> None:
    from train.bench import bench_train

    bench_train(args)


def widths(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers such as 8,32,96") from None
    if not values or any(v < 4 or v % 4 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every width must be a multiple of 4, at least 4")
    return values


def width(text: str) -> int:
    values = widths(text)
    if len(values) != 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected one width, a multiple of 4, at least 4")
    return values[0]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dcign", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    render = sub.add_parser("render", help="render a single-factor dataset into chunk files")
    render.add_argument("dataset", choices=list(SCHEMAS))
    render.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    render.add_argument("--out", help="output directory (default: data/rendered/<dataset>)")
    render.add_argument("--workers", type=int, help="processes (default: params render.workers; 0 = all cores)")
    render.add_argument("--executor", choices=["local", "ray"],
                        help="local process pool or Ray tasks (default: params render.executor)")
    render.add_argument("--ray-address", help="Ray cluster to join (default: $RAY_ADDRESS, else a local Ray "
                                              "instance with --workers CPUs)")
    render.set_defaults(func=cmd_render)

    preview = sub.add_parser("preview", help="contact sheet of a rendered dataset, one row per batch type")
    preview.add_argument("dir", help="a rendered dataset directory")
    preview.add_argument("--out", required=True, help="PNG file to write")
    preview.set_defaults(func=cmd_preview)

    shard = sub.add_parser("shard", help="pack a rendered dataset into verified shards with a manifest")
    shard.add_argument("--in", dest="input", required=True, help="a rendered dataset directory")
    shard.add_argument("--out", required=True, help="shard directory to write")
    shard.add_argument("--params", default="params.yaml", help="params file (shards section)")
    shard.set_defaults(func=cmd_shard)

    train = sub.add_parser("train", help="train a DC-IGN (or the entangled baseline) on shards")
    train.add_argument("--data", required=True, help="a shard directory, e.g. data/shards/faces")
    train.add_argument("--config", required=True, help="the train.<name> section of params.yaml")
    train.add_argument("--out", help="model directory (default: models/<name>)")
    train.add_argument("--params", default="params.yaml")
    train.add_argument("--restart-if-changed", action="store_true",
                       help="if --out holds checkpoints of another config or other data, start over instead of "
                            "stopping (the DVC stage does: DVC keeps the old run in its cache)")
    train.add_argument("--nproc", type=int, help="data-parallel training processes on this machine, via torchrun "
                                                 "(one per GPU; gloo on CPU; default: $DCIGN_NPROC or 1); "
                                                 "batches_per_step must be a multiple")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="test-set metrics, figures and report.md for a trained model")
    evaluate.add_argument("--model", required=True, help="a model directory written by dcign train")
    evaluate.add_argument("--data", required=True, help="its shard directory")
    evaluate.add_argument("--out", required=True, help="results directory")
    evaluate.add_argument("--preset", choices=["fast", "standard"], default="fast",
                          help="disentanglement-metric settings: fast (MIG and SAP as standard, a cheaper DCI that "
                               "departs from it) or standard (disentanglement_lib's; DCI takes about an hour per "
                               "face model on 2 cores)")
    evaluate.add_argument("--baseline", help="an entangled baseline model: adds the novel-view comparison")
    evaluate.set_defaults(func=cmd_evaluate)

    ceiling = sub.add_parser("ceiling", help="the DC-IGN's encoder trained on the true factors: how precisely this "
                                             "architecture reads them, scored as evaluate scores a model")
    ceiling.add_argument("--data", required=True, help="a shard directory, e.g. data/shards/faces")
    ceiling.add_argument("--out", required=True, help="results directory (writes ceiling.json)")
    ceiling.add_argument("--feature-maps", type=width, default=16, metavar="F",
                         help="the encoder's width F (default 16, the full-range profile's; the paper's is 96)")
    ceiling.add_argument("--steps", type=int, default=20000, help="training steps of 20 images (default 20000)")
    ceiling.add_argument("--seed", type=int, default=0)
    ceiling.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ceiling.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ceiling.add_argument("--preset", choices=["fast", "standard"], default="standard",
                         help="disentanglement-metric settings, as dcign evaluate's (default standard)")
    ceiling.set_defaults(func=cmd_ceiling)

    compare = sub.add_parser("compare", help="novel-view synthesis: a DC-IGN against its entangled baseline")
    compare.add_argument("--model", required=True, help="the DC-IGN model directory")
    compare.add_argument("--baseline", required=True, help="the entangled baseline model directory")
    compare.add_argument("--data", required=True, help="their shard directory")
    compare.add_argument("--out", required=True, help="results directory")
    compare.set_defaults(func=cmd_compare)

    report = sub.add_parser("report", help="one report.md over several evaluate/compare results")
    report.add_argument("results", nargs="+", help="results directories of dcign evaluate or dcign compare")
    report.add_argument("--preview", action="append", help="a dataset contact sheet to show; repeatable")
    report.add_argument("--out", required=True, help="markdown file to write")
    report.set_defaults(func=cmd_report)

    rerender = sub.add_parser("rerender", help="re-render your own image with new pose or light values")
    rerender.add_argument("--model", required=True, help="a model directory written by dcign train")
    rerender.add_argument("--image", required=True, help="any image; converted to 150x150 grayscale")
    rerender.add_argument("--set", action="append", metavar="FACTOR=VALUE",
                          help="e.g. azimuth=0.6 (rad), elevation=0.2 (rad), light=-40 (deg); repeatable")
    rerender.add_argument("--sweep", help="write a GIF sweeping this factor over its range instead")
    rerender.add_argument("--map", help="latent map from dcign evaluate (default: results/<model>/latent_map.json)")
    rerender.add_argument("--out", required=True, help="PNG (or GIF with --sweep) to write")
    rerender.set_defaults(func=cmd_rerender)

    explore = sub.add_parser("explore", help="a page to turn and relight test images (or yours) with sliders, "
                                             "the model running in the browser")
    explore.add_argument("--model", required=True, help="a model directory written by dcign train")
    explore.add_argument("--data", required=True, help="its shard directory (the test images come from it)")
    explore.add_argument("--map", help="latent map from dcign evaluate (default: results/<model>/latent_map.json)")
    explore.add_argument("--out", required=True, help="the folder to write (index.html and what it loads)")
    explore.set_defaults(func=cmd_explore)

    verify = sub.add_parser("verify", help="check every shard file's sha256 against the manifest")
    verify.add_argument("dir", help="a shard directory")
    verify.set_defaults(func=cmd_verify)

    bench = sub.add_parser("bench", help="speed benchmarks against a baseline in the same run")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    bench_render = bench_sub.add_parser("render", help="images/s of the renderer vs a naive pyrender baseline")
    bench_render.add_argument("--params", default="params.yaml")
    bench_render.add_argument("--images", type=int, default=200, help="images per measurement (default 200)")
    bench_render.add_argument("--workers", type=int, help="processes for the all-cores run (default: all cores)")
    bench_render.add_argument("--dataset", choices=list(SCHEMAS), default=next(iter(SCHEMAS)),
                              help=f"the dataset to render (default: {next(iter(SCHEMAS))})")
    bench_render.add_argument("--executor", choices=["local", "ray"], default="local",
                              help="ray: the Ray executor against the local pool, instead of dcign vs naive pyrender")
    bench_render.add_argument("--ray-address", help="Ray cluster to use (default: $RAY_ADDRESS, else a local instance)")
    bench_render.set_defaults(func=cmd_bench_render)
    bench_load = bench_sub.add_parser("load", help="images/s from shards vs from PNG files")
    bench_load.add_argument("--data", required=True, help="a shard directory")
    bench_load.add_argument("--batches", type=int, default=200, help="random batches to read (default 200)")
    bench_load.set_defaults(func=cmd_bench_load)
    bench_train = bench_sub.add_parser("train", help="training images/s vs a naive fp32 eager loop")
    bench_train.add_argument("--feature-maps", type=widths, default=[8, 32, 96],
                             help="comma-separated widths F (default 8,32,96; the paper's is 96)")
    bench_train.add_argument("--latent-dim", type=int, default=200)
    bench_train.add_argument("--batch", type=int, default=20, help="images per batch without --data (default 20)")
    bench_train.add_argument("--batches-per-step", type=int, default=4,
                             help="single-factor batches per grouped step (default 4)")
    bench_train.add_argument("--steps", type=int, default=5, help="timed steps per loop (default 5)")
    bench_train.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    bench_train.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                             help="the project step's precision (default auto: bf16 where the device has bf16 units)")
    bench_train.add_argument("--compile", action="store_true", help="also time the grouped step under torch.compile")
    bench_train.add_argument("--data", help="a faces shard directory to read batches from (default: random images)")
    bench_train.set_defaults(func=cmd_bench_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = build_parser().parse_args(argv)
    args.argv = argv
    keep_freed_memory()
    signal.signal(signal.SIGTERM, _terminated)
    try:
        code = args.func(args)
    except UserError as e:
        print(f"dcign: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"dcign: error: {describe_os_error(e)}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Terminated) as e:
        print("dcign: interrupted; finished work (chunks, checkpoints) is kept: re-run the same command to resume",
              file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    return code or 0


class Terminated(Exception):
    """SIGTERM (`kill`), raised in the main thread so that pools and files close as on Ctrl-C."""


def _terminated(signum, frame):
    raise Terminated()


def describe_os_error(e: OSError) -> str:
    """An error of the system in one line: what, where, and what to do about a full disk."""
    where = f"{e.filename}: " if e.filename else ""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{where}no space left on the device; free some and re-run the same command (finished work is kept)"
    return f"{where}{e.strerror or e}"


if __name__ == "__main__":
    sys.exit(main())
