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
"""
import torch

MODES = ("mean", "first")


class Clamp(torch.autograd.Function):
    """Clamp the inactive columns of x (B, D) and rewrite their gradient.

    The backward is deliberately NOT the derivative of the forward: incoming gradient
    on inactive dims is discarded and replaced by the invariance signal.
    """

    @staticmethod
    def forward(ctx, x, active_mask, mode, strength):
        ctx.save_for_backward(x, active_mask)
        ctx.strength = strength
        shared = x.mean(0, keepdim=True) if mode == "mean" else x[:1]
        return torch.where(active_mask, x, shared)

    @staticmethod
    def backward(ctx, grad_out):
        x, active_mask = ctx.saved_tensors
        # math stays in x's dtype so it is cheap and autocast-friendly
        invariance = (x - x.mean(0, keepdim=True)) * ctx.strength
        grad_x = torch.where(active_mask, grad_out, invariance.to(grad_out.dtype))
        return grad_x, None, None, None


def clamp(x, active, mode="mean", strength=0.01):
    """Clamp every latent of x (B, D) except the indices in `active` (list or LongTensor)."""
    if mode not in MODES:
        raise ValueError(f"clamp mode must be one of {MODES}, got {mode!r}")
    if x.dim() != 2:
        raise ValueError(f"clamp expects x of shape (B, D), got {tuple(x.shape)}")
    mask = torch.zeros(x.shape[1], dtype=torch.bool, device=x.device)
    mask[torch.as_tensor(active, dtype=torch.long, device=x.device)] = True
    return Clamp.apply(x, mask, mode, float(strength))
