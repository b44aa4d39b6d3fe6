"""
The DC-IGN clamp (Kulkarni et al. 2015, sec. 3.1 / "Invariance Targeting").

In a batch where only one factor varies, the latents of every other factor are
"clamped": each sample's value is replaced by one value shared by the batch, so
the free latent(s) must explain all the variation. In the backward pass the
clamped latents get no reconstruction/KL signal at all; instead they receive a
small gradient pulling each sample towards the batch mean (invariance).

Paper vs authors' code (train/reference.md, "Clamp"):
- the paper clamps to the batch mean ('mean'); the Torch code copies sample 0 ('first');
- the code's invariance term is sign-flipped for its ascent convention and applied
  twice; here it is the paper's intent in descent form: grad = strength * (x_k - mean(x)).
  strength=0 reproduces the code's default (zero gradient on clamped dims).

The clamped latents' noise: the authors' code samples z = mu + sigma * eps after the clamp with
a fresh eps per sample, so clamped latents still differ within the batch by their noise, and in
the 10 of 13 batches where a pose latent is clamped the decoder learns that it is noise to ignore.
`clamp_noise: none` (a named departure, train/model.py) feeds the decoder the clamped value
itself, one value for the batch as the paper describes.

The pull can differ per latent (`strength` a tensor of one per latent): `factor_invariance_strength`
(a named departure, off unless a profile sets it) gives a factor's own latents, where a batch of
another type clamps them, a pull of their own, beside the intrinsic latents' `invariance_strength`.
A pose latent that also follows another factor (the faces' elevation latent follows the light's
side) gets no other signal in those batches: their reconstruction does not reach it.

Several single-factor batches can go through the network as one: x is then G equal groups of
rows, each with its own mask of free latents, and the mean, the shared value and the invariance
pull are taken within each group, exactly as if the batches had gone through one by one.
"""
import torch

MODES = ("mean", "first")


class Clamp(torch.autograd.Function):
    """Clamp the inactive columns of x (G * B, D), group by group, and rewrite their gradient.

    The backward is deliberately NOT the derivative of the forward: incoming gradient
    on inactive dims is discarded and replaced by the invariance signal.
    """

    @staticmethod
    def forward(ctx, x, active_mask, mode, strength):
        ctx.save_for_backward(x, active_mask)
        ctx.strength = strength
        groups = x.reshape(active_mask.shape[0], -1, x.shape[1])
        shared = groups.mean(1, keepdim=True) if mode == "mean" else groups[:, :1]
        return torch.where(active_mask[:, None], groups, shared).reshape(x.shape)

    @staticmethod
    def backward(ctx, grad_out):
        x, active_mask = ctx.saved_tensors
        groups = x.reshape(active_mask.shape[0], -1, x.shape[1])
        # math stays in x's dtype so it is cheap and autocast-friendly
        invariance = (groups - groups.mean(1, keepdim=True)) * ctx.strength
        grad_x = torch.where(active_mask[:, None], grad_out.reshape(groups.shape), invariance.to(grad_out.dtype))
        return grad_x.reshape(x.shape), None, None, None


def clamp(x, active, mode="mean", strength=0.01):
    """Clamp every latent of x (B, D) except the indices in `active` (list or LongTensor), or,
    with `active` a (G, D) bool mask, clamp each of G equal groups of rows to its own mask.
    `strength`: the invariance pull, one number or a (D,) tensor of one per latent."""
    if mode not in MODES:
        raise ValueError(f"clamp mode must be one of {MODES}, got {mode!r}")
    if x.dim() != 2:
        raise ValueError(f"clamp expects x of shape (B, D), got {tuple(x.shape)}")
    mask = group_mask(active, x.shape[1], x.device)
    if mask.dim() != 2 or mask.shape[1] != x.shape[1] or x.shape[0] % mask.shape[0]:
        raise ValueError(f"clamp mask of shape {tuple(mask.shape)} does not split x {tuple(x.shape)} "
                         "into equal groups")
    if isinstance(strength, torch.Tensor):
        if strength.shape != (x.shape[1],):
            raise ValueError(f"clamp strength of shape {tuple(strength.shape)}: expected one per latent, ({x.shape[1]},)")
    else:
        strength = float(strength)
    return Clamp.apply(x, mask, mode, strength)


def group_mask(active, dim: int, device=None) -> torch.Tensor:
    """(G, dim) bool, True where a latent is free: `active` as a (G, dim) mask, or the latent
    indices of one group."""
    if isinstance(active, torch.Tensor) and active.dtype == torch.bool:
        return active.to(device)
    return latent_mask(active, dim, device)[None]


def latent_mask(active, dim: int, device=None) -> torch.Tensor:
    """(dim,) bool: True at the latent indices in `active` (list or LongTensor)."""
    mask = torch.zeros(dim, dtype=torch.bool, device=device)
    mask[torch.as_tensor(active, dtype=torch.long, device=device)] = True
    return mask
