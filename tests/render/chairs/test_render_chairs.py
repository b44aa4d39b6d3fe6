"""Chairs through the shared renderer and chunk machinery: folder sources with real mesh files
(broken ones skipped with reasons), determinism across workers, held-out chairs."""
import json

import numpy as np
import pytest
import trimesh

from render.chunks import read_npz
from render.chairs.sampling import chair_split
from tests.conftest import run_dcign, set_dotted, tiny_params, tree_digest, write_params


def tiny_chairs(**overrides) -> dict:
    params = tiny_params()
    chairs = params["chairs"]
    chairs["test_fraction"] = 0.3
    for key, value in overrides.items():
        set_dotted(chairs, key, value)
    return params


def box_chair(seat_w, back_h, leg):
    """A crude chair from boxes: seat, back, four legs (the loader merges the parts)."""
    parts = [trimesh.creation.box((seat_w, 0.05, 0.45), trimesh.transformations.translation_matrix((0, 0.45, 0)))]
    parts.append(trimesh.creation.box((seat_w, back_h, 0.05),
                                      trimesh.transformations.translation_matrix((0, 0.45 + back_h / 2, 0.2))))
    for x in (-1, 1):
        for z in (-1, 1):
            parts.append(trimesh.creation.box((leg, 0.45, leg), trimesh.transformations.translation_matrix(
                (x * (seat_w / 2 - leg), 0.225, z * 0.2))))
    return trimesh.util.concatenate(parts)


@pytest.fixture(scope="module")
def chair_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("cad")
    for i in range(14):
        box_chair(0.4 + 0.02 * i, 0.3 + 0.03 * i, 0.03 + 0.002 * i).export(root / f"chair_{i:02d}.ply")
    (root / "broken.ply").write_bytes(b"ply\nthis is not a mesh")
    (root / "empty.obj").write_text("# nothing here\n")
    return root


@pytest.fixture(scope="module")
def rendered_folder(chair_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("chairs2")
    params = write_params(out / "params.yaml", tiny_chairs(source=str(chair_folder)))
    run_dcign("render", "chairs", "--params", params, "--out", out / "out", "--workers", 2, check=True)
    return out


def test_broken_meshes_are_skipped_with_reasons(rendered_folder):
    skipped = json.loads((rendered_folder / "out" / "skipped_chairs.json").read_text())
    reasons = {s["chair_id"]: s["reason"] for s in skipped}
    assert set(reasons) == {"broken.ply", "empty.obj"}
    assert reasons["empty.obj"].startswith("empty")
    info = json.loads((rendered_folder / "out" / "render_info.json").read_text())
    assert info["chairs"]["usable"] == 14 and info["chairs"]["skipped"] == 2


def test_held_out_chairs_never_appear_in_training_chunks(rendered_folder):
    out = rendered_folder / "out"
    info = json.loads((out / "render_info.json").read_text())
    ids = info["chairs"]["ids"]
    assert ids["train"] and ids["test"] and not set(ids["train"]) & set(ids["test"])
    seen = {"train": set(), "test": set()}
    for chunk in info["chunks"]:
        data = read_npz(out / chunk["file"])
        seen[chunk["split"]].update(data["identity"].ravel().tolist())
        assert data["images"].shape[1:] == (4, 150, 150)
        for batch_type, az, identity in zip([chunk["batch_type"]] * chunk["count"], data["azimuth"], data["identity"]):
            if batch_type == "azimuth":
                assert len(set(identity.tolist())) == 1 and len(set(az.tolist())) == 4
            else:
                assert len(set(identity.tolist())) == 4 and len(set(az.tolist())) == 1
    assert seen["train"] and seen["test"] and not seen["train"] & seen["test"]


def test_one_and_two_workers_are_byte_identical(rendered_folder, chair_folder, tmp_path):
    params = write_params(tmp_path / "params.yaml", tiny_chairs(source=str(chair_folder)))
    run_dcign("render", "chairs", "--params", params, "--out", tmp_path / "out", "--workers", 1, check=True)
    assert tree_digest(tmp_path / "out") == tree_digest(rendered_folder / "out")


def test_images_show_the_chair_turning(rendered_folder):
    out = rendered_folder / "out"
    data = read_npz(out / "train" / "azimuth-00000.npz")
    batch = data["images"][0].astype(int)
    coverage = (batch < 250).mean(axis=(1, 2))
    assert (coverage > 0.05).all() and (coverage < 0.8).all()
    assert np.abs(batch[0] - batch[-1]).mean() > 3


def test_split_is_stable_and_order_independent():
    ids = [f"chair_{i}" for i in range(200)]
    split = chair_split(3, ids, 0.1)
    assert 5 < len(split["test"]) < 40
    test_ids = {ids[k] for k in split["test"]}
    shuffled = ids[::-1] + ["new_chair"]
    again = chair_split(3, shuffled, 0.1)
    assert test_ids <= {shuffled[k] for k in again["test"]}


@pytest.mark.parametrize("key,value,expect", [
    ("views.azimuths", 3, "chairs.views.azimuths = 3: expected at least chairs.batch_size = 4 azimuths"),
    ("views.elevations_deg", [20, 120], "chairs.views.elevations_deg[1] = 120"),
    ("up_axis", "+w", "chairs.up_axis = '+w'"),
    ("front_axis", "-y", "chairs.front_axis = '-y' is parallel to chairs.up_axis = '+y'"),
    ("source", "no/such/folder", "chairs.source = 'no/such/folder': folder not found"),
    ("batch_size", 1, "chairs.batch_size = 1: expected >= 2"),
])
def test_bad_chair_params_are_one_line(tmp_path, key, value, expect):
    params = write_params(tmp_path / "params.yaml", tiny_chairs(**{key: value}))
    proc = run_dcign("render", "chairs", "--params", params, "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0] and "Traceback" not in proc.stderr


def test_no_usable_chair_is_a_clear_error(tmp_path):
    folder = tmp_path / "cad"
    folder.mkdir()
    (folder / "a.ply").write_bytes(b"garbage")
    (folder / "b.obj").write_text("")
    params = write_params(tmp_path / "params.yaml", tiny_chairs(source=str(folder)))
    proc = run_dcign("render", "chairs", "--params", params, "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert "no usable chair among 2 found" in proc.stderr.strip().splitlines()[-1]


def test_procedural_chairs_are_deterministic_across_workers_and_held_out(tmp_path):
    params = write_params(tmp_path / "params.yaml", tiny_chairs())
    for workers in (1, 2):
        run_dcign("render", "chairs", "--params", params, "--out", tmp_path / f"out{workers}", "--workers", workers,
                  check=True)
    assert tree_digest(tmp_path / "out1") == tree_digest(tmp_path / "out2")
    info = json.loads((tmp_path / "out1" / "render_info.json").read_text())
    assert info["chairs"]["families"][0] == "dining"
    seen = {"train": set(), "test": set()}
    for chunk in info["chunks"]:
        data = read_npz(tmp_path / "out1" / chunk["file"])
        seen[chunk["split"]].update(data["identity"].ravel().tolist())
        assert (data["family"] == data["identity"] % 8).all()
    assert max(seen["train"]) < 8 <= min(seen["test"])
