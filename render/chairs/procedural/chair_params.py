"""What a procedural chair is: its family and the plain parameters the builders read (sampled by
sampling.py, turned into a mesh by families.py)."""
from __future__ import annotations

from dataclasses import dataclass


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
