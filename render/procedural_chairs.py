"""Procedural chairs: the embedded default chair "CAD" generator (nothing is downloaded).

A chair is a `ChairParams` record (a family and plain continuous / categorical parameters, drawn
by `sample_chair_params(seed, chair_id)`) turned into an `AlbedoMesh` by `build_chair`. Eight
families cover the usual silhouettes: dining, armchair, office (five-star base on casters),
stool, bar_stool, cantilever (bent tube), rocking (curved rockers) and lounge (upholstered).

Geometry is a set of overlapping parts, each a closed, outward-wound triangle mesh built from a
stack of rings: bevelled or padded slabs (seats, backs, cushions, rails, slats), (tapered)
round or square tubes (legs, posts, spindles, stretchers) and tubes swept along filleted
paths (cantilever frames, rockers, loop arms, foot rings). Each part has one grayscale tone.

Units are metres, +Y up, the chair's front (where a sitter's knees go) faces +Z, the floor is
y = 0 and the bounding box is centred on x = 0, z = 0. Everything is pure and deterministic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from render.mesh import AlbedoMesh

FAMILIES = ("dining", "armchair", "office", "stool", "bar_stool", "cantilever", "rocking", "lounge")
MAX_TRIANGLES = 30_000

_X = np.array([1.0, 0.0, 0.0])
_Y = np.array([0.0, 1.0, 0.0])
_Z = np.array([0.0, 0.0, 1.0])
_ORIGIN = np.zeros(3)
_TUBE_SIDES = 12
_MIN_ROD = 0.0125  # radius: thinner rods vanish in a 150 px image


@dataclass(frozen=True)
class ChairParams:
    """One chair. Lengths in metres, angles in radians, tones are gray levels in [0.1, 0.9].
    Not every field matters to every family (e.g. casters only to office chairs)."""

    family: str
    # seat
    seat_width: float
    seat_depth: float
    seat_height: float  # floor to the top of the seat board / cushion base
    seat_thickness: float
    seat_shape: str  # rect | rounded | round | trapezoid
    seat_corner: float  # corner radius
    seat_taper: float  # front width / back width - 1 (trapezoid seats)
    cushion: int  # 1: an upholstered pad lies on the seat
    cushion_thickness: float
    # legs
    leg_count: int
    leg_profile: str  # square | round
    leg_thickness: float
    leg_taper: float  # bottom / top thickness
    leg_splay: float  # outward lean
    leg_inset: float
    apron: int
    apron_height: float
    stretchers: str  # none | H | box | ring
    stretcher_height: float
    # back
    back_style: str  # none | solid | slats | spindles | frame | ladder | upholstered
    back_shape: str  # rect | rounded | arched | oval | shield
    back_height: float  # above the seat
    back_tilt: float
    back_thickness: float
    back_width: float  # relative to the seat width (panel backs)
    back_curve: float  # wrap of the back towards the sitter at its sides
    back_count: int  # slats, spindles, ladder rails
    back_low: float  # where back rails / panels start above the seat
    back_gap: float  # gap between seat and a free-standing back panel
    rail_height: float
    slat_width: float
    posts: int  # 1: the back legs rise as back posts
    # arms
    arms: str  # none | post | panel | loop | T
    arm_height: float  # above the seat
    arm_width: float
    arm_thickness: float
    # base / family specifics
    base: str  # legs | pedestal | star | cantilever | sled | rockers | plinth
    base_radius: float  # star / pedestal disc radius
    base_rotation: float
    caster_radius: float
    tube_radius: float
    bend_radius: float
    footrest: str  # none | ring | bar
    footrest_height: float
    rocker_radius: float
    rocker_length: float
    headrest: int
    back_cushion: int
    # grayscale tones
    tone_frame: float
    tone_seat: float
    tone_back: float
    tone_cushion: float
    tone_arms: float
    tone_metal: float


# --------------------------------------------------------------------------- geometry helpers


def _unit(v) -> np.ndarray:
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


def _tube(p0, p1, r0, r1, square: bool = False, sides: int = _TUBE_SIDES, ref=None):
    """A closed (tapered) rod from p0 (radius r0) to p1 (radius r1); square rods keep their
    faces aligned with `ref` (default world X) projected across the rod."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = _unit(p1 - p0)
    if ref is None:
        ref = _X if abs(d[0]) < 0.9 else _Z
    u = _unit(ref - (ref @ d) * d)
    w = np.cross(d, u)
    if square:
        ang = math.pi / 4 + np.arange(4) * math.pi / 2
        scale = math.sqrt(2.0)
    else:
        ang = np.arange(sides) * 2 * math.pi / sides
        scale = 1.0
    loop = scale * (np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * w)
    return _ring_mesh([p0 + r0 * loop, p1 + r1 * loop])


def _fillet(points, radius: float, segments: int = 6, closed: bool = False) -> np.ndarray:
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
        centre = p + _unit(u1 + u2) * (r / math.sin(theta / 2))
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


def _sweep(path, profile, closed: bool = False, ref=None):
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
        ref = [_X, _Y, _Z][int(np.argmin(np.abs(tang[0])))]
    normals = np.zeros_like(path)
    normals[0] = _unit(ref - (ref @ tang[0]) * tang[0])
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


def _circle(r: float, k: int = _TUBE_SIDES) -> np.ndarray:
    a = np.arange(k) * 2 * math.pi / k
    return np.stack([r * np.cos(a), r * np.sin(a)], axis=1)


def _rect_profile(half_a: float, half_b: float, rc: float = 0.003) -> np.ndarray:
    return _rrect(2 * half_a, 2 * half_b, rc, rc, 2, 0, 0)


def _torus(centre, radius: float, tube_r: float, k: int = 40):
    a = np.arange(k) * 2 * math.pi / k
    path = np.asarray(centre, float) + radius * np.stack([np.cos(a), np.zeros(k), np.sin(a)], axis=1)
    return _sweep(path, _circle(tube_r, 10), closed=True, ref=_Y)


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
class _Frame:
    origin: np.ndarray
    e1: np.ndarray  # outline a axis
    e2: np.ndarray  # outline b axis
    e3: np.ndarray  # thickness axis


_FLAT = _Frame(_ORIGIN, _X, _Z, _Y)  # outline in the floor plane (a = x, b = z), thickness up


def _tilted_frame(origin, tilt: float) -> _Frame:
    """a = x, b up a plane leaning back by `tilt`, thickness towards the front."""
    up = np.array([0.0, math.cos(tilt), -math.sin(tilt)])
    front = np.array([0.0, math.sin(tilt), math.cos(tilt)])
    return _Frame(np.asarray(origin, float), _X, up, front)


def _point(frame: _Frame, a, b, t) -> np.ndarray:
    return frame.origin + a * frame.e1 + b * frame.e2 + t * frame.e3


def _block(frame: _Frame, centre, wa, wb, t0, t1, kind="rrect", rc=0.004, rc_bot=None, taper=0.0,
           arch=0.0, bevel=0.003, pad=0.0, crown=0.0, bend=0.0, n_arc=4, seg=None):
    """A slab: a convex outline (rounded rectangle or ellipse, optionally tapered along b and
    arched at b > 0) in the frame's (a, b) plane, extruded over t0..t1 with a small bevel or,
    with pad > 0, a rounded upholstered edge; `crown` domes the top, `bend` curls the a-ends
    towards +t."""
    rc_bot = rc if rc_bot is None else rc_bot
    if seg is None:
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


class _Parts:
    """Collects closed parts with one tone each; fixes each part's winding to point outward."""

    def __init__(self):
        self.vertices, self.faces, self.tones = [], [], []
        self.count = 0

    def add(self, mesh, tone: float) -> None:
        v, f = mesh
        v = np.asarray(v, np.float64)
        f = np.asarray(f, np.int64)
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        if np.einsum("ij,ij->", a - v.mean(0), np.cross(b - v.mean(0), c - v.mean(0))) < 0:
            f = f[:, ::-1]
        self.vertices.append(v)
        self.faces.append(f + self.count)
        self.tones.append(np.full(len(v), float(np.clip(tone, 0.1, 0.9))))
        self.count += len(v)

    def mesh(self) -> AlbedoMesh:
        v = np.concatenate(self.vertices)
        lo, hi = v.min(axis=0), v.max(axis=0)
        v = v - np.array([(lo[0] + hi[0]) / 2, lo[1], (lo[2] + hi[2]) / 2])
        tones = np.concatenate(self.tones)
        return AlbedoMesh(
            vertices=v.astype(np.float32),
            albedo=np.repeat(tones[:, None], 3, axis=1).astype(np.float32),
            triangles=np.concatenate(self.faces).astype(np.int32),
        )


# --------------------------------------------------------------------------- chair parts


def _seat_outline(p: ChairParams) -> dict:
    if p.seat_shape == "round":
        return dict(kind="ellipse")
    if p.seat_shape == "trapezoid":
        return dict(kind="rrect", rc=p.seat_corner, taper=p.seat_taper)
    return dict(kind="rrect", rc=p.seat_corner)


def _seat(parts: _Parts, p: ChairParams, y_top: float, tone: float, z_centre: float = 0.0,
          width=None, depth=None, thickness=None) -> float:
    """Seat board (plus cushion); returns the height of the top of the sitting surface."""
    w = p.seat_width if width is None else width
    d = p.seat_depth if depth is None else depth
    t = p.seat_thickness if thickness is None else thickness
    shape = _seat_outline(p)
    parts.add(_block(_FLAT, (0.0, z_centre), w, d, y_top - t, y_top, bevel=min(0.008, t / 3), **shape), tone)
    if p.cushion:
        ct = p.cushion_thickness
        shape_c = dict(shape)
        if shape_c["kind"] == "rrect":
            shape_c["rc"] = max(p.seat_corner, 0.035)
        parts.add(_block(_FLAT, (0.0, z_centre + 0.005), w - 0.03, d - 0.03, y_top - 0.004, y_top + ct,
                         pad=0.45 * ct, crown=0.15 * ct, **shape_c), p.tone_cushion)
        return y_top + ct
    return y_top


def _half_width_at(p: ChairParams, z: float) -> float:
    if p.seat_shape == "trapezoid":
        return p.seat_width / 2 * (1 + p.seat_taper * z / p.seat_depth)
    return p.seat_width / 2


def _leg_feet_tops(p: ChairParams, y_top: float, count: int, inset: float):
    """Leg tops under the seat (x, y_top, z) and their outward splay directions, in order around."""
    r = p.leg_thickness / 2
    tops = []
    if p.seat_shape == "round" or count == 3:
        rx = p.seat_width / 2 - inset - r
        rz = p.seat_depth / 2 - inset - r
        if p.seat_shape != "round":
            rx, rz = rx * 0.85, rz * 0.85
        start = math.pi / 2 if count == 3 else math.pi / 4
        for k in range(count):
            a = start + k * 2 * math.pi / count
            tops.append(np.array([rx * math.cos(a), y_top, rz * math.sin(a)]))
    else:
        corner = p.seat_corner if p.seat_shape in ("rounded", "rect", "trapezoid") else 0.0
        ins = inset + r + 0.3 * corner
        zf, zb = p.seat_depth / 2 - ins, -(p.seat_depth / 2 - ins)
        xf, xb = _half_width_at(p, zf) - ins, _half_width_at(p, zb) - ins
        tops = [np.array([xf, y_top, zf]), np.array([-xf, y_top, zf]),
                np.array([-xb, y_top, zb]), np.array([xb, y_top, zb])]
    outs = []
    for t in tops:
        o = np.array([t[0], 0.0, t[2]])
        outs.append(_unit(o) if np.linalg.norm(o) > 1e-6 else _Z)
    return tops, outs


def _legs(parts: _Parts, p: ChairParams, tops, outs, tone, floor_y=None, rake_back: float = 0.0):
    """Straight legs from each top to the floor, splayed outward; returns (bottom, top) pairs."""
    r = p.leg_thickness / 2
    lines = []
    for k, (top, out) in enumerate(zip(tops, outs)):
        h = top[1] - (0.0 if floor_y is None else floor_y[k])
        bottom = top + out * h * math.tan(p.leg_splay)
        bottom[1] = 0.0 if floor_y is None else floor_y[k]
        if rake_back and top[2] < 0:
            bottom[2] -= rake_back
        ref = _X if len(tops) == 4 and p.seat_shape != "round" else _unit(np.cross(out, _Y))
        parts.add(_tube(bottom, top + 0.004 * _Y, max(r * p.leg_taper, 0.011), r, square=p.leg_profile == "square",
                        ref=ref), tone)
        lines.append((bottom, top))
    return lines


def _at_height(line, y):
    b, t = line
    s = (y - b[1]) / (t[1] - b[1])
    return b + s * (t - b)


def _stretchers(parts: _Parts, p: ChairParams, lines, tone, style=None, height=None):
    style = p.stretchers if style is None else style
    if style == "none":
        return
    y = p.stretcher_height if height is None else height
    r = max(_MIN_ROD, 0.3 * p.leg_thickness)
    pts = [_at_height(line, y) for line in lines]
    square = p.leg_profile == "square"
    n = len(pts)
    if style == "ring":
        rad = float(np.mean([math.hypot(q[0], q[2]) for q in pts]))
        parts.add(_torus((0.0, y, 0.0), rad, r), tone)
    elif style == "H" and n == 4:
        # side stretchers (front to back on each side) and a cross bar between them
        parts.add(_tube(pts[0], pts[3], r, r, square), tone)
        parts.add(_tube(pts[1], pts[2], r, r, square), tone)
        y2 = y + 0.02
        m1 = (_at_height(lines[0], y2) + _at_height(lines[3], y2)) / 2
        m2 = (_at_height(lines[1], y2) + _at_height(lines[2], y2)) / 2
        parts.add(_tube(m1, m2, r, r, square), tone)
    else:
        for k in range(n):
            yk = y + (0.025 if (n == 4 and k % 2 == 1) else 0.0)
            a, b = _at_height(lines[k], yk), _at_height(lines[(k + 1) % n], yk)
            parts.add(_tube(a, b, r, r, square), tone)


def _aprons(parts: _Parts, p: ChairParams, tops, y_bottom_of_seat, tone):
    h = p.apron_height
    th = 0.022
    y0 = y_bottom_of_seat - h
    for k in range(4):
        a, b = tops[k], tops[(k + 1) % 4]
        mid = (a + b) / 2
        length = float(np.linalg.norm(b - a))
        e1 = _unit(b - a)
        e3 = _unit(np.cross(e1, _Y))
        frame = _Frame(np.array([mid[0], y0, mid[2]]), e1, _Y, e3)
        parts.add(_block(frame, (0.0, h / 2), length, h, -th / 2, th / 2, bevel=0.003, n_arc=2), tone)


def _back_on_posts(parts: _Parts, p: ChairParams, x_post: float, z_post: float, y_seat_bot: float,
                   y_seat_top: float, r_post: float, frame_tone: float, panel_tone: float,
                   post_extra: float = 0.02):
    """Back posts rising from the back legs along the back tilt, with rails / slats / spindles /
    a panel between them. Returns the frame of the back plane (through the post axes)."""
    tilt = p.back_tilt
    t_seat = y_seat_top - y_seat_bot
    origin = np.array([0.0, y_seat_top, z_post - t_seat * math.tan(tilt)])
    frame = _tilted_frame(origin, tilt)
    top = p.back_height / math.cos(tilt)
    square = p.leg_profile == "square"
    for sx in (-1.0, 1.0):
        base = np.array([sx * x_post, y_seat_bot - 0.01, z_post])
        parts.add(_tube(base, _point(frame, sx * x_post, top + post_extra, 0.0), r_post, r_post * 0.85, square), frame_tone)
    span = 2 * x_post
    inner = span - 2 * r_post
    tt = min(p.back_thickness, 1.6 * r_post)
    rh = p.rail_height
    style = p.back_style
    top_rail_kw = dict(arch=0.04 if p.back_shape == "arched" else 0.0, rc=0.02 if p.back_shape == "rounded" else 0.004)

    def rail(b0, b1, **kw):
        parts.add(_block(frame, (0.0, (b0 + b1) / 2), span, b1 - b0, -tt / 2, tt / 2, bevel=0.004,
                         bend=p.back_curve * 0.5, **kw), frame_tone)

    low = p.back_low
    if style == "slats":
        rail(top - rh, top, **top_rail_kw)
        rail(low, low + 0.7 * rh)
        n = p.back_count
        sw = min(p.slat_width if n > 1 else max(0.35 * inner, p.slat_width), 0.9 * inner / n)
        xs = np.linspace(-inner / 2 + sw / 2, inner / 2 - sw / 2, n) if n > 1 else [0.0]
        if n > 1:
            xs = np.linspace(-1, 1, n) * (inner / 2 - inner / (2 * n))
        for x in xs:
            parts.add(_block(frame, (x, (low + top - rh) / 2 + 0.01), sw, top - rh - low + 0.02, -tt / 2.4, tt / 2.4,
                             bevel=0.003, n_arc=2), frame_tone)
    elif style == "spindles":
        rail(top - rh, top, **top_rail_kw)
        n = p.back_count
        xs = np.linspace(-1, 1, n) * (inner / 2 - inner / (2 * n))
        for x in xs:
            parts.add(_tube(_point(frame, x, -0.01, 0.0), _point(frame, x, top - rh / 2, 0.0), _MIN_ROD, _MIN_ROD * 0.9), frame_tone)
    elif style == "ladder":
        n = p.back_count
        b_lo = max(low, 0.3 * top)
        centres = np.linspace(b_lo, top - rh / 2, n)
        for c in centres:
            rail(c - rh * 0.4, c + rh * 0.4, **(top_rail_kw if c == centres[-1] else {}))
    elif style == "frame":
        rail(top - rh, top, **top_rail_kw)
        rail(low, low + 0.7 * rh)
        parts.add(_block(frame, (0.0, (low + top) / 2), inner + 0.01, top - rh - low - 0.7 * rh + 0.02, -0.006, 0.006,
                         bevel=0.002, n_arc=2), panel_tone)
    elif style == "solid":
        shape = _back_outline(p)
        parts.add(_block(frame, (0.0, (low + top) / 2), span, top - low, -tt / 2, tt / 2, bevel=0.005,
                         bend=p.back_curve, **shape), panel_tone)
    elif style == "upholstered":
        shape = _back_outline(p)
        bt = max(p.back_thickness, 0.05)
        parts.add(_block(frame, (0.0, (low + top + 0.01) / 2), span + 2 * r_post + 0.01, top + 0.01 - low,
                         0.0, bt, pad=0.4 * bt, crown=0.12 * bt, bend=p.back_curve, **shape), panel_tone)
    return frame


def _back_outline(p: ChairParams) -> dict:
    s = p.back_shape
    if s == "oval":
        return dict(kind="ellipse")
    if s == "rounded":
        return dict(kind="rrect", rc=0.07)
    if s == "arched":
        return dict(kind="rrect", rc=0.025, arch=0.05)
    if s == "shield":
        return dict(kind="rrect", rc=0.03, rc_bot=0.01, taper=0.25)
    return dict(kind="rrect", rc=0.006)


def _panel_back(parts: _Parts, p: ChairParams, y_seat_top: float, y_support: float, z_rear: float, width: float,
                tone: float, support_tone: float, supports: bool = True, support_r: float = 0.0):
    """A free-standing back panel above the seat's rear edge, carried by two bars from under the seat."""
    frame = _tilted_frame((0.0, y_seat_top + p.back_gap, z_rear), p.back_tilt)
    hb = p.back_height - p.back_gap
    hs = hb / math.cos(p.back_tilt)
    shape = _back_outline(p)
    upholstered = p.back_style == "upholstered"
    bt = p.back_thickness
    kw = dict(pad=0.4 * bt, crown=0.1 * bt) if upholstered else dict(bevel=0.006)
    parts.add(_block(frame, (0.0, hs / 2), width, hs, -bt, 0.0, bend=p.back_curve, **kw, **shape), tone)
    if supports:
        half_a, half_b = 0.02, 0.008
        for sx in (-1.0, 1.0):
            x = sx * min(0.3 * width, 0.13)
            t_bar = -bt - half_b + 0.002 + p.back_curve * (x / (width / 2)) ** 2
            up = _point(frame, x, 0.45 * hs, t_bar)
            s_low = (y_support - frame.origin[1] - t_bar * frame.e3[1]) / frame.e2[1]
            corner = _point(frame, x, s_low, t_bar)
            start = np.array([x, y_support, z_rear + 0.12])
            path = _fillet([start, corner, up], 0.05, 6)
            parts.add(_sweep(path, _rect_profile(half_a, half_b), ref=_X), support_tone)
    return frame


def _armrest(parts: _Parts, x: float, y_top: float, z0: float, z1: float, width: float, thick: float, tone: float):
    parts.add(_block(_FLAT, (x, (z0 + z1) / 2), width, z1 - z0, y_top - thick, y_top, rc=min(0.03, width / 2.2),
                     bevel=0.005), tone)


# --------------------------------------------------------------------------- families


def _four_leg_chair(parts: _Parts, p: ChairParams, rockers: bool = False):
    """Dining, armchair and rocking chairs: four legs, seat, back on posts or a panel, arms."""
    h, t = p.seat_height, p.seat_thickness
    y_bot = h - t
    tops, outs = _leg_feet_tops(p, y_bot, 4, p.leg_inset)
    r = p.leg_thickness / 2
    floor_y = None
    if rockers:
        outs = [_unit(np.array([1.0 if q[0] > 0 else -1.0, 0.0, 0.0])) for q in tops]
        # rockers: one arc per side, lowest point slightly behind the seat centre
        half_w, half_h = max(0.019, r * 0.9), 0.024
        rad, length = p.rocker_radius, p.rocker_length
        zc = -0.04
        floor_y = []
        for sx in (-1.0, 1.0):
            xr = sx * abs(tops[0][0])
            th = np.linspace(-length / 2 / rad, length / 2 / rad, 28)
            path = np.stack([np.full_like(th, xr), half_h + rad * (1 - np.cos(th)), zc + rad * np.sin(th)], axis=1)
            parts.add(_sweep(path, _rect_profile(half_w, half_h, 0.004), ref=_X), p.tone_frame)
        for q in tops:
            s = (q[2] - zc) / rad
            floor_y.append(half_h + rad * (1 - math.sqrt(max(0.0, 1 - s * s))))
        splay = 0.0
        p = replace(p, leg_splay=splay)
    lines = _legs(parts, p, tops, outs, p.tone_frame, floor_y=floor_y, rake_back=0.0 if rockers else 0.03 * p.posts)
    if p.apron:
        _aprons(parts, p, tops, y_bot + 0.002, p.tone_frame)
    if rockers:
        _stretchers(parts, p, lines, p.tone_frame, height=max(p.stretcher_height, max(floor_y) + 0.1))
    else:
        _stretchers(parts, p, lines, p.tone_frame)
    y_sit = _seat(parts, p, h, p.tone_seat)
    x_back = abs(tops[2][0])
    z_back = tops[2][2]
    if p.posts:
        frame = _back_on_posts(parts, p, x_back, z_back, y_bot, h, r * (0.95 if p.leg_profile == "square" else 1.0),
                               p.tone_frame, p.tone_back)
    else:
        width = p.back_width * 2 * (x_back + r)
        frame = _panel_back(parts, p, y_sit, y_bot - 0.012, -p.seat_depth / 2 + 0.01, width, p.tone_back,
                            p.tone_frame)
    if p.arms != "none":
        ya = h + p.arm_height
        side = [tops[0], tops[3]]  # front right, back right
        x_front = abs(side[0][0])
        z_front = side[0][2]
        # back end of the armrest: where the back plane is at arm height
        s_arm = (ya - frame.origin[1]) / frame.e2[1]
        z_rear = float(_point(frame, 0.0, s_arm, 0.0)[2])
        aw, at = p.arm_width, p.arm_thickness
        for sx in (-1.0, 1.0):
            if p.arms == "post":
                xa = sx * (x_front + 0.01)
                parts.add(_tube(np.array([sx * x_front, y_bot - 0.02, z_front]), np.array([xa, ya - at / 2, z_front + 0.01]),
                                r, r * 0.85, p.leg_profile == "square"), p.tone_frame)
                _armrest(parts, xa, ya, z_rear - 0.01, z_front + 0.06, aw, at, p.tone_arms)
            elif p.arms == "panel":
                xa = sx * (x_back + r + 0.012)
                pt = 0.024
                pf = _Frame(np.array([xa, 0.0, 0.0]), _Z, _Y, _X)
                parts.add(_block(pf, ((z_rear + z_front + 0.02) / 2, (y_bot - 0.03 + ya - at) / 2), z_front + 0.02 - z_rear,
                                 ya - at - y_bot + 0.03, -pt / 2, pt / 2, rc=0.03, rc_bot=0.004, bevel=0.003), p.tone_arms)
                _armrest(parts, xa, ya, z_rear - 0.01, z_front + 0.05, max(aw, 0.05), at, p.tone_arms)
            else:  # loop: a bent rod from the back post over the arm and down to the seat front
                xa = sx * (x_back + r + 0.01)
                rr = max(_MIN_ROD, 0.45 * p.arm_width * 0.5 + 0.005)
                path = _fillet([np.array([xa, ya, z_rear - 0.01]), np.array([xa, ya, z_front]),
                                np.array([xa, y_bot + 0.005, z_front - 0.02])], 0.07, 8)
                parts.add(_sweep(path, _circle(rr)), p.tone_arms)


def _build_office(parts: _Parts, p: ChairParams):
    rc = p.caster_radius
    y_arm_end = 2 * rc + 0.03
    radius = p.base_radius
    hub_r = 0.042
    y_hub = y_arm_end + 0.03
    metal, dark = p.tone_metal, min(p.tone_metal, 0.2)
    for k in range(5):
        a = p.base_rotation + k * 2 * math.pi / 5
        d = np.array([math.sin(a), 0.0, math.cos(a)])
        start = np.array([0.0, y_hub, 0.0])
        end = d * radius + np.array([0.0, y_arm_end, 0.0])
        side = np.cross(d, _Y)
        parts.add(_tube(start, end, 0.026, 0.016, square=True, ref=side), metal)
        # caster: stem, fork and wheel
        wheel_c = d * (radius + 0.015) + np.array([0.0, rc, 0.0])
        parts.add(_tube(end - np.array([0, 0.01, 0]), np.array([wheel_c[0], rc * 1.6, wheel_c[2]]), 0.008, 0.008), dark)
        parts.add(_tube(wheel_c - side * 0.022, wheel_c + side * 0.022, rc, rc, sides=12), dark)
    parts.add(_tube((0, y_arm_end - 0.005, 0), (0, y_hub + 0.03, 0), hub_r, hub_r * 0.8), metal)
    y_bot = p.seat_height - p.seat_thickness
    mech_h = 0.05
    col_top = y_bot - mech_h + 0.01
    parts.add(_tube((0, y_hub, 0), (0, y_hub + 0.55 * (col_top - y_hub), 0), 0.032, 0.030), metal)
    parts.add(_tube((0, y_hub + 0.01, 0), (0, col_top, 0), 0.02, 0.02), metal)
    parts.add(_block(_FLAT, (0.0, -0.01), 0.2, 0.24, y_bot - mech_h, y_bot + 0.005, rc=0.02, bevel=0.006), dark)
    # seat: a thick contoured cushion on a shell
    w, d = p.seat_width, p.seat_depth
    shell_t = 0.02
    parts.add(_block(_FLAT, (0.0, 0.0), w - 0.02, d - 0.02, y_bot, y_bot + shell_t, rc=p.seat_corner, bevel=0.006), p.tone_frame)
    parts.add(_block(_FLAT, (0.0, 0.0), w, d, y_bot + shell_t - 0.004, p.seat_height, rc=p.seat_corner,
                     pad=0.45 * (p.seat_height - y_bot - shell_t), crown=0.01, bend=0.012), p.tone_seat)
    # back: panel behind a spine from the mechanism
    z_rear = -d / 2 + 0.01
    frame = _tilted_frame((0.0, p.seat_height + p.back_gap, z_rear), p.back_tilt)
    hs = (p.back_height - p.back_gap) / math.cos(p.back_tilt)
    bw = p.back_width * w
    bt = p.back_thickness
    shape = _back_outline(p)
    if p.back_style == "frame":  # mesh back: a frame ring with a thin mesh panel
        parts.add(_block(frame, (0.0, hs / 2), bw, hs, -bt, -bt + 0.022, bend=p.back_curve, bevel=0.006, **shape), p.tone_frame)
        parts.add(_block(frame, (0.0, hs / 2), bw - 0.03, hs - 0.03, -bt + 0.018, -bt + 0.03, bend=p.back_curve,
                         bevel=0.003, **shape), p.tone_back)
    else:
        parts.add(_block(frame, (0.0, hs / 2), bw, hs, -bt, 0.0, pad=0.4 * bt, crown=0.1 * bt, bend=p.back_curve, **shape),
                  p.tone_back)
    t_bar = -bt - 0.008
    y_spine = y_bot - 0.02
    s_low = (y_spine - frame.origin[1] - t_bar * frame.e3[1]) / frame.e2[1]
    path = _fillet([np.array([0.0, y_spine, -0.05]), _point(frame, 0.0, s_low, t_bar), _point(frame, 0.0, 0.6 * hs, t_bar)], 0.06, 6)
    parts.add(_sweep(path, _rect_profile(0.03, 0.01), ref=_X), p.tone_frame)
    if p.headrest:
        parts.add(_block(frame, (0.0, hs + 0.1), 0.6 * bw, 0.13, -0.06, 0.0, pad=0.025, crown=0.005, rc=0.05), p.tone_back)
        parts.add(_tube(_point(frame, 0.0, hs - 0.15, -bt - 0.005), _point(frame, 0.0, hs + 0.08, -0.06), 0.013, 0.013), p.tone_frame)
    # arms
    if p.arms != "none":
        ya = p.seat_height + p.arm_height
        xa = w / 2 + 0.025
        for sx in (-1.0, 1.0):
            if p.arms == "T":
                path = _fillet([np.array([sx * 0.08, y_bot - 0.01, -0.04]), np.array([sx * xa, y_bot - 0.01, -0.04]),
                                np.array([sx * xa, ya - 0.015, -0.04])], 0.04, 6)
                parts.add(_sweep(path, _rect_profile(0.025, 0.009), ref=_Z), p.tone_frame)
                parts.add(_block(_FLAT, (sx * xa, -0.02), 0.075, 0.26, ya - 0.03, ya, rc=0.03, pad=0.012), dark)
            else:  # loop arm from the seat back over to the seat front
                path = _fillet([np.array([sx * xa, y_bot - 0.005, -d / 2 + 0.07]), np.array([sx * xa, ya, -d / 2 + 0.05]),
                                np.array([sx * xa, ya, d / 2 - 0.12]), np.array([sx * xa, y_bot - 0.005, d / 2 - 0.1])], 0.07, 6)
                parts.add(_sweep(path, _rect_profile(0.012, 0.02), ref=_X), p.tone_frame)
                parts.add(_block(_FLAT, (sx * xa, -0.02), 0.06, 0.22, ya + 0.012, ya + 0.035, rc=0.025, bevel=0.006), dark)


def _build_stool(parts: _Parts, p: ChairParams, tall: bool = False):
    h, t = p.seat_height, p.seat_thickness
    y_bot = h - t
    lines = None
    if p.base == "pedestal":
        r_disc = p.base_radius
        r_col = 0.6 * p.leg_thickness + 0.008
        disc_t = 0.015 + 0.3 * p.leg_inset
        parts.add(_block(_FLAT, (0.0, 0.0), 2 * r_disc, 2 * r_disc, 0.0, disc_t, kind="ellipse", bevel=0.008), p.tone_metal)
        parts.add(_tube((0, disc_t - 0.005, 0), (0, disc_t + 0.03, 0), 0.09 * p.leg_taper, r_col, sides=14), p.tone_metal)
        parts.add(_tube((0, 0.02, 0), (0, y_bot - 0.03, 0), r_col, r_col, sides=14), p.tone_metal)
        parts.add(_tube((0, y_bot - 0.06, 0), (0, y_bot + 0.005, 0), 0.05, 0.07, sides=14), p.tone_metal)
    else:
        tops, outs = _leg_feet_tops(p, y_bot, p.leg_count, p.leg_inset)
        lines = _legs(parts, p, tops, outs, p.tone_frame)
        if p.apron and p.leg_count == 4 and p.seat_shape != "round":
            _aprons(parts, p, tops, y_bot + 0.002, p.tone_frame)
        style = p.stretchers
        if style == "H" and p.leg_count != 4:
            style = "box"
        if not (tall and style in ("ring",) and p.footrest == "ring"):
            _stretchers(parts, p, lines, p.tone_frame, style=style)
    if tall:
        yf = p.footrest_height
        if p.footrest == "ring" or lines is None:
            if lines is None:
                rad = 0.75 * p.base_radius + 0.02
                parts.add(_torus((0.0, yf, 0.0), rad, max(_MIN_ROD, 0.35 * p.leg_thickness)), p.tone_metal)
                for k in range(3):
                    a = k * 2 * math.pi / 3 + math.pi / 2
                    parts.add(_tube((0, yf, 0), (rad * math.cos(a), yf, rad * math.sin(a)), 0.011, 0.011, sides=8), p.tone_metal)
            else:
                pts = [_at_height(line, yf) for line in lines]
                rad = float(np.mean([math.hypot(q[0], q[2]) for q in pts]))
                parts.add(_torus((0.0, yf, 0.0), rad, max(0.014, 0.35 * p.leg_thickness)), p.tone_metal)
        elif len(lines) == 4:  # a footrest bar across the front legs
            a, b = _at_height(lines[0], yf), _at_height(lines[1], yf)
            out = _unit(np.array([(a + b)[0], 0.0, (a + b)[2]]))
            parts.add(_tube(a + out * 0.01, b + out * 0.01, 0.016, 0.016, sides=10), p.tone_metal)
        else:  # three legs: a triangle of foot bars
            _stretchers(parts, p, lines, p.tone_metal, style="box", height=yf)
    y_sit = _seat(parts, p, h, p.tone_seat)
    if p.back_style != "none":
        z_rear = -p.seat_depth / 2 + 0.012
        width = p.back_width * p.seat_width
        _panel_back(parts, p, y_sit, y_bot - 0.012, z_rear, width, p.tone_back, p.tone_frame)


def _build_cantilever(parts: _Parts, p: ChairParams):
    r = p.tube_radius
    h = p.seat_height
    w, d = p.seat_width, p.seat_depth
    xs = w / 2 - 0.025
    y_tube = h - p.seat_thickness - r + 0.002
    zf, zb = d / 2 - 0.04, -d / 2 + 0.03
    tilt = p.back_tilt
    up = np.array([0.0, math.cos(tilt), -math.sin(tilt)])
    top_len = (p.back_height + p.seat_thickness + r) / math.cos(tilt)
    bend = p.bend_radius
    tube = _circle(r, 12)
    if p.base == "cantilever":
        zr = zb - 0.04
        zfoot = zf + 0.05
        left = [np.array([-xs, y_tube, zb]) + up * top_len, np.array([-xs, y_tube, zb]), np.array([-xs, y_tube, zf]),
                np.array([-xs, r, zfoot]), np.array([-xs, r, zr])]
        right = [q * np.array([-1, 1, 1]) for q in left[::-1]]
        loop = _fillet(left + right, bend, 8, closed=True)
        parts.add(_sweep(loop, tube, closed=True), p.tone_metal)
    else:  # sled: a closed runner loop each side, and an inverted-U back frame
        for sx in (-1.0, 1.0):
            side = [np.array([sx * xs, y_tube, zf]), np.array([sx * xs, r, zf + 0.04]), np.array([sx * xs, r, zb - 0.06]),
                    np.array([sx * xs, y_tube, zb])]
            parts.add(_sweep(_fillet(side, bend, 8, closed=True), tube, closed=True), p.tone_metal)
        back = [np.array([-xs, y_tube - 0.02, zb + 0.06]), np.array([-xs, y_tube, zb]), np.array([-xs, y_tube, zb]) + up * top_len,
                np.array([xs, y_tube, zb]) + up * top_len, np.array([xs, y_tube, zb]), np.array([xs, y_tube - 0.02, zb + 0.06])]
        back[1] = back[1] + np.array([0.0, 0.0, 0.0])
        path = _fillet([back[0] + np.array([0, 0, 0.06]), back[1], back[2], back[3], back[4], back[5] + np.array([0, 0, 0.06])], bend, 8)
        parts.add(_sweep(path, tube), p.tone_metal)
    y_sit = _seat(parts, p, h, p.tone_seat, width=w, depth=d)
    # back panel in front of the uprights, from back_gap above the seat to the top
    origin = np.array([0.0, y_tube, zb]) + up * ((y_sit + p.back_gap - y_tube) / math.cos(tilt))
    frame = _tilted_frame(origin, tilt)
    hs = top_len - (y_sit + p.back_gap - y_tube) / math.cos(tilt) - 0.015
    shape = _back_outline(p)
    bt = p.back_thickness
    if p.back_style == "upholstered":
        parts.add(_block(frame, (0.0, hs / 2), 2 * xs + 2 * r + 0.01, hs, r * 0.3, r * 0.3 + bt, pad=0.4 * bt, crown=0.1 * bt,
                         bend=p.back_curve, **shape), p.tone_back)
    elif p.back_style == "frame":
        parts.add(_block(frame, (0.0, hs / 2), 2 * xs + 2 * r + 0.01, hs, r * 0.3, r * 0.3 + 0.02, bevel=0.005, **shape), p.tone_frame)
        parts.add(_block(frame, (0.0, hs / 2), 2 * xs - 0.03, hs - 0.05, r * 0.3 + 0.016, r * 0.3 + 0.026, bevel=0.002, **shape),
                  p.tone_back)
    else:
        parts.add(_block(frame, (0.0, hs / 2), 2 * xs + 2 * r + 0.01, hs, r * 0.3, r * 0.3 + bt, bevel=0.005, bend=p.back_curve,
                         **shape), p.tone_back)
    if p.arms != "none":
        ya = h + p.arm_height
        for sx in (-1.0, 1.0):
            x = sx * (xs + 0.03)
            s_arm = (ya - y_tube) / math.cos(tilt)
            start = np.array([sx * xs, y_tube, zb]) + up * min(s_arm, top_len - 0.03)
            path = _fillet([start + np.array([-sx * 0.0, 0, 0]), np.array([x, ya, start[2] + 0.03]), np.array([x, ya, zf]),
                            np.array([x, y_tube, zf + 0.02])], bend * 0.8, 8)
            parts.add(_sweep(path, tube), p.tone_metal)
            parts.add(_block(_FLAT, (x, (start[2] + zf) / 2 + 0.02), 0.05, zf - start[2] - 0.02, ya + r - 0.004, ya + r + 0.018,
                             rc=0.02, bevel=0.005), p.tone_arms)


def _build_lounge(parts: _Parts, p: ChairParams):
    w, d, h = p.seat_width, p.seat_depth, p.seat_height
    ct = p.seat_thickness
    has_arms = p.arms != "none"
    aw = p.arm_width if has_arms else 0.0
    bt = p.back_thickness
    W = w + 2 * aw
    yb = 0.0 if p.base == "plinth" else p.footrest_height  # body bottom (legs below)
    y_deck = h - ct
    z_back = -d / 2 - bt * 0.5
    z0, z1 = -d / 2 - bt, d / 2
    # body block: the deck carrying the seat cushion
    parts.add(_block(_FLAT, (0.0, (z0 + z1) / 2 + 0.005), W - 0.01, z1 - z0 - 0.01, yb + (0.03 if p.base == "plinth" else 0.0),
                     y_deck + 0.01, rc=0.02, pad=0.02), p.tone_back)
    if p.base == "plinth":
        parts.add(_block(_FLAT, (0.0, (z0 + z1) / 2), W - 0.08, z1 - z0 - 0.08, 0.0, 0.04, rc=0.01, bevel=0.004), p.tone_frame)
    else:
        hb = yb + 0.01
        for sx in (-1.0, 1.0):
            for zz in (z1 - 0.06, z0 + 0.06):
                top = np.array([sx * (W / 2 - 0.06), hb, zz])
                bottom = top + np.array([sx * hb * math.tan(p.leg_splay), -hb, np.sign(zz) * hb * math.tan(p.leg_splay)])
                bottom[1] = 0.0
                parts.add(_tube(bottom, top, max(0.011, p.leg_thickness / 2 * p.leg_taper), p.leg_thickness / 2,
                                square=p.leg_profile == "square"), p.tone_frame)
    # seat cushion
    parts.add(_block(_FLAT, (0.0, 0.01), w - 0.005, d - 0.01, y_deck, h, rc=0.04, pad=0.35 * ct, crown=0.12 * ct),
              p.tone_cushion)
    # back: a thick upholstered slab, leaning back from the body
    frame = _tilted_frame((0.0, yb + 0.03, z_back - bt / 2), p.back_tilt)
    hs = (h + p.back_height - yb - 0.03) / math.cos(p.back_tilt)
    shape = _back_outline(p)
    if shape.get("kind") == "ellipse":
        shape = dict(kind="rrect", rc=0.12)
    parts.add(_block(frame, (0.0, hs / 2), W, hs, 0.0, bt, pad=0.45 * bt, rc_bot=0.01,
                     **{k: v for k, v in shape.items() if k not in ("rc_bot", "taper")}), p.tone_back)
    if p.back_cushion:
        s0 = (h - frame.origin[1]) / frame.e2[1] - 0.02
        cb = 0.7 * bt + 0.04
        parts.add(_block(frame, (0.0, s0 + (hs - s0) / 2 - 0.02), w - 0.02, hs - s0 - 0.04, bt - 0.02, bt + cb,
                         rc=0.05, pad=0.4 * cb, crown=0.1 * cb), p.tone_cushion)
    if has_arms:
        ya = h + p.arm_height
        rounded = p.arm_thickness  # reused as the arm top rounding
        for sx in (-1.0, 1.0):
            xa = sx * (w / 2 + aw / 2)
            af = _Frame(np.array([xa, 0.0, 0.0]), _X, _Y, _Z)
            parts.add(_block(af, (0.0, (yb + ya) / 2), aw, ya - yb, z0 + 0.02, z1 + 0.015,
                             rc=min(rounded, 0.48 * aw), rc_bot=0.01, pad=0.02), p.tone_arms)


def build_chair(params: ChairParams) -> AlbedoMesh:
    """The chair's mesh: metres, +Y up, front +Z, floor y = 0, centred on x = z = 0."""
    parts = _Parts()
    fam = params.family
    if fam in ("dining", "armchair"):
        _four_leg_chair(parts, params)
    elif fam == "rocking":
        _four_leg_chair(parts, params, rockers=True)
    elif fam == "office":
        _build_office(parts, params)
    elif fam == "stool":
        _build_stool(parts, params)
    elif fam == "bar_stool":
        _build_stool(parts, params, tall=True)
    elif fam == "cantilever":
        _build_cantilever(parts, params)
    elif fam == "lounge":
        _build_lounge(parts, params)
    else:
        raise ValueError(f"unknown chair family {fam!r}")
    return parts.mesh()


# --------------------------------------------------------------------------- sampling


def _tones(rng) -> dict:
    """Per-part gray levels: sometimes all one tone, often a contrasting frame and upholstery."""
    mode = rng.random()
    base = rng.uniform(0.15, 0.85)
    if mode < 0.22:  # one tone throughout
        jitter = rng.uniform(-0.03, 0.03, 6)
        vals = np.clip(base + jitter, 0.1, 0.9)
    else:
        frame = base
        if rng.random() < 0.6:  # strong contrast between frame and upholstery
            cushion = frame + rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.6)
            if not 0.1 <= cushion <= 0.9:
                cushion = frame - (cushion - frame)
        else:
            cushion = rng.uniform(0.1, 0.9)
        seat = frame if rng.random() < 0.55 else rng.uniform(0.1, 0.9)
        back = rng.choice([frame, cushion, seat])
        arms = frame if rng.random() < 0.7 else cushion
        metal = rng.uniform(0.1, 0.9) if rng.random() < 0.6 else frame
        vals = np.clip([frame, seat, back, cushion, arms, metal], 0.1, 0.9)
    keys = ("tone_frame", "tone_seat", "tone_back", "tone_cushion", "tone_arms", "tone_metal")
    return {k: float(v) for k, v in zip(keys, vals)}


def _pick(rng, options, weights=None):
    w = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    return str(options[int(rng.choice(len(options), p=w))])


def sample_chair_params(seed: int, chair_id: int) -> ChairParams:
    """Chair `chair_id` of the set drawn from `seed`: the family cycles through FAMILIES, the
    rest comes from np.random.default_rng([seed, 11, chair_id])."""
    family = FAMILIES[chair_id % len(FAMILIES)]
    rng = np.random.default_rng([seed, 11, chair_id])
    u = rng.uniform
    q = dict(family=family)
    # generic draws (each family overrides what it shapes differently)
    shape = _pick(rng, ["rect", "rounded", "trapezoid", "round"], [0.3, 0.35, 0.25, 0.1])
    q.update(
        seat_width=u(0.40, 0.52), seat_depth=u(0.38, 0.50), seat_height=u(0.43, 0.49), seat_thickness=u(0.022, 0.05),
        seat_shape=shape, seat_corner=u(0.004, 0.015), seat_taper=0.0,
        cushion=int(rng.random() < 0.35), cushion_thickness=u(0.03, 0.07),
        leg_count=4, leg_profile=_pick(rng, ["square", "round"]), leg_thickness=u(0.03, 0.05),
        leg_taper=u(0.55, 1.0), leg_splay=u(0.0, 0.08), leg_inset=u(0.0, 0.03),
        apron=int(rng.random() < 0.55), apron_height=u(0.05, 0.1),
        stretchers=_pick(rng, ["none", "H", "box"], [0.35, 0.3, 0.35]), stretcher_height=u(0.1, 0.22),
        back_style="slats", back_shape=_pick(rng, ["rect", "rounded", "arched", "oval", "shield"]),
        back_height=u(0.35, 0.6), back_tilt=u(0.04, 0.22), back_thickness=u(0.02, 0.04), back_width=u(0.8, 1.0),
        back_curve=u(0.0, 0.03), back_count=int(rng.integers(2, 6)), back_low=u(0.06, 0.18), back_gap=u(0.1, 0.2),
        rail_height=u(0.045, 0.1), slat_width=u(0.025, 0.08), posts=int(rng.random() < 0.8),
        arms="none", arm_height=u(0.18, 0.26), arm_width=u(0.05, 0.1), arm_thickness=u(0.025, 0.045),
        base="legs", base_radius=u(0.26, 0.34), base_rotation=u(0, 2 * math.pi / 5), caster_radius=u(0.022, 0.032),
        tube_radius=u(0.0125, 0.017), bend_radius=u(0.05, 0.1), footrest="none", footrest_height=u(0.22, 0.34),
        rocker_radius=u(1.0, 2.4), rocker_length=u(0.75, 1.0), headrest=0, back_cushion=0,
    )
    if shape == "rounded":
        q["seat_corner"] = u(0.03, 0.1)
    elif shape == "trapezoid":
        q["seat_corner"] = u(0.005, 0.05)
        q["seat_taper"] = u(0.08, 0.25)
    elif shape == "round":
        q["seat_depth"] = q["seat_width"] * u(0.9, 1.0)
    q["posts_style"] = None
    styles_posts = ["slats", "spindles", "ladder", "frame", "solid", "upholstered"]

    if family == "dining":
        q["back_style"] = _pick(rng, styles_posts, [0.25, 0.15, 0.15, 0.15, 0.15, 0.15]) if q["posts"] else \
            _pick(rng, ["solid", "upholstered"])
        if q["back_style"] == "upholstered":
            q["back_thickness"] = u(0.05, 0.09)
    elif family == "armchair":
        q.update(seat_width=u(0.5, 0.62), seat_depth=u(0.46, 0.56), seat_height=u(0.40, 0.46),
                 cushion=int(rng.random() < 0.75), cushion_thickness=u(0.05, 0.1),
                 back_height=u(0.4, 0.65), arms=_pick(rng, ["post", "panel", "loop"], [0.45, 0.3, 0.25]))
        q["back_style"] = _pick(rng, styles_posts, [0.2, 0.15, 0.1, 0.15, 0.1, 0.3]) if q["posts"] else \
            _pick(rng, ["solid", "upholstered"], [0.3, 0.7])
        if q["back_style"] == "upholstered":
            q["back_thickness"] = u(0.05, 0.1)
        if q["seat_shape"] == "round":  # arms need straight seat sides
            q["seat_shape"], q["seat_depth"], q["seat_corner"] = "rounded", u(0.46, 0.56), u(0.03, 0.1)
    elif family == "office":
        q.update(seat_width=u(0.44, 0.54), seat_depth=u(0.42, 0.52), seat_height=u(0.44, 0.54), seat_thickness=u(0.07, 0.11),
                 seat_shape="rounded", seat_corner=u(0.04, 0.12), cushion=0, base="star", posts=0,
                 back_height=u(0.42, 0.75), back_tilt=u(0.05, 0.25),
                 back_shape=_pick(rng, ["rounded", "shield", "oval", "arched", "rect"], [0.3, 0.25, 0.15, 0.15, 0.15]),
                 back_thickness=u(0.035, 0.08), back_width=u(0.8, 1.02), back_curve=u(0.01, 0.05), back_gap=u(0.04, 0.14),
                 back_style=_pick(rng, ["upholstered", "frame"], [0.65, 0.35]),
                 arms=_pick(rng, ["none", "T", "loop"], [0.3, 0.5, 0.2]), arm_height=u(0.18, 0.26))
        q["headrest"] = int(q["back_height"] > 0.62 and rng.random() < 0.5)
    elif family in ("stool", "bar_stool"):
        shape = _pick(rng, ["round", "rounded", "rect"], [0.55, 0.3, 0.15])
        side = u(0.30, 0.42)
        q.update(seat_shape=shape, seat_width=side, seat_depth=side * (u(0.9, 1.0) if shape == "round" else u(0.75, 1.0)),
                 seat_thickness=u(0.025, 0.06), leg_count=int(rng.choice([3, 4], p=[0.35, 0.65])),
                 leg_thickness=u(0.028, 0.045), leg_splay=u(0.03, 0.18), leg_inset=u(0.0, 0.03),
                 stretchers=_pick(rng, ["none", "ring", "H", "box"], [0.25, 0.3, 0.2, 0.25]), back_style="none",
                 apron=int(rng.random() < 0.3), cushion=int(rng.random() < 0.25), cushion_thickness=u(0.03, 0.06),
                 seat_corner=u(0.04, 0.1) if shape == "rounded" else u(0.004, 0.015))
        if family == "stool":
            q.update(seat_height=u(0.42, 0.64))
        else:
            q.update(seat_height=u(0.62, 0.80), base=_pick(rng, ["legs", "pedestal"], [0.7, 0.3]), base_radius=u(0.2, 0.26),
                     footrest=_pick(rng, ["ring", "bar"], [0.55, 0.45]), leg_splay=u(0.04, 0.14),
                     stretcher_height=u(0.42, 0.55))
            if q["base"] == "pedestal":
                q["footrest"] = "ring"
            if rng.random() < 0.45:  # a low back rest
                q.update(back_style=_pick(rng, ["solid", "upholstered"]), back_height=u(0.18, 0.35), back_gap=u(0.06, 0.12),
                         back_thickness=u(0.02, 0.05), back_tilt=u(0.05, 0.2), back_curve=u(0.01, 0.04),
                         back_shape=_pick(rng, ["rect", "rounded", "arched", "oval"]))
    elif family == "cantilever":
        q.update(base=_pick(rng, ["cantilever", "sled"], [0.65, 0.35]), seat_width=u(0.42, 0.5), seat_depth=u(0.4, 0.48),
                 seat_height=u(0.43, 0.47), seat_thickness=u(0.015, 0.04), seat_shape=_pick(rng, ["rect", "rounded"]),
                 back_height=u(0.35, 0.5), back_gap=u(0.08, 0.2), back_tilt=u(0.06, 0.2),
                 back_style=_pick(rng, ["solid", "upholstered", "frame"], [0.4, 0.3, 0.3]),
                 back_shape=_pick(rng, ["rect", "rounded", "arched"]), back_thickness=u(0.015, 0.05),
                 arms=_pick(rng, ["none", "loop"], [0.7, 0.3]), posts=0)
        if q["seat_shape"] == "rounded":
            q["seat_corner"] = u(0.03, 0.08)
    elif family == "rocking":
        q.update(seat_width=u(0.45, 0.56), seat_depth=u(0.42, 0.5), seat_height=u(0.38, 0.45), posts=1, leg_splay=0.0,
                 back_style=_pick(rng, ["spindles", "slats", "ladder", "upholstered", "frame"], [0.35, 0.25, 0.15, 0.15, 0.1]),
                 back_height=u(0.5, 0.72), back_tilt=u(0.15, 0.3), arms=_pick(rng, ["post", "none", "loop"], [0.6, 0.2, 0.2]),
                 leg_profile=_pick(rng, ["round", "square"], [0.6, 0.4]), stretchers=_pick(rng, ["none", "box", "H"]),
                 stretcher_height=u(0.2, 0.26))
        if q["back_style"] == "upholstered":
            q["back_thickness"] = u(0.05, 0.09)
        if q["seat_shape"] == "round":
            q["seat_shape"] = "rounded"
            q["seat_corner"] = u(0.03, 0.08)
    elif family == "lounge":
        q.update(seat_width=u(0.5, 0.65), seat_depth=u(0.52, 0.68), seat_height=u(0.38, 0.46), seat_thickness=u(0.1, 0.18),
                 base=_pick(rng, ["plinth", "legs"]), footrest_height=u(0.08, 0.2), leg_thickness=u(0.03, 0.05),
                 leg_splay=u(0.0, 0.2), arms=_pick(rng, ["panel", "none"], [0.85, 0.15]), arm_width=u(0.08, 0.2),
                 arm_height=u(0.12, 0.26), arm_thickness=u(0.02, 0.1), back_thickness=u(0.12, 0.22),
                 back_height=u(0.28, 0.5), back_tilt=u(0.06, 0.25), back_style="upholstered",
                 back_shape=_pick(rng, ["rect", "rounded", "arched"]), back_cushion=int(rng.random() < 0.5), posts=0)
    q.pop("posts_style")
    q.update(_tones(rng))
    return ChairParams(**q)


def procedural_chair(seed: int, chair_id: int) -> tuple[AlbedoMesh, ChairParams]:
    """Sample and build chair `chair_id` of the set drawn from `seed`."""
    params = sample_chair_params(seed, chair_id)
    return build_chair(params), params
