"""`dcign bench render`: the project's renderer against a naive pyrender baseline, same images,
same meshes, same size, in one run; per process and with all cores.

The baseline is what a first script would do: a new pyrender Scene, a mesh converted from
trimesh and pyrender's default (physically based) shading for every image.
"""
from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np


def image_specs(source, batch_types, n_images: int) -> list[tuple]:
    """(identity, azimuth, elevation, light) of the first n train images the dataset's render
    would draw, cycling through the batch types so every kind of batch is in the mix."""
    specs = []
    index = 0
    while len(specs) < n_images:
        for batch_type in batch_types:
            v = source.views("train", batch_type, index)[0]
            specs += list(zip(*(np.asarray(a).tolist() for a in (v.identity, v.azimuth, v.elevation,
                                                                 v.light_azimuth))))
        index += 1
    return specs[:n_images]


def run_bench(dataset: str, params_path, n_images: int, workers: int | None, executor: str,
              ray_address: str | None) -> dict:
    """`dcign bench render`: dcign against naive pyrender, or with `executor` ray, Ray against the
    local pool, on the dataset's own images."""
    from render.jobs.config import executor_config
    from render.jobs.dataset import load_config, render_dataset
    from render.schema import schema_of

    schema = schema_of(dataset)
    params, cfg = load_config(dataset, params_path)
    ex = executor_config(params, str(params_path), workers=workers, executor=executor, ray_address=ray_address)
    if ex.kind == "ray":
        return bench_executors(lambda c, out, e: render_dataset(dataset, c, out, e), cfg, n_images, ex)
    prepared = schema.module().prepare(cfg)
    source = schema.module().Source(cfg, prepared)
    specs = image_specs(source, schema.batch_types, n_images)
    return bench_render(schema.module().Source, (cfg, prepared),
                        f"{prepared.summary} at {cfg.image_size}x{cfg.image_size}", specs, ex.workers)


class NaiveRenderer:
    """A new Scene, a mesh from trimesh and default shading per image (one context, reused:
    re-creating EGL contexts in one process is not supported by pyrender)."""

    def __init__(self, reference):
        import pyrender

        self.pyrender = pyrender
        self.ref = reference  # the project's renderer: same framing, size, light and background
        size = reference.image_size
        self.renderer = pyrender.OffscreenRenderer(size, size)

    def render(self, mesh, azimuth, elevation, light_azimuth):
        import trimesh

        from render.gl.renderer import head_pose, light_pose

        pyrender, ref, f = self.pyrender, self.ref, self.ref.framing
        colors = np.concatenate([mesh.albedo, np.ones((len(mesh.albedo), 1), np.float32)], axis=1)
        tm = trimesh.Trimesh(mesh.vertices - f.center, mesh.triangles, vertex_colors=colors, process=False)
        scene = pyrender.Scene(bg_color=ref.scene.bg_color, ambient_light=ref.scene.ambient_light)
        scene.add(pyrender.Mesh.from_trimesh(tm), pose=head_pose(azimuth, elevation))
        cam_pose = np.eye(4)
        cam_pose[2, 3] = f.distance
        scene.add(pyrender.PerspectiveCamera(yfov=f.yfov, znear=f.znear, zfar=f.zfar), pose=cam_pose)
        scene.add(pyrender.DirectionalLight(intensity=ref.light_intensity),
                  pose=light_pose(light_azimuth, ref.light_elevation))
        color, _ = self.renderer.render(scene)
        return (color.astype(np.float32) @ np.array([0.21, 0.72, 0.07], np.float32)).astype(np.uint8)


_start_line = None


def _init_measure(barrier) -> None:
    global _start_line
    _start_line = barrier
    os.environ["LP_NUM_THREADS"] = "1"  # one core per process, so processes = cores used


def _measure(kind: str, factory, factory_args, specs: list[tuple]) -> tuple[int, float]:
    """Render `specs` in this process; returns (images, seconds) excluding start-up, which
    ends for all processes together at the barrier. Meshes are made before the clock starts:
    both renderers get the same meshes, so only rendering is compared."""
    batches = factory(*factory_args)
    meshes = {identity: batches.mesh(identity) for identity in dict.fromkeys(s[0] for s in specs)}
    naive = NaiveRenderer(batches.renderer) if kind == "naive" else None
    renderer = batches.renderer
    for warm_up in (True, False):
        if not warm_up:
            _start_line.wait()
            start = time.perf_counter()
        current = None
        for identity, az, el, light in specs[:1] if warm_up else specs:
            if kind == "dcign":
                if identity != current:
                    renderer.set_mesh(meshes[identity])
                    current = identity
                renderer.render(az, el, light)
            else:
                naive.render(meshes[identity], az, el, light)
    return len(specs), time.perf_counter() - start


def _agreement(factory, factory_args, specs: list[tuple]) -> float:
    """Mean IoU of the two renderers' silhouettes on the same images: both must draw the same meshes
    at the same poses for their rates to be comparable (their shading differs by design)."""
    batches = factory(*factory_args)
    naive = NaiveRenderer(batches.renderer)
    background = batches.cfg.background
    ious = []
    for identity, az, el, light in specs:
        batches.use(identity)
        ours = np.abs(batches.renderer.render(az, el, light).astype(int) - background) > 2
        theirs = np.abs(naive.render(batches.mesh(identity), az, el, light).astype(int) - background) > 2
        ious.append((ours & theirs).sum() / max(1, (ours | theirs).sum()))
    return float(np.mean(ious))


def _throughput(kind: str, factory, factory_args, specs: list[tuple], processes: int) -> float:
    """Images/s with `processes` spawned workers splitting the same images (contiguous shares,
    so identities stay together as in a real render)."""
    n = len(specs)
    shares = [s for s in (specs[k * n // processes:(k + 1) * n // processes] for k in range(processes)) if s]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(shares))
    with ctx.Pool(len(shares), initializer=_init_measure, initargs=(barrier,)) as pool:
        results = pool.starmap(_measure, [(kind, factory, factory_args, share) for share in shares])
    return sum(n for n, _ in results) / max(t for _, t in results)


def bench_render(factory, factory_args, description: str, specs: list[tuple], workers: int) -> dict:
    """Measure both renderers on `specs` with 1 and `workers` processes and print the ratios."""
    print(f"dcign bench render: {len(specs)} images of {description}, {workers} processes for the all-cores run",
          flush=True)
    rates = {}
    for processes in sorted({1, workers}):
        for kind in ("dcign", "naive"):
            rates[(kind, processes)] = _throughput(kind, factory, factory_args, specs, processes)
            print(f"  {kind:6s} {processes:2d} process(es): {rates[(kind, processes)]:8.1f} images/s", flush=True)
    result = {
        "images": len(specs),
        "workers": workers,
        "dcign_per_process": rates[("dcign", 1)],
        "naive_per_process": rates[("naive", 1)],
        "dcign_all_cores": rates[("dcign", workers)],
        "naive_all_cores": rates[("naive", workers)],
    }
    with multiprocessing.get_context("spawn").Pool(1, initializer=_init_measure, initargs=(None,)) as pool:
        result["silhouette_iou"] = pool.apply(_agreement, (factory, factory_args, specs[:8]))
    result["speedup_per_process"] = result["dcign_per_process"] / result["naive_per_process"]
    result["speedup_all_cores"] = result["dcign_all_cores"] / result["naive_all_cores"]
    result["scaling_dcign"] = result["dcign_all_cores"] / result["dcign_per_process"]
    print(f"same images: silhouettes of dcign and naive agree, IoU {result['silhouette_iou']:.3f}")
    print(f"speed-up vs naive, per process: {result['speedup_per_process']:.2f}x (target >= 5x)")
    print(f"speed-up vs naive, {workers} processes: {result['speedup_all_cores']:.1f}x")
    print(f"scaling of dcign from 1 to {workers} processes: {result['scaling_dcign']:.2f}x (ideal {workers}x)")
    return result


def bench_executors(render_fn, cfg, n_images: int, executor) -> dict:
    """The real render (chunks written to disk) of the same `n_images` train images with the
    local process pool and with Ray, the same number of workers, in one run; checks the two
    outputs are byte-identical. Ray's start-up is timed apart: a cluster outlives one render.

    `render_fn(cfg, out_dir, executor)` renders the dataset."""
    import dataclasses
    import math
    import tempfile
    from pathlib import Path

    from render.jobs.config import ExecutorConfig
    from render.jobs.ray_executor import connect, import_ray

    types = list(cfg.batches["train"])
    per_type = max(1, math.ceil(n_images / cfg.batch_size / len(types)))
    n_batches = per_type * len(types)
    chunk_batches = max(1, min(cfg.chunk_batches, n_batches // (4 * executor.workers)))
    small = dataclasses.replace(cfg, chunk_batches=chunk_batches,
                                batches={"train": {t: per_type for t in types}, "test": {t: 0 for t in types}})
    images = n_batches * cfg.batch_size
    print(f"dcign bench render: {images} images ({n_batches} batches in chunks of {chunk_batches}), "
          f"{executor.workers} workers, local pool vs Ray", flush=True)
    ray = import_ray()
    rates, seconds = {}, {}
    with tempfile.TemporaryDirectory(prefix="dcign-bench-") as tmp:
        out = {kind: Path(tmp) / kind for kind in ("local", "ray")}
        start = time.perf_counter()
        started = connect(ray, executor)
        seconds["ray_start"] = time.perf_counter() - start
        try:
            for kind in ("local", "ray"):
                start = time.perf_counter()
                render_fn(small, out[kind], ExecutorConfig(kind, executor.workers, executor.ray_address))
                seconds[kind] = time.perf_counter() - start
                rates[kind] = images / seconds[kind]
        finally:
            if started:
                ray.shutdown()
        files = sorted(p.relative_to(out["local"]) for p in out["local"].rglob("*") if p.is_file())
        identical = files == sorted(p.relative_to(out["ray"]) for p in out["ray"].rglob("*") if p.is_file()) and all(
            (out["local"] / f).read_bytes() == (out["ray"] / f).read_bytes() for f in files)
    result = {"images": images, "workers": executor.workers, "local_images_per_s": rates["local"],
              "ray_images_per_s": rates["ray"], "ray_vs_local": rates["ray"] / rates["local"],
              "ray_start_s": seconds["ray_start"], "byte_identical": identical}
    print(f"  local pool: {rates['local']:8.1f} images/s ({seconds['local']:.1f} s)")
    print(f"  ray       : {rates['ray']:8.1f} images/s ({seconds['ray']:.1f} s; Ray start-up "
          f"{seconds['ray_start']:.1f} s not counted)")
    print(f"ray vs local pool: {result['ray_vs_local']:.2f}x; outputs byte-identical: {'yes' if identical else 'NO'}")
    if not identical:
        raise RuntimeError("the Ray and local renders differ: please report this as a bug")
    return result
