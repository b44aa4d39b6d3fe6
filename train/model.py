"""
The Deep Convolutional Inverse Graphics Network (Kulkarni et al. 2015): a VAE with a
conv encoder and an upsample+conv decoder, exactly the shapes of the authors' Torch7
`init_network2_150_mv` (train/reference.md, "Network" and "Loss").
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from train.clamp import clamp as clamp_latents


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
        up = lambda cin, cout: [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 7)]
        self.decoder = nn.Sequential(
            nn.Linear(d, c * 15 * 15), nn.ReLU(), nn.Unflatten(1, (c, 15, 15)),
            *up(c, f // 2), nn.ReLU(),
            *up(f // 2, f), nn.ReLU(),
            *up(f, f), nn.ReLU(),
            *up(f, 1),  # logits; the sigmoid lives in the loss and in decode_image
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

    def forward(self, x, active=None, clamp="mean", strength=0.01, generator=None):
        """Returns (logits, mu, logvar, z). `active` lists the latents free in this batch;
        all others are clamped on both heads before sampling. None = no clamping."""
        mu, logvar = self.encode(x)
        if active is not None:
            mu = clamp_latents(mu, active, clamp, strength)
            logvar = clamp_latents(logvar, active, clamp, strength)
        # fresh eps on every pass, as the authors (there is no "use the mean" mode)
        device = generator.device if generator is not None else mu.device
        eps = torch.randn(mu.shape, generator=generator, device=device, dtype=mu.dtype).to(mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decode(z), mu, logvar, z


def loss_terms(logits, x, mu, logvar):
    """(BCE, KL), both summed over the batch as the authors' sizeAverage=false criteria.
    The target x is the continuous grayscale image, not binarized. Sums run in float32."""
    bce = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="sum")
    mu, logvar = mu.float(), logvar.float()
    kl = 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1.0 - logvar)
    return bce, kl


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
