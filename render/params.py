"""Reading `params.yaml` and the validators every config section shares.

Each validator names the dotted key, what it found and what it expects, so a bad value stops
the run with one line instead of a traceback deep inside rendering or training.
"""
from __future__ import annotations

import math
from pathlib import Path

import yaml

from render.errors import UserError

SPLITS = ("train", "test")


def load_params(path: str | Path) -> dict:
    path = Path(path)
    try:
        with open(path) as f:
            params = yaml.safe_load(f)
    except FileNotFoundError:
        raise UserError(f"{path}: params file not found") from None
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(params, dict):
        raise UserError(f"{path}: expected a mapping of parameter groups at the top level")
    return params


def get(tree: dict, key: str, where: str):
    """The value at a dotted key; a missing key is a UserError naming it."""
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise UserError(f"{where}: key '{key}' is missing")
        node = node[part]
    return node


def number(tree, key, where, *, integer=False, lo=None, hi=None, lo_open=False, expect=""):
    """A number (an integer with `integer`) within [lo, hi] (or (lo, hi] with `lo_open`)."""
    value = get(tree, key, where)
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)):
        kind = "an integer" if integer else "a finite number"
        raise UserError(f"{where}: {key} = {value!r}: expected {kind}")
    bad_lo = lo is not None and (value <= lo if lo_open else value < lo)
    bad_hi = hi is not None and value > hi
    if bad_lo or bad_hi:
        if not expect:
            lo_s = "" if lo is None else (f"> {lo}" if lo_open else f">= {lo}")
            hi_s = "" if hi is None else f"<= {hi}"
            expect = " and ".join(s for s in (lo_s, hi_s) if s)
        raise UserError(f"{where}: {key} = {value!r}: expected {expect}")
    return value


def choice(tree, key, where, options):
    """One of a fixed set of values."""
    value = get(tree, key, where)
    if value not in options:
        raise UserError(f"{where}: {key} = {value!r}: expected one of {', '.join(map(str, options))}")
    return value
