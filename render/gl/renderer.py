"""Offscreen grayscale renderer: pyrender over EGL, one per process, reused for every image.

Speed comes from reuse and from doing less per image: one OpenGL context, one scene whose
camera and light nodes are only re-posed, a mesh uploaded once per identity, a small Lambert
shader instead of pyrender's physically based one, and anti-aliasing by supersampling into a
single-sample framebuffer of which only one channel is read back (llvmpipe's 4x MSAA costs
more than rendering 4x the pixels).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from render.errors import UserError
from render.gl.mesh import AlbedoMesh, vertex_normals

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

SHADER_DIR = Path(__file__).with_name("shaders")
EGL_HINT = (
    "install the Mesa EGL libraries (apt-get install libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri), "
    "or run 'bash pipelines/run.sh', which does"
)


def rotation_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rotation_y(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def head_pose(azimuth: float, elevation: float) -> np.ndarray:
    """4x4 pose of the object: azimuth > 0 turns the face towards image right, elevation > 0
    tilts its top towards the camera (the camera looks from above)."""
    pose = np.eye(4)
    pose[:3, :3] = rotation_x(elevation) @ rotation_y(azimuth)
    return pose


def light_pose(azimuth_deg: float, elevation: float) -> np.ndarray:
    """4x4 pose of a directional light shining from azimuth (> 0: from image right) and elevation."""
    a = math.radians(azimuth_deg)
    towards_light = np.array([math.sin(a) * math.cos(elevation), math.sin(elevation), math.cos(a) * math.cos(elevation)])
    z = towards_light / np.linalg.norm(towards_light)  # pyrender lights shine along -Z of their node
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    return pose


class Framing:
    """Camera placement from a model's mean shape (or its framing hint), fixed for all
    identities so they keep their relative size. Objects rotate about the centre."""

    def __init__(self, mean_vertices: np.ndarray, distance: float, fill: float,
                 center=None, radius: float | None = None):
        if center is None:
            lo, hi = mean_vertices.min(axis=0), mean_vertices.max(axis=0)
            center = (lo + hi) / 2
        self.center = np.asarray(center, dtype=np.float32)
        self.radius = radius or float(np.linalg.norm(mean_vertices - self.center, axis=1).max())
        self.distance = distance * self.radius
        self.yfov = 2 * math.asin(1.0 / distance) / fill
        self.znear = max(self.distance - 2 * self.radius, 1e-3 * self.radius)
        self.zfar = self.distance + 2 * self.radius


def _single_sample_renderer_class():
    """pyrender's Renderer drawing into its single-sample framebuffer and reading back only the
    red channel (the shader writes gray), skipping the multisample resolve and the depth read."""
    from OpenGL import GL
    from pyrender.renderer import Renderer as PyrenderRenderer

    class SingleSampleRenderer(PyrenderRenderer):
        def _configure_forward_pass_viewport(self, flags):
            super()._configure_forward_pass_viewport(flags)
            GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, self._main_fb)

        def _read_main_framebuffer(self, scene, flags):
            width, height = self._main_fb_dims
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self._main_fb)
            GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
            buf = GL.glReadPixels(0, 0, width, height, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
            return np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 4)[::-1, :, 0]

    return SingleSampleRenderer


class Renderer:
    """Renders a AlbedoMesh under (azimuth, elevation, light azimuth) to uint8 grayscale."""

    def __init__(self, framing: Framing, image_size: int, ambient: float, intensity: float,
                 light_elevation: float, background: int, supersample: int = 2):
        try:
            import pyrender
            from pyrender.shader_program import ShaderProgramCache

            self._renderer = pyrender.OffscreenRenderer(image_size * supersample, image_size * supersample)
            self._renderer._renderer.__class__ = _single_sample_renderer_class()
        except Exception as e:  # EGL missing or unusable: a user environment problem
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise UserError(f"EGL: cannot create an offscreen OpenGL context ({type(e).__name__}: {first}); {EGL_HINT}") from None
        self._pyrender = pyrender
        self._renderer._renderer._program_cache = ShaderProgramCache(shader_dir=str(SHADER_DIR))
        self.image_size = image_size
        self.supersample = supersample
        self.framing = framing
        self.light_elevation = light_elevation
        self.light_intensity = intensity
        bg = background / 255.0
        self.scene = pyrender.Scene(bg_color=[bg, bg, bg, 1.0], ambient_light=[ambient] * 3)
        camera = pyrender.PerspectiveCamera(yfov=framing.yfov, znear=framing.znear, zfar=framing.zfar, aspectRatio=1.0)
        cam_pose = np.eye(4)
        cam_pose[2, 3] = framing.distance
        self.scene.add(camera, pose=cam_pose)
        self._light = self.scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=intensity))
        self._mesh_node = None

    def set_mesh(self, mesh: AlbedoMesh) -> None:
        """Upload one identity; poses and lights then change without touching its buffers."""
        pyrender = self._pyrender
        vertices = mesh.vertices - self.framing.center
        colors = np.concatenate([mesh.albedo, np.ones((len(vertices), 1), np.float32)], axis=1)
        primitive = pyrender.Primitive(
            positions=vertices,
            normals=vertex_normals(vertices, mesh.triangles) if mesh.normals is None else mesh.normals,
            color_0=colors,
            indices=mesh.triangles,
            mode=pyrender.constants.GLTF.TRIANGLES,
        )
        if self._mesh_node is not None:
            self.scene.remove_node(self._mesh_node)
        self._mesh_node = self.scene.add(pyrender.Mesh([primitive]))

    def render(self, azimuth: float, elevation: float, light_azimuth_deg: float) -> np.ndarray:
        self.scene.set_pose(self._mesh_node, head_pose(azimuth, elevation))
        self.scene.set_pose(self._light, light_pose(light_azimuth_deg, self.light_elevation))
        gray = self._renderer.render(self.scene)
        k, s = self.supersample, self.image_size
        if k == 1:
            return np.ascontiguousarray(gray)
        total = np.zeros((s, s), np.uint16)  # k*k*255 fits for k <= 4
        for dy in range(k):
            for dx in range(k):
                total += gray[dy::k, dx::k]
        return ((total + k * k // 2) // (k * k)).astype(np.uint8)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.delete()
            self._renderer = None
