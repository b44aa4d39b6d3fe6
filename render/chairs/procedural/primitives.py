"""Generic geometry for the procedural chairs: closed, outward-windable triangle meshes built
from stacks of rings (rods, swept tubes, slabs), plus the 2D outlines and frames they use.

A mesh here is a (vertices, faces) pair; units are metres, +Y up, front +Z.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

X_AXIS = np.array([1.0, 0.0, 0.0])
Y_AXIS = np.array([0.0, 1.0, 0.0])
Z_AXIS = np.array([0.0, 0.0, 1.0])
_ORIGIN = np.zeros(3)
_TUBE_SIDES = 12
MIN_ROD_RADIUS = 0.0125  # radius: thinner rods vanish in a 150 px image


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _ring_mesh(rings, closed: bool = False):
    """Quads between consecutive rings (R, K, 3) of K-point loops, plus fan caps at both ends
    unless the stack is closed into a loop. Winding is fixed later from the signed volume."""
    rings = np.asarray(rings, dtype=np.float64)
    n_rings, k, _ = rings.shape
    idx = np.arange(n_rings * k).reshape(n_rings, k)
    nxt = np.roll(idx, -1, axis=1)
    faces = []
    for i in range(n_rings if closed else n_rings - 1):
        j = (i + 1) % n_rings
        faces.append(np.stack([idx[i], nxt[i], nxt[j]], axis=1))
        faces.append(np.stack([idx[i], nxt[j], idx[j]], axis=1))
    verts = [rings.reshape(-1, 3)]
    if not closed:
        n = n_rings * k
        verts += [rings[0].mean(axis=0)[None], rings[-1].mean(axis=0)[None]]
        faces.append(np.stack([np.full(k, n), nxt[0], idx[0]], axis=1))
        faces.append(np.stack([np.full(k, n + 1), idx[-1], nxt[-1]], axis=1))
    return np.concatenate(verts), np.concatenate(faces)


def tube(p0, p1, r0, r1, square: bool = False, sides: int = _TUBE_SIDES, ref=None):
    """A closed (tapered) rod from p0 (radius r0) to p1 (radius r1); square rods keep their
    faces aligned with `ref` (default world X) projected across the rod."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = unit(p1 - p0)
    if ref is None:
        ref = X_AXIS if abs(d[0]) < 0.9 else Z_AXIS
    u = unit(ref - (ref @ d) * d)
    w = np.cross(d, u)
    if square:
        ang = math.pi / 4 + np.arange(4) * math.pi / 2
        scale = math.sqrt(2.0)
    else:
        ang = np.arange(sides) * 2 * math.pi / sides
        scale = 1.0
    loop = scale * (np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * w)
    return _ring_mesh([p0 + r0 * loop, p1 + r1 * loop])


def fillet(points, radius: float, segments: int = 6, closed: bool = False) -> np.ndarray:
    """Round every corner of a polyline with a circular arc (radius clipped to fit)."""
    pts = [np.asarray(p, float) for p in points]
    n = len(pts)
    out = []
    corners = range(n) if closed else range(1, n - 1)
    if not closed:
        out.append(pts[0])
    for i in corners:
        a, p, c = pts[i - 1], pts[i], pts[(i + 1) % n]
        u1, u2 = a - p, c - p
        l1, l2 = np.linalg.norm(u1), np.linalg.norm(u2)
        u1, u2 = u1 / l1, u2 / l2
        cos_t = float(np.clip(u1 @ u2, -1.0, 1.0))
        theta = math.acos(cos_t)
        if theta > math.pi - 1e-3:
            out.append(p)
            continue
        t = radius / math.tan(theta / 2)
        t = min(t, 0.45 * l1, 0.45 * l2)
        r = t * math.tan(theta / 2)
        start, end = p + u1 * t, p + u2 * t
        centre = p + unit(u1 + u2) * (r / math.sin(theta / 2))
        v0, v1 = start - centre, end - centre
        alpha = math.pi - theta
        for s in np.linspace(0.0, 1.0, segments + 1):
            out.append(centre + (math.sin((1 - s) * alpha) * v0 + math.sin(s * alpha) * v1) / math.sin(alpha))
    if not closed:
        out.append(pts[-1])
    out = np.array(out)
    keep = np.ones(len(out), bool)
    keep[1:] = np.linalg.norm(np.diff(out, axis=0), axis=1) > 1e-6
    out = out[keep]
    if closed and np.linalg.norm(out[0] - out[-1]) < 1e-6:
        out = out[:-1]
    return out


def sweep(path, profile, closed: bool = False, ref=None):
    """Sweep a 2D profile (K, 2) along a 3D path with parallel-transport frames. The profile's
    first axis follows the frame normal, which starts as `ref` projected across the path (for a
    planar path, ref = the plane normal keeps it there)."""
    path = np.asarray(path, float)
    profile = np.asarray(profile, float)
    n = len(path)
    if closed:
        tang = np.roll(path, -1, axis=0) - np.roll(path, 1, axis=0)
    else:
        tang = np.gradient(path, axis=0)
    tang /= np.linalg.norm(tang, axis=1, keepdims=True)
    if ref is None:
        ref = [X_AXIS, Y_AXIS, Z_AXIS][int(np.argmin(np.abs(tang[0])))]
    normals = np.zeros_like(path)
    normals[0] = unit(ref - (ref @ tang[0]) * tang[0])
    for i in range(1, n):
        m = normals[i - 1] - (normals[i - 1] @ tang[i]) * tang[i]
        normals[i] = m / np.linalg.norm(m)
    if closed:  # spread the holonomy twist so the loop closes without a seam
        end = normals[-1] - (normals[-1] @ tang[0]) * tang[0]
        end /= np.linalg.norm(end)
        angle = math.atan2(np.cross(end, normals[0]) @ tang[0], end @ normals[0])
        phi = angle * np.arange(n) / n
        normals = normals * np.cos(phi)[:, None] + np.cross(tang, normals) * np.sin(phi)[:, None]
    binormals = np.cross(tang, normals)
    rings = path[:, None, :] + profile[None, :, 0, None] * normals[:, None, :] + profile[None, :, 1, None] * binormals[:, None, :]
    return _ring_mesh(rings, closed=closed)


def circle(r: float, k: int = _TUBE_SIDES) -> np.ndarray:
    a = np.arange(k) * 2 * math.pi / k
    return np.stack([r * np.cos(a), r * np.sin(a)], axis=1)


def rect_profile(half_a: float, half_b: float, rc: float = 0.003) -> np.ndarray:
    return _rrect(2 * half_a, 2 * half_b, rc, rc, 2, 0, 0)


def torus(centre, radius: float, tube_r: float, k: int = 40):
    a = np.arange(k) * 2 * math.pi / k
    path = np.asarray(centre, float) + radius * np.stack([np.cos(a), np.zeros(k), np.sin(a)], axis=1)
    return sweep(path, circle(tube_r, 10), closed=True, ref=Y_AXIS)


def _rrect(wa, wb, rt, rb, n_arc, ma, mb) -> np.ndarray:
    """Counter-clockwise rounded rectangle centred at 0: top corners (b > 0) of radius rt,
    bottom ones rb, ma / mb extra points on the a / b edges (fixed counts, so insets match)."""
    hw, hh = wa / 2, wb / 2
    lim = 0.49 * min(wa, wb)
    rt, rb = float(np.clip(rt, 1e-3, lim)), float(np.clip(rb, 1e-3, lim))
    corners = [((hw - rt, hh - rt), rt, 0.0), ((-hw + rt, hh - rt), rt, 90.0),
               ((-hw + rb, -hh + rb), rb, 180.0), ((hw - rb, -hh + rb), rb, 270.0)]
    pts = []
    for k, (c, r, a0) in enumerate(corners):
        ang = np.radians(a0 + np.linspace(0.0, 90.0, n_arc + 1))
        arc = np.asarray(c) + r * np.stack([np.cos(ang), np.sin(ang)], axis=1)
        pts.extend(arc)
        nc, nr, na = corners[(k + 1) % 4]
        start = np.asarray(nc) + nr * np.array([math.cos(math.radians(na)), math.sin(math.radians(na))])
        m = ma if k in (0, 2) else mb
        for s in np.linspace(0.0, 1.0, m + 2)[1:-1]:
            pts.append(arc[-1] * (1 - s) + start * s)
    return np.array(pts)


@dataclass(frozen=True)
class Frame:
    """Where a slab lies: its outline is drawn in the (e1, e2) plane, its thickness runs along e3."""

    origin: np.ndarray
    e1: np.ndarray  # outline a axis
    e2: np.ndarray  # outline b axis
    e3: np.ndarray  # thickness axis

    def point(self, a, b, t) -> np.ndarray:
        """The world point at outline coordinates (a, b) and thickness t."""
        return self.origin + a * self.e1 + b * self.e2 + t * self.e3


FLOOR_FRAME = Frame(_ORIGIN, X_AXIS, Z_AXIS, Y_AXIS)  # outline in the floor plane (a = x, b = z), thickness up


def tilted_frame(origin, tilt: float) -> Frame:
    """a = x, b up a plane leaning back by `tilt`, thickness towards the front."""
    up = np.array([0.0, math.cos(tilt), -math.sin(tilt)])
    front = np.array([0.0, math.sin(tilt), math.cos(tilt)])
    return Frame(np.asarray(origin, float), X_AXIS, up, front)


def block(frame: Frame, centre, wa, wb, t0, t1, kind="rrect", rc=0.004, rc_bot=None, taper=0.0,
          arch=0.0, bevel=0.003, pad=0.0, crown=0.0, bend=0.0, n_arc=4):
    """A slab: a convex outline (rounded rectangle or ellipse, optionally tapered along b and
    arched at b > 0) in the frame's (a, b) plane, extruded over t0..t1 with a small bevel or,
    with pad > 0, a rounded upholstered edge; `crown` domes the top, `bend` curls the a-ends
    towards +t."""
    rc_bot = rc if rc_bot is None else rc_bot
    seg = wa / 6 if (bend or taper) else 1e9
    ma = int(min(12, wa // seg))
    mb = int(min(12, wb // seg))
    n_ell = 4 * (n_arc + 1) + 2 * (ma + mb) + 8

    def outline(inset):
        a_len, b_len = wa - 2 * inset, wb - 2 * inset
        if kind == "ellipse":
            ang = np.arange(n_ell) * 2 * math.pi / n_ell
            pts = np.stack([a_len / 2 * np.cos(ang), b_len / 2 * np.sin(ang)], axis=1)
        else:
            pts = _rrect(a_len, b_len, rc - inset, rc_bot - inset, n_arc, ma, mb)
        if taper:
            pts[:, 0] *= 1 + taper * pts[:, 1] / wb
        if arch:
            lift = arch * np.clip(1 - (2 * pts[:, 0] / wa) ** 2, 0, None) * np.clip(pts[:, 1] / (wb / 2), 0, 1)
            pts[:, 1] += lift
        return pts

    height = t1 - t0
    small = min(wa, wb) / 2
    if pad > 0:
        rr = min(pad, 0.48 * height, 0.45 * small)
        prof = [(rr * (1 - math.cos(a)), t0 + rr + rr * math.sin(a)) for a in np.linspace(-math.pi / 2, 0, 4)]
        top = [(rr * (1 - math.cos(a)), t1 - rr + rr * math.sin(a)) for a in np.linspace(0, math.pi / 2, 4)]
        if top[0][1] - prof[-1][1] < 1e-5:
            top = top[1:]
        prof += top
    else:
        e = min(bevel, 0.3 * height, 0.3 * small)
        prof = [(e, t0), (0.0, t0 + e), (0.0, t1 - e), (e, t1)] if e > 2e-4 else [(0.0, t0), (0.0, t1)]
    rings2d = [(outline(i), t) for i, t in prof]
    if crown > 0:
        last, t_top = rings2d[-1]
        c = last.mean(axis=0)
        for s in (0.72, 0.42, 0.15):
            rings2d.append((c + s * (last - c), t_top + crown * (1 - s * s)))
    rings = []
    ca, cb = centre
    for pts, t in rings2d:
        tt = t + bend * (pts[:, 0] / (wa / 2)) ** 2
        rings.append(frame.origin + (ca + pts[:, 0, None]) * frame.e1 + (cb + pts[:, 1, None]) * frame.e2 + tt[:, None] * frame.e3)
    return _ring_mesh(rings)
