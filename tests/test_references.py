"""Every file path and every module a docstring, comment or README names exists in this repository."""
import importlib
import importlib.util
import re

import pytest

from tests.conftest import REPO

SOURCES = sorted(p for d in ("render", "train", "pipelines") for p in (REPO / d).rglob("*")
                 if p.suffix in (".py", ".md", ".sh") and "__pycache__" not in p.parts) + [REPO / "README.md"]
PATH = re.compile(r"(?<![\w./-])((?:render|train|pipelines|tests)/[\w./-]*(?:\.[a-z]+|/))(?![\w-])")
DOTTED = re.compile(r"(?<![\w.])((?:render|train|pipelines)(?:\.[A-Za-z_]\w*){2,})")


def is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def resolves(dotted: str) -> bool:
    """A module, or attributes of the longest module prefix."""
    parts = dotted.split(".")
    for k in range(len(parts), 1, -1):
        if is_module(".".join(parts[:k])):
            obj = importlib.import_module(".".join(parts[:k]))
            for attr in parts[k:]:
                if not hasattr(obj, attr):
                    return False
                obj = getattr(obj, attr)
            return True
    return not is_module(".".join(parts[:2]))  # `train.<model>.<key>`: a params key, not code


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_named_paths_and_modules_exist(source):
    text = source.read_text()
    missing = [m for m in PATH.findall(text) if "<" not in m and not (REPO / m.rstrip("/.")).exists()]
    missing += [m for m in DOTTED.findall(text) if not resolves(m.rstrip("."))]
    assert not missing, f"{source.relative_to(REPO)} names what does not exist: {sorted(set(missing))}"
