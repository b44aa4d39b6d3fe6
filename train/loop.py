"""The training loop: single-factor batches drawn in a ratio, the clamp on their inactive
latents, SGVB loss, atomic resumable checkpoints, dvclive logs.

Resumption is exact on CPU: the weights, the optimiser state, the step and the random streams
(per batch stream: batch choice, numpy; reparametrisation noise, torch) are checkpointed
together (train/checkpoints.py), so a run killed at any moment ends with the same weights as an
uninterrupted one. Under torchrun the same loop runs data-parallel (train/distributed.py).

Throughput (README, "Training speed"): a step's batches go through the network as one grouped
pass; the next steps' batches are read on a background thread (or indexed in a copy of the split
on the GPU); losses stay on the device and are read only when logged.
"""
from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from render.errors import UserError
from render.schema import INTRINSIC
from render.outputs import HELD_ENV, TRAIN, output_dir
from render.shards.reader import ShardReader
from render.params import load_params
from train.checkpoints import RunDir
from train.config import TrainConfig, train_config
from train.clamp import latent_mask
from train.data import open_data, split_bytes, step_batches, stream_seed, to_batch, to_float
from train.device import data_on_gpu, describe_precision, pick_device, uses_bf16
from train.distributed import Ranks, barrier, check_world, from_main, gather, launch, ranks_from_env, start, stop
from train.mirror import MirrorTerm, mirror_signs, sampled_rows
from train.model import DCIGN, count_parameters, loss_terms
from train.schedule import kl_factor, lr_factor
from train.swap import draw_partners
from train.sheets import snapshot

SNAPSHOTS = "sweeps"  # <out>/live/plots/images/sweeps/<step>.png: a slider over steps in DVC's views


def new_model(cfg: TrainConfig, device: torch.device) -> DCIGN:
    """A freshly initialised net (from the global torch generator), channels_last: ~1.8x faster
    convs on CPU (oneDNN) and GPU."""
    return DCIGN(cfg.model).to(device, memory_format=torch.channels_last)


def make_optimizer(cfg: TrainConfig, model: DCIGN) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":  # what the authors' "rmsprop" really computed (train/reference.md, "Optimiser")
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    # the paper's words taken literally: rmsprop, momentum 0.1, weight decay 0.01
    return torch.optim.RMSprop(model.parameters(), lr=cfg.lr, momentum=0.1, weight_decay=0.01)


class TrainStep:
    """One optimiser step, as the loop runs it and `dcign bench train` times it: the step's
    single-factor batches go through the network as one grouped pass (the clamp works within each
    batch, to that batch type's latents in clamped mode, and the intrinsic swap where it is on), and the SGVB loss summed over each batch
    is averaged over the batches, so the step follows the mean of the batches' gradients (the
    invariance pull is weighted the same way). channels_last; bf16 autocast when `bf16`, the loss
    sums in fp32. Under DDP the ranks' gradients are averaged once per step.

    Nothing here waits for the device: the losses stay on it until the loop logs them."""

    def __init__(self, cfg: TrainConfig, model: DCIGN, device: torch.device, bf16: bool, ddp: bool = False):
        self.cfg, self.device, self.bf16 = cfg, device, bf16
        self.optimizer = make_optimizer(cfg, model)
        self.masks = {t: latent_mask(latents, cfg.latent_dim, device) for t, latents in cfg.latents.items()}
        # the intrinsic swap (train/swap.py): a pose batch's intrinsic latents are free, each row's from its partner
        none = torch.zeros(cfg.latent_dim, dtype=torch.bool, device=device)
        self.swapping = {t: cfg.intrinsic_swap and t != INTRINSIC for t in cfg.latents}
        self.swaps = {t: self.masks[INTRINSIC] if self.swapping[t] else none for t in cfg.latents}
        strengths = cfg.invariance_strengths()
        # one number where every latent has the same pull: the pull then computes as it always has
        self.strength = strengths[0] if len(set(strengths)) == 1 else torch.tensor(strengths, device=device)
        self.net = model
        if ddp:
            self.net = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None)
        self.forward = torch.compile(self.net) if cfg.compile else self.net
        self.kl_weight = cfg.kl_weight
        self.swapping_now = cfg.intrinsic_swap and cfg.intrinsic_swap_start == 0  # as schedule(0) sets it
        self.mirror = MirrorTerm(mirror_signs(cfg.dataset, cfg.latents), device) if cfg.mirror_weight else None
        self.terms = TERMS + (("mirror",) if self.mirror else ())

    def schedule(self, step: int) -> None:
        """Set the learning rate and KL weight of optimiser step `step` (0-based; train/schedule.py)."""
        cfg = self.cfg
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.lr * lr_factor(cfg.lr_schedule, cfg.lr_warmup_steps, cfg.steps, step)
        self.kl_weight = cfg.kl_weight * kl_factor(cfg.kl_warmup_steps, step)
        self.swapping_now = cfg.intrinsic_swap and step >= cfg.intrinsic_swap_start

    def __call__(self, types: list[str], images: torch.Tensor, noises: list[torch.Generator]) -> torch.Tensor:
        """`types`: the batch type of each of the equal groups of `images` (uint8 (G * B, H, W) on
        the device), with one noise generator each. Returns (G, len(self.terms)): each batch's
        loss, BCE, KL (and mirror term) per image, on the device."""
        groups = len(types)
        x = to_float(images)
        batch = x.shape[0] // groups
        active = swap = None
        if self.cfg.mode == "clamped":
            active = torch.stack([self.masks[t] | self.swaps[t] if self.swapping_now else self.masks[t]
                                  for t in types])
        if self.swapping_now:
            swap = (torch.stack([self.swaps[t] for t in types]),
                    draw_partners(batch, noises, [self.swapping[t] for t in types]))
        rows = sampled_rows(groups, batch, self.device) if self.mirror else None
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.forward(x, active=active, clamp=self.cfg.clamp, strength=self.strength / groups,
                               generator=noises, clamped_noise=self.cfg.clamp_noise == "per_sample",
                               mirror=rows, swap=swap)
            logits, mu, logvar = out[:3]
            bce, kl = loss_terms(logits, x, mu, logvar, groups=groups)
        columns = [bce, kl]
        loss = bce + self.kl_weight * kl
        if self.mirror:
            columns.append(self.mirror(*out[4], groups, scale=batch / (len(rows) // groups)))
            loss = loss + self.cfg.mirror_weight * columns[-1]
        (loss.sum() / groups).backward()
        self.optimizer.step()
        return torch.stack([loss, *columns], 1).detach() / batch


TERMS = ("loss", "bce", "kl")  # the columns of a step's losses (and "mirror" where the term is on)


def snapshot_input(train: ShardReader, device: torch.device) -> torch.Tensor:
    """The held-out image the checkpoint snapshots show: the first test image of an intrinsic batch
    (of any batch where the test split has none; a training image where there is no test split)."""
    reader = ShardReader(train.root, "test") if "test" in train.manifest["splits"] else train
    batch_type = next(t for t in (INTRINSIC, *reader.batch_types) if reader.count(t))
    return to_batch(reader.batch(batch_type, 0)[0][:1], device)


def noise_streams(seeds: list[int], device: torch.device) -> list[torch.Generator]:
    """One reparametrisation-noise generator per batch stream, on the training device, so drawing
    noise never waits for the device."""
    return [torch.Generator(device=device).manual_seed(s) for s in seeds]


class Trainer:
    def __init__(self, cfg: TrainConfig, data: Path, out: Path, ranks: Ranks | None = None):
        self.cfg = cfg
        self.ranks = ranks = ranks or Ranks()
        check_world(cfg.batches_per_step, ranks.world, cfg.name)
        self.device = pick_device(cfg.device, ranks.local_rank)
        self.bf16 = uses_bf16(cfg.precision, self.device)
        reader = open_data(cfg, Path(data), "train")
        self.run_dir = RunDir(out, cfg, data)
        torch.manual_seed(cfg.seed)
        self.model = new_model(cfg, self.device)
        # this rank's batch streams: which batch (numpy) and the reparametrisation noise (torch)
        self.seeds = [stream_seed(cfg.seed, k) for k in ranks.streams(cfg.batches_per_step)]
        self.on_gpu = data_on_gpu(cfg.data_on, self.device, split_bytes(reader))
        self.batches = step_batches(reader, cfg.batch_ratio, self.seeds, self.device, self.on_gpu)
        self.noises = noise_streams(self.seeds, self.device)
        self.types = list(reader.batch_types)
        self.snapshot_image = snapshot_input(reader, self.device)
        self.step = 0
        self.saved_step = 0  # the newest checkpoint on disk of this run
        if ranks.distributed:
            start(ranks, self.device)
        self.train_step = TrainStep(cfg, self.model, self.device, self.bf16, ddp=ranks.distributed)

    def stream_states(self) -> tuple[list, list]:
        """The states of every rank's batch streams, in stream order (a collective call)."""
        mine = (self.batches.states(), [n.get_state() for n in self.noises])
        ranks = gather(self.ranks, mine)
        return [s for r in ranks for s in r[0]], [s for r in ranks for s in r[1]]

    def save_checkpoint(self) -> None:
        """Every rank calls this (the stream states are gathered); rank 0 writes."""
        rngs, noises = self.stream_states()
        if self.ranks.main:
            self.run_dir.save(self.step, self.model, self.train_step.optimizer, rngs, noises)
        self.saved_step = self.step

    def snapshot(self) -> np.ndarray:
        """The checkpoint's picture of what the model has learned (train/sheets.py), decoded in fp32
        from a held-out image; it draws nothing from the training's random streams."""
        with torch.autocast(self.device.type, enabled=False):
            return snapshot(self.model, self.snapshot_image, self.cfg.latents)

    def check_health(self, first_bad: torch.Tensor) -> None:
        """Stop when a step's loss was not finite (a diverged run: its weights are NaN or inf), before
        anything of it is logged or saved, so the newest checkpoint stays the last good one. Reading
        `first_bad` waits for the device, so this runs only where the loop waits anyway."""
        bad = int(first_bad)
        if bad < 0:
            return
        kept = (f"the newest checkpoint, step {self.saved_step}, is the last good one" if self.saved_step
                else "no checkpoint was written")
        raise UserError(f"{self.cfg.name}: the loss is not finite at step {bad} (diverged; try a lower lr than "
                        f"{self.cfg.lr:g}); stopped, {kept}")

    def load_checkpoint(self, path: Path) -> None:
        state = self.run_dir.load(path, self.model, self.train_step.optimizer, self.device)
        self.step = state["step"]
        streams = self.ranks.streams(self.cfg.batches_per_step)
        self.batches.restore([state["rngs"][k] for k in streams])
        saved = [state["noise"][k] for k in streams]
        if all(s.numel() == n.get_state().numel() for s, n in zip(saved, self.noises)):
            for noise, s in zip(self.noises, saved):
                noise.set_state(s)
        else:  # written on another kind of device, whose generator state does not fit this one's
            for noise, seed in zip(self.noises, self.seeds):
                noise.manual_seed(stream_seed(seed, self.step))
            if self.ranks.main:
                print(f"dcign: the checkpoint's noise streams are of another device kind; {self.device.type} "
                      "streams reseeded from the step", flush=True)
        torch.set_rng_state(state["torch_cpu"])

    def log_terms(self, acc: torch.Tensor, counts: np.ndarray) -> dict:
        """Mean loss, BCE and KL per image since the last log, overall and per batch type, over all
        ranks (the one point where the loop waits for the device)."""
        per_rank = gather(self.ranks, (acc.cpu().numpy(), counts.copy()))
        sums = sum(a for a, _ in per_rank)
        n = sum(c for _, c in per_rank)
        names = self.train_step.terms
        terms = {key: float(sums[:, j].sum() / n.sum()) for j, key in enumerate(names)}
        for k, t in enumerate(self.types):
            if n[k]:
                terms.update({f"{key}_{t}": float(sums[k, j] / n[k]) for j, key in enumerate(names)})
        return terms

    def run(self, progress: bool = True, restart_if_changed: bool = False) -> dict:
        try:
            return self._run(progress, restart_if_changed)
        finally:
            self.batches.close()
            stop(self.ranks)

    def _run(self, progress: bool, restart_if_changed: bool) -> dict:
        from dvclive import Live

        main, out = self.ranks.main, self.run_dir.out
        resume_from = None
        if main:  # rank 0 decides what to resume (and removes other runs); the others follow
            out.mkdir(parents=True, exist_ok=True)
            existing = self.run_dir.resumable(restart_if_changed)
            resume_from = str(existing[-1]) if existing else None
        resume_from = from_main(self.ranks, resume_from)
        if resume_from:
            self.load_checkpoint(Path(resume_from))
            self.saved_step = self.step
            if main:
                print(f"dcign: resuming {self.cfg.name} from step {self.step} ({Path(resume_from).name})", flush=True)
        if main:
            where = f"{self.ranks.world} processes on {self.device.type}" if self.ranks.distributed else self.device
            print(f"dcign: training {self.cfg.name} ({self.cfg.mode}, {count_parameters(self.model):,} parameters, "
                  f"{self.cfg.batches_per_step} batch(es) per step) on {where}, "
                  f"{describe_precision(self.bf16, self.device)}, data {'on the GPU' if self.on_gpu else 'read from the shards'}",
                  flush=True)
            if self.step > 0:
                self.run_dir.truncate_logs(self.step)
        live = Live(str(out / "live"), resume=self.step > 0, dvcyaml=False, save_dvc_exp=False) if main else None
        acc = torch.zeros(len(self.types), len(self.train_step.terms), device=self.device)
        counts = np.zeros(len(self.types), dtype=np.int64)
        index = {t: k for k, t in enumerate(self.types)}
        first_bad = torch.full((), -1, dtype=torch.long, device=self.device)  # the first non-finite step
        last = {}
        with tqdm(total=self.cfg.steps, initial=self.step, desc=f"train {self.cfg.name}", unit="step",
                  dynamic_ncols=True, disable=not (progress and main)) as bar:
            while self.step < self.cfg.steps:
                types, images = self.batches.next()
                self.train_step.schedule(self.step)
                terms = self.train_step(types, images, self.noises)
                for g, t in enumerate(types):
                    acc[index[t]] += terms[g]
                    counts[index[t]] += 1
                self.step += 1
                first_bad = torch.where((first_bad < 0) & ~torch.isfinite(terms).all(), self.step, first_bad)
                logs = self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps
                saves = self.step % self.cfg.checkpoint_every == 0 or self.step == self.cfg.steps
                if logs or saves:
                    self.check_health(first_bad)
                if logs:
                    last = self.log_terms(acc, counts)
                    acc.zero_()
                    counts[:] = 0
                    if main:
                        live.step = self.step  # rows are labelled with the optimiser step they end at
                        for key, value in last.items():
                            live.log_metric(f"train/{key}", value)
                        live.next_step()
                        bar.set_postfix(loss=f"{last['loss']:.1f}")
                if saves:
                    if main:  # before the checkpoint, so a resume always rewrites (the same) picture
                        live.log_image(f"{SNAPSHOTS}/{self.step}.png", self.snapshot())
                    self.save_checkpoint()
                bar.update(1)
        if main:
            live.end()
            self.run_dir.save_final(self.model)
        barrier(self.ranks)
        return last


def train_command(params_path: Path, config_name: str, data: Path, out: Path | None, nproc: int | None,
                  restart_if_changed: bool, argv: list[str]) -> int:
    """`dcign train`: one process, or with `nproc` > 1 (default $DCIGN_NPROC, else 1) torchrun
    starting that many, each running `argv` (the dcign command line) without --nproc. Under
    torchrun this is one rank. Returns the exit status."""
    cfg = train_config(load_params(params_path), config_name, where=str(params_path))
    ranks = ranks_from_env()
    nproc = nproc if nproc is not None else int(os.environ.get("DCIGN_NPROC") or 1)
    out = Path(out or f"models/{config_name}")
    if not ranks.distributed:
        check_world(cfg.batches_per_step, nproc, cfg.name)  # fail here, in one line, not in N processes
        if nproc > 1:
            pick_device(cfg.device)
            open_data(cfg, Path(data), "train")
            with output_dir(out, TRAIN):  # held for the ranks, which it launches
                return launch(nproc, argv, {HELD_ENV: str(out.resolve())})
    # one process holds --out: this one, or under torchrun the launching dcign, else (a bare torchrun) rank 0
    holds = not ranks.distributed or (ranks.main and os.environ.get(HELD_ENV) != str(out.resolve()))
    with output_dir(out, TRAIN) if holds else nullcontext():
        terms = Trainer(cfg, Path(data), out, ranks).run(restart_if_changed=restart_if_changed)
    if ranks.main:
        print(f"dcign: {cfg.name} trained for {cfg.steps} steps; last losses per image: "
              + ", ".join(f"{k} {v:.1f}" for k, v in terms.items() if k in ("loss", "bce", "kl")))
    return 0
