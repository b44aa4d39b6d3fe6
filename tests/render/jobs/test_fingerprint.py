"""The render fingerprint covers exactly what makes a dataset's pixels and labels: edits elsewhere
keep finished chunks valid, edits to the renderer, the shaders or the dataset's own package do not."""
import shutil
from pathlib import Path

import pytest

from render.faces.config import faces_config
from render.faces.source import FaceModel
from render.jobs.fingerprint import RENDER_ROOT, code_files, fingerprint
from render.schema import SCHEMAS
from tests.conftest import tiny_params

FACES = SCHEMAS["faces"]


@pytest.fixture
def tree(tmp_path) -> Path:
    """A copy of the render package to edit."""
    root = tmp_path / "render"
    shutil.copytree(RENDER_ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def faces_fingerprint(root: Path, **overrides) -> str:
    return fingerprint(FACES, faces_config(tiny_params(**overrides)), "model:abc", root)


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


@pytest.mark.parametrize("edit", [
    "jobs/executors.py",  # how chunks are scheduled
    "jobs/ray_executor.py",
    "faces/config.py",  # config parsing and its error text
    "gl/config.py",
    "chairs/source.py",  # the other dataset
    "chairs/procedural/families.py",
    "shards/writer.py",  # downstream
    "params.py",
    "schema.py",  # other entries; faces' own entry is hashed as data
])
def test_edits_that_make_no_pixels_keep_face_chunks_valid(tree, edit):
    before = faces_fingerprint(tree)
    append(tree / edit, "\n# a comment\n")
    assert faces_fingerprint(tree) == before


@pytest.mark.parametrize("edit", [
    "gl/shaders/mesh.frag",
    "gl/renderer.py",
    "gl/mesh.py",
    "source.py",
    "faces/morphable.py",
    "faces/procedural_head.py",
    "faces/sampling.py",
    "faces/source.py",
])
def test_edits_to_the_renderer_or_the_face_package_invalidate_face_chunks(tree, edit):
    before = faces_fingerprint(tree)
    append(tree / edit, "\n// a change\n" if edit.endswith(".frag") else "\n# a change\n")
    assert faces_fingerprint(tree) != before


def test_params_and_the_loaded_model_are_covered():
    base = faces_fingerprint(RENDER_ROOT)
    assert faces_fingerprint(RENDER_ROOT) == base
    assert faces_fingerprint(RENDER_ROOT, seed=99) != base
    assert faces_fingerprint(RENDER_ROOT, **{"lighting.ambient": 0.5}) != base
    assert fingerprint(FACES, faces_config(tiny_params()), "model:another", RENDER_ROOT) != base


def test_the_face_models_digest_is_what_the_fingerprint_sees(face_model):
    from dataclasses import replace

    a = FaceModel(face_model, 50, 20)
    b = FaceModel(replace(face_model, shape_std=face_model.shape_std * 1.01), 50, 20)
    assert a.digest != b.digest


def test_each_dataset_covers_its_own_package_only():
    faces = {p.relative_to(RENDER_ROOT).as_posix() for p in code_files(SCHEMAS["faces"])}
    chairs = {p.relative_to(RENDER_ROOT).as_posix() for p in code_files(SCHEMAS["chairs"])}
    assert {"gl/renderer.py", "gl/shaders/mesh.frag", "source.py", "faces/procedural_head.py"} <= faces
    assert {"gl/renderer.py", "source.py", "chairs/procedural/families.py", "chairs/cad.py"} <= chairs
    assert not any(f.startswith(("chairs/", "jobs/", "shards/")) or f.endswith("config.py") for f in faces)
    assert not any(f.startswith(("faces/", "jobs/")) for f in chairs)
