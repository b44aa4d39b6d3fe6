"""A model directory: atomic checkpoints, the identity of the run that wrote them, resuming only
that very run, and loading the trained model (safetensors: nothing is unpickled from weights).

A checkpoint `ckpt-<step>/` holds the weights (model.safetensors), the optimiser state, the step
and the state of every batch stream (state.safetensors: the optimiser's tensors, the
reparametrisation noise and the torch CPU generator; state.json: the step and the optimiser's
other values; rng.json: batch choice), the config and run.json; `done` marks it complete.

Nothing is pickled: torch.save stamps every file with a random serialization id and lays out its
pickle by object identity, so a resumed run would write other bytes than an uninterrupted one
(and DVC another md5). Safetensors and sorted JSON are the same bytes for the same state.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

from render.errors import UserError
from render.shards.reader import sha256
from train.config import TrainConfig
from train.model import DCIGN, ModelConfig

CHECKPOINT_PREFIX = "ckpt-"
KEEP_CHECKPOINTS = 2
# Keys that change how steps are scheduled or computed, not what they compute (device and precision
# change rounding only): a checkpoint written under other values of these still continues the same
# run (so raising `steps` extends a finished run, and a run moves between machines). Under a cosine
# learning-rate schedule every step's rate depends on `steps`, so there it is part of the run.
SCHEDULE_KEYS = ("steps", "checkpoint_every", "log_every", "device", "precision", "data_on", "compile")


# Weights saved before each decoder upsample + convolution pair became one UpConv layer name those
# convolutions by their old places in the decoder; the parameters themselves are the same.
_PAIRED_DECODER = {"decoder.4.": "decoder.3.", "decoder.7.": "decoder.5.", "decoder.10.": "decoder.7.",
                   "decoder.13.": "decoder.9."}


def current_names(weights: dict) -> dict:
    """Saved weights under the network's current parameter names."""
    if "decoder.13.weight" not in weights:
        return weights
    renamed = {}
    for key, value in weights.items():
        old = next((o for o in _PAIRED_DECODER if key.startswith(o)), None)
        renamed[_PAIRED_DECODER[old] + key[len(old):] if old else key] = value
    return renamed


def save_tensors(tensors: dict, path: Path) -> None:
    """safetensors' save_file, whose I/O failures (a full disk) become the OSError they are."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        save_file(tensors, str(path))
    except SafetensorError as e:
        path.unlink(missing_ok=True)
        full = "os error 28" in str(e)
        raise OSError(errno.ENOSPC if full else errno.EIO, "No space left on device" if full else str(e),
                      str(path)) from None


def _weights(model: DCIGN) -> dict:
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def _state_files(step: int, optimizer, noises: list) -> tuple[dict, dict]:
    """The resumable state as (tensors for state.safetensors, values for state.json)."""
    saved = optimizer.state_dict()
    tensors, other = {}, {}
    for index, entries in saved["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                other.setdefault(str(index), {})[key] = value
    tensors.update({f"noise.{k}": state for k, state in enumerate(noises)})
    tensors["torch_cpu"] = torch.get_rng_state()
    return tensors, {"step": step, "noise_streams": len(noises), "param_groups": saved["param_groups"],
                     "optimizer_state": other}


def _read_state(path: Path, device: torch.device) -> dict:
    """state.safetensors + state.json as {"optimizer", "step", "noise", "torch_cpu"}; checkpoints
    written before that format hold the same in state.pt (read without unpickling objects)."""
    from safetensors.torch import load_file

    if not (path / "state.safetensors").exists() and (path / "state.pt").exists():
        return torch.load(path / "state.pt", weights_only=True, map_location=device)
    tensors = load_file(str(path / "state.safetensors"))
    meta = json.loads((path / "state.json").read_text())
    state: dict = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, entries in meta["optimizer_state"].items():
        state.setdefault(int(index), {}).update(entries)
    return {"optimizer": {"state": state, "param_groups": meta["param_groups"]}, "step": meta["step"],
            "noise": [tensors[f"noise.{k}"] for k in range(meta["noise_streams"])], "torch_cpu": tensors["torch_cpu"]}


class RunDir:
    """The output directory of one training run (`cfg` on the shards at `data`)."""

    def __init__(self, out: Path, cfg: TrainConfig, data: Path):
        self.out, self.cfg = Path(out), cfg
        self.data_digest = hashlib.sha256((Path(data) / "manifest.json").read_bytes()).hexdigest()

    def identity(self) -> dict:
        """What makes two runs the same run: the config but its schedule keys, and the data."""
        free = SCHEDULE_KEYS if self.cfg.lr_schedule == "constant" else tuple(k for k in SCHEDULE_KEYS if k != "steps")
        cfg = {k: v for k, v in self.cfg.as_dict().items() if k not in free}
        return {"config": json.loads(json.dumps(cfg)), "data_manifest_sha256": self.data_digest}

    def checkpoints(self) -> list[Path]:
        return sorted(p for p in self.out.glob(f"{CHECKPOINT_PREFIX}*") if (p / "done").exists())

    def save(self, step: int, model: DCIGN, optimizer, rngs: list, noises: list) -> None:
        """Write into a temp directory, then rename: a kill leaves the previous checkpoint whole.
        `rngs` and `noises` are the states of every stream of the run, in stream order."""
        final = self.out / f"{CHECKPOINT_PREFIX}{step:08d}"
        tmp = self.out / f".tmp-{final.name}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_tensors(_weights(model), tmp / "model.safetensors")
        tensors, values = _state_files(step, optimizer, noises)
        save_tensors(tensors, tmp / "state.safetensors")
        (tmp / "state.json").write_text(json.dumps(values, sort_keys=True))
        (tmp / "rng.json").write_text(json.dumps(rngs))
        (tmp / "config.json").write_text(json.dumps(self.cfg.as_dict(), sort_keys=True))
        (tmp / "run.json").write_text(json.dumps(self.identity(), sort_keys=True))
        sums = {p.name: sha256(p) for p in sorted(tmp.iterdir())}
        (tmp / "done").write_text(json.dumps(sums, sort_keys=True))
        os.replace(tmp, final)
        for old in self.checkpoints()[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old)

    def resumable(self, restart_if_changed: bool = False) -> list[Path]:
        """Finished checkpoints of this very run (same config and data) at or before `steps`.
        Checkpoints of a different run (another config or other data) stop with an error naming the
        difference, or with `restart_if_changed` (the DVC stage: its old outputs are in the DVC
        cache) are removed with the rest of that run, so they can never be resumed by mistake. This
        run trained beyond `steps` (steps lowered) stops with an error: nothing of it is removed. A
        damaged checkpoint (`checksum_damage`) is removed with one line, so the run falls back to the newest
        intact one (a later save of the same step could not replace it)."""
        mine, other = [], []
        for path in self.checkpoints():
            reason = checksum_damage(path, "done")
            if reason is not None:
                print(f"dcign: {path} is damaged ({reason}); removed, falling back to the checkpoint before it",
                      flush=True)
                shutil.rmtree(path)
                continue
            try:
                saved = json.loads((path / "run.json").read_text())
            except (OSError, ValueError):
                saved = {}
            if saved == self.identity():
                mine.append(path)
            else:
                other.append((path, saved))
        step = int(mine[-1].name[len(CHECKPOINT_PREFIX):]) if mine else 0
        if step > self.cfg.steps:
            raise UserError(f"{mine[-1]}: this run is trained to step {step}, beyond steps = {self.cfg.steps}; "
                            "lowering steps would discard it: raise steps, or use another --out")
        if other and not restart_if_changed:
            path, saved = other[-1]
            raise UserError(f"{path}: checkpoint is of another run ({self.difference(saved)}); use another --out, "
                            f"delete it, or pass --restart-if-changed")
        stale = [p for p in self.out.glob(f"{CHECKPOINT_PREFIX}*") if p not in mine]
        stale += list(self.out.glob(f".tmp-{CHECKPOINT_PREFIX}*"))
        if stale and not mine:
            stale += [p for p in (self.out / name for name in (*MODEL_FILES, CHECKSUMS, "live")) if p.exists()]
        if stale:
            print(f"dcign: removing {len(stale)} file(s)/folder(s) of a different run from {self.out}", flush=True)
        for p in stale:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        return mine

    def difference(self, saved: dict) -> str:
        """The first thing that makes a saved run.json another run, in words."""
        if saved.get("data_manifest_sha256", self.data_digest) != self.data_digest:
            return "it was trained on other data"
        now, then = self.identity()["config"], saved.get("config", {})
        for key in sorted(set(now) | set(then)):
            if now.get(key) != then.get(key):
                return f"checkpoint has {key} = {then.get(key)!r}, the config says {now.get(key)!r}"
        return "it has no run.json"

    def load(self, path: Path, model: DCIGN, optimizer, device: torch.device) -> dict:
        """Restore the weights and the optimiser; returns the step, every stream's states ("rngs",
        "noise") and the torch CPU generator state ("torch_cpu") for the caller to restore."""
        from safetensors.torch import load_file

        weights = current_names(load_file(str(path / "model.safetensors"), device=str(device)))
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        found = {k: tuple(v.shape) for k, v in weights.items()}
        if found != expected:
            raise UserError(f"{path}: checkpoint is from another architecture (tensors "
                            f"{sorted(set(found) ^ set(expected)) or 'differ in shape'})")
        model.load_state_dict(weights)
        state = _read_state(path, device)
        optimizer.load_state_dict(state["optimizer"])
        return {"step": int(state["step"]), "rngs": json.loads((path / "rng.json").read_text()),
                "noise": state["noise"], "torch_cpu": state["torch_cpu"]}

    def truncate_logs(self, step: int) -> None:
        """Drop log rows written after the checkpoint being resumed, so that a resumed run's logs
        equal an uninterrupted run's (and DVC sees the same output)."""
        for tsv in (self.out / "live" / "plots").rglob("*.tsv"):
            header, *rows = tsv.read_text().splitlines()
            kept = [row for row in rows if int(row.split("\t")[0]) <= step]
            tsv.write_text("\n".join([header, *kept]) + "\n")
        for image in (self.out / "live" / "plots" / "images").rglob("*.png"):
            if image.stem.isdigit() and int(image.stem) > step:  # a snapshot of a step not yet reached
                image.unlink()

    def save_final(self, model: DCIGN) -> None:
        """The trained model: weights and config, what `load_model` reads, and their sha256 in
        checksums.json, which `load_model` checks (a flipped byte in a weight still parses)."""
        save_tensors(_weights(model), self.out / "model.safetensors")
        (self.out / "config.json").write_text(json.dumps(self.cfg.as_dict(), indent=2, sort_keys=True) + "\n")
        sums = {name: sha256(self.out / name) for name in MODEL_FILES}
        (self.out / CHECKSUMS).write_text(json.dumps(sums, indent=2, sort_keys=True) + "\n")


MODEL_FILES = ("model.safetensors", "config.json")
CHECKSUMS = "checksums.json"


def checksum_damage(folder: Path, record: str, names: tuple = ()) -> str | None:
    """Why the files of `folder` cannot be trusted, or None: one of `names` (default: every file
    `record` lists) is missing or differs from the sha256 in `record`, a JSON mapping of file name to
    digest (a checkpoint's `done`, a model's checksums.json). A missing or empty record passes: it
    was written before records held checksums."""
    try:
        text = (folder / record).read_text()
        sums = json.loads(text) if text.strip() else {}
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return f"{record} is unreadable"
    if not isinstance(sums, dict):
        return f"{record} is damaged"
    for name in names or sorted(sums):
        if not (folder / name).is_file():
            return f"{name} is missing"
        if sums.get(name) != sha256(folder / name):
            return f"{name} does not match its checksum in {record}"
    return None


def load_model(model_dir: Path, device: str = "cpu") -> tuple[DCIGN, dict]:
    """A trained model (in eval mode) and its config; a directory without a finished model or with
    damaged files is a one-line error."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    if not all((model_dir / name).is_file() for name in MODEL_FILES):
        unfinished = any(model_dir.glob(f"{CHECKPOINT_PREFIX}*"))
        raise UserError(f"{model_dir}: no trained model (model.safetensors and config.json); " + (
            "its training has not finished: resume it with the same 'dcign train' command" if unfinished else
            "expected the --out directory of a finished 'dcign train'"))
    damaged = checksum_damage(model_dir, CHECKSUMS, MODEL_FILES)
    if damaged:
        raise UserError(f"{model_dir}: damaged model files ({damaged}); train it again or restore it with "
                        "'dvc checkout'")
    try:
        cfg = json.loads((model_dir / "config.json").read_text())
        model = DCIGN(ModelConfig(feature_maps=cfg["feature_maps"], latent_dim=cfg["latent_dim"]))
        weights = current_names(load_file(str(model_dir / "model.safetensors"), device=device))
        model.load_state_dict(weights)
    except (ValueError, KeyError, TypeError, SafetensorError, RuntimeError) as e:
        raise UserError(f"{model_dir}: damaged model files ({str(e).splitlines()[0][:200]}); "
                        "train it again or restore it with 'dvc checkout'") from None
    return model.eval(), cfg
