"""Real CAD chairs from a folder: discovery layouts, loading every format, normalisation, axis
mapping, winding, albedo, and broken files."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest
import trimesh

from render.chairs import cad
from render.chairs.cad import BrokenMesh, ChairSource, find_chairs, load_chair
from render.errors import UserError
from render.gl.mesh import AlbedoMesh

AXES = ["+x", "-x", "+y", "-y", "+z", "-z"]


# --------------------------------------------------------------------------- helpers


def box(extents=(1.0, 2.0, 3.0), center=(0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    mesh = trimesh.creation.box(extents=extents)
    mesh.apply_translation(center)
    return mesh


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    return path


def export(mesh, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    mesh.export(str(path))
    return path


def obj_text(parts: dict[str, trimesh.Trimesh]) -> str:
    """A multi-object OBJ written by hand: one `o` block per part."""
    lines, offset = [], 0
    for name, mesh in parts.items():
        lines.append(f"o {name}")
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in mesh.vertices]
        lines += [f"f {a + 1 + offset} {b + 1 + offset} {c + 1 + offset}" for a, b, c in mesh.faces]
        offset += len(mesh.vertices)
    return "\n".join(lines) + "\n"


def off_text(vertices, faces, malformed=False) -> str:
    counts = f"{len(vertices)} {len(faces)} 0"
    head = f"OFF{counts}\n" if malformed else f"OFF\n{counts}\n"
    body = [" ".join(f"{x:.6f}" for x in v) for v in vertices]
    body += [" ".join(str(i) for i in [len(f), *f]) for f in faces]
    return head + "\n".join(body) + "\n"


def quad_box():
    """A unit-ish box as 8 vertices and 6 outward (CCW from outside) quads."""
    v = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-1.0, 1.0) for z in (-2.0, 2.0)])
    # index = 4*ix + 2*iy + iz
    quads = [
        (0, 1, 3, 2),  # -x
        (4, 6, 7, 5),  # +x
        (0, 4, 5, 1),  # -y
        (2, 3, 7, 6),  # +y
        (0, 2, 6, 4),  # -z
        (1, 5, 7, 3),  # +z
    ]
    return v, quads


def signed_volume(mesh: AlbedoMesh) -> float:
    v = mesh.vertices.astype(np.float64)
    a, b, c = v[mesh.triangles[:, 0]], v[mesh.triangles[:, 1]], v[mesh.triangles[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def assert_normalised(mesh: AlbedoMesh):
    assert mesh.vertices.dtype == np.float32 and mesh.vertices.ndim == 2 and mesh.vertices.shape[1] == 3
    assert mesh.albedo.dtype == np.float32 and mesh.albedo.shape == mesh.vertices.shape
    assert mesh.triangles.dtype == np.int32 and mesh.triangles.shape[1] == 3 and len(mesh.triangles) > 0
    assert mesh.triangles.min() >= 0 and mesh.triangles.max() < len(mesh.vertices)
    lo, hi = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    np.testing.assert_allclose((lo + hi) / 2, 0.0, atol=1e-5)
    assert abs(float((hi - lo).max()) - 1.0) < 1e-5
    assert np.all((mesh.albedo >= 0) & (mesh.albedo <= 1))


def load_only(root: Path, **kwargs) -> AlbedoMesh:
    (chair,) = find_chairs(root)
    return load_chair(chair, root, **kwargs)


# --------------------------------------------------------------------------- discovery


def test_shapenet_v2_layout_from_root_and_from_synset(tmp_path):
    root = tmp_path / "ShapeNetCore.v2"
    for model in ("b2", "a1"):
        export(box(), root / "03001627" / model / "models" / "model_normalized.obj")
        write(root / "03001627" / model / "models" / "model_normalized.json", "{}")
    write(root / "taxonomy.json", "[]")
    chairs = find_chairs(root)
    assert chairs == [
        ChairSource("03001627/a1", ("03001627/a1/models/model_normalized.obj",)),
        ChairSource("03001627/b2", ("03001627/b2/models/model_normalized.obj",)),
    ]
    synset = find_chairs(root / "03001627")
    assert [c.chair_id for c in synset] == ["a1", "b2"]
    assert synset[0].files == ("a1/models/model_normalized.obj",)
    mesh = load_chair(chairs[0], root)
    assert_normalised(mesh)
    assert signed_volume(mesh) > 0


def test_shapenet_v1_layout(tmp_path):
    root = tmp_path / "ShapeNetCore.v1"
    export(box(), root / "03001627" / "m9" / "model.obj")
    export(box(), root / "03001627" / "m3" / "model.obj")
    chairs = find_chairs(root)
    assert [c.chair_id for c in chairs] == ["03001627/m3", "03001627/m9"]
    assert chairs[1].files == ("03001627/m9/model.obj",)
    assert_normalised(load_chair(chairs[0], root))


def test_modelnet_off_normal_and_malformed_header(tmp_path):
    root = tmp_path / "ModelNet40"
    b = box(extents=(1, 2, 3))
    write(root / "chair" / "train" / "chair_0001.off", off_text(b.vertices, b.faces))
    text = off_text(b.vertices, b.faces, malformed=True)
    assert text.startswith("OFF8 12 0\n")
    write(root / "chair" / "test" / "chair_0002.off", text)
    write(root / "chair" / "train" / "chair_0003.off", off_text(b.vertices, b.faces))
    chairs = find_chairs(root)
    assert [c.chair_id for c in chairs] == [
        "chair/test/chair_0002.off", "chair/train/chair_0001.off", "chair/train/chair_0003.off"]
    for chair in chairs:
        mesh = load_chair(chair, root)
        assert_normalised(mesh)
        assert len(mesh.triangles) == 12
        assert signed_volume(mesh) > 0
        np.testing.assert_allclose(mesh.albedo, 0.7)


def test_off_quad_faces_are_fan_triangulated(tmp_path):
    v, quads = quad_box()
    write(tmp_path / "q.off", "# a comment\n" + off_text(v, quads))
    mesh = load_only(tmp_path, up="+y", front="+z")  # identity mapping
    assert_normalised(mesh)
    assert len(mesh.triangles) == 12
    assert signed_volume(mesh) > 0
    # the box is 1 x 2 x 4 -> 0.25 x 0.5 x 1 after scaling, volume 0.125
    assert signed_volume(mesh) == pytest.approx(0.125, rel=1e-4)


@pytest.mark.parametrize("ext", ["ply", "stl", "glb", "obj", "off"])
def test_plain_folder_formats(tmp_path, ext):
    export(box(extents=(2, 1, 0.5)), tmp_path / f"chair.{ext}")
    mesh = load_only(tmp_path)
    assert_normalised(mesh)
    assert signed_volume(mesh) > 0
    assert len(mesh.triangles) == 12


def test_gltf_with_separate_buffers(tmp_path):
    files = trimesh.Scene(box(extents=(2, 1, 0.5))).export(file_type="gltf")
    for name, data in files.items():
        write(tmp_path / "g" / name, data)
    chairs = find_chairs(tmp_path)
    assert [c.chair_id for c in chairs] == ["g/model.gltf"]
    mesh = load_chair(chairs[0], tmp_path)
    assert_normalised(mesh)
    assert signed_volume(mesh) > 0


def test_plain_folder_is_one_chair_per_file_sorted(tmp_path):
    for name in ("z.stl", "b.ply", "a.obj", "c.glb", "d.OFF"):
        export(box(), tmp_path / name) if not name.endswith("OFF") else write(
            tmp_path / name, off_text(box().vertices, box().faces))
    write(tmp_path / "notes.txt", "not a mesh")
    write(tmp_path / ".hidden.obj", "v 0 0 0\n")
    chairs = find_chairs(tmp_path)
    assert [c.chair_id for c in chairs] == ["a.obj", "b.ply", "c.glb", "d.OFF", "z.stl"]
    assert all(c.files == (c.chair_id,) for c in chairs)
    for chair in chairs:
        assert_normalised(load_chair(chair, tmp_path))


def test_discovery_does_not_depend_on_listing_order(tmp_path, monkeypatch):
    for rel in ("k/a.off", "k/b.off", "parts/seat.obj", "parts/leg.obj", "x.obj", "s/1/model.obj"):
        export(box(), tmp_path / rel)
    expected = find_chairs(tmp_path)
    real_scandir = os.scandir

    def reversed_scandir(path):
        with real_scandir(path) as it:
            entries = list(it)
        return iter(entries[::-1])

    monkeypatch.setattr(cad.os, "scandir", reversed_scandir)
    assert find_chairs(tmp_path) == expected
    assert [c.chair_id for c in expected] == ["k/a.off", "k/b.off", "parts", "s/1", "x.obj"]
    assert expected[2].files == ("parts/leg.obj", "parts/seat.obj")


def test_multi_part_obj_merges_all_objects(tmp_path):
    seat = box(extents=(1.0, 0.1, 1.0), center=(0, 0.5, 0))
    leg = box(extents=(0.1, 0.5, 0.1), center=(0.4, 0.2, 0.4))
    write(tmp_path / "chair.obj", obj_text({"seat": seat, "leg": leg}))
    mesh = load_only(tmp_path, up="+y", front="+z")
    assert_normalised(mesh)
    assert len(mesh.triangles) == 24
    # both parts: total volume is the sum of both boxes (the seat's 1.0 width is the largest extent)
    assert signed_volume(mesh) == pytest.approx(seat.volume + leg.volume, rel=1e-4)
    # the leg reaches below the seat: y spans -0.05 (leg bottom) to 0.55 (seat top)
    assert mesh.vertices[:, 1].max() - mesh.vertices[:, 1].min() == pytest.approx(0.6, rel=1e-4)


def test_folder_of_part_objs_is_one_chair(tmp_path):
    seat = box(extents=(1.0, 0.1, 1.0), center=(0, 0.5, 0))
    back = box(extents=(1.0, 1.0, 0.1), center=(0, 1.0, -0.45))
    leg = box(extents=(0.1, 0.5, 0.1), center=(0.4, 0.2, 0.4))
    export(seat, tmp_path / "armchair" / "seat.obj")
    export(back, tmp_path / "armchair" / "back.obj")
    export(leg, tmp_path / "armchair" / "leg.obj")
    export(box(), tmp_path / "loose1.obj")  # files in the root: separate chairs
    export(box(), tmp_path / "loose2.obj")
    chairs = find_chairs(tmp_path)
    assert chairs[0] == ChairSource("armchair", ("armchair/back.obj", "armchair/leg.obj", "armchair/seat.obj"))
    assert [c.chair_id for c in chairs] == ["armchair", "loose1.obj", "loose2.obj"]
    mesh = load_chair(chairs[0], tmp_path, up="+y", front="+z")
    assert_normalised(mesh)
    assert len(mesh.triangles) == 36
    total = trimesh.util.concatenate([seat, back, leg])
    scale = 1.0 / total.extents.max()
    assert signed_volume(mesh) == pytest.approx((seat.volume + back.volume + leg.volume) * scale ** 3, rel=1e-4)


def test_part_folder_rule_excludes_non_leaf_single_and_non_obj_folders(tmp_path):
    # a folder with a mesh-bearing subfolder: its own OBJs are separate chairs
    export(box(), tmp_path / "office" / "a.obj")
    export(box(), tmp_path / "office" / "b.obj")
    export(box(), tmp_path / "office" / "set" / "p1.obj")
    export(box(), tmp_path / "office" / "set" / "p2.obj")
    # a single OBJ in a folder: one chair, id = the file
    export(box(), tmp_path / "solo" / "only.obj")
    # OBJs mixed with another format: separate chairs
    export(box(), tmp_path / "mixed" / "m.obj")
    export(box(), tmp_path / "mixed" / "n.obj")
    export(box(), tmp_path / "mixed" / "o.ply")
    # .off folders (ModelNet) are never merged
    write(tmp_path / "offs" / "c1.off", off_text(box().vertices, box().faces))
    write(tmp_path / "offs" / "c2.off", off_text(box().vertices, box().faces))
    ids = [c.chair_id for c in find_chairs(tmp_path)]
    assert ids == ["mixed/m.obj", "mixed/n.obj", "mixed/o.ply", "office/a.obj", "office/b.obj",
                   "office/set", "offs/c1.off", "offs/c2.off", "solo/only.obj"]


# --------------------------------------------------------------------------- axes, winding


def pyramid(apex):
    """A closed, outward-wound pyramid: square base at the origin (in the plane orthogonal to
    `apex`), apex at `apex`. Returns a trimesh."""
    apex = np.asarray(apex, dtype=float)
    axis = int(np.argmax(np.abs(apex)))
    others = [i for i in range(3) if i != axis]
    base = []
    for s, t in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        p = np.zeros(3)
        p[others[0]], p[others[1]] = 0.5 * s, 0.5 * t
        base.append(p)
    vertices = np.array(base + [apex])
    faces = [(0, 1, 4), (1, 2, 4), (2, 3, 4), (3, 0, 4), (0, 2, 1), (0, 3, 2)]
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    if mesh.volume < 0:
        mesh.invert()
    assert mesh.volume > 0
    return mesh


def apex_of(mesh: AlbedoMesh) -> np.ndarray:
    """The pyramid's apex: the output vertex farthest from the median vertex (the base lies
    around the median, the apex is three base-widths away)."""
    offset = mesh.vertices - np.median(mesh.vertices, axis=0)
    return mesh.vertices[np.argmax(np.linalg.norm(offset, axis=1))]


def test_shapenet_default_maps_minus_z_front_to_plus_z(tmp_path):
    # a pyramid pointing to -Z (ShapeNet front), apex nudged up (+Y) and right (+X)
    mesh = pyramid((0.0, 0.0, -3.0))
    mesh.vertices[4] = (0.3, 0.4, -3.0)
    export(mesh, tmp_path / "s" / "models" / "model_normalized.obj")
    out = load_only(tmp_path)
    assert_normalised(out)
    apex = apex_of(out)
    # 180 degrees about Y: z -> -z, x -> -x, y stays; bbox centre is at z=-1.5 -> apex at +0.5
    np.testing.assert_allclose(apex, (-0.1, 0.4 / 3, 0.5), atol=1e-5)
    assert signed_volume(out) > 0


def test_custom_z_up(tmp_path):
    # a Z-up file facing -Y: apex at front (-Y), nudged up (+Z) and along +X
    mesh = pyramid((0.0, -3.0, 0.0))
    mesh.vertices[4] = (0.3, -3.0, 0.4)
    export(mesh, tmp_path / "c.ply")
    out = load_only(tmp_path, up="+z", front="-y")
    apex = apex_of(out)
    # +z -> +Y, -y -> +Z, and x stays x (right = up x front = z x -y = +x)
    np.testing.assert_allclose(apex, (0.1, 0.4 / 3, 0.5), atol=1e-5)
    assert signed_volume(out) > 0


@pytest.mark.parametrize("up,front", [(u, f) for u, f in itertools.product(AXES, AXES) if u[1] != f[1]])
def test_every_axis_mapping_puts_front_at_plus_z_up_at_plus_y_and_keeps_winding(tmp_path, up, front):
    def unit(name):
        v = np.zeros(3)
        v["xyz".index(name[1])] = 1.0 if name[0] == "+" else -1.0
        return v

    mesh = pyramid(3.0 * unit(front))
    mesh.vertices[4] = 3.0 * unit(front) + 0.4 * unit(up)
    export(mesh, tmp_path / "p.off")
    out = load_only(tmp_path, up=up, front=front)
    assert_normalised(out)
    apex = apex_of(out)
    assert apex[2] == pytest.approx(0.5, abs=1e-5)
    assert apex[1] == pytest.approx(0.4 / 3, abs=1e-5)
    assert apex[0] == pytest.approx(0.0, abs=1e-5)
    assert signed_volume(out) > 0


def test_parallel_or_unknown_axes_are_user_errors(tmp_path):
    export(box(), tmp_path / "a.obj")
    (chair,) = find_chairs(tmp_path)
    with pytest.raises(UserError, match=r"chairs\.up_axis.*chairs\.front_axis"):
        load_chair(chair, tmp_path, up="+y", front="-y")
    with pytest.raises(UserError, match=r"chairs\.up_axis"):
        load_chair(chair, tmp_path, up="+z", front="+z")
    with pytest.raises(UserError, match=r"chairs\.front_axis"):
        load_chair(chair, tmp_path, front="forward")


# --------------------------------------------------------------------------- albedo


def test_uniform_vertex_colours_become_gray(tmp_path):
    mesh = box()
    mesh.visual.vertex_colors = np.tile([200, 100, 50, 255], (len(mesh.vertices), 1)).astype(np.uint8)
    export(mesh, tmp_path / "c.ply")
    out = load_only(tmp_path)
    expected = (0.21 * 200 + 0.72 * 100 + 0.07 * 50) / 255
    np.testing.assert_allclose(out.albedo, expected, atol=1e-5)


def test_per_vertex_colours_follow_their_vertices(tmp_path):
    mesh = box(extents=(1, 2, 1))
    colours = np.where(mesh.vertices[:, 1:2] > 0, [255, 255, 255, 255], [255, 0, 0, 255]).astype(np.uint8)
    mesh.visual.vertex_colors = colours
    export(mesh, tmp_path / "c.glb")
    out = load_only(tmp_path)
    assert np.all(out.albedo[:, 0] == out.albedo[:, 1]) and np.all(out.albedo[:, 1] == out.albedo[:, 2])
    top = out.vertices[:, 1] > 0
    np.testing.assert_allclose(out.albedo[top], 1.0, atol=1e-5)
    np.testing.assert_allclose(out.albedo[~top], 0.21, atol=1e-5)


def test_material_colour_and_default_gray(tmp_path):
    write(tmp_path / "m" / "red.mtl", "newmtl red\nKd 0 1 0\n")
    write(tmp_path / "m" / "red.obj", "mtllib red.mtl\nusemtl red\n" + obj_text({"b": box()}))
    export(box(), tmp_path / "plain.stl")
    chairs = {c.chair_id: c for c in find_chairs(tmp_path)}
    np.testing.assert_allclose(load_chair(chairs["m/red.obj"], tmp_path).albedo, 0.72, atol=1e-3)
    np.testing.assert_allclose(load_chair(chairs["plain.stl"], tmp_path).albedo, 0.7)


# --------------------------------------------------------------------------- broken files


def broken_reason(path: Path, **kwargs) -> str:
    chair = ChairSource(path.name, (path.name,))
    with pytest.raises(BrokenMesh) as info:
        load_chair(chair, path.parent, **kwargs)
    assert type(info.value) is BrokenMesh
    reason = str(info.value)
    assert reason and "\n" not in reason
    return reason


@pytest.mark.parametrize("ext", ["ply", "glb", "off", "gltf"])
def test_garbage_bytes_are_unreadable(tmp_path, ext):
    rng = np.random.default_rng(0)
    path = write(tmp_path / f"junk.{ext}", bytes([0x89, 0xFF]) + rng.integers(0, 256, 400, dtype=np.uint8).tobytes())
    assert "unreadable" in broken_reason(path)


def test_truncated_glb_is_unreadable(tmp_path):
    data = trimesh.Scene(box()).export(file_type="glb")
    path = write(tmp_path / "cut.glb", data[: len(data) // 2])
    assert "unreadable" in broken_reason(path)


def test_missing_file(tmp_path):
    assert "missing" in broken_reason(tmp_path / "gone.obj")


def test_empty_obj(tmp_path):
    assert "empty" in broken_reason(write(tmp_path / "e.obj", "# nothing here\nv 0 0 0\n"))


def test_empty_off(tmp_path):
    assert "empty" in broken_reason(write(tmp_path / "e.off", "OFF\n0 0 0\n"))


def test_nan_vertex(tmp_path):
    text = "v 0 0 0\nv 1 0 0\nv nan 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n"
    assert "NaN" in broken_reason(write(tmp_path / "n.obj", text))
    b = box()
    v = b.vertices.copy()
    v[3, 2] = np.inf
    assert "NaN/inf" in broken_reason(write(tmp_path / "n.off", off_text(v, b.faces)))


def test_all_degenerate_faces(tmp_path):
    # collinear triangles spanning a 3D bounding box: zero area everywhere
    text = "v 0 0 0\nv 1 1 1\nv 2 2 2\nv 3 3 3\nf 1 2 3\nf 2 3 4\nf 1 2 4\n"
    assert "degenerate" in broken_reason(write(tmp_path / "d.obj", text))
    # repeated indices
    text = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 1 2\nf 3 3 4\nf 2 4 4\n"
    assert "degenerate" in broken_reason(write(tmp_path / "r.obj", text))
    # a flat mesh (one triangle in a plane)
    assert "degenerate" in broken_reason(write(tmp_path / "f.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"))


def test_zero_area_faces_are_dropped(tmp_path):
    b = box()
    faces = np.vstack([b.faces, [[0, 0, 1], [2, 2, 2]]])
    out = load_only(write(tmp_path / "z.off", off_text(b.vertices, faces)).parent)
    assert len(out.triangles) == 12
    assert signed_volume(out) > 0


def test_too_many_faces(tmp_path):
    export(box(), tmp_path / "b.obj")
    reason = broken_reason(tmp_path / "b.obj", max_faces=5)
    assert "too many faces" in reason and "12" in reason and "5" in reason
    b = box()
    reason = broken_reason(write(tmp_path / "b.off", off_text(b.vertices, b.faces)), max_faces=5)
    assert "12" in reason and "5" in reason
    # at the limit it loads
    assert len(load_chair(ChairSource("b.obj", ("b.obj",)), tmp_path, max_faces=12).triangles) == 12


def test_off_bad_index_and_truncation(tmp_path):
    assert "unreadable" in broken_reason(write(tmp_path / "i.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n"))
    assert "unreadable" in broken_reason(write(tmp_path / "t.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n"))
    assert "unreadable" in broken_reason(write(tmp_path / "h.off", "PLY\n3 1 0\n"))


# --------------------------------------------------------------------------- user errors


def test_empty_root_is_user_error(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    write(tmp_path / "empty" / "readme.txt", "no meshes")
    with pytest.raises(UserError) as info:
        find_chairs(tmp_path / "empty")
    message = str(info.value)
    assert str(tmp_path / "empty") in message and "\n" not in message
    for layout in ("ShapeNetCore v2", "ShapeNetCore v1", "ModelNet", ".glb", "part"):
        assert layout in message


def test_missing_root_is_user_error(tmp_path):
    with pytest.raises(UserError, match="not a directory"):
        find_chairs(tmp_path / "nope")


def test_mirroring_scene_node_keeps_winding_outward(tmp_path):
    scene = trimesh.Scene()
    scene.add_geometry(box(extents=(1, 2, 3)), transform=np.diag([-1.0, 1.0, 1.0, 1.0]))
    scene.add_geometry(box(extents=(1, 2, 3), center=(0, 0, 5)))
    write(tmp_path / "mirror.glb", scene.export(file_type="glb"))
    out = load_only(tmp_path)
    assert_normalised(out)
    assert len(out.triangles) == 24
    assert signed_volume(out) > 0


# --------------------------------------------------------------------------- what discovery cannot use


def test_links_loops_and_empty_folders_are_reported_not_dropped(tmp_path):
    root = tmp_path / "cad"
    export(box(), root / "good.obj")
    (root / "loop").mkdir()
    export(box(), root / "loop" / "inner.obj")
    (root / "loop" / "back").symlink_to(root / "loop")
    (root / "gone.obj").symlink_to(tmp_path / "nowhere.obj")
    (root / "parts" / "chair_7").mkdir(parents=True)
    problems = []
    chairs = find_chairs(root, problems=problems)
    assert [c.chair_id for c in chairs] == ["good.obj", "loop/inner.obj"]
    assert problems == [
        {"chair_id": "gone.obj", "files": [], "reason": f"dangling symlink to {tmp_path / 'nowhere.obj'}"},
        {"chair_id": "loop/back", "files": [], "reason": "a symlink loop, or a folder reached twice through symlinks"},
        {"chair_id": "parts/chair_7", "files": [], "reason": "no mesh file in this folder"},
    ]


@pytest.mark.parametrize("ext", [".obj", ".ply", ".stl"])
def test_a_mesh_with_too_many_faces_is_refused_before_it_is_parsed(tmp_path, ext, monkeypatch):
    sphere = trimesh.creation.icosphere(subdivisions=3)  # 1280 faces
    export(sphere, tmp_path / f"big{ext}")
    monkeypatch.setattr(trimesh, "load", lambda *a, **k: pytest.fail("the file was parsed"))
    assert broken_reason(tmp_path / f"big{ext}", max_faces=1000) == "too many faces: found 1280, limit 1000"


def test_the_face_count_of_an_ascii_stl_and_at_block_boundaries(tmp_path):
    sphere = trimesh.creation.icosphere(subdivisions=2)  # 320 faces
    write(tmp_path / "a.stl", trimesh.exchange.stl.export_stl_ascii(sphere))
    assert cad._face_count(tmp_path / "a.stl") == 320
    export(sphere, tmp_path / "s.obj")
    assert cad._count_bytes(tmp_path / "s.obj", b"\nf ", block=7) == 320
