"""Sampling chair parameters from (seed, chair_id), and `procedural_chair`, which samples a chair
and builds its mesh."""
from __future__ import annotations

import math

import numpy as np

from render.chairs.procedural.chair_params import ChairParams
from render.chairs.procedural.families import build_chair
from render.gl.mesh import AlbedoMesh
from render.schema import CHAIR_FAMILIES


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
    """Chair `chair_id` of the set drawn from `seed`: the family cycles through CHAIR_FAMILIES, the
    rest comes from np.random.default_rng([seed, 11, chair_id])."""
    family = CHAIR_FAMILIES[chair_id % len(CHAIR_FAMILIES)]
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
    q.update(_tones(rng))
    return ChairParams(**q)


def procedural_chair(seed: int, chair_id: int) -> tuple[AlbedoMesh, ChairParams]:
    """Sample and build chair `chair_id` of the set drawn from `seed`."""
    params = sample_chair_params(seed, chair_id)
    return build_chair(params), params
