"""Through which latents a factor reaches the picture (train/evaluation/routes.py)."""
import numpy as np
import pytest
import torch

from render.shards.reader import ShardReader
from train.evaluation.routes import factor_routes, pairs


def test_pairs_are_the_extremes_or_half_a_turn_apart():
    first, second = pairs(np.array([0.2, -0.4, 0.9, 0.1]), 0.0)
    assert first.tolist() == [1] and second.tolist() == [2]
    first, second = pairs(np.array([0.0, 90.0, 180.0, 270.0]), 360.0)
    assert first.tolist() == [0, 1, 2, 3] and second.tolist() == [2, 3, 0, 1]


class BrightnessEngine:
    """A known answer: the code holds an image's mean gray level in latents 0 and 1, and the picture
    is drawn from latent 0 alone."""

    def encode(self, x):
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([m, m, torch.zeros_like(m), torch.zeros_like(m)], dim=1), None

    def decode_image(self, z):
        return z[:, :1, None, None].expand(-1, 1, 150, 150).clone()


def test_a_factor_drawn_through_one_latent_is_found_there(shards):
    reader = ShardReader(shards, "test")
    latents = {"azimuth": [0], "elevation": [2], "light": [3], "intrinsic": [1]}
    drawn = factor_routes(BrightnessEngine(), reader, "azimuth", "azimuth", latents)
    assert drawn["reconstruction"] > 0 and drawn["own"] == pytest.approx(drawn["reconstruction"])
    assert drawn["intrinsic"] == 0 and drawn["other_factors"] == 0
    elsewhere = factor_routes(BrightnessEngine(), reader, "elevation", "elevation", latents)
    assert elsewhere["own"] == 0 and elsewhere["other_factors"] == pytest.approx(elsewhere["reconstruction"])
