"""
The Deep Convolutional Inverse Graphics Network (Kulkarni et al. 2015): a VAE with a
conv encoder and an upsample+conv decoder, exactly the shapes of the authors' Torch7
`init_network2_150_mv` (train/reference.md, "Network" and "Loss").

A forward pass may carry several single-factor batches at once ("groups" of equal size): the
clamp then works within each group, and each group draws its noise from its own generator, so
one grouped pass computes what the same batches would one after another.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from train.clamp import clamp as clamp_latents
from train.clamp import group_mask
from train.swap import partner_rows


@dataclass
class ModelConfig:
    feature_maps: int = 96  # F: encoder channels F, F/2, F/4
    latent_dim: int = 200
    image_size: int = 150  # the valid convs only line up for 150x150

    def __post_init__(self):
        if self.image_size != 150:
            raise ValueError(f"image_size must be 150 for this architecture, got {self.image_size}")
        if self.feature_maps < 4 or self.feature_maps % 4:
            raise ValueError(f"feature_maps must be a multiple of 4 and >= 4, got {self.feature_maps}")
        if self.latent_dim < 2:
            raise ValueError(f"latent_dim must be >= 2, got {self.latent_dim}")


class UpConv(nn.Conv2d):
    """Nearest-neighbour x2 upsampling followed by a valid k x k convolution (the authors'
    SpatialUpSamplingNearest + SpatialConvolution), computed without the upsampled image.

    Along each axis, output pixel 2p + r (r = 0, 1) reads input pixel p + (r + k) // 2 at kernel
    tap k = 0..K-1, so each of the 2 x 2 output phases is a valid convolution of the input itself
    with a kernel of (K + 2) // 2 taps per axis, each a sum of the K x K taps. One convolution
    with 4x the output channels, its phases interleaved into the image, gives the same numbers
    (to float rounding) with 16 instead of 49 multiply-adds per output for K = 7, and no 4x
    larger intermediate. The parameters stay the K x K kernel, so the network is the authors'."""

    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__(cin, cout, kernel)
        taps = (kernel + 2) // 2
        phase = torch.zeros(2, taps, kernel)  # phase[r, j, k] = 1 where tap k of phase r reads input offset j
        for r in range(2):
            for k in range(kernel):
                phase[r, (r + k) // 2, k] = 1.0
        self.register_buffer("phase", phase, persistent=False)

    def phase_weight(self) -> torch.Tensor:
        """(4 * cout, cin, taps, taps): the kernel of output phase (r, s) of channel c at row
        (2r + s) * cout + c, phase-major, so the phases interleave into a channels_last image with
        one copy of contiguous channel vectors."""
        w = self.weight
        phase = self.phase.to(w.dtype)
        merged = torch.einsum("rjk,slm,oikm->rsoijl", phase, phase, w)
        return merged.reshape(w.shape[0] * 4, w.shape[1], phase.shape[1], phase.shape[1])

    def forward(self, x):
        y = F.conv2d(x, self.phase_weight(), self.bias.repeat(4))
        _, _, h, w = y.shape
        c = self.out_channels
        # (n, h, w, r, s, c) -> (n, h, r, w, s, c) = the (n, 2h, 2w, c) image, returned as NCHW with channels_last
        # strides; n as -1 keeps an exported graph (train/evaluation/explore.py) valid for any batch size
        pixels = y.permute(0, 2, 3, 1).reshape(-1, h, w, 2, 2, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, 2 * h, 2 * w, c)
        return pixels.permute(0, 3, 1, 2)

    def literal(self, x):
        """The same layer written as the authors did: upsample, then convolve."""
        return F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), self.weight, self.bias)


class DCIGN(nn.Module):

    def __init__(self, config: ModelConfig = None):
        super().__init__()
        self.config = config = config or ModelConfig()
        f, d = config.feature_maps, config.latent_dim
        c = f // 4
        # conv -> pool -> relu, as the authors: 150 -> 146 -> 73 -> 69 -> 34 -> 30 -> 15
        self.encoder = nn.Sequential(
            nn.Conv2d(1, f, 5), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(f, f // 2, 5), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(f // 2, c, 5), nn.MaxPool2d(2), nn.ReLU(),
            nn.Flatten(),
        )
        self.mu = nn.Linear(c * 15 * 15, d)
        self.logvar = nn.Linear(c * 15 * 15, d)
        # nearest x2 then valid 7x7: 15 -> 30 -> 24 -> 48 -> 42 -> 84 -> 78 -> 156 -> 150
        self.decoder = nn.Sequential(
            nn.Linear(d, c * 15 * 15), nn.ReLU(), nn.Unflatten(1, (c, 15, 15)),
            UpConv(c, f // 2, 7), nn.ReLU(),
            UpConv(f // 2, f, 7), nn.ReLU(),
            UpConv(f, f, 7), nn.ReLU(),
            UpConv(f, 1, 7),  # logits; the sigmoid lives in the loss and in decode_image
        )
        # the authors' LinearCR: weights and biases ~ N(0, 0.01^2); convs keep the default
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.normal_(m.bias, std=0.01)

    def encode(self, x):
        """x: (N, 1, 150, 150) in [0, 1] -> (mu, logvar), each (N, latent_dim)."""
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        """z: (N, latent_dim) -> logits (N, 1, 150, 150)."""
        return self.decoder(z)

    def decode_image(self, z):
        return torch.sigmoid(self.decode(z))

    def forward(self, x, active=None, clamp="mean", strength=0.01, generator=None, clamped_noise=True,
                mirror=None, swap=None):
        """Returns (logits, mu, logvar, z). `active` says which latents are free: a list of
        indices for one batch, or a (groups, latent_dim) bool mask for that many equal groups of
        x; all others are clamped on both heads (within each group) before sampling. None = no
        clamping. `generator`: one generator, or a list of one per group, for the noise.
        `clamped_noise`: the clamped latents draw noise per sample like the free ones (the
        authors' code); without it they are the clamped mean itself (train/clamp.py).
        `mirror`: row indices of x to encode flipped left-right as well, in the same pass; then
        (those rows' mu before the clamp, mu of the flipped rows) is appended for the mirror term
        (train/mirror.py). `swap`: (mask, partners), a (groups, latent_dim) bool mask of free latents
        that each row takes from its partner row of the group instead, and each row's partner
        (train/swap.py)."""
        if mirror is not None:
            n = x.shape[0]
            mu, logvar = self.encode(torch.cat([x, x[mirror].flip(-1)]))
            mu, flipped, logvar = mu[:n], mu[n:], logvar[:n]
            raw = mu[mirror]
        else:
            mu, logvar = self.encode(x)
        if active is not None:
            mu = clamp_latents(mu, active, clamp, strength)
            logvar = clamp_latents(logvar, active, clamp, strength)
        if swap is not None:
            mu, logvar = partner_rows(mu, *swap), partner_rows(logvar, *swap)
        # fresh eps on every pass, as the authors (there is no "use the mean" mode)
        generators = generator if isinstance(generator, (list, tuple)) else [generator]
        rows = mu.shape[0] // len(generators)
        eps = torch.cat([torch.randn((rows, mu.shape[1]), generator=g, dtype=mu.dtype,
                                     device=g.device if g is not None else mu.device) for g in generators])
        z = mu + torch.exp(0.5 * logvar) * eps.to(mu.device)
        if active is not None and not clamped_noise:
            free = group_mask(active, mu.shape[1], mu.device)
            z = torch.where(free[:, None], z.reshape(free.shape[0], -1, z.shape[1]),
                            mu.reshape(free.shape[0], -1, mu.shape[1])).reshape(z.shape)
        if mirror is not None:
            return self.decode(z), mu, logvar, z, (raw, flipped)
        return self.decode(z), mu, logvar, z


def loss_terms(logits, x, mu, logvar, groups: int | None = None):
    """(BCE, KL), both summed over the batch as the authors' sizeAverage=false criteria, or
    with `groups`, over each of that many equal groups of the batch (two (groups,) tensors).
    The target x is the continuous grayscale image, not binarized. Sums run in float32."""
    mu, logvar = mu.float(), logvar.float()
    if groups is None:
        bce = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="sum")
        return bce, 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1.0 - logvar)
    bce = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="none")
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
    return bce.reshape(groups, -1).sum(1), kl.reshape(groups, -1).sum(1)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
