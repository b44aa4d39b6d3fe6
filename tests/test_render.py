"""Real rendering (pyrender over EGL, the procedural head): determinism across workers, image
sanity, resume after interruption, preview, and the missing-EGL error."""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from render.chunks import read_npz
from render.config import faces_config
from tests.conftest import run_dcign, tiny_params, write_params


@pytest.fixture(scope="module")
def model():
    from render.procedural_head import build_procedural_head

    return build_procedural_head()


@pytest.fixture(scope="module")
def renderer(model):
    from render.faces import make_renderer

    cfg = faces_config(tiny_params())
    r = make_renderer(cfg, model)
    r.set_mesh(model.instance(np.zeros(10), np.zeros(10)))
    yield r, cfg
    r.close()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """One tiny dataset rendered with 2 workers by the real CLI."""
    root = tmp_path_factory.mktemp("render2")
    params = write_params(root / "params.yaml", tiny_params())
    run_dcign("render", "faces", "--params", params, "--out", root / "out", "--workers", 2, check=True)
    return root


def tree_digest(root: Path) -> dict:
    import hashlib

    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_one_and_two_workers_give_byte_identical_files(rendered, tmp_path):
    params = write_params(tmp_path / "params.yaml", tiny_params())
    run_dcign("render", "faces", "--params", params, "--out", tmp_path / "out", "--workers", 1, check=True)
    one, two = tree_digest(tmp_path / "out"), tree_digest(rendered / "out")
    assert len(one) == 1 + 10  # render_info.json + one chunk per batch of the tiny profile
    assert one == two


def test_chunks_hold_images_and_ground_truth(rendered):
    out = rendered / "out"
    info = json.loads((out / "render_info.json").read_text())
    cfg = faces_config(tiny_params())
    assert len({str(read_npz(out / c["file"])["fingerprint"]) for c in info["chunks"]} | {info["fingerprint"]}) == 1
    train_ids, test_ids = set(), set()
    for chunk in info["chunks"]:
        data = read_npz(out / chunk["file"])
        n, b = chunk["count"], cfg.batch_size
        assert data["images"].shape == (n, b, 150, 150) and data["images"].dtype == np.uint8
        for key in ("azimuth", "elevation", "light_azimuth", "identity"):
            assert data[key].shape == (n, b)
        assert data["shape_coeffs"].shape == (n, b, cfg.shape_components)
        assert data["albedo_coeffs"].shape == (n, b, cfg.albedo_components)
        # Images within a batch differ: the active factor really changes the picture.
        for batch in data["images"]:
            assert len({img.tobytes() for img in batch}) == b
        ids = set(data["identity"].ravel().tolist())
        (train_ids if chunk["split"] == "train" else test_ids).update(ids)
        # An identity's coefficients are the same wherever it appears.
        for k in ids:
            rows = data["shape_coeffs"][data["identity"] == k]
            assert np.all(rows == rows[0])
    assert train_ids and test_ids and not (train_ids & test_ids)


def head_mask(image, background=255):
    return image < background - 2


def test_head_covers_20_to_80_percent_of_the_frame(renderer):
    r, _ = renderer
    for azimuth in (-1.5, 0.0, 1.5):
        for elevation in (-0.4, 0.4):
            coverage = head_mask(r.render(azimuth, elevation, 0.0)).mean()
            assert 0.2 <= coverage <= 0.8, (azimuth, elevation, coverage)


def test_light_from_the_left_brightens_the_left_half(renderer):
    r, _ = renderer
    def halves(light):
        image = r.render(0.0, 0.0, light).astype(float)
        mask = head_mask(image)
        mid = image.shape[1] // 2
        return image[:, :mid][mask[:, :mid]].mean(), image[:, mid:][mask[:, mid:]].mean()
    left, right = halves(-60.0)
    assert left > right + 15
    left, right = halves(60.0)
    assert right > left + 15


def test_pose_moves_the_head_and_identities_differ(renderer, model):
    r, cfg = renderer
    front = r.render(0.0, 0.0, 0.0)
    turned = r.render(0.8, 0.0, 0.0)
    assert np.abs(front.astype(int) - turned.astype(int)).mean() > 5
    from render.factors import identity_coefficients
    images = []
    for identity in range(3):
        r.set_mesh(model.instance(*identity_coefficients(cfg, identity, 50, 20)))
        images.append(r.render(0.0, 0.0, 0.0).astype(int))
    r.set_mesh(model.instance(np.zeros(10), np.zeros(10)))
    assert np.abs(images[0] - images[1]).mean() > 2 and np.abs(images[1] - images[2]).mean() > 2


def test_interrupted_render_resumes_without_redoing_finished_chunks(rendered, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(rendered / "out", out)
    expected = tree_digest(out)
    # An interruption leaves: no render_info.json, a missing chunk, a stray temp file.
    (out / "render_info.json").unlink()
    (out / "train" / "intrinsic-00001.npz").unlink()
    (out / "train" / ".azimuth-00000.npz.tmp123").write_bytes(b"partial")
    kept = {p: p.stat().st_mtime_ns for p in out.rglob("*.npz")}
    params = write_params(tmp_path / "params.yaml", tiny_params())
    proc = run_dcign("render", "faces", "--params", params, "--out", out, "--workers", 1, check=True)
    assert "resuming: 9 of 10 chunks already rendered" in proc.stdout
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())
    assert tree_digest(out) == expected


def test_changed_params_replace_stale_chunks(rendered, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(rendered / "out", out)
    params = write_params(tmp_path / "params.yaml", tiny_params(**{"lighting.ambient": 0.5}))
    run_dcign("render", "faces", "--params", params, "--out", out, "--workers", 1, check=True)
    fingerprint = json.loads((out / "render_info.json").read_text())["fingerprint"]
    assert fingerprint != json.loads((rendered / "out" / "render_info.json").read_text())["fingerprint"]
    for path in out.rglob("*.npz"):
        assert str(read_npz(path)["fingerprint"]) == fingerprint


def test_preview_has_one_row_per_batch_type(rendered, tmp_path):
    png = tmp_path / "preview.png"
    run_dcign("preview", rendered / "out", "--out", png, check=True)
    image = np.asarray(Image.open(png))
    assert image.ndim == 2 and image.shape[0] > 4 * 150 and image.shape[1] > 4 * 150
    proc = run_dcign("preview", tmp_path / "nothing", "--out", png)
    assert proc.returncode == 2 and "render_info.json: not found" in proc.stderr


def test_missing_egl_is_one_clear_line(tmp_path):
    broken = tmp_path / "lib"
    broken.mkdir()
    (broken / "libEGL.so.1").write_bytes(b"not a library")
    (broken / "libEGL.so").write_bytes(b"not a library")
    params = write_params(tmp_path / "params.yaml", tiny_params())
    proc = run_dcign("render", "faces", "--params", params, "--out", tmp_path / "out", "--workers", 1,
                     env={"LD_LIBRARY_PATH": str(broken)})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("dcign: error: EGL: cannot create an offscreen OpenGL context"), proc.stderr
    assert "libegl-mesa0" in lines[-1] and "Traceback" not in proc.stderr


def test_broken_model_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "01_MorphableModel.mat"
    bad.write_bytes(b"this is not a MATLAB file")
    params = write_params(tmp_path / "params.yaml", tiny_params(model=str(bad)))
    proc = run_dcign("render", "faces", "--params", params, "--out", tmp_path / "out")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in proc.stderr


def test_ctrl_c_keeps_finished_chunks_and_the_rerun_completes_them(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    # enough chunks (40) that the render is still running when the signal lands
    params = write_params(tmp_path / "params.yaml", tiny_params(batches={
        "train": {"azimuth": 8, "elevation": 8, "light": 8, "intrinsic": 8},
        "test": {"azimuth": 2, "elevation": 2, "light": 2, "intrinsic": 2}}))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "render", "faces", "--params", str(params),
                             "--out", str(out), "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a shell's background job ignores SIGINT, and children inherit that
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not list(out.glob("*/*.npz")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the render finished before it could be interrupted")
    assert proc.returncode == 130 and "re-run the same command to resume" in err
    assert not (out / "render_info.json").exists()
    finished = len(list(out.glob("*/*.npz")))
    assert 0 < finished < 40
    again = run_dcign("render", "faces", "--params", params, "--out", out, "--workers", 2, check=True)
    assert f"resuming: {finished} of 40 chunks already rendered" in again.stdout
    run_dcign("render", "faces", "--params", params, "--out", tmp_path / "whole", "--workers", 2, check=True)
    assert tree_digest(out) == tree_digest(tmp_path / "whole")


def test_fingerprint_covers_params_model_and_code(model, monkeypatch):
    from dataclasses import replace

    import render.faces as faces

    cfg = faces_config(tiny_params())
    base = faces.fingerprint(cfg, model)
    assert faces.fingerprint(cfg, model) == base
    assert faces.fingerprint(faces_config(tiny_params(seed=99)), model) != base
    assert faces.fingerprint(cfg, replace(model, shape_std=model.shape_std * 1.01)) != base
    monkeypatch.setattr(faces, "code_digest", lambda: "another-renderer")
    assert faces.fingerprint(cfg, model) != base
