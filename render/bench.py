"""`dcign bench render`: the project's renderer against a naive pyrender baseline, same images,
same mesh, same size, in one run; per process and with all cores.

The baseline is what a first script would do: a new pyrender Scene, a mesh converted from
trimesh and pyrender's default (physically based) shading for every image.
"""
from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np

from render.config import BATCH_TYPES, FacesConfig
from render.factors import batch_spec


def image_specs(cfg: FacesConfig, n_images: int) -> list[tuple]:
    """(identity, azimuth, elevation, light) of the first n images `render faces` would draw,
    cycling through the batch types so every kind of batch is in the mix."""
    specs = []
    index = 0
    while len(specs) < n_images:
        for batch_type in BATCH_TYPES:
            s = batch_spec(cfg, "train", batch_type, index)
            specs += [(int(s.identity[i]), float(s.azimuth[i]), float(s.elevation[i]), float(s.light_azimuth[i]))
                      for i in range(cfg.batch_size)]
        index += 1
    return specs[:n_images]


class NaiveRenderer:
    """A new Scene, a mesh from trimesh and default shading per image (one context, reused:
    re-creating EGL contexts in one process is not supported by pyrender)."""

    def __init__(self, cfg: FacesConfig, model):
        import pyrender

        from render.renderer import Framing

        self.pyrender = pyrender
        self.cfg = cfg
        self.framing = Framing(model.mean_shape, cfg.camera.distance, cfg.camera.fill,
                               model.frame_center, model.frame_radius)
        self.renderer = pyrender.OffscreenRenderer(cfg.image_size, cfg.image_size)

    def render(self, mesh, azimuth, elevation, light_azimuth):
        import trimesh

        from render.renderer import head_pose, light_pose

        pyrender, f = self.pyrender, self.framing
        colors = np.concatenate([mesh.albedo, np.ones((len(mesh.albedo), 1), np.float32)], axis=1)
        tm = trimesh.Trimesh(mesh.vertices - f.center, mesh.triangles, vertex_colors=colors, process=False)
        bg = self.cfg.background / 255.0
        scene = pyrender.Scene(bg_color=[bg, bg, bg, 1.0], ambient_light=[self.cfg.lighting.ambient] * 3)
        scene.add(pyrender.Mesh.from_trimesh(tm), pose=head_pose(azimuth, elevation))
        cam_pose = np.eye(4)
        cam_pose[2, 3] = f.distance
        scene.add(pyrender.PerspectiveCamera(yfov=f.yfov, znear=f.znear, zfar=f.zfar), pose=cam_pose)
        scene.add(pyrender.DirectionalLight(intensity=self.cfg.lighting.intensity),
                  pose=light_pose(light_azimuth, self.cfg.lighting.elevation))
        color, _ = self.renderer.render(scene)
        return (color.astype(np.float32) @ np.array([0.21, 0.72, 0.07], np.float32)).astype(np.uint8)


_start_line = None


def _init_measure(barrier) -> None:
    global _start_line
    _start_line = barrier
    os.environ["LP_NUM_THREADS"] = "1"  # one core per process, so processes = cores used


def _measure(kind: str, cfg: FacesConfig, model, specs: list[tuple]) -> tuple[int, float]:
    """Render `specs` in this process; returns (images, seconds) excluding start-up, which
    ends for all processes together at the barrier."""
    from render.factors import identity_coefficients

    n_shape, n_albedo = cfg.shape_components, cfg.albedo_components
    if kind == "dcign":
        from render.faces import make_renderer

        renderer = make_renderer(cfg, model)
    else:
        renderer = NaiveRenderer(cfg, model)
    warm = model.instance(*identity_coefficients(cfg, specs[0][0], n_shape, n_albedo))
    if kind == "dcign":
        renderer.set_mesh(warm)
        renderer.render(0.0, 0.0, 0.0)
    else:
        renderer.render(warm, 0.0, 0.0, 0.0)
    _start_line.wait()
    start = time.perf_counter()
    current, mesh = None, None
    for identity, az, el, light in specs:
        if identity != current:
            mesh = model.instance(*identity_coefficients(cfg, identity, n_shape, n_albedo))
            current = identity
            if kind == "dcign":
                renderer.set_mesh(mesh)
        if kind == "dcign":
            renderer.render(az, el, light)
        else:
            renderer.render(mesh, az, el, light)
    return len(specs), time.perf_counter() - start


def _throughput(kind: str, cfg: FacesConfig, model, specs: list[tuple], processes: int) -> float:
    """Images/s with `processes` spawned workers splitting the same images (contiguous shares,
    so identities stay together as in a real render)."""
    shares = [list(s) for s in np.array_split(np.array(specs, dtype=object), processes) if len(s)]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(shares))
    with ctx.Pool(len(shares), initializer=_init_measure, initargs=(barrier,)) as pool:
        results = pool.starmap(_measure, [(kind, cfg, model, share) for share in shares])
    return sum(n for n, _ in results) / max(t for _, t in results)


def bench_render(cfg: FacesConfig, images: int, workers: int) -> dict:
    from render.faces import components_used, load_model

    model = load_model(cfg)
    components_used(cfg, model)
    specs = image_specs(cfg, images)
    print(f"dcign bench render: {images} images of {model.name} ({model.n_vertices} vertices, "
          f"{model.triangles.shape[0]} triangles) at {cfg.image_size}x{cfg.image_size}, "
          f"{workers} processes for the all-cores run", flush=True)
    rates = {}
    for processes in sorted({1, workers}):
        for kind in ("dcign", "naive"):
            rates[(kind, processes)] = _throughput(kind, cfg, model, specs, processes)
            print(f"  {kind:6s} {processes:2d} process(es): {rates[(kind, processes)]:8.1f} images/s", flush=True)
    result = {
        "images": images,
        "workers": workers,
        "dcign_per_process": rates[("dcign", 1)],
        "naive_per_process": rates[("naive", 1)],
        "dcign_all_cores": rates[("dcign", workers)],
        "naive_all_cores": rates[("naive", workers)],
    }
    result["speedup_per_process"] = result["dcign_per_process"] / result["naive_per_process"]
    result["speedup_all_cores"] = result["dcign_all_cores"] / result["naive_all_cores"]
    result["scaling_dcign"] = result["dcign_all_cores"] / result["dcign_per_process"]
    print(f"speed-up vs naive, per process: {result['speedup_per_process']:.1f}x (target >= 5x)")
    print(f"speed-up vs naive, {workers} processes: {result['speedup_all_cores']:.1f}x")
    print(f"scaling of dcign from 1 to {workers} processes: {result['scaling_dcign']:.2f}x (ideal {workers}x)")
    return result
