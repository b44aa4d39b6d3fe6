"""Procedural morphable head: the embedded default face model, built from scratch.

The mean head is a smooth signed-distance sculpture (ellipsoids, tapered capsules and
carved eye sockets, blended with smooth minimum / maximum) sampled on a warped voxel grid
(3.3 mm over the face, coarser on the neck, the crown and behind the ears), meshed with
marching cubes and projected back onto the exact surface. Two eyeballs are separate closed spheres sitting in
carved cavities behind almond-shaped lid openings, so every connected component of the
mesh is watertight and wound counter-clockwise seen from outside.

Shape components are smooth region-weighted affine deformations (a feature centre, a
compactly supported smooth falloff and a scale / translate / shear / rotate mode) applied
to the mean vertices; their falloffs are wide enough that +-3 sigma keeps the deformation
a fold-free map, so heads stay smooth and eyeballs stay in their sockets. Albedo
components are smooth, mostly grayscale per-vertex modulations (skin tone, brows, lips,
beard, hair, iris, blotches...).

Coordinates are metres, +Y up, +Z out of the face, +X to the image right seen from +Z;
the origin sits between the ears at eye height. Everything is deterministic.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from skimage.measure import marching_cubes

from render.gl.mesh import vertex_normals
from render.faces.morphable import MorphableModel, from_pca

MODEL_NAME = "procedural_head"

VOXEL = 0.0033  # metres, grid spacing over the face
COARSE_VOXEL = 0.0055  # metres, grid spacing far from the face
BACK_VOXEL = 0.0075  # metres, grid spacing behind the ears
GRID_LO = np.array([-0.100, -0.215, -0.125])
GRID_HI = np.array([0.100, 0.140, 0.140])
NECK_CUT_Y = -0.200
CHIN_Y = -0.125  # just below the mean chin: the lower edge of the framed head

EYE_CENTRE = np.array([0.0315, 0.0, 0.064])  # left eye (+X); the other is mirrored
EYEBALL_RADIUS = 0.0118
EYE_CAVITY_RADIUS = 0.0129
EYELID_RADIUS = 0.0163

SHAPE_COMPONENT_NAMES = (
    "head_size",
    "head_width",
    "head_height",
    "head_depth",
    "face_length",
    "face_width",
    "face_depth",
    "cranium_height",
    "cranium_width",
    "cranium_back",
    "crown_flatness",
    "forehead_slope",
    "forehead_height",
    "temple_width",
    "jaw_width",
    "jaw_angle",
    "jaw_length",
    "chin_size",
    "chin_protrusion",
    "chin_height",
    "chin_width",
    "under_chin_fullness",
    "cheekbone_width",
    "cheekbone_prominence",
    "cheek_fullness",
    "brow_ridge_prominence",
    "brow_height",
    "eye_spacing",
    "eye_size",
    "eye_socket_depth",
    "eye_height",
    "eye_tilt",
    "nose_length",
    "nose_width",
    "nose_bridge_height",
    "nose_bridge_width",
    "nose_tip_protrusion",
    "nose_tip_upturn",
    "nose_size",
    "nose_hump",
    "nostril_flare",
    "nose_deviation",
    "mouth_width",
    "mouth_height",
    "upper_lip_fullness",
    "lower_lip_fullness",
    "lip_protrusion",
    "mouth_corners",
    "ear_size",
    "ear_protrusion",
    "ear_height",
    "ear_position",
    "ear_lobe_size",
    "neck_thickness",
    "neck_forward",
    "face_asymmetry",
    "midface_height",
    "occiput_height",
)

ALBEDO_COMPONENT_NAMES = (
    "skin_tone",
    "skin_warmth",
    "forehead_tone",
    "cheek_tone",
    "nose_tone",
    "neck_ear_tone",
    "brow_darkness",
    "brow_thickness",
    "brow_arch",
    "brow_gap",
    "lip_darkness",
    "lip_redness",
    "jaw_stubble",
    "moustache",
    "chin_beard",
    "hair_darkness",
    "hairline_height",
    "hair_sides",
    "iris_darkness",
    "under_eye_shadow",
    "lash_line",
    "blotch_1",
    "blotch_2",
    "blotch_3",
    "blotch_4",
    "blotch_5",
)

_MIRROR = np.array([-1.0, 1.0, 1.0])


# ----------------------------------------------------------------------------------------
# Signed-distance primitives (inside negative). p is a tuple of broadcastable coordinate
# arrays (x, y, z); all take and return float32 arrays.


def _local(p, centre, rot=None):
    x, y, z = (p[0] - centre[0], p[1] - centre[1], p[2] - centre[2])
    if rot is None:
        return x, y, z
    r = np.asarray(rot, dtype=np.float64)
    # local = R^T (p - c)
    return (
        r[0, 0] * x + r[1, 0] * y + r[2, 0] * z,
        r[0, 1] * x + r[1, 1] * y + r[2, 1] * z,
        r[0, 2] * x + r[1, 2] * y + r[2, 2] * z,
    )


def _rot(ax=0.0, ay=0.0, az=0.0):
    """Rotation matrix Rz @ Ry @ Rx (radians)."""
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _ellipsoid(p, centre, radii, rot=None):
    x, y, z = _local(p, centre, rot)
    rx, ry, rz = radii
    k0 = np.sqrt((x / rx) ** 2 + (y / ry) ** 2 + (z / rz) ** 2)
    k1 = np.sqrt((x / rx**2) ** 2 + (y / ry**2) ** 2 + (z / rz**2) ** 2)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-9)


def _sphere(p, centre, radius):
    x, y, z = _local(p, centre)
    return np.sqrt(x * x + y * y + z * z) - radius


def _round_cone(p, a, b, ra, rb):
    """Capsule from a to b whose radius goes linearly from ra to rb (approximate SDF)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ba = b - a
    L2 = float(ba @ ba)
    px, py, pz = p[0] - a[0], p[1] - a[1], p[2] - a[2]
    h = np.clip((px * ba[0] + py * ba[1] + pz * ba[2]) / L2, 0.0, 1.0)
    dx, dy, dz = px - ba[0] * h, py - ba[1] * h, pz - ba[2] * h
    return np.sqrt(dx * dx + dy * dy + dz * dz) - (ra + (rb - ra) * h)


def _smin(a, b, k):
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def _smax(a, b, k):
    if k <= 0:
        return np.maximum(a, b)
    return -_smin(-a, -b, k)


def _both(fn, p, *args, **kwargs):
    """Union of a left-side (+X) primitive and its mirror image."""
    q = (np.abs(p[0]), p[1], p[2])
    return fn(q, *args, **kwargs)


def _lens2d(x, y, half_width, up, down):
    """Almond in the xy plane: intersection of two discs through (+-half_width, 0)."""
    ru = (half_width**2 + up**2) / (2.0 * up)
    rd = (half_width**2 + down**2) / (2.0 * down)
    du = np.sqrt(x * x + (y - (up - ru)) ** 2) - ru
    dd = np.sqrt(x * x + (y + (down - rd)) ** 2) - rd
    return np.maximum(du, dd)


# ----------------------------------------------------------------------------------------
# The mean head.


def _head_sdf(p):
    """Signed distance (approximate, metres) of the head, inside negative."""
    # cranium and back of the skull
    d = _ellipsoid(p, (0.0, 0.026, -0.010), (0.0735, 0.093, 0.097))
    d = _smin(d, _ellipsoid(p, (0.0, -0.010, -0.045), (0.060, 0.060, 0.060)), 0.02)
    # forehead fill (flatter brow plane)
    d = _smin(d, _ellipsoid(p, (0.0, 0.040, 0.030), (0.062, 0.060, 0.057)), 0.015)
    # midface / maxilla block
    d = _smin(d, _ellipsoid(p, (0.0, -0.018, 0.030), (0.058, 0.055, 0.056)), 0.02)
    # zygomatic arches to the ears
    d = _smin(d, _both(_round_cone, p, (0.045, -0.012, 0.050), (0.066, -0.010, 0.000), 0.010, 0.008), 0.018)
    # cheekbones
    d = _smin(d, _both(_ellipsoid, p, (0.045, -0.016, 0.052), (0.021, 0.014, 0.022)), 0.012)
    # soft cheeks
    d = _smin(d, _both(_ellipsoid, p, (0.039, -0.046, 0.040), (0.022, 0.032, 0.030)), 0.03)
    # mandible: rami, body, chin
    d = _smin(d, _both(_round_cone, p, (0.049, -0.010, -0.008), (0.045, -0.079, -0.002), 0.010, 0.010), 0.028)
    d = _smin(d, _both(_round_cone, p, (0.045, -0.079, -0.002), (0.014, -0.106, 0.068), 0.010, 0.010), 0.03)
    d = _smin(d, _ellipsoid(p, (0.0, -0.066, 0.022), (0.044, 0.038, 0.056)), 0.02)
    d = _smin(d, _ellipsoid(p, (0.0, -0.101, 0.077), (0.019, 0.016, 0.016)), 0.016)
    # muzzle (dental arch) and lips
    d = _smin(d, _ellipsoid(p, (0.0, -0.061, 0.057), (0.033, 0.030, 0.035)), 0.014)
    d = _smin(d, _ellipsoid(p, (0.0, -0.0568, 0.0865), (0.0205, 0.0058, 0.0085), _rot(ax=-0.3)), 0.008)
    d = _smin(d, _ellipsoid(p, (0.0, -0.0702, 0.0850), (0.0180, 0.0062, 0.0085), _rot(ax=0.3)), 0.008)
    # mouth line and labiomental fold
    d = _smax(d, -_ellipsoid(p, (0.0, -0.0635, 0.101), (0.024, 0.0016, 0.010)), 0.002)
    d = _smax(d, -_ellipsoid(p, (0.0, -0.0815, 0.097), (0.014, 0.0035, 0.006)), 0.007)
    # brow ridge and glabella
    d = _smin(d, _both(_ellipsoid, p, (0.028, 0.021, 0.075), (0.026, 0.011, 0.017), _rot(az=-0.12)), 0.012)
    d = _smin(d, _ellipsoid(p, (0.0, 0.016, 0.079), (0.012, 0.012, 0.011)), 0.01)
    # eye sockets: hollow, then the lids bulging over the eyeball
    d = _smax(d, -_both(_ellipsoid, p, (0.031, 0.001, 0.086), (0.019, 0.014, 0.016)), 0.008)
    d = _smin(d, _both(_sphere, p, EYE_CENTRE, EYELID_RADIUS), 0.004)
    # nose: bridge, body, tip, wings
    d = _smin(d, _round_cone(p, (0.0, 0.010, 0.083), (0.0, -0.028, 0.108), 0.0055, 0.0085), 0.008)
    d = _smin(d, _ellipsoid(p, (0.0, -0.026, 0.088), (0.0125, 0.020, 0.016), _rot(ax=0.35)), 0.008)
    d = _smin(d, _sphere(p, (0.0, -0.032, 0.1065), 0.0098), 0.006)
    d = _smin(d, _both(_ellipsoid, p, (0.0135, -0.0375, 0.094), (0.0078, 0.0068, 0.0092)), 0.005)
    # ears: flattened discs flaring back, with a hollow concha
    d = _smin(d, _ear_sdf(p), 0.004)
    # neck, cut flat
    d = _smin(d, _ellipsoid(p, (0.0, -0.150, -0.020), (0.055, 0.120, 0.057), _rot(ax=-0.12)), 0.03)
    d = _smin(d, _ellipsoid(p, (0.0, -0.235, -0.030), (0.080, 0.045, 0.070)), 0.03)
    d = _smax(d, NECK_CUT_Y - p[1], 0.0)
    # eye cavities with almond openings (hard carve so the eyeball gap is kept)
    d = np.maximum(d, -_both(_eye_carve, p))
    return d


_EAR_CENTRE = np.array([0.074, -0.010, -0.012])
_EAR_ROT = _rot(ax=0.22, ay=0.45)


def _ear_sdf(p):
    q = (np.abs(p[0]), p[1], p[2])
    outer = _ellipsoid(q, _EAR_CENTRE, (0.0085, 0.031, 0.019), _EAR_ROT)
    lobe = _ellipsoid(q, _EAR_CENTRE + (0.002, -0.022, 0.004), (0.006, 0.010, 0.009), _EAR_ROT)
    ear = _smin(outer, lobe, 0.004)
    concha_c = _EAR_CENTRE + _EAR_ROT @ np.array([0.0075, -0.004, 0.002])
    concha = _ellipsoid(q, concha_c, (0.0055, 0.015, 0.0095), _EAR_ROT)
    ear = _smax(ear, -concha, 0.003)
    return ear


def _eye_carve(q):
    c = EYE_CENTRE
    cavity = _sphere(q, c, EYE_CAVITY_RADIUS)
    x, y, _ = _local(q, c, _rot(az=0.08))
    lens = _lens2d(x, y, 0.0120, 0.0038, 0.0048)
    tunnel = np.maximum(lens, (c[2] + 0.0065) - q[2])
    return np.minimum(cavity, tunnel)


# Polar angles (radians from the gaze direction) of the eyeball's vertex rings: dense where
# the albedo changes (pupil and iris edges), so the iris reads crisp at small sizes.
PUPIL_ANGLE = 0.21
IRIS_ANGLE = 0.54
_EYE_RINGS = (
    0.07, 0.14, PUPIL_ANGLE - 0.015, PUPIL_ANGLE + 0.015, 0.29, 0.37, 0.45,
    IRIS_ANGLE - 0.02, IRIS_ANGLE + 0.02, 0.66, 0.80, 0.96, 1.15, 1.40, 1.70, 2.10, 2.60,
)
_EYE_SEGMENTS = 32


def _eyeball():
    """Unit sphere with its poles on the z axis (+Z forward): vertices, outward triangles."""
    th = np.asarray(_EYE_RINGS)
    ph = np.arange(_EYE_SEGMENTS) * (2.0 * np.pi / _EYE_SEGMENTS)
    ring = np.stack(
        [np.sin(th)[:, None] * np.cos(ph), np.sin(th)[:, None] * np.sin(ph), np.cos(th)[:, None] + 0 * ph], -1
    ).reshape(-1, 3)
    verts = np.concatenate([[[0.0, 0.0, 1.0]], ring, [[0.0, 0.0, -1.0]]])
    n, m = len(th), _EYE_SEGMENTS
    idx = 1 + np.arange(n * m).reshape(n, m)
    nxt = np.roll(idx, -1, axis=1)
    faces = [np.stack([np.zeros(m, dtype=np.int64), idx[0], nxt[0]], 1)]
    for r in range(n - 1):
        a, b, c, d = idx[r], nxt[r], idx[r + 1], nxt[r + 1]
        faces += [np.stack([a, c, d], 1), np.stack([a, d, b], 1)]
    faces.append(np.stack([np.full(m, len(verts) - 1), nxt[-1], idx[-1]], 1))
    faces = np.concatenate(faces).astype(np.int64)
    if _signed_volume(verts, faces) < 0:
        faces = faces[:, ::-1]
    return verts, faces


def _signed_volume(v, f):
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _taubin(v, f, iterations=4, lam=0.5, mu=-0.53, keep=None):
    """Taubin smoothing with a uniform Laplacian; vertices in `keep` do not move."""
    n = len(v)
    rows = np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
    cols = np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
    adj = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    adj.data[:] = 1.0
    deg = np.asarray(adj.sum(axis=1)).ravel()
    avg = sparse.diags(1.0 / np.maximum(deg, 1)) @ adj
    move = np.ones((n, 1)) if keep is None else (~keep).astype(np.float64)[:, None]
    for _ in range(iterations):
        v = v + lam * move * (avg @ v - v)
        v = v + mu * move * (avg @ v - v)
    return v


def _axis(lo, hi, fine_lo, fine_hi, fine=VOXEL, coarse=COARSE_VOXEL, blend=0.03):
    """Grid coordinates from lo to hi: `fine` spacing inside [fine_lo, fine_hi], growing
    smoothly to `coarse` within `blend` outside it."""
    coords = [lo]
    c = lo
    while c < hi:
        out = max(fine_lo - c, c - fine_hi, 0.0) / blend
        step = fine + (coarse - fine) * float(_smootherstep(np.asarray(out)))
        c = c + step
        coords.append(c)
    return np.array(coords)


def _grid_warp(X, Y, Z):
    """Grid node positions from the per-axis tables: the x/y spacing grows behind the ears
    (scaled about the middle of the back of the head), and x spacing grows over the crown
    and down the neck, where the head is smooth. Each coordinate depends only on itself and
    on the axes after it (x on x, y, z; y on y, z) with a positive derivative in itself, so
    the map is one to one and marching cubes in index space gives a valid mesh."""
    s_back = 1.0 + (BACK_VOXEL / VOXEL - 1.0) * _ramp(-Z, 0.028, 0.075)
    s_top = 1.0 + 1.0 * _ramp(Y, 0.055, 0.090)
    s_neck = 1.0 + 1.2 * _ramp(-Y, 0.130, 0.165)
    x = X * s_back * np.maximum(s_top, s_neck)
    # about eye height, fading linearly (slowly enough to stay monotone) to none at the cut
    fade = np.clip((Y - NECK_CUT_Y - 0.010) / 0.17, 0.0, 1.0)
    y = Y + (Y + 0.010) * (s_back - 1.0) * fade
    return x, y, Z


def _project(v, iterations=2, h=2e-4):
    """Move vertices onto the exact zero set of the head SDF (Newton steps along the SDF
    gradient, clamped to a fraction of a voxel): sharpens the lid margins and other carved
    edges that marching cubes rounds off, at no cost in vertices."""
    cut = v[:, 1] <= NECK_CUT_Y + 1e-9
    for _ in range(iterations):
        d = _head_sdf(tuple(v.T))
        g = np.stack([(_head_sdf(tuple((v + h * e).T)) - d) / h for e in np.eye(3)], axis=1)
        step = d / np.maximum((g * g).sum(axis=1), 1e-6)
        step = np.clip(step, -0.3 * VOXEL, 0.3 * VOXEL)
        step[cut] = 0.0
        v = v - step[:, None] * g
    return v


def _head_mesh():
    axes = [
        _axis(GRID_LO[0], GRID_HI[0], -0.065, 0.065),
        _axis(GRID_LO[1], GRID_HI[1], -0.125, 0.09),
        _axis(GRID_LO[2], GRID_HI[2], -0.01, 0.14),
    ]
    shape = tuple(len(a) for a in axes)
    X = axes[0][:, None, None]
    Y = axes[1][None, :, None]
    Z = axes[2][None, None, :]
    px, py, pz = (np.broadcast_to(c, shape).astype(np.float32) for c in _grid_warp(X, Y, Z))
    vol = _head_sdf((px, py, pz)).astype(np.float32)
    vol = np.broadcast_to(vol, shape).copy()
    # make sure the grid border is outside
    vol[[0, -1], :, :] = np.maximum(vol[[0, -1], :, :], VOXEL)
    vol[:, [0, -1], :] = np.maximum(vol[:, [0, -1], :], VOXEL)
    vol[:, :, [0, -1]] = np.maximum(vol[:, :, [0, -1]], VOXEL)
    verts, faces, _, _ = marching_cubes(vol, level=0.0, allow_degenerate=False)
    u = [np.interp(verts[:, i], np.arange(shape[i]), axes[i]) for i in range(3)]
    verts = np.stack(_grid_warp(*u), axis=1)
    faces = faces.astype(np.int64)
    # keep the head's connected component(s) of reasonable size
    n = len(verts)
    adj = sparse.csr_matrix(
        (np.ones(3 * len(faces)), (faces.ravel(), np.roll(faces, 1, axis=1).ravel())), shape=(n, n)
    )
    ncomp, labels = connected_components(adj, directed=False)
    sizes = np.bincount(labels, minlength=ncomp)
    keep_comp = sizes >= 200
    keep_v = keep_comp[labels]
    faces = faces[keep_v[faces[:, 0]]]
    remap = -np.ones(n, dtype=np.int64)
    remap[keep_v] = np.arange(keep_v.sum())
    verts = verts[keep_v]
    faces = remap[faces]
    if _signed_volume(verts, faces) < 0:
        faces = faces[:, ::-1]
    verts = _project(verts)
    # light smoothing, keeping the flat neck cut's rim in place vertically
    verts[np.abs(verts[:, 1] - NECK_CUT_Y) < 1e-4, 1] = NECK_CUT_Y  # warp round-off on the cut
    on_cut = verts[:, 1] < NECK_CUT_Y + 0.5 * VOXEL
    smoothed = _taubin(verts, faces, iterations=3)
    smoothed[on_cut, 1] = verts[on_cut, 1]
    # the sheared cells behind the ears leave faint ridges: smooth that smooth region more
    smoothed = _taubin(smoothed, faces, iterations=8, keep=on_cut | (smoothed[:, 2] > -0.015))
    return smoothed, faces


def _mesh():
    """Mean vertices, triangles and part labels (0 skin, 1 left eyeball, 2 right eyeball)."""
    hv, hf = _head_mesh()
    sv, sf = _eyeball()
    verts = [hv]
    faces = [hf]
    parts = [np.zeros(len(hv), dtype=np.int64)]
    offset = len(hv)
    for side, sign in ((1, 1.0), (2, -1.0)):
        centre = EYE_CENTRE * np.array([sign, 1.0, 1.0])
        verts.append(sv * EYEBALL_RADIUS + centre)
        faces.append(sf + offset)
        parts.append(np.full(len(sv), side, dtype=np.int64))
        offset += len(sv)
    return np.concatenate(verts), np.concatenate(faces), np.concatenate(parts)


# ----------------------------------------------------------------------------------------
# Smooth weights.


def _smootherstep(t):
    t = np.clip(t, 0.0, 1.0)
    return t * t * t * (t * (6.0 * t - 15.0) + 10.0)


def _bump(P, centre, radii, inner=0.0):
    """Compact smooth weight: 1 inside `inner` (ellipsoidal units), 0 outside 1."""
    d = np.sqrt((((P - np.asarray(centre)) / np.asarray(radii)) ** 2).sum(axis=1))
    return _smootherstep((1.0 - d) / (1.0 - inner))


def _ramp(t, lo, hi):
    return _smootherstep((t - lo) / (hi - lo))


def _softplus(t, width):
    return width * np.logaddexp(0.0, t / width)


def _sym(P, fn):
    """fn(P) defines the +X side feature (displacement or weight field); add its mirror."""
    out = fn(P)
    mirrored = fn(P * _MIRROR)
    if out.ndim == 2:
        mirrored = mirrored * _MIRROR
    return out + mirrored


def _local_scale(P, centre, radii, scale, inner=0.0):
    w = _bump(P, centre, radii, inner)[:, None]
    return w * (P - np.asarray(centre)) * np.asarray(scale)


def _local_move(P, centre, radii, move, inner=0.0):
    w = _bump(P, centre, radii, inner)[:, None]
    return w * np.asarray(move)[None, :]


# ----------------------------------------------------------------------------------------
# Shape components: 1-sigma displacement fields evaluated on the mean vertices.

_LIPS = np.array([0.0, -0.064, 0.090])
_CHIN = np.array([0.0, -0.100, 0.078])


def _shape_fields(P):
    x, y, z = P[:, 0], P[:, 1], P[:, 2]
    eye = EYE_CENTRE
    ear = _EAR_CENTRE
    front = _ramp(z, -0.02, 0.06)
    F = {}

    F["head_size"] = 0.035 * P
    F["head_width"] = np.stack([0.035 * x, 0 * x, 0 * x], 1)
    F["head_height"] = np.stack([0 * x, 0.03 * y, 0 * x], 1)
    F["head_depth"] = np.stack([0 * x, 0 * x, 0.03 * (z + 0.01)], 1)
    lower = -_softplus(-y, 0.012) + _softplus(-0.12 - y, 0.012)
    F["face_length"] = np.stack([0 * x, 0.045 * lower, 0 * x], 1)
    w = _bump(P, (0.0, -0.02, 0.06), (0.11, 0.09, 0.09))
    F["face_width"] = np.stack([0.045 * x * w, 0 * x, 0 * x], 1)
    w = _bump(P, (0.0, -0.04, 0.07), (0.09, 0.10, 0.10)) * front
    F["face_depth"] = np.stack([0 * x, 0 * x, 0.0035 * w], 1)
    upper = _softplus(y - 0.02, 0.015)
    F["cranium_height"] = np.stack([0 * x, 0.06 * upper, 0 * x], 1)
    wu = _ramp(y, -0.01, 0.05)
    F["cranium_width"] = np.stack([0.04 * x * wu, 0 * x, 0 * x], 1)
    F["cranium_back"] = _local_move(P, (0.0, 0.02, -0.11), (0.10, 0.10, 0.09), (0.0, 0.0, -0.005))
    F["crown_flatness"] = _local_move(P, (0.0, 0.12, -0.01), (0.08, 0.06, 0.09), (0.0, -0.0045, 0.0))
    F["forehead_slope"] = np.stack(
        [0 * x, 0 * x, -0.09 * _softplus(y - 0.03, 0.01) * _ramp(z, 0.0, 0.07)], 1
    )
    F["forehead_height"] = _local_move(P, (0.0, 0.09, 0.05), (0.08, 0.07, 0.09), (0.0, 0.004, -0.001))
    F["temple_width"] = _sym(P, lambda Q: _local_move(Q, (0.068, 0.035, 0.04), (0.04, 0.04, 0.05), (0.003, 0.0, 0.0)))
    wj = _bump(P, (0.0, -0.085, 0.0), (0.11, 0.06, 0.11))
    F["jaw_width"] = np.stack([0.07 * x * wj, 0 * x, 0 * x], 1)
    F["jaw_angle"] = _sym(P, lambda Q: _local_move(Q, (0.055, -0.082, -0.005), (0.04, 0.04, 0.05), (0.0035, -0.003, 0.0)))
    F["jaw_length"] = _local_move(P, (0.0, -0.09, 0.07), (0.09, 0.06, 0.08), (0.0, 0.0, 0.0045))
    F["chin_size"] = _local_scale(P, _CHIN, (0.04, 0.035, 0.035), (0.12, 0.12, 0.12))
    F["chin_protrusion"] = _local_move(P, _CHIN, (0.045, 0.035, 0.04), (0.0, 0.0, 0.0045))
    F["chin_height"] = _local_move(P, _CHIN + (0, -0.01, 0), (0.06, 0.04, 0.06), (0.0, -0.004, 0.0))
    F["chin_width"] = _local_scale(P, _CHIN, (0.05, 0.035, 0.04), (0.2, 0.0, 0.0))
    F["under_chin_fullness"] = _local_move(P, (0.0, -0.115, 0.035), (0.05, 0.03, 0.045), (0.0, -0.004, 0.0015))
    F["cheekbone_width"] = _sym(P, lambda Q: _local_move(Q, (0.05, -0.014, 0.045), (0.035, 0.03, 0.04), (0.003, 0.0, 0.0)))
    F["cheekbone_prominence"] = _sym(P, lambda Q: _local_move(Q, (0.045, -0.017, 0.055), (0.03, 0.025, 0.035), (0.0005, 0.0, 0.0028)))
    F["cheek_fullness"] = _sym(P, lambda Q: _local_move(Q, (0.045, -0.05, 0.045), (0.035, 0.035, 0.04), (0.0035, 0.0, 0.0015)))
    F["brow_ridge_prominence"] = _local_move(P, (0.0, 0.024, 0.08), (0.075, 0.025, 0.04), (0.0, 0.0, 0.0025))
    F["brow_height"] = _sym(P, lambda Q: _local_move(Q, (0.03, 0.025, 0.075), (0.035, 0.022, 0.04), (0.0, 0.0025, 0.0)))
    eye_r = (0.036, 0.032, 0.036)
    F["eye_spacing"] = _sym(P, lambda Q: _local_move(Q, eye, eye_r, (0.0022, 0.0, 0.0), inner=0.4))
    F["eye_size"] = _sym(P, lambda Q: _local_scale(Q, eye, eye_r, (0.06, 0.06, 0.06), inner=0.4))
    F["eye_socket_depth"] = _sym(P, lambda Q: _local_move(Q, eye, eye_r, (0.0, 0.0, -0.0022), inner=0.4))
    F["eye_height"] = _local_move(P, (0.0, 0.0, 0.065), (0.075, 0.032, 0.045), (0.0, 0.0025, 0.0), inner=0.4)

    def tilt(Q):
        w = _bump(Q, eye, eye_r, inner=0.4)[:, None]
        d = Q - eye
        return w * 0.06 * np.stack([-d[:, 1], d[:, 0], 0 * d[:, 0]], 1)

    F["eye_tilt"] = _sym(P, tilt)
    wn = _bump(P, (0.0, -0.036, 0.108), (0.03, 0.025, 0.04))
    F["nose_length"] = np.stack([0 * x, -0.0035 * wn, 0.0008 * wn], 1)
    F["nose_width"] = _local_scale(P, (0.0, -0.036, 0.095), (0.035, 0.025, 0.035), (0.14, 0.0, 0.0))
    F["nose_bridge_height"] = _local_move(P, (0.0, -0.005, 0.095), (0.02, 0.035, 0.03), (0.0, 0.0, 0.0025))
    F["nose_bridge_width"] = _local_scale(P, (0.0, -0.005, 0.09), (0.025, 0.035, 0.035), (0.18, 0.0, 0.0))
    F["nose_tip_protrusion"] = _local_move(P, (0.0, -0.034, 0.11), (0.025, 0.022, 0.035), (0.0, 0.0, 0.003))
    F["nose_tip_upturn"] = _local_move(P, (0.0, -0.036, 0.11), (0.02, 0.016, 0.03), (0.0, 0.0025, 0.0))
    F["nose_size"] = _local_scale(P, (0.0, -0.025, 0.085), (0.04, 0.055, 0.05), (0.09, 0.09, 0.11))
    F["nose_hump"] = _local_move(P, (0.0, -0.012, 0.1), (0.012, 0.02, 0.025), (0.0, 0.0, 0.0018))
    F["nostril_flare"] = _sym(P, lambda Q: _local_move(Q, (0.0135, -0.0375, 0.094), (0.018, 0.015, 0.02), (0.0018, 0.0, 0.0)))
    F["nose_deviation"] = _local_move(P, (0.0, -0.025, 0.11), (0.03, 0.04, 0.05), (0.0018, 0.0, 0.0))
    F["mouth_width"] = _local_scale(P, _LIPS, (0.05, 0.03, 0.04), (0.12, 0.0, 0.0))
    F["mouth_height"] = _local_move(P, _LIPS, (0.05, 0.03, 0.045), (0.0, 0.003, 0.0))
    F["upper_lip_fullness"] = _local_move(P, (0.0, -0.056, 0.097), (0.035, 0.014, 0.025), (0.0, 0.0009, 0.0016))
    F["lower_lip_fullness"] = _local_move(P, (0.0, -0.071, 0.095), (0.033, 0.014, 0.025), (0.0, -0.0009, 0.0018))
    F["lip_protrusion"] = _local_move(P, _LIPS + (0, 0, 0.005), (0.045, 0.03, 0.04), (0.0, 0.0, 0.0028))
    F["mouth_corners"] = _sym(P, lambda Q: _local_move(Q, (0.022, -0.064, 0.085), (0.018, 0.014, 0.025), (0.0, 0.0016, 0.0)))
    ear_r = (0.035, 0.06, 0.05)
    F["ear_size"] = _sym(P, lambda Q: _local_scale(Q, ear + (0.004, 0, 0), ear_r, (0.04, 0.09, 0.09), inner=0.5))

    def ear_out(Q):
        w = _bump(Q, ear, ear_r, inner=0.5)
        behind = _softplus(-(Q[:, 2] - ear[2] - 0.012), 0.006)
        return np.stack([w * 0.12 * behind, 0 * w, 0 * w], 1)

    F["ear_protrusion"] = _sym(P, ear_out)
    F["ear_height"] = _sym(P, lambda Q: _local_move(Q, ear, ear_r, (0.0, 0.003, 0.0), inner=0.5))
    F["ear_position"] = _sym(P, lambda Q: _local_move(Q, ear, ear_r, (0.0, 0.0, -0.003), inner=0.5))
    F["ear_lobe_size"] = _sym(P, lambda Q: _local_scale(Q, ear + (0.004, -0.03, 0.004), (0.03, 0.03, 0.035), (0.05, 0.2, 0.12), inner=0.3))
    wl = _ramp(-y, 0.07, 0.17)
    F["neck_thickness"] = np.stack([0.09 * x * wl, 0 * x, 0.09 * (z + 0.02) * wl], 1)
    F["neck_forward"] = np.stack([0 * x, 0 * x, 0.05 * _softplus(-0.10 - y, 0.02)], 1)
    F["face_asymmetry"] = (
        _local_move(P, (0.03, 0.0, 0.065), (0.04, 0.03, 0.04), (0.0, 0.0018, 0.0), inner=0.5)
        + _local_move(P, (-0.03, 0.0, 0.065), (0.04, 0.03, 0.04), (0.0, -0.0018, 0.0), inner=0.5)
        + _local_move(P, (0.0, -0.09, 0.06), (0.09, 0.05, 0.08), (0.0018, 0.0, 0.0))
    )
    F["midface_height"] = _local_move(P, (0.0, -0.065, 0.06), (0.08, 0.05, 0.08), (0.0, -0.0035, 0.0), inner=0.3)
    F["occiput_height"] = _local_move(P, (0.0, -0.04, -0.095), (0.08, 0.06, 0.06), (0.0, 0.0, -0.004))
    return F


# ----------------------------------------------------------------------------------------
# Albedo: mean and 1-sigma fields.


def _gauss(P, centre, radii):
    return np.exp(-0.5 * (((P - np.asarray(centre)) / np.asarray(radii)) ** 2).sum(axis=1))


def _hairline(P):
    """Height of the hairline at each vertex's azimuth around the head."""
    az = np.arctan2(P[:, 0], P[:, 2])  # 0 = front, +-pi = back
    c = np.cos(az)
    front = 0.078 + 0.006 * np.cos(2.0 * az)
    back = -0.045
    t = 0.5 * (1.0 + c)  # 1 at front, 0 at back
    base = back + (front - back) * t**0.6
    # temples recede and the hair drops to above the ears at the sides
    side = np.exp(-0.5 * ((np.abs(az) - 1.25) / 0.35) ** 2)
    return base - 0.012 * side


def _brow_mask(P, thickness=0.0042, arch=0.0, gap=0.0):
    ax = np.abs(P[:, 0])
    u = (ax - 0.029) / 0.021
    centre = 0.0205 + (0.0045 + arch) * (1.0 - u * u) - 0.002 * np.clip(u, 0, None)
    across = np.exp(-0.5 * ((P[:, 1] - centre) / thickness) ** 4)
    along = _ramp(ax, 0.0075 + gap, 0.012 + gap) * (1.0 - _ramp(ax, 0.045, 0.056))
    facing = _ramp(P[:, 2], 0.055, 0.07)
    return across * along * facing


def _albedo_fields(P, parts):
    skin = (parts == 0).astype(np.float64)
    eyes = 1.0 - skin
    x, y, z = P[:, 0], P[:, 1], P[:, 2]
    gray = np.array([1.0, 1.0, 1.0])
    skin_rgb = np.array([0.80, 0.73, 0.68])

    # eyeball pattern from the angle to the forward direction
    ec = np.where(x[:, None] > 0, EYE_CENTRE, EYE_CENTRE * _MIRROR)
    d = P - ec
    ang = np.arccos(np.clip(d[:, 2] / np.maximum(np.linalg.norm(d, axis=1), 1e-9), -1.0, 1.0))
    iris = eyes * (ang < IRIS_ANGLE)
    pupil = eyes * (ang < PUPIL_ANGLE)

    hair_line = _hairline(P)
    hair = skin * _ramp(y - hair_line, -0.007, 0.009)
    hair_edge = skin * (_ramp(y - hair_line, -0.009, 0.007) - _ramp(y - hair_line, -0.005, 0.011)) / 2.0
    brow = skin * _brow_mask(P)
    lips_up = _gauss(P, (0.0, -0.0585, 0.099), (0.017, 0.0035, 0.02))
    lips_lo = _gauss(P, (0.0, -0.0705, 0.098), (0.015, 0.0042, 0.02))
    lips = skin * np.clip(lips_up + lips_lo, 0, 1) * _ramp(z, 0.085, 0.092)
    mouth_line = skin * _gauss(P, (0.0, -0.0637, 0.1), (0.019, 0.0012, 0.02)) * _ramp(z, 0.088, 0.094)
    nostrils = skin * _sym(P, lambda Q: _gauss(Q, (0.0075, -0.0425, 0.1005), (0.0035, 0.0022, 0.004)))
    # lash line: skin right around the eye opening
    de = np.linalg.norm(P - ec, axis=1)
    lash = skin * (1.0 - _ramp(de, EYE_CAVITY_RADIUS + 0.0012, EYE_CAVITY_RADIUS + 0.0035)) * _ramp(z, EYE_CENTRE[2] + 0.005, EYE_CENTRE[2] + 0.008)
    lash *= 1.0 - _ramp(np.abs(P[:, 0]), 0.046, 0.05)
    under_eye = skin * _sym(P, lambda Q: _gauss(Q, (0.031, -0.012, 0.08), (0.011, 0.005, 0.02)))
    # beard area: below a line from the sideburns down to the mouth corners, over the upper
    # lip, the chin and the jaw line, fading softly into the cheeks and under the jaw
    ax = np.abs(x)
    beard_line = -0.047 + 0.85 * np.clip(ax - 0.022, 0.0, None)
    beard = (
        skin
        * _ramp(beard_line - y, -0.006, 0.010)
        * (1.0 - _ramp(-y, 0.120, 0.145))
        * _ramp(z, -0.012, 0.012)
        * (1.0 - 0.9 * lips)
        * (1.0 - nostrils)
    )
    moustache = beard * _gauss(P, (0.0, -0.052, 0.095), (0.022, 0.009, 0.04))
    chin_beard = beard * _gauss(P, (0.0, -0.095, 0.08), (0.024, 0.022, 0.04))
    cheeks = skin * _sym(P, lambda Q: _gauss(Q, (0.04, -0.028, 0.06), (0.024, 0.022, 0.04)))
    forehead = skin * _gauss(P, (0.0, 0.055, 0.08), (0.03, 0.02, 0.04)) * (1.0 - hair)
    nose = skin * _gauss(P, (0.0, -0.02, 0.105), (0.01, 0.02, 0.02))
    ears = skin * _sym(P, lambda Q: _bump(Q, _EAR_CENTRE + (0.004, 0, 0), (0.02, 0.045, 0.03)))
    neck = skin * _ramp(-y, 0.12, 0.15)
    temples = skin * _sym(P, lambda Q: _gauss(Q, (0.07, 0.02, 0.02), (0.01, 0.025, 0.02)))
    not_hair = 1.0 - hair

    # mean albedo
    sclera = 0.93
    a = skin[:, None] * skin_rgb
    a = a + eyes[:, None] * (sclera * gray)
    a = a - iris[:, None] * (sclera - 0.38) * np.array([1.0, 0.95, 0.9])
    a = a - pupil[:, None] * 0.30
    a = a * (1.0 - 0.55 * brow)[:, None] + (0.55 * brow)[:, None] * np.array([0.30, 0.27, 0.25])
    a = a * (1.0 - 0.35 * lips)[:, None] + (0.35 * lips)[:, None] * np.array([0.62, 0.38, 0.38])
    a = a * (1.0 - 0.55 * mouth_line)[:, None] + (0.55 * mouth_line)[:, None] * np.array([0.28, 0.2, 0.2])
    a = a * (1.0 - 0.6 * nostrils)[:, None] + (0.6 * nostrils)[:, None] * np.array([0.25, 0.2, 0.2])
    a = a * (1.0 - 0.5 * lash)[:, None] + (0.5 * lash)[:, None] * np.array([0.25, 0.22, 0.2])
    a = a * (1.0 - 0.07 * under_eye)[:, None]
    hair_rgb = np.array([0.40, 0.35, 0.31])
    a = a * (1.0 - hair)[:, None] + hair[:, None] * hair_rgb
    mean = np.clip(a, 0.0, 1.0)

    g = lambda w: w[:, None] * gray  # noqa: E731
    F = {}
    body = skin * not_hair * (1.0 - 0.5 * brow)
    F["skin_tone"] = g(0.07 * body)
    F["skin_warmth"] = (0.025 * body)[:, None] * np.array([1.0, 0.0, -1.0])
    F["forehead_tone"] = g(0.035 * forehead)
    F["cheek_tone"] = (0.022 * cheeks)[:, None] * np.array([0.8, 1.0, 1.0])
    F["nose_tone"] = g(0.03 * nose)
    F["neck_ear_tone"] = g(0.03 * np.clip(neck + ears, 0, 1) * not_hair)
    F["brow_darkness"] = g(-0.09 * brow)
    thick = skin * np.clip(_brow_mask(P, thickness=0.0056) - _brow_mask(P), 0, 1)
    F["brow_thickness"] = g(-0.12 * thick)
    arch = skin * (_brow_mask(P, arch=0.002) - _brow_mask(P, arch=-0.002))
    F["brow_arch"] = g(-0.1 * arch)
    gapd = skin * (_brow_mask(P, gap=-0.004) - _brow_mask(P, gap=0.004))
    F["brow_gap"] = g(-0.1 * gapd)
    F["lip_darkness"] = g(-0.05 * lips)
    F["lip_redness"] = (0.03 * lips)[:, None] * np.array([1.0, -0.6, -0.5])
    F["jaw_stubble"] = g(-0.05 * beard * not_hair)
    F["moustache"] = g(-0.05 * moustache * not_hair)
    F["chin_beard"] = g(-0.05 * chin_beard * not_hair)
    F["hair_darkness"] = g(-0.12 * hair)
    F["hairline_height"] = (hair_edge * 0.9)[:, None] * (hair_rgb - skin_rgb)
    F["hair_sides"] = g(-0.12 * temples * not_hair)
    F["iris_darkness"] = g(-0.12 * (iris - pupil))
    F["under_eye_shadow"] = g(-0.035 * under_eye)
    F["lash_line"] = g(-0.08 * lash)
    # large, faint mottling (wavelengths of 10-30 cm)
    freqs = [
        ((13.0, 7.0, 9.0), 0.3),
        ((-8.0, 15.0, 5.0), 1.1),
        ((9.0, -12.0, 17.0), 2.0),
        ((18.0, 4.0, -11.0), 2.9),
        ((-5.0, -17.0, 14.0), 4.2),
    ]
    for i, (k, phase) in enumerate(freqs):
        wave = np.sin(P @ np.asarray(k) + phase) * np.sin(P @ np.asarray(k[::-1]) * 0.7 + 2 * phase)
        F[f"blotch_{i + 1}"] = g(0.012 * body * wave)
    return mean, F


# ----------------------------------------------------------------------------------------

# A 3-sigma step of any one shape component moves nearby points relative to each other by
# at most this fraction of their distance, so single components can never fold the surface
# or push the eyelids into the eyeballs, and random combinations stay far from doing so.
LIPSCHITZ_CAP = 0.5


def _lipschitz_caps(verts, tris, stride=4, step=1e-4):
    """Per-component factor (<= 1) keeping 3 sigma of the component within LIPSCHITZ_CAP.

    The Jacobian of each displacement field is taken by forward differences at a subsample
    of points on, just inside and just outside the mean surface; its Frobenius norm bounds
    the local Lipschitz constant.
    """
    normals = vertex_normals(verts, tris)
    sub = slice(0, None, stride)
    pts = np.concatenate([verts[sub], verts[sub] - 0.003 * normals[sub], verts[sub] + 0.002 * normals[sub]])
    f0 = _shape_fields(pts)
    fd = [_shape_fields(pts + step * np.eye(3)[i]) for i in range(3)]
    factors = []
    for name in SHAPE_COMPONENT_NAMES:
        jac = np.stack([(fd[i][name] - f0[name]) / step for i in range(3)], axis=2)
        lip = 3.0 * float(np.sqrt((jac**2).sum(axis=(1, 2))).max())  # Frobenius >= spectral
        factors.append(min(1.0, LIPSCHITZ_CAP / lip) if lip > 0 else 1.0)
    return np.array(factors)


def build_procedural_head() -> MorphableModel:
    """Build the procedural morphable head (deterministic, a second or two)."""
    verts, tris, parts = _mesh()
    shape = _shape_fields(verts)
    for name, factor in zip(SHAPE_COMPONENT_NAMES, _lipschitz_caps(verts, tris)):
        shape[name] = shape[name] * factor
    mean_albedo, albedo = _albedo_fields(verts, parts)
    assert tuple(shape) == SHAPE_COMPONENT_NAMES, "shape component names out of sync"
    assert tuple(albedo) == ALBEDO_COMPONENT_NAMES, "albedo component names out of sync"
    shape_pc = np.stack([shape[k].ravel() for k in SHAPE_COMPONENT_NAMES], axis=1)
    albedo_pc = np.stack([albedo[k].ravel() for k in ALBEDO_COMPONENT_NAMES], axis=1)
    model = from_pca(
        MODEL_NAME,
        verts,
        shape_pc,
        np.ones(shape_pc.shape[1]),
        mean_albedo,
        albedo_pc,
        np.ones(albedo_pc.shape[1]),
        tris,
    )
    model.validate(MODEL_NAME)
    # Frame the head (crown to chin, ears, nose) about the origin, letting the neck run out of
    # the frame, so the face fills most of the image at every pose.
    head = model.mean_shape[model.mean_shape[:, 1] > CHIN_Y]
    return replace(model, frame_center=(0.0, 0.0, 0.0), frame_radius=float(np.linalg.norm(head, axis=1).max()))
