"""The dependency locks (pipelines/locks/): every requirement of setup.cfg is pinned with hashes in
both, the CPU lock takes torch's CPU build and the CUDA lock PyPI's, and the environment the tests
run in is exactly the lock's (what pipelines/run.sh installed)."""
import configparser
import re
import sys
from importlib import metadata

import pytest

from tests.conftest import REPO

LOCKS = REPO / "pipelines" / "locks"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict:
    """name -> version of every package in a lock, each checked to carry at least one sha256."""
    lines = (LOCKS / lock).read_text().splitlines()
    found = {}
    for k, line in enumerate(lines):
        match = PIN.match(line)
        if match:
            assert lines[k + 1].strip().startswith("--hash=sha256:"), f"{lock}: {match[1]} has no hash"
            found[canonical(match[1])] = match[2]
    return found


def required() -> set:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    lines = cfg["options"]["install_requires"].split() + cfg["options.extras_require"]["test"].split() \
        + cfg["options.extras_require"]["ray"].split()
    return {canonical(re.split(r"[<>=!~\[ ;]", line)[0]) for line in lines if line and not line.startswith("#")}


@pytest.mark.parametrize("lock, torch", [("cpu.txt", "2.13.0+cpu"), ("cuda.txt", "2.13.0")])
def test_every_requirement_is_pinned_with_hashes(lock, torch):
    locked = pins(lock)
    assert required() <= set(locked), f"{lock} lacks {sorted(required() - set(locked))}"
    assert locked["torch"] == torch
    assert ("nvidia-cublas" in locked) == (lock == "cuda.txt")  # the CUDA libraries come with PyPI's torch only
    assert pins("uv.txt").keys() == {"uv"}


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the locks are for CPython 3.11; the set-up "
                    "installs unlocked versions under another Python and says so")
def test_the_environment_is_the_lock():
    lock = "cuda.txt" if metadata.version("torch").split("+")[0] == metadata.version("torch") else "cpu.txt"
    locked = pins(lock)
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    differ = {name: (version, installed.get(name)) for name, version in locked.items()
              if installed.get(name) != version}
    assert not differ, f"installed packages differ from {lock}: {differ}"
