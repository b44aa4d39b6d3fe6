"""Real CAD chairs from a user's folder (`chairs.source: /path`), as an alternative to the
procedural chairs.

Discovery (`find_chairs`) walks the folder in sorted order and recognises, per directory:

* ShapeNetCore v2 model directory: a directory below the root holding
  ``models/model_normalized.obj``. One chair; its id is the directory's path relative to the root
  (``<synset>/<model_id>``, or ``<model_id>`` when the root is a synset directory). Nothing
  below it is searched further.
* ShapeNetCore v1 model directory: a directory below the root holding ``model.obj``. Same as v2.
* Part folder: a directory strictly below the root that is not a ShapeNet model directory,
  whose subdirectories hold no mesh files at all (a leaf, as far as meshes go), and that
  directly holds two or more mesh files which are ALL ``.obj``. It is ONE chair merging all its
  parts; its id is the directory's relative path.
* Everything else: every mesh file (``.obj .glb .gltf .ply .stl .off``, any letter case) is one
  chair; its id is the file's relative path. This covers ModelNet (``chair/train/chair_0001.off``:
  .off files are never merged), plain folders of files, and mesh files lying directly in the
  root (the root itself is never a part folder, so ``root/*.obj`` are separate chairs).

So, in short: files in the root are separate chairs; a leaf folder below the root with several
OBJs (and only OBJs) is one chair made of parts; put separate OBJ chairs either in the root or
mixed with other formats/subfolders if they must live in a subfolder. Hidden files and
directories (name starting with '.') are ignored. Ids are relative POSIX paths, and the result is
sorted by id, so it never depends on the file system's listing order. What discovery cannot use is
reported, never dropped silently: a symlink loop (or a folder reached twice through symlinks), a
dangling symlink, an unreadable folder, a folder below the root with no mesh file in it (a part
chair whose files are gone).

Loading (`load_chair`) reads every file of a chair (trimesh as a scene, so multi-object OBJs,
glTF scenes and parts all merge; .off is parsed here, tolerating ModelNet's ``OFF6586 5534 0``
header), rotates the model so `up` becomes +Y and `front` becomes +Z (a proper rotation, so
outward winding stays outward), centres the bounding box at the origin and scales its largest
extent to 1. Albedo is per-vertex gray from vertex/face/material colours, else 0.7. Anything wrong
with a file raises `BrokenMesh` with a one-line reason.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from render.errors import UserError
from render.gl.mesh import AlbedoMesh

MESH_EXTENSIONS = (".obj", ".glb", ".gltf", ".ply", ".stl", ".off")
DEFAULT_GRAY = 0.7
_LUMA = np.array([0.21, 0.72, 0.07])
_AXES = {
    "+x": (0, 1.0), "-x": (0, -1.0),
    "+y": (1, 1.0), "-y": (1, -1.0),
    "+z": (2, 1.0), "-z": (2, -1.0),
}
_LAYOUTS = (
    "ShapeNetCore v2 (<synset>/<model_id>/models/model_normalized.obj)",
    "ShapeNetCore v1 (<synset>/<model_id>/model.obj)",
    "ModelNet (.off files anywhere below)",
    "plain folders of .obj/.glb/.gltf/.ply/.stl/.off files (one chair per file)",
    "leaf subfolders of two or more part .obj files (one chair per subfolder)",
)


class BrokenMesh(Exception):
    """A chair file that cannot be used; the message is a short one-line reason."""


@dataclass(frozen=True)
class ChairSource:
    """One chair: its id (a relative POSIX path) and its files (relative to the root), merged."""

    chair_id: str
    files: tuple[str, ...]


# --------------------------------------------------------------------------- discovery


def _is_mesh_file(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(MESH_EXTENSIONS)


def _shapenet_model_file(directory: Path) -> str | None:
    """The ShapeNet model file inside `directory`, relative to it, or None."""
    v2 = directory / "models" / "model_normalized.obj"
    if v2.is_file():
        return "models/model_normalized.obj"
    if (directory / "model.obj").is_file():
        return "model.obj"
    return None


def _scan(directory: Path, root: Path, visited: set[str], problems: list) -> tuple[list[str], list[Path]] | None:
    """Sorted mesh file names and sorted visible subdirectories of `directory`; None (and a
    problem) for a folder already walked (a symlink loop) or unreadable."""
    rel = directory.relative_to(root).as_posix()
    real = os.path.realpath(directory)
    if real in visited:
        problems.append(_problem(rel, "a symlink loop, or a folder reached twice through symlinks"))
        return None
    visited.add(real)
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as e:
        problems.append(_problem(rel, f"unreadable folder ({e.strerror})"))
        return None
    files, dirs = [], []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        name = Path(entry.path).relative_to(root).as_posix()
        try:
            if entry.is_symlink() and not os.path.exists(entry.path):
                problems.append(_problem(name, f"dangling symlink to {os.readlink(entry.path)}"))
            elif entry.is_dir():
                dirs.append(Path(entry.path))
            elif entry.is_file() and _is_mesh_file(entry.name):
                files.append(entry.name)
        except OSError as e:
            problems.append(_problem(name, f"unreadable ({e.strerror})"))
    return files, dirs


def _problem(chair_id: str, reason: str) -> dict:
    return {"chair_id": chair_id, "files": [], "reason": reason}


def _walk(directory: Path, root: Path, visited: set[str], out: list[ChairSource], problems: list) -> bool:
    """Collect the chairs below `directory` into `out` (and what cannot be used into `problems`);
    True when any mesh file lies below it."""
    rel = directory.relative_to(root).as_posix()
    if directory != root:
        model = _shapenet_model_file(directory)
        if model is not None:
            out.append(ChairSource(rel, (f"{rel}/{model}",)))
            return True
    scanned = _scan(directory, root, visited, problems)
    if scanned is None:
        return False
    files, dirs = scanned
    found_below = False
    for sub in dirs:
        found_below |= _walk(sub, root, visited, out, problems)
    if directory != root and not dirs and not files:
        problems.append(_problem(rel, "no mesh file in this folder"))
    prefix = "" if directory == root else rel + "/"
    is_part_folder = (directory != root and not found_below and len(files) >= 2
                      and all(f.lower().endswith(".obj") for f in files))
    if is_part_folder:
        out.append(ChairSource(rel, tuple(prefix + f for f in files)))
    else:
        out.extend(ChairSource(prefix + f, (prefix + f,)) for f in files)
    return found_below or bool(files)


def find_chairs(root, problems: list | None = None) -> list[ChairSource]:
    """All chairs under `root` (see the module docstring for the layouts), sorted by chair_id;
    what cannot be used goes to `problems` ({chair_id, files, reason}), sorted by chair_id."""
    root_path = Path(root).expanduser()
    if not root_path.is_dir():
        raise UserError(f"chairs.source: '{root}' is not a directory")
    out: list[ChairSource] = []
    found: list = []
    _walk(root_path, root_path, set(), out, found)
    if problems is not None:
        problems.extend(sorted(found, key=lambda p: p["chair_id"]))
    if not out:
        raise UserError(f"chairs.source: no chair meshes found in '{root}'; supported layouts: "
                        + "; ".join(_LAYOUTS))
    return sorted(out, key=lambda c: c.chair_id)


# --------------------------------------------------------------------------- axes


def _axis(value: str, key: str) -> np.ndarray:
    name = str(value).strip().lower()
    if name in ("x", "y", "z"):
        name = "+" + name
    if name not in _AXES:
        raise UserError(f"{key}: '{value}' is not an axis; use one of +x, -x, +y, -y, +z, -z")
    index, sign = _AXES[name]
    vec = np.zeros(3)
    vec[index] = sign
    return vec


def axis_rotation(up: str = "+y", front: str = "-z") -> np.ndarray:
    """The proper rotation (det +1) taking `up` to +Y and `front` to +Z."""
    u = _axis(up, "chairs.up_axis")
    f = _axis(front, "chairs.front_axis")
    if abs(float(np.dot(u, f))) > 0.5:
        raise UserError(f"chairs.up_axis ('{up}') and chairs.front_axis ('{front}') are parallel; "
                        "they must be different axes")
    right = np.cross(u, f)  # becomes +X, since X = Y x Z
    return np.stack([right, u, f])


# --------------------------------------------------------------------------- reading


def _gray(rgb: np.ndarray) -> np.ndarray:
    """(N, >=3) colours in [0, 1] -> (N,) luminance."""
    return np.clip(np.asarray(rgb, dtype=np.float64)[:, :3] @ _LUMA, 0.0, 1.0)


def _parse_off(path: Path, max_faces: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Vertices, fan-triangulated faces and gray (or None) of an OFF/COFF file."""
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise BrokenMesh(f"unreadable {path.name}: not a text OFF file") from None
    lines = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    if not lines:
        raise BrokenMesh(f"unreadable {path.name}: empty file")
    head = lines[0]
    upper = head.upper()
    if upper.startswith("COFF"):
        coloured, rest = True, head[4:]
    elif upper.startswith("OFF"):
        coloured, rest = False, head[3:]
    else:
        raise BrokenMesh(f"unreadable {path.name}: no OFF header")
    body = 1
    counts = rest.split()
    if not counts:
        if len(lines) < 2:
            raise BrokenMesh(f"unreadable {path.name}: missing OFF counts")
        counts = lines[1].split()
        body = 2
    try:
        n_vertices, n_faces = int(counts[0]), int(counts[1])
    except (ValueError, IndexError):
        raise BrokenMesh(f"unreadable {path.name}: bad OFF counts '{' '.join(counts)}'") from None
    if n_vertices < 0 or n_faces < 0:
        raise BrokenMesh(f"unreadable {path.name}: negative OFF counts")
    if n_faces > max_faces:
        raise BrokenMesh(f"too many faces: found {n_faces}, limit {max_faces}")
    if len(lines) < body + n_vertices + n_faces:
        raise BrokenMesh(f"unreadable {path.name}: truncated (header says {n_vertices} vertices, "
                         f"{n_faces} faces)")
    vertex_rows = [line.split() for line in lines[body:body + n_vertices]]
    try:
        vertices = np.array([row[:3] for row in vertex_rows], dtype=np.float64).reshape(-1, 3)
    except ValueError:
        raise BrokenMesh(f"unreadable {path.name}: bad vertex line") from None
    gray = None
    if coloured and n_vertices:
        try:
            rgb = np.array([row[3:6] for row in vertex_rows], dtype=np.float64).reshape(-1, 3)
        except ValueError:
            raise BrokenMesh(f"unreadable {path.name}: bad vertex colour") from None
        gray = _gray(rgb / 255.0 if rgb.max(initial=0.0) > 1.0 else rgb)
    triangles = []
    for line in lines[body + n_vertices:body + n_vertices + n_faces]:
        tokens = line.split()
        try:
            n = int(tokens[0])
            ids = [int(t) for t in tokens[1:1 + n]]
        except (ValueError, IndexError):
            raise BrokenMesh(f"unreadable {path.name}: bad face line") from None
        if len(ids) != n:
            raise BrokenMesh(f"unreadable {path.name}: short face line")
        for k in range(1, n - 1):  # fan; polygons with < 3 corners add nothing
            triangles.append((ids[0], ids[k], ids[k + 1]))
    faces = np.array(triangles, dtype=np.int64).reshape(-1, 3)
    if faces.size and (faces.min() < 0 or faces.max() >= n_vertices):
        raise BrokenMesh(f"unreadable {path.name}: face index out of range")
    return vertices, faces, gray


def _geometry_gray(geom) -> np.ndarray | None:
    """Per-vertex gray of a trimesh geometry's colours or material, or None when it has none."""
    visual = getattr(geom, "visual", None)
    kind = getattr(visual, "kind", None)
    if kind in ("vertex", "face"):
        return _gray(np.asarray(visual.vertex_colors, dtype=np.float64) / 255.0)
    if kind == "texture":
        material = getattr(visual, "material", None)
        color = getattr(material, "main_color", None) if material is not None else None
        if color is not None:
            rgba = np.asarray(color, dtype=np.float64).reshape(-1)
            if rgba.size >= 3:
                scale = 255.0 if rgba.dtype.kind in "ui" or rgba[:3].max() > 1.0 else 1.0
                value = float(_gray(rgba[None, :3] / scale)[0])
                return np.full(len(geom.vertices), value)
    return None


def _read_trimesh(path: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    import trimesh

    try:
        scene = trimesh.load(str(path), force="scene", process=False)
    except Exception as exc:  # noqa: BLE001 - any loader failure is a broken file
        raise BrokenMesh(f"unreadable {path.name}: {_one_line(exc)}") from None
    parts = []
    for node in scene.graph.nodes_geometry:
        transform, name = scene.graph[node]
        geom = scene.geometry.get(name)
        if geom is None or not hasattr(geom, "faces") or len(geom.faces) == 0:
            continue
        vertices = np.asarray(geom.vertices, dtype=np.float64)
        faces = np.asarray(geom.faces, dtype=np.int64).reshape(-1, 3)
        matrix = np.asarray(transform, dtype=np.float64)
        vertices = vertices @ matrix[:3, :3].T + matrix[:3, 3]
        if np.linalg.det(matrix[:3, :3]) < 0:  # a mirroring node flips the winding
            faces = faces[:, ::-1]
        parts.append((vertices, faces, _geometry_gray(geom)))
    return parts


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


def _face_count(path: Path) -> int | None:
    """The number of faces a file declares or holds, read without parsing it as a mesh (a quick pass
    over the bytes), or None where the format does not tell (glTF): a file with millions of faces is
    refused before a parser spends a gigabyte on it. An OBJ polygon counts once, fewer than the
    triangles it becomes, so a count over the limit is over it after triangulation too."""
    suffix = path.suffix.lower()
    if suffix == ".ply":
        with open(path, "rb") as f:
            for raw in iter(f.readline, b""):
                words = raw.split()
                if words[:2] == [b"element", b"face"] and len(words) == 3 and words[2].isdigit():
                    return int(words[2])
                if words[:1] == [b"end_header"] or f.tell() > 1 << 16:
                    return None
        return None
    if suffix == ".stl":
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(84)
        if len(head) == 84 and size == 84 + 50 * int.from_bytes(head[80:84], "little"):
            return int.from_bytes(head[80:84], "little")
        return _count_bytes(path, b"endfacet")
    if suffix == ".obj":
        with open(path, "rb") as f:
            first = f.read(2)
        return _count_bytes(path, b"\nf ") + (first == b"f ")
    return None


def _count_bytes(path: Path, needle: bytes, block: int = 1 << 24) -> int:
    """Occurrences of `needle` in a file read in blocks (the last bytes of a block, too short to
    hold a whole needle, are carried into the next, so none is split or counted twice)."""
    count, tail = 0, b""
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            data = tail + chunk
            count += data.count(needle)
            tail = data[-(len(needle) - 1):]
    return count


def _read_parts(source: ChairSource, root: Path, max_faces: int):
    parts = []
    for rel in source.files:
        path = root / rel
        if not path.is_file():
            raise BrokenMesh(f"missing file {rel}")
        if path.suffix.lower() == ".off":
            parts.append(_parse_off(path, max_faces))
            continue
        declared = _face_count(path)
        if declared is not None and declared > max_faces:
            raise BrokenMesh(f"too many faces: found {declared}, limit {max_faces}")
        parts.extend(_read_trimesh(path))
    return parts


# --------------------------------------------------------------------------- loading


def load_chair(source: ChairSource, root, up: str = "+y", front: str = "-z",
               max_faces: int = 200000) -> AlbedoMesh:
    """One chair as an AlbedoMesh: up is +Y, front is +Z, bbox centred, largest extent 1.

    Raises BrokenMesh (one-line reason) for unusable files, UserError for bad axis params."""
    rotation = axis_rotation(up, front)  # UserError, not BrokenMesh: it is the params' fault
    try:
        return _load(source, Path(root), rotation, max_faces)
    except BrokenMesh:
        raise
    except Exception as exc:  # noqa: BLE001 - never let a bad file crash with anything else
        raise BrokenMesh(f"unreadable {source.chair_id}: {_one_line(exc)}") from None


def _load(source: ChairSource, root: Path, rotation: np.ndarray, max_faces: int) -> AlbedoMesh:
    parts = _read_parts(source, root, max_faces)
    vertex_list, face_list, gray_list = [], [], []
    offset = 0
    for vertices, faces, gray in parts:
        vertex_list.append(vertices)
        face_list.append(faces + offset)
        gray_list.append(np.full(len(vertices), DEFAULT_GRAY) if gray is None else gray)
        offset += len(vertices)
    faces = np.concatenate(face_list) if face_list else np.zeros((0, 3), np.int64)
    if len(faces) == 0:
        raise BrokenMesh("empty: no faces")
    if len(faces) > max_faces:
        raise BrokenMesh(f"too many faces: found {len(faces)}, limit {max_faces}")
    vertices = np.concatenate(vertex_list)
    gray = np.concatenate(gray_list)
    if not np.all(np.isfinite(vertices)):
        raise BrokenMesh("NaN/inf vertex coordinates")

    # keep only referenced vertices, so stray points do not stretch the bounding box
    used = np.unique(faces)
    remap = np.full(len(vertices), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    vertices, gray, faces = vertices[used], gray[used], remap[faces]

    vertices = vertices @ rotation.T
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    extent = hi - lo
    size = float(extent.max())
    if not size > 0 or float(extent.min()) <= 1e-6 * size:
        raise BrokenMesh("degenerate: flat or zero-extent bounding box")
    vertices = (vertices - (lo + hi) / 2.0) / size

    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    if float(area.sum()) <= 1e-10:
        raise BrokenMesh("degenerate: total surface area is ~0")
    keep = area > 1e-14
    if not keep.any():
        raise BrokenMesh("degenerate: all faces have zero area")
    faces = faces[keep]

    albedo = np.repeat(np.clip(gray, 0.0, 1.0)[:, None], 3, axis=1)
    return AlbedoMesh(
        vertices=np.ascontiguousarray(vertices, dtype=np.float32),
        albedo=np.ascontiguousarray(albedo, dtype=np.float32),
        triangles=np.ascontiguousarray(faces, dtype=np.int32),
    )
