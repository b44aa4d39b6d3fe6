"""The chair families and `build_chair`, which turns a `ChairParams` record into an `AlbedoMesh`.

Eight families cover the usual silhouettes: dining, armchair, office (five-star base on
casters), stool, bar_stool, cantilever (bent tube), rocking (curved rockers) and lounge
(upholstered). A chair is a set of overlapping closed parts, each with one gray tone. Units are
metres, +Y up, the front (where a sitter's knees go) faces +Z, the floor is y = 0 and the
bounding box is centred on x = 0, z = 0.
"""
from __future__ import annotations

import math
from dataclasses import replace
from functools import partial

import numpy as np

from render.chairs.procedural.chair_params import ChairParams
from render.chairs.procedural.parts import (
    Parts,
    add_aprons,
    add_armrest,
    add_back_on_posts,
    add_legs,
    add_panel_back,
    add_seat,
    add_stretchers,
    at_height,
    back_outline,
    leg_tops,
)
from render.chairs.procedural.primitives import (
    FLOOR_FRAME,
    MIN_ROD_RADIUS,
    X_AXIS,
    Y_AXIS,
    Z_AXIS,
    Frame,
    block,
    circle,
    fillet,
    rect_profile,
    sweep,
    tilted_frame,
    torus,
    tube,
    unit,
)
from render.gl.mesh import AlbedoMesh




def _build_four_leg(parts: Parts, p: ChairParams, rockers: bool = False):
    """Dining, armchair and rocking chairs: four legs, seat, back on posts or a panel, arms."""
    h, t = p.seat_height, p.seat_thickness
    y_bot = h - t
    tops, outs = leg_tops(p, y_bot, 4, p.leg_inset)
    r = p.leg_thickness / 2
    floor_y = None
    if rockers:
        outs = [unit(np.array([1.0 if q[0] > 0 else -1.0, 0.0, 0.0])) for q in tops]
        # rockers: one arc per side, lowest point slightly behind the seat centre
        half_w, half_h = max(0.019, r * 0.9), 0.024
        rad, length = p.rocker_radius, p.rocker_length
        zc = -0.04
        floor_y = []
        for sx in (-1.0, 1.0):
            xr = sx * abs(tops[0][0])
            th = np.linspace(-length / 2 / rad, length / 2 / rad, 28)
            path = np.stack([np.full_like(th, xr), half_h + rad * (1 - np.cos(th)), zc + rad * np.sin(th)], axis=1)
            parts.add(sweep(path, rect_profile(half_w, half_h, 0.004), ref=X_AXIS), p.tone_frame)
        for q in tops:
            s = (q[2] - zc) / rad
            floor_y.append(half_h + rad * (1 - math.sqrt(max(0.0, 1 - s * s))))
        p = replace(p, leg_splay=0.0)
    lines = add_legs(parts, p, tops, outs, p.tone_frame, floor_y=floor_y, rake_back=0.0 if rockers else 0.03 * p.posts)
    if p.apron:
        add_aprons(parts, p, tops, y_bot + 0.002, p.tone_frame)
    if rockers:
        add_stretchers(parts, p, lines, p.tone_frame, height=max(p.stretcher_height, max(floor_y) + 0.1))
    else:
        add_stretchers(parts, p, lines, p.tone_frame)
    y_sit = add_seat(parts, p, h, p.tone_seat)
    x_back = abs(tops[2][0])
    z_back = tops[2][2]
    if p.posts:
        frame = add_back_on_posts(parts, p, x_back, z_back, y_bot, h, r * (0.95 if p.leg_profile == "square" else 1.0),
                                  p.tone_frame, p.tone_back)
    else:
        width = p.back_width * 2 * (x_back + r)
        frame = add_panel_back(parts, p, y_sit, y_bot - 0.012, -p.seat_depth / 2 + 0.01, width, p.tone_back,
                               p.tone_frame)
    if p.arms != "none":
        ya = h + p.arm_height
        x_front, z_front = abs(tops[0][0]), tops[0][2]  # the front right leg
        # back end of the armrest: where the back plane is at arm height
        s_arm = (ya - frame.origin[1]) / frame.e2[1]
        z_rear = float(frame.point(0.0, s_arm, 0.0)[2])
        aw, at = p.arm_width, p.arm_thickness
        for sx in (-1.0, 1.0):
            if p.arms == "post":
                xa = sx * (x_front + 0.01)
                parts.add(tube(np.array([sx * x_front, y_bot - 0.02, z_front]), np.array([xa, ya - at / 2, z_front + 0.01]),
                               r, r * 0.85, p.leg_profile == "square"), p.tone_frame)
                add_armrest(parts, xa, ya, z_rear - 0.01, z_front + 0.06, aw, at, p.tone_arms)
            elif p.arms == "panel":
                xa = sx * (x_back + r + 0.012)
                pt = 0.024
                pf = Frame(np.array([xa, 0.0, 0.0]), Z_AXIS, Y_AXIS, X_AXIS)
                parts.add(block(pf, ((z_rear + z_front + 0.02) / 2, (y_bot - 0.03 + ya - at) / 2), z_front + 0.02 - z_rear,
                                ya - at - y_bot + 0.03, -pt / 2, pt / 2, rc=0.03, rc_bot=0.004, bevel=0.003), p.tone_arms)
                add_armrest(parts, xa, ya, z_rear - 0.01, z_front + 0.05, max(aw, 0.05), at, p.tone_arms)
            else:  # loop: a bent rod from the back post over the arm and down to the seat front
                xa = sx * (x_back + r + 0.01)
                rr = max(MIN_ROD_RADIUS, 0.45 * p.arm_width * 0.5 + 0.005)
                path = fillet([np.array([xa, ya, z_rear - 0.01]), np.array([xa, ya, z_front]),
                               np.array([xa, y_bot + 0.005, z_front - 0.02])], 0.07, 8)
                parts.add(sweep(path, circle(rr)), p.tone_arms)


def _build_office(parts: Parts, p: ChairParams):
    """A five-star base on casters, a gas column, a contoured seat, a back on a spine, T or loop arms."""
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
        side = np.cross(d, Y_AXIS)
        parts.add(tube(start, end, 0.026, 0.016, square=True, ref=side), metal)
        # caster: stem, fork and wheel
        wheel_c = d * (radius + 0.015) + np.array([0.0, rc, 0.0])
        parts.add(tube(end - np.array([0, 0.01, 0]), np.array([wheel_c[0], rc * 1.6, wheel_c[2]]), 0.008, 0.008), dark)
        parts.add(tube(wheel_c - side * 0.022, wheel_c + side * 0.022, rc, rc, sides=12), dark)
    parts.add(tube((0, y_arm_end - 0.005, 0), (0, y_hub + 0.03, 0), hub_r, hub_r * 0.8), metal)
    y_bot = p.seat_height - p.seat_thickness
    mech_h = 0.05
    col_top = y_bot - mech_h + 0.01
    parts.add(tube((0, y_hub, 0), (0, y_hub + 0.55 * (col_top - y_hub), 0), 0.032, 0.030), metal)
    parts.add(tube((0, y_hub + 0.01, 0), (0, col_top, 0), 0.02, 0.02), metal)
    parts.add(block(FLOOR_FRAME, (0.0, -0.01), 0.2, 0.24, y_bot - mech_h, y_bot + 0.005, rc=0.02, bevel=0.006), dark)
    # seat: a thick contoured cushion on a shell
    w, d = p.seat_width, p.seat_depth
    shell_t = 0.02
    parts.add(block(FLOOR_FRAME, (0.0, 0.0), w - 0.02, d - 0.02, y_bot, y_bot + shell_t, rc=p.seat_corner, bevel=0.006), p.tone_frame)
    parts.add(block(FLOOR_FRAME, (0.0, 0.0), w, d, y_bot + shell_t - 0.004, p.seat_height, rc=p.seat_corner,
                    pad=0.45 * (p.seat_height - y_bot - shell_t), crown=0.01, bend=0.012), p.tone_seat)
    # back: panel behind a spine from the mechanism
    z_rear = -d / 2 + 0.01
    frame = tilted_frame((0.0, p.seat_height + p.back_gap, z_rear), p.back_tilt)
    hs = (p.back_height - p.back_gap) / math.cos(p.back_tilt)
    bw = p.back_width * w
    bt = p.back_thickness
    shape = back_outline(p)
    if p.back_style == "frame":  # mesh back: a frame ring with a thin mesh panel
        parts.add(block(frame, (0.0, hs / 2), bw, hs, -bt, -bt + 0.022, bend=p.back_curve, bevel=0.006, **shape), p.tone_frame)
        parts.add(block(frame, (0.0, hs / 2), bw - 0.03, hs - 0.03, -bt + 0.018, -bt + 0.03, bend=p.back_curve,
                        bevel=0.003, **shape), p.tone_back)
    else:
        parts.add(block(frame, (0.0, hs / 2), bw, hs, -bt, 0.0, pad=0.4 * bt, crown=0.1 * bt, bend=p.back_curve, **shape),
                  p.tone_back)
    t_bar = -bt - 0.008
    y_spine = y_bot - 0.02
    s_low = (y_spine - frame.origin[1] - t_bar * frame.e3[1]) / frame.e2[1]
    path = fillet([np.array([0.0, y_spine, -0.05]), frame.point(0.0, s_low, t_bar), frame.point(0.0, 0.6 * hs, t_bar)], 0.06, 6)
    parts.add(sweep(path, rect_profile(0.03, 0.01), ref=X_AXIS), p.tone_frame)
    if p.headrest:
        parts.add(block(frame, (0.0, hs + 0.1), 0.6 * bw, 0.13, -0.06, 0.0, pad=0.025, crown=0.005, rc=0.05), p.tone_back)
        parts.add(tube(frame.point(0.0, hs - 0.15, -bt - 0.005), frame.point(0.0, hs + 0.08, -0.06), 0.013, 0.013), p.tone_frame)
    # arms
    if p.arms != "none":
        ya = p.seat_height + p.arm_height
        xa = w / 2 + 0.025
        for sx in (-1.0, 1.0):
            if p.arms == "T":
                path = fillet([np.array([sx * 0.08, y_bot - 0.01, -0.04]), np.array([sx * xa, y_bot - 0.01, -0.04]),
                               np.array([sx * xa, ya - 0.015, -0.04])], 0.04, 6)
                parts.add(sweep(path, rect_profile(0.025, 0.009), ref=Z_AXIS), p.tone_frame)
                parts.add(block(FLOOR_FRAME, (sx * xa, -0.02), 0.075, 0.26, ya - 0.03, ya, rc=0.03, pad=0.012), dark)
            else:  # loop arm from the seat back over to the seat front
                path = fillet([np.array([sx * xa, y_bot - 0.005, -d / 2 + 0.07]), np.array([sx * xa, ya, -d / 2 + 0.05]),
                               np.array([sx * xa, ya, d / 2 - 0.12]), np.array([sx * xa, y_bot - 0.005, d / 2 - 0.1])], 0.07, 6)
                parts.add(sweep(path, rect_profile(0.012, 0.02), ref=X_AXIS), p.tone_frame)
                parts.add(block(FLOOR_FRAME, (sx * xa, -0.02), 0.06, 0.22, ya + 0.012, ya + 0.035, rc=0.025, bevel=0.006), dark)


def _build_stool(parts: Parts, p: ChairParams, tall: bool = False):
    """Stools and bar stools (tall): legs or a pedestal, stretchers, a footrest and an optional low back."""
    h, t = p.seat_height, p.seat_thickness
    y_bot = h - t
    lines = None
    if p.base == "pedestal":
        r_disc = p.base_radius
        r_col = 0.6 * p.leg_thickness + 0.008
        disc_t = 0.015 + 0.3 * p.leg_inset
        parts.add(block(FLOOR_FRAME, (0.0, 0.0), 2 * r_disc, 2 * r_disc, 0.0, disc_t, kind="ellipse", bevel=0.008), p.tone_metal)
        parts.add(tube((0, disc_t - 0.005, 0), (0, disc_t + 0.03, 0), 0.09 * p.leg_taper, r_col, sides=14), p.tone_metal)
        parts.add(tube((0, 0.02, 0), (0, y_bot - 0.03, 0), r_col, r_col, sides=14), p.tone_metal)
        parts.add(tube((0, y_bot - 0.06, 0), (0, y_bot + 0.005, 0), 0.05, 0.07, sides=14), p.tone_metal)
    else:
        tops, outs = leg_tops(p, y_bot, p.leg_count, p.leg_inset)
        lines = add_legs(parts, p, tops, outs, p.tone_frame)
        if p.apron and p.leg_count == 4 and p.seat_shape != "round":
            add_aprons(parts, p, tops, y_bot + 0.002, p.tone_frame)
        style = p.stretchers
        if style == "H" and p.leg_count != 4:
            style = "box"
        if not (tall and style == "ring" and p.footrest == "ring"):
            add_stretchers(parts, p, lines, p.tone_frame, style=style)
    if tall:
        yf = p.footrest_height
        if p.footrest == "ring" or lines is None:
            if lines is None:
                rad = 0.75 * p.base_radius + 0.02
                parts.add(torus((0.0, yf, 0.0), rad, max(MIN_ROD_RADIUS, 0.35 * p.leg_thickness)), p.tone_metal)
                for k in range(3):
                    a = k * 2 * math.pi / 3 + math.pi / 2
                    parts.add(tube((0, yf, 0), (rad * math.cos(a), yf, rad * math.sin(a)), 0.011, 0.011, sides=8), p.tone_metal)
            else:
                pts = [at_height(line, yf) for line in lines]
                rad = float(np.mean([math.hypot(q[0], q[2]) for q in pts]))
                parts.add(torus((0.0, yf, 0.0), rad, max(0.014, 0.35 * p.leg_thickness)), p.tone_metal)
        elif len(lines) == 4:  # a footrest bar across the front legs
            a, b = at_height(lines[0], yf), at_height(lines[1], yf)
            out = unit(np.array([(a + b)[0], 0.0, (a + b)[2]]))
            parts.add(tube(a + out * 0.01, b + out * 0.01, 0.016, 0.016, sides=10), p.tone_metal)
        else:  # three legs: a triangle of foot bars
            add_stretchers(parts, p, lines, p.tone_metal, style="box", height=yf)
    y_sit = add_seat(parts, p, h, p.tone_seat)
    if p.back_style != "none":
        z_rear = -p.seat_depth / 2 + 0.012
        width = p.back_width * p.seat_width
        add_panel_back(parts, p, y_sit, y_bot - 0.012, z_rear, width, p.tone_back, p.tone_frame)


def _build_cantilever(parts: Parts, p: ChairParams):
    """One bent tube frame (a cantilever loop or sled runners) carrying the seat and a back panel."""
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
    section = circle(r, 12)
    if p.base == "cantilever":
        zr = zb - 0.04
        zfoot = zf + 0.05
        left = [np.array([-xs, y_tube, zb]) + up * top_len, np.array([-xs, y_tube, zb]), np.array([-xs, y_tube, zf]),
                np.array([-xs, r, zfoot]), np.array([-xs, r, zr])]
        right = [q * np.array([-1, 1, 1]) for q in left[::-1]]
        loop = fillet(left + right, bend, 8, closed=True)
        parts.add(sweep(loop, section, closed=True), p.tone_metal)
    else:  # sled: a closed runner loop each side, and an inverted-U back frame
        for sx in (-1.0, 1.0):
            side = [np.array([sx * xs, y_tube, zf]), np.array([sx * xs, r, zf + 0.04]), np.array([sx * xs, r, zb - 0.06]),
                    np.array([sx * xs, y_tube, zb])]
            parts.add(sweep(fillet(side, bend, 8, closed=True), section, closed=True), p.tone_metal)
        back = [np.array([-xs, y_tube - 0.02, zb + 0.06]), np.array([-xs, y_tube, zb]), np.array([-xs, y_tube, zb]) + up * top_len,
                np.array([xs, y_tube, zb]) + up * top_len, np.array([xs, y_tube, zb]), np.array([xs, y_tube - 0.02, zb + 0.06])]
        path = fillet([back[0] + np.array([0, 0, 0.06]), back[1], back[2], back[3], back[4], back[5] + np.array([0, 0, 0.06])], bend, 8)
        parts.add(sweep(path, section), p.tone_metal)
    y_sit = add_seat(parts, p, h, p.tone_seat)
    # back panel in front of the uprights, from back_gap above the seat to the top
    origin = np.array([0.0, y_tube, zb]) + up * ((y_sit + p.back_gap - y_tube) / math.cos(tilt))
    frame = tilted_frame(origin, tilt)
    hs = top_len - (y_sit + p.back_gap - y_tube) / math.cos(tilt) - 0.015
    shape = back_outline(p)
    bt = p.back_thickness
    if p.back_style == "upholstered":
        parts.add(block(frame, (0.0, hs / 2), 2 * xs + 2 * r + 0.01, hs, r * 0.3, r * 0.3 + bt, pad=0.4 * bt, crown=0.1 * bt,
                        bend=p.back_curve, **shape), p.tone_back)
    elif p.back_style == "frame":
        parts.add(block(frame, (0.0, hs / 2), 2 * xs + 2 * r + 0.01, hs, r * 0.3, r * 0.3 + 0.02, bevel=0.005, **shape), p.tone_frame)
        parts.add(block(frame, (0.0, hs / 2), 2 * xs - 0.03, hs - 0.05, r * 0.3 + 0.016, r * 0.3 + 0.026, bevel=0.002, **shape),
                  p.tone_back)
    else:
        parts.add(block(frame, (0.0, hs / 2), 2 * xs + 2 * r + 0.01, hs, r * 0.3, r * 0.3 + bt, bevel=0.005, bend=p.back_curve,
                        **shape), p.tone_back)
    if p.arms != "none":
        ya = h + p.arm_height
        for sx in (-1.0, 1.0):
            x = sx * (xs + 0.03)
            s_arm = (ya - y_tube) / math.cos(tilt)
            start = np.array([sx * xs, y_tube, zb]) + up * min(s_arm, top_len - 0.03)
            path = fillet([start, np.array([x, ya, start[2] + 0.03]), np.array([x, ya, zf]),
                           np.array([x, y_tube, zf + 0.02])], bend * 0.8, 8)
            parts.add(sweep(path, section), p.tone_metal)
            parts.add(block(FLOOR_FRAME, (x, (start[2] + zf) / 2 + 0.02), 0.05, zf - start[2] - 0.02, ya + r - 0.004, ya + r + 0.018,
                            rc=0.02, bevel=0.005), p.tone_arms)


def _build_lounge(parts: Parts, p: ChairParams):
    """An upholstered body on a plinth or short legs, a thick leaning back and panel arms."""
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
    parts.add(block(FLOOR_FRAME, (0.0, (z0 + z1) / 2 + 0.005), W - 0.01, z1 - z0 - 0.01, yb + (0.03 if p.base == "plinth" else 0.0),
                    y_deck + 0.01, rc=0.02, pad=0.02), p.tone_back)
    if p.base == "plinth":
        parts.add(block(FLOOR_FRAME, (0.0, (z0 + z1) / 2), W - 0.08, z1 - z0 - 0.08, 0.0, 0.04, rc=0.01, bevel=0.004), p.tone_frame)
    else:
        hb = yb + 0.01
        for sx in (-1.0, 1.0):
            for zz in (z1 - 0.06, z0 + 0.06):
                top = np.array([sx * (W / 2 - 0.06), hb, zz])
                bottom = top + np.array([sx * hb * math.tan(p.leg_splay), -hb, np.sign(zz) * hb * math.tan(p.leg_splay)])
                bottom[1] = 0.0
                parts.add(tube(bottom, top, max(0.011, p.leg_thickness / 2 * p.leg_taper), p.leg_thickness / 2,
                               square=p.leg_profile == "square"), p.tone_frame)
    # seat cushion
    parts.add(block(FLOOR_FRAME, (0.0, 0.01), w - 0.005, d - 0.01, y_deck, h, rc=0.04, pad=0.35 * ct, crown=0.12 * ct),
              p.tone_cushion)
    # back: a thick upholstered slab, leaning back from the body
    frame = tilted_frame((0.0, yb + 0.03, z_back - bt / 2), p.back_tilt)
    hs = (h + p.back_height - yb - 0.03) / math.cos(p.back_tilt)
    shape = back_outline(p)
    if shape.get("kind") == "ellipse":
        shape = dict(kind="rrect", rc=0.12)
    parts.add(block(frame, (0.0, hs / 2), W, hs, 0.0, bt, pad=0.45 * bt, rc_bot=0.01,
                    **{k: v for k, v in shape.items() if k not in ("rc_bot", "taper")}), p.tone_back)
    if p.back_cushion:
        s0 = (h - frame.origin[1]) / frame.e2[1] - 0.02
        cb = 0.7 * bt + 0.04
        parts.add(block(frame, (0.0, s0 + (hs - s0) / 2 - 0.02), w - 0.02, hs - s0 - 0.04, bt - 0.02, bt + cb,
                        rc=0.05, pad=0.4 * cb, crown=0.1 * cb), p.tone_cushion)
    if has_arms:
        ya = h + p.arm_height
        rounded = p.arm_thickness  # reused as the arm top rounding
        for sx in (-1.0, 1.0):
            xa = sx * (w / 2 + aw / 2)
            af = Frame(np.array([xa, 0.0, 0.0]), X_AXIS, Y_AXIS, Z_AXIS)
            parts.add(block(af, (0.0, (yb + ya) / 2), aw, ya - yb, z0 + 0.02, z1 + 0.015,
                            rc=min(rounded, 0.48 * aw), rc_bot=0.01, pad=0.02), p.tone_arms)


# Each family's builder; rocking chairs and bar stools are variants of their base family.
_BUILDERS = {
    "dining": _build_four_leg,
    "armchair": _build_four_leg,
    "rocking": partial(_build_four_leg, rockers=True),
    "office": _build_office,
    "stool": _build_stool,
    "bar_stool": partial(_build_stool, tall=True),
    "cantilever": _build_cantilever,
    "lounge": _build_lounge,
}


def build_chair(params: ChairParams) -> AlbedoMesh:
    """The chair's mesh: metres, +Y up, front +Z, floor y = 0, centred on x = z = 0."""
    if params.family not in _BUILDERS:
        raise ValueError(f"unknown chair family {params.family!r}")
    parts = Parts()
    _BUILDERS[params.family](parts, params)
    return parts.mesh()
