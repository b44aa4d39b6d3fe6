"""Reading `params.yaml` and the validators every config section shares.

Each validator names the dotted key, what it found and what it expects, so a bad value stops
the run with one line instead of a traceback deep inside rendering or training.
"""
from __future__ import annotations

import difflib
import math
from pathlib import Path

import yaml

from render.errors import UserError
from render.schema import SCHEMAS

SPLITS = ("train", "test")
# The top level of params.yaml besides one section per dataset of the schema; each section's own
# keys are checked where it is validated (`evaluate` is read by dvc.yaml alone, so here).
SECTIONS = {"render": None, "shards": None, "evaluate": {"preset": None}, "train": None}


class DuplicateKey(yaml.YAMLError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping: YAML would silently keep the last."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                twice = key in seen
            except TypeError:  # an unhashable key: the base class reports it
                break
            if twice:
                raise DuplicateKey(f"line {key_node.start_mark.line + 1}: key {key!r} is given twice")
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_params(path: str | Path) -> dict:
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            params = yaml.load(f, Loader=_StrictLoader)
    except FileNotFoundError:
        raise UserError(f"{path}: params file not found") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory; expected a params YAML file") from None
    except PermissionError:
        raise UserError(f"{path}: permission denied reading the params file") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.start}); expected a params YAML file") from None
    except DuplicateKey as e:
        raise UserError(f"{path}: {e}; expected each key once") from None
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(params, dict):
        raise UserError(f"{path}: expected a mapping of parameter groups at the top level")
    check_keys(params, "", {**dict.fromkeys(SCHEMAS), **SECTIONS}, str(path))
    return params


def leaves(*names) -> dict:
    """A shape for `check_keys` whose keys hold plain values (or mappings their validator checks)."""
    return dict.fromkeys(names)


def check_keys(node, prefix: str, shape: dict, where: str) -> None:
    """Every key of the mapping `node` (at dotted `prefix`) must be one of `shape` (key -> None for
    a value, or the nested shape of a mapping): a misspelt key would otherwise be ignored and its
    default silently kept. Values of the wrong type are left to the validators."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in shape:
            close = difflib.get_close_matches(str(key), [str(k) for k in shape], n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UserError(f"{where}: unknown key {dotted}: {hint}expected one of {', '.join(map(str, shape))}")
        if shape[key] is not None:
            check_keys(value, dotted, shape[key], where)


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
