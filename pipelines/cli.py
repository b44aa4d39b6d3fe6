"""`dcign`: the one command-line entry point; DVC stages call it too.

User errors (bad params, broken model files, missing EGL) end the run with one line on
stderr and exit status 2; finished work stays on disk.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from render.errors import UserError


def _workers(requested: int | None, params: dict) -> int:
    if requested is None:
        requested = int(params.get("render", {}).get("workers", 0) or 0)
    if requested < 0:
        raise UserError(f"--workers {requested}: expected 0 (all cores) or a positive number of processes")
    return requested or os.cpu_count() or 1


def cmd_render(args) -> None:
    from render.config import faces_config, load_params
    from render.faces import render_faces

    params = load_params(args.params)
    cfg = faces_config(params, where=str(args.params), base_dir=str(Path(args.params).parent))
    out = Path(args.out or "data/rendered/faces")
    info = render_faces(cfg, out, _workers(args.workers, params))
    n = sum(c["count"] for c in info["chunks"]) * cfg.batch_size
    print(f"dcign: {n} face images in {len(info['chunks'])} chunks under {out}")


def cmd_preview(args) -> None:
    from render.preview import write_preview

    out = write_preview(args.dir, args.out)
    print(f"dcign: preview written to {out}")


def cmd_bench_render(args) -> None:
    from render.bench import bench_render
    from render.config import faces_config, load_params

    params = load_params(args.params)
    cfg = faces_config(params, where=str(args.params), base_dir=str(Path(args.params).parent))
    bench_render(cfg, images=args.images, workers=_workers(args.workers, params))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dcign", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    render = sub.add_parser("render", help="render a single-factor dataset into chunk files")
    render.add_argument("dataset", choices=["faces"])
    render.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    render.add_argument("--out", help="output directory (default: data/rendered/<dataset>)")
    render.add_argument("--workers", type=int, help="processes (default: params render.workers; 0 = all cores)")
    render.set_defaults(func=cmd_render)

    preview = sub.add_parser("preview", help="contact sheet of a rendered dataset, one row per batch type")
    preview.add_argument("dir", help="a rendered dataset directory")
    preview.add_argument("--out", required=True, help="PNG file to write")
    preview.set_defaults(func=cmd_preview)

    bench = sub.add_parser("bench", help="speed benchmarks against a baseline in the same run")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    bench_render = bench_sub.add_parser("render", help="images/s of the renderer vs a naive pyrender baseline")
    bench_render.add_argument("--params", default="params.yaml")
    bench_render.add_argument("--images", type=int, default=200, help="images per measurement (default 200)")
    bench_render.add_argument("--workers", type=int, help="processes for the all-cores run (default: all cores)")
    bench_render.set_defaults(func=cmd_bench_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as e:
        print(f"dcign: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dcign: interrupted; finished chunks are kept, re-run the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
