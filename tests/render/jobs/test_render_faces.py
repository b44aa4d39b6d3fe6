"""Rendering the faces dataset through the render jobs (pyrender over EGL, the procedural head):
determinism across workers, chunk contents, resume after interruption or Ctrl-C, stale chunks."""
import json
import shutil

import numpy as np
import pytest

from render.chunks import read_npz
from render.faces.config import faces_config
from tests.conftest import run_dcign, tiny_params, tree_digest, write_params


def test_one_and_two_workers_give_byte_identical_files(rendered_faces, tmp_path):
    params = write_params(tmp_path / "params.yaml", tiny_params())
    run_dcign("render", "faces", "--params", params, "--out", tmp_path / "out", "--workers", 1, check=True)
    one, two = tree_digest(tmp_path / "out"), tree_digest(rendered_faces)
    assert len(one) == 2 + 10  # the output marker, render_info.json and one chunk per batch of the tiny profile
    assert one == two


def test_chunks_hold_images_and_ground_truth(rendered_faces):
    out = rendered_faces
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


def test_interrupted_render_resumes_without_redoing_finished_chunks(rendered_faces, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(rendered_faces, out)
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


def test_a_resume_redoes_chunks_that_are_damaged_or_not_where_they_were_written(rendered_faces, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(rendered_faces, out)
    expected = tree_digest(out)
    (out / "render_info.json").unlink()
    shutil.copy(out / "train" / "azimuth-00000.npz", out / "train" / "azimuth-00001.npz")  # well-formed, same params
    shutil.copy(out / "test" / "light-00000.npz", out / "test" / "elevation-00000.npz")
    flipped = out / "train" / "intrinsic-00000.npz"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    params = write_params(tmp_path / "params.yaml", tiny_params())
    proc = run_dcign("render", "faces", "--params", params, "--out", out, "--workers", 1, check=True)
    assert "resuming: 7 of 10 chunks already rendered" in proc.stdout
    assert tree_digest(out) == expected


def test_changed_params_replace_stale_chunks(rendered_faces, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(rendered_faces, out)
    params = write_params(tmp_path / "params.yaml", tiny_params(**{"lighting.ambient": 0.5}))
    run_dcign("render", "faces", "--params", params, "--out", out, "--workers", 1, check=True)
    fingerprint = json.loads((out / "render_info.json").read_text())["fingerprint"]
    assert fingerprint != json.loads((rendered_faces / "render_info.json").read_text())["fingerprint"]
    for path in out.rglob("*.npz"):
        assert str(read_npz(path)["fingerprint"]) == fingerprint


def test_broken_model_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "01_MorphableModel.mat"
    bad.write_bytes(b"this is not a MATLAB file")
    params = write_params(tmp_path / "params.yaml", tiny_params(model=str(bad)))
    proc = run_dcign("render", "faces", "--params", params, "--out", tmp_path / "out")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.parametrize("how", ["ctrl-c", "kill", "kill -9"])
def test_ctrl_c_or_kill_keeps_finished_chunks_and_the_rerun_completes_them(tmp_path, how):
    import os
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
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            # a shell's background job ignores SIGINT, and children inherit that
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not list(out.glob("*/*.npz")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if how == "ctrl-c":  # a terminal signals the whole process group: the workers too
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGTERM)
    _, err = proc.communicate(timeout=60)  # returns once no worker holds stderr: they are gone too
    if proc.returncode == 0:
        pytest.skip("the render finished before it could be interrupted")
    assert proc.returncode == {"ctrl-c": 130, "kill": 143, "kill -9": -9}[how] and "Traceback" not in err
    if how != "kill -9":  # a killed process says nothing; its workers die with it, silently
        assert err.strip().splitlines()[-1] == ("dcign: interrupted; finished work (chunks, checkpoints) is kept: "
                                                "re-run the same command to resume")
    assert not (out / "render_info.json").exists()
    finished = len(list(out.glob("*/*.npz")))
    assert 0 < finished < 40
    again = run_dcign("render", "faces", "--params", params, "--out", out, "--workers", 2, check=True)
    assert f"resuming: {finished} of 40 chunks already rendered" in again.stdout
    run_dcign("render", "faces", "--params", params, "--out", tmp_path / "whole", "--workers", 2, check=True)
    assert tree_digest(out) == tree_digest(tmp_path / "whole")
