"""Chair parts shared by the families: a seat, legs, stretchers, aprons, backs and armrests,
each added to a `Parts` collector with its own gray tone."""
from __future__ import annotations

import math

import numpy as np

from render.chairs.procedural.chair_params import ChairParams
from render.chairs.procedural.primitives import (
    FLOOR_FRAME,
    MIN_ROD_RADIUS,
    X_AXIS,
    Y_AXIS,
    Z_AXIS,
    Frame,
    block,
    fillet,
    rect_profile,
    sweep,
    tilted_frame,
    torus,
    tube,
    unit,
)
from render.gl.mesh import AlbedoMesh



class Parts:
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


def _seat_outline(p: ChairParams) -> dict:
    if p.seat_shape == "round":
        return dict(kind="ellipse")
    if p.seat_shape == "trapezoid":
        return dict(kind="rrect", rc=p.seat_corner, taper=p.seat_taper)
    return dict(kind="rrect", rc=p.seat_corner)


def add_seat(parts: Parts, p: ChairParams, y_top: float, tone: float) -> float:
    """Seat board (plus cushion); returns the height of the top of the sitting surface."""
    w, d, t = p.seat_width, p.seat_depth, p.seat_thickness
    shape = _seat_outline(p)
    parts.add(block(FLOOR_FRAME, (0.0, 0.0), w, d, y_top - t, y_top, bevel=min(0.008, t / 3), **shape), tone)
    if p.cushion:
        ct = p.cushion_thickness
        shape_c = dict(shape)
        if shape_c["kind"] == "rrect":
            shape_c["rc"] = max(p.seat_corner, 0.035)
        parts.add(block(FLOOR_FRAME, (0.0, 0.005), w - 0.03, d - 0.03, y_top - 0.004, y_top + ct,
                        pad=0.45 * ct, crown=0.15 * ct, **shape_c), p.tone_cushion)
        return y_top + ct
    return y_top


def _half_width_at(p: ChairParams, z: float) -> float:
    if p.seat_shape == "trapezoid":
        return p.seat_width / 2 * (1 + p.seat_taper * z / p.seat_depth)
    return p.seat_width / 2


def leg_tops(p: ChairParams, y_top: float, count: int, inset: float):
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
        outs.append(unit(o) if np.linalg.norm(o) > 1e-6 else Z_AXIS)
    return tops, outs


def add_legs(parts: Parts, p: ChairParams, tops, outs, tone, floor_y=None, rake_back: float = 0.0):
    """Straight legs from each top to the floor, splayed outward; returns (bottom, top) pairs."""
    r = p.leg_thickness / 2
    lines = []
    for k, (top, out) in enumerate(zip(tops, outs)):
        h = top[1] - (0.0 if floor_y is None else floor_y[k])
        bottom = top + out * h * math.tan(p.leg_splay)
        bottom[1] = 0.0 if floor_y is None else floor_y[k]
        if rake_back and top[2] < 0:
            bottom[2] -= rake_back
        ref = X_AXIS if len(tops) == 4 and p.seat_shape != "round" else unit(np.cross(out, Y_AXIS))
        parts.add(tube(bottom, top + 0.004 * Y_AXIS, max(r * p.leg_taper, 0.011), r, square=p.leg_profile == "square",
                       ref=ref), tone)
        lines.append((bottom, top))
    return lines


def at_height(line, y):
    b, t = line
    s = (y - b[1]) / (t[1] - b[1])
    return b + s * (t - b)


def add_stretchers(parts: Parts, p: ChairParams, lines, tone, style=None, height=None):
    style = p.stretchers if style is None else style
    if style == "none":
        return
    y = p.stretcher_height if height is None else height
    r = max(MIN_ROD_RADIUS, 0.3 * p.leg_thickness)
    pts = [at_height(line, y) for line in lines]
    square = p.leg_profile == "square"
    n = len(pts)
    if style == "ring":
        rad = float(np.mean([math.hypot(q[0], q[2]) for q in pts]))
        parts.add(torus((0.0, y, 0.0), rad, r), tone)
    elif style == "H" and n == 4:
        # side stretchers (front to back on each side) and a cross bar between them
        parts.add(tube(pts[0], pts[3], r, r, square), tone)
        parts.add(tube(pts[1], pts[2], r, r, square), tone)
        y2 = y + 0.02
        m1 = (at_height(lines[0], y2) + at_height(lines[3], y2)) / 2
        m2 = (at_height(lines[1], y2) + at_height(lines[2], y2)) / 2
        parts.add(tube(m1, m2, r, r, square), tone)
    else:
        for k in range(n):
            yk = y + (0.025 if (n == 4 and k % 2 == 1) else 0.0)
            a, b = at_height(lines[k], yk), at_height(lines[(k + 1) % n], yk)
            parts.add(tube(a, b, r, r, square), tone)


def add_aprons(parts: Parts, p: ChairParams, tops, y_bottom_of_seat, tone):
    h = p.apron_height
    th = 0.022
    y0 = y_bottom_of_seat - h
    for k in range(4):
        a, b = tops[k], tops[(k + 1) % 4]
        mid = (a + b) / 2
        length = float(np.linalg.norm(b - a))
        e1 = unit(b - a)
        e3 = unit(np.cross(e1, Y_AXIS))
        frame = Frame(np.array([mid[0], y0, mid[2]]), e1, Y_AXIS, e3)
        parts.add(block(frame, (0.0, h / 2), length, h, -th / 2, th / 2, bevel=0.003, n_arc=2), tone)


def back_outline(p: ChairParams) -> dict:
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


def add_back_on_posts(parts: Parts, p: ChairParams, x_post: float, z_post: float, y_seat_bot: float,
                      y_seat_top: float, r_post: float, frame_tone: float, panel_tone: float):
    """Back posts rising from the back legs along the back tilt, with rails / slats / spindles /
    a panel between them. Returns the frame of the back plane (through the post axes)."""
    tilt = p.back_tilt
    t_seat = y_seat_top - y_seat_bot
    origin = np.array([0.0, y_seat_top, z_post - t_seat * math.tan(tilt)])
    frame = tilted_frame(origin, tilt)
    top = p.back_height / math.cos(tilt)
    square = p.leg_profile == "square"
    for sx in (-1.0, 1.0):
        base = np.array([sx * x_post, y_seat_bot - 0.01, z_post])
        parts.add(tube(base, frame.point(sx * x_post, top + 0.02, 0.0), r_post, r_post * 0.85, square), frame_tone)
    span = 2 * x_post
    inner = span - 2 * r_post
    tt = min(p.back_thickness, 1.6 * r_post)
    rh = p.rail_height
    style = p.back_style
    top_rail_kw = dict(arch=0.04 if p.back_shape == "arched" else 0.0, rc=0.02 if p.back_shape == "rounded" else 0.004)

    def rail(b0, b1, **kw):
        parts.add(block(frame, (0.0, (b0 + b1) / 2), span, b1 - b0, -tt / 2, tt / 2, bevel=0.004,
                        bend=p.back_curve * 0.5, **kw), frame_tone)

    low = p.back_low
    if style == "slats":
        rail(top - rh, top, **top_rail_kw)
        rail(low, low + 0.7 * rh)
        n = p.back_count
        sw = min(p.slat_width if n > 1 else max(0.35 * inner, p.slat_width), 0.9 * inner / n)
        xs = np.linspace(-1, 1, n) * (inner / 2 - inner / (2 * n)) if n > 1 else [0.0]
        for x in xs:
            parts.add(block(frame, (x, (low + top - rh) / 2 + 0.01), sw, top - rh - low + 0.02, -tt / 2.4, tt / 2.4,
                            bevel=0.003, n_arc=2), frame_tone)
    elif style == "spindles":
        rail(top - rh, top, **top_rail_kw)
        n = p.back_count
        xs = np.linspace(-1, 1, n) * (inner / 2 - inner / (2 * n))
        for x in xs:
            parts.add(tube(frame.point(x, -0.01, 0.0), frame.point(x, top - rh / 2, 0.0), MIN_ROD_RADIUS,
                           MIN_ROD_RADIUS * 0.9), frame_tone)
    elif style == "ladder":
        n = p.back_count
        b_lo = max(low, 0.3 * top)
        centres = np.linspace(b_lo, top - rh / 2, n)
        for c in centres:
            rail(c - rh * 0.4, c + rh * 0.4, **(top_rail_kw if c == centres[-1] else {}))
    elif style == "frame":
        rail(top - rh, top, **top_rail_kw)
        rail(low, low + 0.7 * rh)
        parts.add(block(frame, (0.0, (low + top) / 2), inner + 0.01, top - rh - low - 0.7 * rh + 0.02, -0.006, 0.006,
                        bevel=0.002, n_arc=2), panel_tone)
    elif style == "solid":
        shape = back_outline(p)
        parts.add(block(frame, (0.0, (low + top) / 2), span, top - low, -tt / 2, tt / 2, bevel=0.005,
                        bend=p.back_curve, **shape), panel_tone)
    elif style == "upholstered":
        shape = back_outline(p)
        bt = max(p.back_thickness, 0.05)
        parts.add(block(frame, (0.0, (low + top + 0.01) / 2), span + 2 * r_post + 0.01, top + 0.01 - low,
                        0.0, bt, pad=0.4 * bt, crown=0.12 * bt, bend=p.back_curve, **shape), panel_tone)
    return frame


def add_panel_back(parts: Parts, p: ChairParams, y_seat_top: float, y_support: float, z_rear: float, width: float,
                   tone: float, support_tone: float):
    """A free-standing back panel above the seat's rear edge, carried by two bars from under the seat."""
    frame = tilted_frame((0.0, y_seat_top + p.back_gap, z_rear), p.back_tilt)
    hb = p.back_height - p.back_gap
    hs = hb / math.cos(p.back_tilt)
    shape = back_outline(p)
    upholstered = p.back_style == "upholstered"
    bt = p.back_thickness
    kw = dict(pad=0.4 * bt, crown=0.1 * bt) if upholstered else dict(bevel=0.006)
    parts.add(block(frame, (0.0, hs / 2), width, hs, -bt, 0.0, bend=p.back_curve, **kw, **shape), tone)
    half_a, half_b = 0.02, 0.008
    for sx in (-1.0, 1.0):
        x = sx * min(0.3 * width, 0.13)
        t_bar = -bt - half_b + 0.002 + p.back_curve * (x / (width / 2)) ** 2
        up = frame.point(x, 0.45 * hs, t_bar)
        s_low = (y_support - frame.origin[1] - t_bar * frame.e3[1]) / frame.e2[1]
        corner = frame.point(x, s_low, t_bar)
        start = np.array([x, y_support, z_rear + 0.12])
        path = fillet([start, corner, up], 0.05, 6)
        parts.add(sweep(path, rect_profile(half_a, half_b), ref=X_AXIS), support_tone)
    return frame


def add_armrest(parts: Parts, x: float, y_top: float, z0: float, z1: float, width: float, thick: float, tone: float):
    parts.add(block(FLOOR_FRAME, (x, (z0 + z1) / 2), width, z1 - z0, y_top - thick, y_top, rc=min(0.03, width / 2.2),
                    bevel=0.005), tone)
