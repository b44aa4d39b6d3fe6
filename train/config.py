"""Training configuration: `train.defaults` with one model's section (`train.<name>`) on top -> a
dataclass.

A model's section overrides the defaults key by key; a mapping value (latents, batch_ratio)
replaces the default's whole, so what a section says is what the model gets.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from render.errors import UserError
from render.params import check_keys, choice, get, leaves, number
from render.schema import INTRINSIC, SCHEMAS, schema_of
from train.device import DATA_PLACES, PRECISIONS
from train.model import ModelConfig
from train.schedule import LR_SCHEDULES

DEFAULTS = "defaults"


@dataclass(frozen=True)
class TrainConfig:
    name: str
    dataset: str  # a key of render.schema.SCHEMAS
    mode: str  # clamped (DC-IGN) | entangled (the paper's baseline: same net, plain SGVB)
    feature_maps: int
    latent_dim: int
    latents: dict  # batch type -> latent indices it may change; intrinsic gets the rest
    clamp: str  # mean (the paper) | first (the authors' code)
    clamp_noise: str  # per_sample (the authors' code) | none: clamped latents are the clamped value itself
    invariance_strength: float
    factor_invariance_strength: float  # the pull on a factor's latents where they are clamped (train/clamp.py)
    batch_ratio: dict  # batch type -> relative frequency
    batches_per_step: int  # single-factor batches whose gradients one step averages (one per process or more)
    optimizer: str  # adam | rmsprop
    lr: float
    lr_schedule: str  # constant (the paper) | cosine (train/schedule.py)
    lr_warmup_steps: int
    betas: tuple
    kl_weight: float
    kl_warmup_steps: int
    mirror_weight: float  # 0 = the paper; > 0 ties pose latents to the image's left-right flip (train/mirror.py)
    intrinsic_swap: bool  # false = the paper; true: a pose batch decodes each image from another's intrinsic code (train/swap.py)
    intrinsic_swap_start: int  # the first step of the swap; the paper's clamp before it
    steps: int
    seed: int
    checkpoint_every: int
    log_every: int
    device: str  # auto | cpu | cuda
    precision: str  # auto | fp32 | bf16 (autocast; auto = bf16 where the device has bf16 units)
    data_on: str  # auto | host | gpu: where the uint8 training images live (gpu: copied there once)
    compile: bool

    def invariance_strengths(self) -> list[float]:
        """The invariance pull of each latent where its batch clamps it: a factor's latents get
        `factor_invariance_strength`, the intrinsic ones `invariance_strength`."""
        strengths = [self.invariance_strength] * self.latent_dim
        for batch_type, indices in self.latents.items():
            if batch_type != INTRINSIC:
                for i in indices:
                    strengths[i] = self.factor_invariance_strength
        return strengths

    @property
    def model(self) -> ModelConfig:
        return ModelConfig(feature_maps=self.feature_maps, latent_dim=self.latent_dim)

    def as_dict(self) -> dict:
        return asdict(self)


def section_keys() -> dict:
    """The keys a training section may hold: every field of TrainConfig but the name it gets from
    its section."""
    return leaves(*(f.name for f in fields(TrainConfig) if f.name != "name"))


def model_names(params: dict) -> list[str]:
    """The trainable sections of `train`: every one but the defaults."""
    return sorted(k for k in params.get("train", {}) if k != DEFAULTS)


class _Section:
    """`train.defaults` merged with `train.<name>`, naming each key by the section it came from,
    so an error points at the line to change."""

    def __init__(self, params: dict, name: str, where: str):
        self.params, self.name, self.where = params, name, where
        self.own = params["train"][name]
        if not isinstance(self.own, dict):
            raise UserError(f"{where}: train.{name} = {self.own!r}: expected a mapping of training keys")
        self.defaults = params["train"].get(DEFAULTS, {})
        if not isinstance(self.defaults, dict):
            raise UserError(f"{where}: train.{DEFAULTS} = {self.defaults!r}: expected a mapping of training keys")

    def key(self, key: str) -> str:
        top = key.split(".")[0]
        section = DEFAULTS if top in self.defaults and top not in self.own else self.name
        return f"train.{section}.{key}"

    def get(self, key):
        return get(self.params, self.key(key), self.where)

    def number(self, key, **kw):
        return number(self.params, self.key(key), self.where, **kw)

    def choice(self, key, options):
        return choice(self.params, self.key(key), self.where, options)

    def flag(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            raise self.error(key, f" = {value!r}: expected true or false")
        return value

    def error(self, key: str, text: str) -> UserError:
        return UserError(f"{self.where}: {self.key(key)}{text}")


def train_config(params: dict, name: str, where: str = "params.yaml") -> TrainConfig:
    """Validate `train.<name>` over `train.defaults`; every error names the key, what was found and
    what is expected."""
    section = params.get("train")
    if isinstance(section, dict):
        check_keys(section, "train", dict.fromkeys(section, section_keys()), where)
    names = model_names(params)
    if name == DEFAULTS:
        raise UserError(f"{where}: train.{DEFAULTS} holds the keys every model shares and is not a model itself; "
                        f"expected one of {names}")
    if name not in names:
        raise UserError(f"{where}: no section train.{name}; expected one of {names}")
    s = _Section(params, name, where)
    dataset = s.choice("dataset", tuple(SCHEMAS))
    schema = schema_of(dataset)
    types = schema.batch_types
    feature_maps = s.number("feature_maps", integer=True, lo=4)
    if feature_maps % 4:
        raise s.error("feature_maps", f" = {feature_maps}: expected a multiple of 4")
    latent_dim = s.number("latent_dim", integer=True, lo=len(types))
    latents = schema.default_latents(latent_dim)
    given = s.get("latents")
    if not isinstance(given, dict):
        raise s.error("latents", f" = {given!r}: expected a mapping of batch type to latent indices")
    for batch_type, indices in given.items():
        if batch_type not in schema.extrinsic:
            raise s.error(f"latents.{batch_type}", f": expected one of {', '.join(schema.extrinsic)} "
                          f"({INTRINSIC} gets every latent not assigned)")
        if (not isinstance(indices, list) or not indices
                or not all(isinstance(i, int) and 0 <= i < latent_dim for i in indices)):
            raise s.error(f"latents.{batch_type}", f" = {indices!r}: expected a list of latent indices "
                          f"in 0..{latent_dim - 1}")
        latents[batch_type] = list(indices)
    assigned = [i for t in schema.extrinsic for i in latents[t]]
    if len(set(assigned)) != len(assigned):
        raise s.error("latents", f": an index is assigned to two factors ({assigned})")
    latents[INTRINSIC] = [i for i in range(latent_dim) if i not in assigned]
    ratio = s.get("batch_ratio")
    if not isinstance(ratio, dict) or set(ratio) != set(types):
        raise s.error("batch_ratio", f" = {ratio!r}: expected a weight for each of {', '.join(types)}")
    for t in types:
        s.number(f"batch_ratio.{t}", lo=0)
    if not sum(ratio.values()) > 0:
        raise s.error("batch_ratio", ": expected at least one positive weight")
    betas = s.get("betas")
    if (not isinstance(betas, list) or len(betas) != 2
            or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
        raise s.error("betas", f" = {betas!r}: expected two numbers in [0, 1)")
    mode = s.choice("mode", ("clamped", "entangled"))
    mirror_weight = float(s.number("mirror_weight", lo=0))
    if mirror_weight and mode == "entangled":
        raise s.error("mirror_weight", f" = {mirror_weight:g}: the entangled baseline has no factor latents "
                      "to mirror; expected 0")
    if mirror_weight and not schema.mirror_signs():
        raise s.error("mirror_weight", f" = {mirror_weight:g}: no factor of {dataset} has a left-right flip "
                      "sign a latent could follow; expected 0")
    intrinsic_swap = s.flag("intrinsic_swap")
    if intrinsic_swap and mode == "entangled":
        raise s.error("intrinsic_swap", ": the entangled baseline has no intrinsic latents apart from its "
                      "factor ones to swap; expected false")
    steps = s.number("steps", integer=True, lo=1)
    swap_start = s.number("intrinsic_swap_start", integer=True, lo=0)
    if intrinsic_swap and swap_start >= steps:
        raise s.error("intrinsic_swap_start", f" = {swap_start}: the swap would never run in {steps} steps; "
                      f"expected fewer than {s.key('steps')}")
    invariance = float(s.number("invariance_strength", lo=0))
    factor_invariance = s.get("factor_invariance_strength")
    if factor_invariance is None:
        factor_invariance = invariance
    elif (isinstance(factor_invariance, bool) or not isinstance(factor_invariance, (int, float))
          or not math.isfinite(factor_invariance) or factor_invariance < 0):
        raise s.error("factor_invariance_strength", f" = {factor_invariance!r}: expected a number >= 0, "
                      "or null for the invariance_strength")
    compile_ = s.flag("compile")
    return TrainConfig(
        name=name,
        dataset=dataset,
        mode=mode,
        feature_maps=feature_maps,
        latent_dim=latent_dim,
        latents={t: latents[t] for t in types},
        clamp=s.choice("clamp", ("mean", "first")),
        clamp_noise=s.choice("clamp_noise", ("per_sample", "none")),
        invariance_strength=invariance,
        factor_invariance_strength=float(factor_invariance),
        batch_ratio={t: float(ratio[t]) for t in types},
        batches_per_step=s.number("batches_per_step", integer=True, lo=1),
        optimizer=s.choice("optimizer", ("adam", "rmsprop")),
        lr=float(s.number("lr", lo=0, lo_open=True)),
        lr_schedule=s.choice("lr_schedule", LR_SCHEDULES),
        lr_warmup_steps=s.number("lr_warmup_steps", integer=True, lo=0),
        betas=(float(betas[0]), float(betas[1])),
        kl_weight=float(s.number("kl_weight", lo=0)),
        kl_warmup_steps=s.number("kl_warmup_steps", integer=True, lo=0),
        mirror_weight=mirror_weight,
        intrinsic_swap=intrinsic_swap,
        intrinsic_swap_start=swap_start,
        steps=steps,
        seed=s.number("seed", integer=True, lo=0),
        checkpoint_every=s.number("checkpoint_every", integer=True, lo=1),
        log_every=s.number("log_every", integer=True, lo=1),
        device=s.choice("device", ("auto", "cpu", "cuda")),
        precision=s.choice("precision", PRECISIONS),
        data_on=s.choice("data_on", DATA_PLACES),
        compile=compile_,
    )
