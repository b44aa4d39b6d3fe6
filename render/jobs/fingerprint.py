"""The render fingerprint: a hash of exactly what makes a dataset's pixels and labels.

It covers the dataset's params, its schema entry, the code of the OpenGL renderer
(`render/gl/`, shaders included) and of the batch loop (`render/source.py`), the code of the
dataset's own package (its model or generator and its sampling), what the package loaded (the
face model's digest, a chair folder's listing) and the chunk format version. It leaves out every
`config.py` (parsing and error text; the values it produces are hashed as params), the executors,
the other datasets and everything downstream. Chunks carry it so that a resumed render never keeps
a stale file; shards leave it out, so a code change that makes the same pixels gives the same shards.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import asdict
from pathlib import Path

from render.chunks import FORMAT_VERSION
from render.schema import DatasetSchema

RENDER_ROOT = Path(__file__).resolve().parents[1]
# Shared by every dataset: the renderer package and the loop that feeds it.
PIXEL_CODE = ("gl", "source.py")
# Parsing modules: their values enter the fingerprint as params, their text does not.
NOT_PIXELS = ("config.py",)


def package_path(schema: DatasetSchema, root: Path = RENDER_ROOT) -> Path:
    """The folder (or module file) of the dataset's package; under `root` when it lives in render/."""
    origin = Path(importlib.util.find_spec(schema.package).origin)
    path = origin.parent if origin.name == "__init__.py" else origin
    return root / path.relative_to(RENDER_ROOT) if RENDER_ROOT in path.parents else path


def code_files(schema: DatasetSchema, root: Path = RENDER_ROOT) -> list[Path]:
    """The source files that decide a dataset's pixels, in a fixed order."""
    files = []
    for path in (*(root / entry for entry in PIXEL_CODE), package_path(schema, root)):
        found = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        files += [p for p in found if p.name not in NOT_PIXELS and "__pycache__" not in p.parts]
    return files


def code_digest(schema: DatasetSchema, root: Path = RENDER_ROOT) -> str:
    digest = hashlib.sha256()
    for path in code_files(schema, root):
        name = path.relative_to(root) if root in path.parents else path.name
        digest.update(str(name).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def fingerprint(schema: DatasetSchema, cfg, loaded: str, root: Path = RENDER_ROOT) -> str:
    """`loaded`: the digest of what the dataset package loaded (render.source.Prepared.digest)."""
    payload = asdict(cfg)
    payload.pop("base_dir")
    payload.update(_schema=schema.as_dict(), _code=code_digest(schema, root), _loaded=loaded,
                   _format=FORMAT_VERSION)
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
