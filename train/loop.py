"""The training loop: single-factor batches drawn in a ratio, the clamp on their inactive
latents, SGVB loss, atomic resumable checkpoints, dvclive logs.

Resumption is exact on CPU: the weights (safetensors), the optimiser state, the step, and the
random streams (per batch stream: batch choice, numpy; reparametrisation noise, torch) are
checkpointed together, so a run killed at any moment ends with the same weights as an
uninterrupted one. Under torchrun the same loop runs data-parallel (train/distributed.py).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from render.errors import UserError
from render.shards import ShardReader
from train.config import BATCH_TYPES, TrainConfig
from train.distributed import Ranks, barrier, check_world, from_main, gather, start, stop
from train.model import DCIGN, count_parameters, loss_terms

CHECKPOINT_PREFIX = "ckpt-"
KEEP_CHECKPOINTS = 2
# Keys that do not change what a step computes: a checkpoint written under other values of these
# still continues the same run (so raising `steps` extends a finished run instead of redoing it).
SCHEDULE_KEYS = ("steps", "checkpoint_every", "log_every", "device", "compile")


def pick_device(requested: str, local_rank: int = 0) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("train device = 'cuda' but no CUDA GPU is available here; use device: auto or cpu")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and local_rank > 0:
        if local_rank >= torch.cuda.device_count():
            raise UserError(f"training process {local_rank} on this node has no GPU of its own "
                            f"({torch.cuda.device_count()} visible); start at most one process per GPU")
        return torch.device("cuda", local_rank)
    return torch.device(requested)


def stream_seed(seed: int, stream: int) -> int:
    """Seed of batch stream `stream` of a run; stream 0 uses the run's seed itself, so a run with
    one batch per step draws exactly what it always did."""
    return seed if stream == 0 else int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def open_data(cfg: TrainConfig, data: Path, split: str) -> ShardReader:
    """The shard reader, checked against what the config expects of it."""
    reader = ShardReader(data, split)
    manifest = reader.manifest
    if manifest["dataset"] != cfg.dataset:
        raise UserError(f"{data}: holds {manifest['dataset']} data, but train.{cfg.name}.dataset is {cfg.dataset!r}")
    if reader.batch_types != list(BATCH_TYPES[cfg.dataset]):
        raise UserError(f"{data}: batch types {reader.batch_types} do not match the {cfg.dataset} config's "
                        f"{list(BATCH_TYPES[cfg.dataset])}")
    size = manifest["image_shape"][1:]
    if size != [cfg.model.image_size] * 2:
        raise UserError(f"{data}: images are {size[0]}x{size[1]}, the model expects "
                        f"{cfg.model.image_size}x{cfg.model.image_size}")
    for t, weight in cfg.batch_ratio.items():
        if weight > 0 and reader.count(t) == 0:
            raise UserError(f"{data}: the {split} split has no {t} batches, but train.{cfg.name}.batch_ratio.{t} "
                            f"= {weight:g}; expected data for every batch type with a positive weight")
    return reader


def make_optimizer(cfg: TrainConfig, model: DCIGN) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":  # what the authors' "rmsprop" really computed (dcign-original.md sec. 5)
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    # the paper's words taken literally: rmsprop, momentum 0.1, weight decay 0.01
    return torch.optim.RMSprop(model.parameters(), lr=cfg.lr, momentum=0.1, weight_decay=0.01)


def to_batch(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (B, H, W) -> float (B, 1, H, W) in [0, 1], converted on the device."""
    x = torch.from_numpy(np.array(images))
    if device.type == "cuda":
        x = x.pin_memory().to(device, non_blocking=True)
    return x.unsqueeze(1).float().div_(255.0)


def sgvb_backward(forward, x: torch.Tensor, active, cfg: TrainConfig, noise: torch.Generator,
                  weight: float = 1.0) -> dict:
    """Add `weight` x the SGVB gradient of one batch (clamped when `active` is given) to the
    parameters' gradients; returns the losses per image. channels_last everywhere; on CUDA also
    bf16 autocast (the loss terms are summed in fp32)."""
    cuda = x.device.type == "cuda"
    x = x.contiguous(memory_format=torch.channels_last)  # ~1.8x faster convs on CPU (oneDNN) and GPU
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=cuda):
        logits, mu, logvar, _ = forward(x, active=active, clamp=cfg.clamp, strength=cfg.invariance_strength,
                                        generator=noise)
        bce, kl = loss_terms(logits, x, mu, logvar)
    loss = bce + cfg.kl_weight * kl
    (loss if weight == 1.0 else loss * weight).backward()
    n = x.shape[0]
    return {"loss": loss.item() / n, "bce": bce.item() / n, "kl": kl.item() / n}


def sgvb_step(forward, optimizer, x: torch.Tensor, active, cfg: TrainConfig, noise: torch.Generator) -> dict:
    """One optimiser step on one batch."""
    optimizer.zero_grad(set_to_none=True)
    terms = sgvb_backward(forward, x, active, cfg, noise)
    optimizer.step()
    return terms


class Trainer:
    def __init__(self, cfg: TrainConfig, data: Path, out: Path, ranks: Ranks | None = None):
        self.cfg, self.out = cfg, Path(out)
        self.ranks = ranks = ranks or Ranks()
        check_world(cfg.batches_per_step, ranks.world, cfg.name)
        self.device = pick_device(cfg.device, ranks.local_rank)
        self.reader = open_data(cfg, Path(data), "train")
        self.types = list(BATCH_TYPES[cfg.dataset])
        weights = np.array([cfg.batch_ratio[t] for t in self.types])
        self.type_p = weights / weights.sum()
        torch.manual_seed(cfg.seed)
        self.model = DCIGN(cfg.model).to(self.device, memory_format=torch.channels_last)
        self.optimizer = make_optimizer(cfg, self.model)
        # this rank's batch streams: which batch (numpy) and the reparametrisation noise (torch)
        seeds = [stream_seed(cfg.seed, k) for k in ranks.streams(cfg.batches_per_step)]
        self.rngs = [np.random.default_rng(s) for s in seeds]
        self.noises = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
        self.step = 0
        self.data_digest = hashlib.sha256((Path(data) / "manifest.json").read_bytes()).hexdigest()
        self.active = {t: torch.tensor(cfg.latents[t], device=self.device) for t in self.types}
        self.net = self.model
        if ranks.distributed:
            start(ranks, self.device)
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.forward = torch.compile(self.net) if cfg.compile else self.net

    # -- checkpoints ---------------------------------------------------------------------
    def checkpoints(self) -> list[Path]:
        return sorted(p for p in self.out.glob(f"{CHECKPOINT_PREFIX}*") if (p / "done").exists())

    def stream_states(self) -> tuple[list, list]:
        """The states of every rank's batch streams, in stream order (a collective call)."""
        mine = ([g.bit_generator.state for g in self.rngs], [n.get_state() for n in self.noises])
        ranks = gather(self.ranks, mine)
        return [s for r in ranks for s in r[0]], [s for r in ranks for s in r[1]]

    def save_checkpoint(self) -> None:
        """Write into a temp directory, then rename: a kill leaves the previous checkpoint whole.
        Every rank calls this (the stream states are gathered); rank 0 writes."""
        from safetensors.torch import save_file

        rngs, noises = self.stream_states()
        if not self.ranks.main:
            return
        final = self.out / f"{CHECKPOINT_PREFIX}{self.step:08d}"
        tmp = self.out / f".tmp-{final.name}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
                  str(tmp / "model.safetensors"))
        torch.save({"optimizer": self.optimizer.state_dict(), "step": self.step,
                    "noise": noises, "torch_cpu": torch.get_rng_state()}, tmp / "state.pt")
        (tmp / "rng.json").write_text(json.dumps(rngs))
        (tmp / "config.json").write_text(json.dumps(self.cfg.as_dict(), sort_keys=True))
        (tmp / "run.json").write_text(json.dumps(self.run_identity(), sort_keys=True))
        (tmp / "done").write_text("")
        os.replace(tmp, final)
        for old in self.checkpoints()[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old)

    def run_identity(self) -> dict:
        """What makes two runs the same run: the config but its schedule keys, and the data."""
        cfg = {k: v for k, v in self.cfg.as_dict().items() if k not in SCHEDULE_KEYS}
        return {"config": json.loads(json.dumps(cfg)), "data_manifest_sha256": self.data_digest}

    def resumable(self, restart_if_changed: bool = False) -> list[Path]:
        """Finished checkpoints of this very run (same config and data) at or before `steps`.
        Checkpoints of a different run (another config or other data) stop with an error naming the
        difference, or with `restart_if_changed` (the DVC stage: its old outputs are in the DVC
        cache) are removed with the rest of that run, so they can never be resumed by mistake."""
        mine, other = [], []
        for path in self.checkpoints():
            run = path / "run.json"
            saved = json.loads(run.read_text()) if run.exists() else {}
            if saved == self.run_identity():
                if int(path.name[len(CHECKPOINT_PREFIX):]) <= self.cfg.steps:
                    mine.append(path)
            else:
                other.append((path, saved))
        if other and not restart_if_changed:
            path, saved = other[-1]
            raise UserError(f"{path}: checkpoint is of another run ({self.difference(saved)}); use another --out, "
                            f"delete it, or pass --restart-if-changed")
        stale = [p for p in self.out.glob(f"{CHECKPOINT_PREFIX}*") if p not in mine]
        stale += list(self.out.glob(f".tmp-{CHECKPOINT_PREFIX}*"))
        if stale and not mine:
            stale += [p for p in (self.out / "model.safetensors", self.out / "config.json", self.out / "live")
                      if p.exists()]
        if stale:
            print(f"dcign: removing {len(stale)} file(s)/folder(s) of a different run from {self.out}", flush=True)
        for p in stale:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        return mine

    def difference(self, saved: dict) -> str:
        if saved.get("data_manifest_sha256", self.data_digest) != self.data_digest:
            return "it was trained on other data"
        now, then = self.run_identity()["config"], saved.get("config", {})
        for key in sorted(set(now) | set(then)):
            if now.get(key) != then.get(key):
                return f"checkpoint has {key} = {then.get(key)!r}, the config says {now.get(key)!r}"
        return "it has no run.json"

    def load_checkpoint(self, path: Path) -> None:
        from safetensors.torch import load_file

        weights = load_file(str(path / "model.safetensors"), device=str(self.device))
        expected = {k: tuple(v.shape) for k, v in self.model.state_dict().items()}
        found = {k: tuple(v.shape) for k, v in weights.items()}
        if found != expected:
            raise UserError(f"{path}: checkpoint is from another architecture (tensors {sorted(set(found) ^ set(expected)) or 'differ in shape'})")
        self.model.load_state_dict(weights)
        state = torch.load(path / "state.pt", weights_only=True, map_location=self.device)
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        streams = self.ranks.streams(self.cfg.batches_per_step)
        rngs = json.loads((path / "rng.json").read_text())
        for k, rng, noise in zip(streams, self.rngs, self.noises):
            rng.bit_generator.state = rngs[k]
            noise.set_state(state["noise"][k])
        torch.set_rng_state(state["torch_cpu"])

    def truncate_logs(self) -> None:
        """Drop log rows written after the checkpoint being resumed, so that a resumed run's logs
        equal an uninterrupted run's (and DVC sees the same output)."""
        for tsv in (self.out / "live" / "plots").rglob("*.tsv"):
            header, *rows = tsv.read_text().splitlines()
            kept = [row for row in rows if int(row.split("\t")[0]) <= self.step]
            tsv.write_text("\n".join([header, *kept]) + "\n")

    # -- one step ------------------------------------------------------------------------
    def draw(self, rng: np.random.Generator) -> tuple[str, np.ndarray]:
        t = self.types[int(rng.choice(len(self.types), p=self.type_p))]
        i = int(rng.integers(self.reader.count(t)))
        return t, self.reader.batch(t, i)[0]

    def draw_all(self) -> list[tuple[str, np.ndarray]]:
        """This rank's batches for the next step, one per stream."""
        return [self.draw(rng) for rng in self.rngs]

    def train_step(self, batches: list[tuple[str, np.ndarray]]) -> list[dict]:
        """One optimiser step: the mean SGVB gradient over all ranks' batches (this rank's are
        weighted 1/len here; DDP averages over ranks, syncing once, after the last)."""
        self.optimizer.zero_grad(set_to_none=True)
        terms = []
        for j, ((batch_type, images), noise) in enumerate(zip(batches, self.noises)):
            active = self.active[batch_type] if self.cfg.mode == "clamped" else None
            defer = self.ranks.distributed and j < len(batches) - 1
            with self.net.no_sync() if defer else nullcontext():
                terms.append(sgvb_backward(self.forward, to_batch(images, self.device), active, self.cfg, noise,
                                           weight=1.0 / len(batches)))
        self.optimizer.step()
        return terms

    # -- the run -------------------------------------------------------------------------
    def run(self, progress: bool = True, restart_if_changed: bool = False) -> dict:
        try:
            return self._run(progress, restart_if_changed)
        finally:
            stop(self.ranks)

    def _run(self, progress: bool, restart_if_changed: bool) -> dict:
        from dvclive import Live

        main = self.ranks.main
        resume_from = None
        if main:  # rank 0 decides what to resume (and removes other runs); the others follow
            self.out.mkdir(parents=True, exist_ok=True)
            existing = self.resumable(restart_if_changed)
            resume_from = str(existing[-1]) if existing else None
        resume_from = from_main(self.ranks, resume_from)
        if resume_from:
            self.load_checkpoint(Path(resume_from))
            if main:
                print(f"dcign: resuming {self.cfg.name} from step {self.step} ({Path(resume_from).name})", flush=True)
        if main:
            where = f"{self.ranks.world} processes on {self.device.type}" if self.ranks.distributed else self.device
            print(f"dcign: training {self.cfg.name} ({self.cfg.mode}, {count_parameters(self.model):,} parameters, "
                  f"{self.cfg.batches_per_step} batch(es) per step) on {where}", flush=True)
            if self.step > 0:
                self.truncate_logs()
        live = Live(str(self.out / "live"), resume=self.step > 0, dvcyaml=False, save_dvc_exp=False) if main else None
        sums: dict = {}
        last = {}
        with tqdm(total=self.cfg.steps, initial=self.step, desc=f"train {self.cfg.name}", unit="step",
                  dynamic_ncols=True, disable=not (progress and main)) as bar:
            while self.step < self.cfg.steps:
                batches = self.draw_all()
                for (batch_type, _), terms in zip(batches, self.train_step(batches)):
                    for key, value in terms.items():
                        sums.setdefault(key, []).append(value)
                        sums.setdefault(f"{key}_{batch_type}", []).append(value)
                self.step += 1
                if self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps:
                    merged: dict = {}
                    for rank_sums in gather(self.ranks, sums):
                        for key, values in rank_sums.items():
                            merged.setdefault(key, []).extend(values)
                    last = {k: float(np.mean(v)) for k, v in merged.items()}
                    sums = {}
                    if main:
                        live.step = self.step  # rows are labelled with the optimiser step they end at
                        for key, value in last.items():
                            live.log_metric(f"train/{key}", value)
                        live.next_step()
                        bar.set_postfix(loss=f"{last['loss']:.1f}")
                if self.step % self.cfg.checkpoint_every == 0 or self.step == self.cfg.steps:
                    self.save_checkpoint()
                bar.update(1)
        if main:
            live.end()
            self.save_final()
        barrier(self.ranks)
        return last

    def save_final(self) -> None:
        from safetensors.torch import save_file

        save_file({k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
                  str(self.out / "model.safetensors"))
        (self.out / "config.json").write_text(json.dumps(self.cfg.as_dict(), indent=2, sort_keys=True) + "\n")


def load_model(model_dir: Path, device: str = "cpu") -> tuple[DCIGN, dict]:
    """A trained model and its config, from safetensors (nothing unpickled)."""
    from safetensors.torch import load_file

    from train.model import ModelConfig

    model_dir = Path(model_dir)
    cfg = json.loads((model_dir / "config.json").read_text())
    model = DCIGN(ModelConfig(feature_maps=cfg["feature_maps"], latent_dim=cfg["latent_dim"]))
    model.load_state_dict(load_file(str(model_dir / "model.safetensors"), device=device))
    return model.eval(), cfg
