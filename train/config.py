"""Training configuration: one named section of `params.yaml` (`train.<name>`) -> a dataclass."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from render.config import _get, _number
from render.errors import UserError
from train.model import ModelConfig, factor_latents

BATCH_TYPES = {"faces": ("azimuth", "elevation", "light", "intrinsic"), "chairs": ("azimuth", "intrinsic")}


@dataclass(frozen=True)
class TrainConfig:
    name: str
    dataset: str  # faces | chairs
    mode: str  # clamped (DC-IGN) | entangled (the paper's baseline: same net, plain SGVB)
    feature_maps: int
    latent_dim: int
    latents: dict  # batch type -> latent indices it may change; intrinsic gets the rest
    clamp: str  # mean (the paper) | first (the authors' code)
    invariance_strength: float
    batch_ratio: dict  # batch type -> relative frequency
    batches_per_step: int  # single-factor batches whose gradients one step averages (one per process or more)
    optimizer: str  # adam | rmsprop
    lr: float
    betas: tuple
    kl_weight: float
    steps: int
    seed: int
    checkpoint_every: int
    log_every: int
    device: str  # auto | cpu | cuda
    compile: bool

    @property
    def model(self) -> ModelConfig:
        return ModelConfig(feature_maps=self.feature_maps, latent_dim=self.latent_dim)

    def as_dict(self) -> dict:
        return asdict(self)


def _choice(params, key, where, options):
    value = _get(params, key, where)
    if value not in options:
        raise UserError(f"{where}: {key} = {value!r}: expected one of {', '.join(map(str, options))}")
    return value


def train_config(params: dict, name: str, where: str = "params.yaml") -> TrainConfig:
    """Validate `train.<name>`; every error names the key, what was found and what is expected."""
    if name not in params.get("train", {}):
        raise UserError(f"{where}: no section train.{name}; expected one of {sorted(params.get('train', {}))}")
    p = f"train.{name}"
    dataset = _choice(params, f"{p}.dataset", where, tuple(BATCH_TYPES))
    types = BATCH_TYPES[dataset]
    feature_maps = _number(params, f"{p}.feature_maps", where, integer=True, lo=4)
    if feature_maps % 4:
        raise UserError(f"{where}: {p}.feature_maps = {feature_maps}: expected a multiple of 4")
    latent_dim = _number(params, f"{p}.latent_dim", where, integer=True, lo=len(types))
    latents = factor_latents(dataset, latent_dim)
    given = _get(params, f"{p}.latents", where)
    if not isinstance(given, dict):
        raise UserError(f"{where}: {p}.latents = {given!r}: expected a mapping of batch type to latent indices")
    for batch_type, indices in given.items():
        if batch_type not in types or batch_type == "intrinsic":
            raise UserError(f"{where}: {p}.latents.{batch_type}: expected one of {', '.join(types[:-1])} "
                            "(intrinsic gets every latent not assigned)")
        if (not isinstance(indices, list) or not indices
                or not all(isinstance(i, int) and 0 <= i < latent_dim for i in indices)):
            raise UserError(f"{where}: {p}.latents.{batch_type} = {indices!r}: expected a list of latent indices "
                            f"in 0..{latent_dim - 1}")
        latents[batch_type] = list(indices)
    assigned = [i for t in types[:-1] for i in latents[t]]
    if len(set(assigned)) != len(assigned):
        raise UserError(f"{where}: {p}.latents: an index is assigned to two factors ({assigned})")
    latents["intrinsic"] = [i for i in range(latent_dim) if i not in assigned]
    ratio = _get(params, f"{p}.batch_ratio", where)
    if not isinstance(ratio, dict) or set(ratio) != set(types):
        raise UserError(f"{where}: {p}.batch_ratio = {ratio!r}: expected a weight for each of {', '.join(types)}")
    for t in types:
        _number(params, f"{p}.batch_ratio.{t}", where, lo=0)
    if not sum(ratio.values()) > 0:
        raise UserError(f"{where}: {p}.batch_ratio: expected at least one positive weight")
    betas = _get(params, f"{p}.betas", where)
    if (not isinstance(betas, list) or len(betas) != 2
            or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
        raise UserError(f"{where}: {p}.betas = {betas!r}: expected two numbers in [0, 1)")
    compile_ = _get(params, f"{p}.compile", where)
    if not isinstance(compile_, bool):
        raise UserError(f"{where}: {p}.compile = {compile_!r}: expected true or false")
    return TrainConfig(
        name=name,
        dataset=dataset,
        mode=_choice(params, f"{p}.mode", where, ("clamped", "entangled")),
        feature_maps=feature_maps,
        latent_dim=latent_dim,
        latents={t: latents[t] for t in types},
        clamp=_choice(params, f"{p}.clamp", where, ("mean", "first")),
        invariance_strength=float(_number(params, f"{p}.invariance_strength", where, lo=0)),
        batch_ratio={t: float(ratio[t]) for t in types},
        batches_per_step=_number(params, f"{p}.batches_per_step", where, integer=True, lo=1),
        optimizer=_choice(params, f"{p}.optimizer", where, ("adam", "rmsprop")),
        lr=float(_number(params, f"{p}.lr", where, lo=0, lo_open=True)),
        betas=(float(betas[0]), float(betas[1])),
        kl_weight=float(_number(params, f"{p}.kl_weight", where, lo=0)),
        steps=_number(params, f"{p}.steps", where, integer=True, lo=1),
        seed=_number(params, f"{p}.seed", where, integer=True, lo=0),
        checkpoint_every=_number(params, f"{p}.checkpoint_every", where, integer=True, lo=1),
        log_every=_number(params, f"{p}.log_every", where, integer=True, lo=1),
        device=_choice(params, f"{p}.device", where, ("auto", "cpu", "cuda")),
        compile=compile_,
    )
