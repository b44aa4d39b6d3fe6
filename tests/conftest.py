"""Shared fixtures: tiny profiles derived from the repository's own params.yaml."""
from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def cuda(test):
    """A test that needs an NVIDIA GPU: skipped without one; `pytest -m cuda` runs only these
    (pipelines/gpu_check.sh)."""
    import torch

    return pytest.mark.cuda(pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")(test))
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
# The stamps of shard directories whose contents were checked (render/shards/reader.py) go to a
# cache of the test session's own, for this process and the processes it starts, removed at exit.
# A worker process that imports this module (a test's render worker) inherits the session's.
if "DCIGN_TEST_CACHE" not in os.environ:
    os.environ["DCIGN_TEST_CACHE"] = tempfile.mkdtemp(prefix="dcign-test-cache-")
    atexit.register(shutil.rmtree, os.environ["DCIGN_TEST_CACHE"], ignore_errors=True)
os.environ["XDG_CACHE_HOME"] = os.environ["DCIGN_TEST_CACHE"]


def tiny_params(**faces_overrides) -> dict:
    """The default params with a handful of small batches of faces and chairs: fast, but the real
    renderer, face model and chair generator."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    faces = params["faces"]
    faces.update(
        batch_size=4,
        identities={"train": 12, "test": 6},
        batches={
            "train": {"azimuth": 2, "elevation": 1, "light": 1, "intrinsic": 2},
            "test": {"azimuth": 1, "elevation": 1, "light": 1, "intrinsic": 1},
        },
        chunk_batches=1,
    )
    params["chairs"].update(
        batch_size=4,
        count={"train": 8, "test": 4},
        batches={"train": {"azimuth": 2, "intrinsic": 1}, "test": {"azimuth": 1, "intrinsic": 1}},
        chunk_batches=1,
    )
    params["chairs"]["views"]["azimuths"] = 8
    for key, value in faces_overrides.items():
        set_dotted(faces, key, value)
    return params


def tiny_pipeline_params() -> dict:
    """The tiny profile for the whole DVC pipeline: tiny data and tiny, quick models."""
    params = tiny_params()
    for section in params["train"].values():
        section.update(feature_maps=4, latent_dim=8, steps=6, checkpoint_every=3, log_every=2, device="cpu")
    return params


def set_dotted(tree: dict, key: str, value) -> None:
    """tree['a']['b'] = value for key 'a.b'."""
    *path, last = key.split(".")
    for part in path:
        tree = tree[part]
    tree[last] = value


def write_params(path: Path, params: dict) -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def run_dcign(*args, cwd=None, env=None, check=False) -> subprocess.CompletedProcess:
    """Run the real console entry point in a fresh process, as a user would."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"dcign {' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def tree_digest(root: Path) -> dict:
    """Relative path -> sha256 of every file under root."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def rendered_faces(tmp_path_factory) -> Path:
    """The tiny faces dataset rendered with 2 workers by the real CLI (read-only for tests)."""
    root = tmp_path_factory.mktemp("rendered-faces")
    params = write_params(root / "params.yaml", tiny_params())
    run_dcign("render", "faces", "--params", params, "--out", root / "out", "--workers", 2, check=True)
    return root / "out"


@pytest.fixture(scope="session")
def face_model():
    from render.faces.procedural_head import build_procedural_head

    return build_procedural_head()


# -- training: tiny shards and tiny models (tests/train/) -----------------------------------------


def tiny_train(**overrides) -> dict:
    """The tiny params with dcign_faces small and quick on the CPU, then `overrides` on it."""
    params = tiny_params()
    section = params["train"]["dcign_faces"]
    section.update(feature_maps=4, latent_dim=8, steps=8, checkpoint_every=2, log_every=2, device="cpu")
    section.update(overrides)
    return params


def train_tiny(tmp_path: Path, shards: Path, out: Path, *extra, env=None, **overrides) -> subprocess.CompletedProcess:
    """`dcign train --config dcign_faces` of tiny_train(**overrides), one thread per process."""
    params = write_params(tmp_path / f"params-{out.name}.yaml", tiny_train(**overrides))
    return run_dcign("train", "--data", shards, "--config", "dcign_faces", "--out", out, "--params", params, *extra,
                     env={"OMP_NUM_THREADS": "1", **(env or {})})


@pytest.fixture(scope="session")
def shards(rendered_faces, tmp_path_factory) -> Path:
    """The tiny faces dataset as shards, by the real CLI (read-only for tests)."""
    root = tmp_path_factory.mktemp("shards-faces")
    params = write_params(root / "params.yaml", tiny_params())
    run_dcign("shard", "--in", rendered_faces, "--out", root / "shards", "--params", params, check=True)
    return root / "shards"


@pytest.fixture(scope="session")
def chair_shards(tmp_path_factory) -> Path:
    """The tiny chairs dataset, rendered and sharded by the real CLI (read-only for tests)."""
    root = tmp_path_factory.mktemp("shards-chairs")
    params = write_params(root / "params.yaml", tiny_params())
    run_dcign("render", "chairs", "--params", params, "--out", root / "rendered", "--workers", 1, check=True)
    run_dcign("shard", "--in", root / "rendered", "--out", root / "shards", "--params", params, check=True)
    return root / "shards"


@pytest.fixture
def small_disk(tmp_path):
    """A real small disk that fills up: a tmpfs of the given size, unmounted after the test (mounting
    needs root; without it the test is skipped with the reason)."""
    mounts = []

    def make(size: str) -> Path:
        mount = tmp_path / f"disk-{len(mounts)}"
        mount.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip() or 'mount failed'})")
        mounts.append(mount)
        return mount

    yield make
    for mount in mounts:
        subprocess.run(["umount", str(mount)], check=False)
