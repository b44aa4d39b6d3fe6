"""End to end: the real DVC pipeline on a tiny profile, in a fresh copy of the repository."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from tests.conftest import REPO, tiny_params, write_params

BIN = Path(sys.executable).parent


def sh(*args, cwd):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(cwd),
               PYOPENGL_PLATFORM="egl")
    proc = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """The project's tracked files (and new ones not ignored) in a new git repository."""
    root = tmp_path_factory.mktemp("clone")
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    write_params(root / "params.yaml", tiny_params())
    sh("git", "init", "-q", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny", cwd=root)
    return root


def test_dvc_repro_renders_and_previews_then_is_up_to_date(repo):
    sh("dvc", "repro", cwd=repo)
    assert (repo / "data/rendered/faces/render_info.json").is_file()
    preview = Image.open(repo / "data/previews/faces.png")
    assert preview.size[1] > 4 * 150
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    outs = {o["path"]: o for stage in lock["stages"].values() for o in stage.get("outs", [])}
    assert outs["data/rendered/faces"]["md5"].endswith(".dir")
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=repo)
    again = sh("dvc", "repro", cwd=repo)
    assert "didn't change, skipping" in again or "up to date" in again


def test_push_delete_pull_restores_verified_shards(repo, tmp_path_factory):
    remote = tmp_path_factory.mktemp("remote")
    sh("dvc", "remote", "modify", "--local", "local", "url", str(remote), cwd=repo)
    sh("dvc", "push", cwd=repo)
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data")
    sh("dvc", "pull", cwd=repo)
    for dataset in ("faces", "chairs"):
        assert "match the manifest" in sh("dcign", "verify", f"data/shards/{dataset}", cwd=repo)
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=repo)


def test_changing_a_face_param_reruns_render_and_preview(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["faces"]["factors"]["azimuth"]["max"] = 1.0
    write_params(repo / "params.yaml", params)
    status = sh("dvc", "status", cwd=repo)
    assert "render_faces" in status and "modified:           faces" in status
    assert "render_chairs" not in status
    assert "Running stage 'render_faces'" in sh("dvc", "repro", "--dry", cwd=repo)
    run = sh("dvc", "repro", cwd=repo)
    assert "Running stage 'render_faces'" in run and "Running stage 'preview@faces'" in run
    assert "Running stage 'shard@faces'" in run
    assert "Running stage 'render_chairs'" not in run and "Running stage 'shard@chairs'" not in run


def test_render_stages_depend_on_the_code_that_makes_pixels():
    from render.config import RENDER_CODE

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    deps = set(stages["render_faces"]["deps"]) | set(stages["render_chairs"]["deps"])
    assert {f"render/{name}" for name in RENDER_CODE} <= deps
    for stage in ("render_faces", "render_chairs"):
        assert all((REPO / dep).exists() for dep in stages[stage]["deps"])
