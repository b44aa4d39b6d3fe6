"""Sheets of decoded images (train/sheets.py): the grid layout and the checkpoint snapshot."""
import numpy as np
import torch

from tests.conftest import tiny_train
from train.config import train_config
from train.loop import new_model
from train.sheets import SNAPSHOT_VALUES, grid, snapshot


def test_grid_lays_tiles_out_with_white_gaps():
    tiles = np.arange(2 * 3 * 2 * 2, dtype=np.uint8).reshape(2, 3, 2, 2)
    sheet = grid(tiles, gap=1)
    assert sheet.shape == (2 * 3 + 1, 3 * 3 + 1)
    assert np.array_equal(sheet[1:3, 4:6], tiles[0, 1]) and np.array_equal(sheet[4:6, 7:9], tiles[1, 2])
    assert (sheet[0] == 255).all() and (sheet[:, 3] == 255).all()


def test_a_snapshot_sweeps_each_pose_latent_of_one_image():
    cfg = train_config(tiny_train(feature_maps=8, latents={"azimuth": [0, 1], "elevation": [2], "light": [3]}),
                       "dcign_faces")
    torch.manual_seed(0)
    model = new_model(cfg, torch.device("cpu"))
    image = torch.rand(1, 1, 150, 150)
    sheet = snapshot(model, image, cfg.latents)
    assert sheet.shape == (4 * 154 + 4, (2 + len(SNAPSHOT_VALUES)) * 154 + 4)  # 4 pose latents
    first = sheet[4:154, 4:154]
    assert np.array_equal(first, (image[0, 0].numpy() * 255 + 0.5).astype(np.uint8))  # the input itself
    assert np.array_equal(sheet, snapshot(model, image, cfg.latents))  # no randomness
