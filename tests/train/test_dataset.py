"""The shards as PyTorch data (train/dataset.py): items and their labels, single-factor batches in
the ratio, the trainer's own batches for the same seed, and the README's example run as written."""
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from render.shards.reader import ShardReader
from tests.conftest import REPO
from train.data import step_batches
from train.dataset import FactorBatchSampler, ShardDataset

RATIO = {"azimuth": 1, "elevation": 1, "light": 1, "intrinsic": 3}


def test_an_item_is_one_image_with_its_ground_truth(shards):
    data = ShardDataset(shards, "test")
    reader = ShardReader(shards, "test")
    assert len(data) == len(reader) * 4 and data.batch_types == reader.batch_types
    assert data.factors["azimuth"]["unit"] == "rad" and data.type_factor["light"] == "light_azimuth"
    images, labels = reader.batch("azimuth", 0)
    position = reader.position("azimuth", 0)
    image, truth = data[position * 4 + 2]
    assert image.shape == (1, 150, 150) and image.dtype == torch.float32
    assert torch.equal(image[0], torch.from_numpy(images[2].astype(np.float32) / 255))
    assert truth["batch_type"] == "azimuth" and truth["azimuth"] == labels["azimuth"][2]
    with pytest.raises(IndexError, match=f"image {len(data)} of {len(data)}"):
        data[len(data)]


def test_the_sampler_yields_single_factor_batches_in_the_ratio(shards):
    data = ShardDataset(shards, "train")
    loader = DataLoader(data, batch_sampler=FactorBatchSampler.over(data, RATIO, steps=60, seed=3))
    seen = []
    for images, labels in loader:
        assert images.shape == (4, 1, 150, 150)
        kind = set(labels["batch_type"])
        assert len(kind) == 1
        varied = data.type_factor[kind.pop()]
        fixed = [f for f in data.factors if f != varied]
        assert all(len(set(labels[f].tolist())) == 1 for f in fixed)  # everything else held
        if varied:
            assert len(set(labels["identity"].tolist())) == 1
        seen.append(labels["batch_type"][0])
    assert len(seen) == 60 and seen.count("intrinsic") > seen.count("light")
    again = [labels["batch_type"][0] for _, labels in loader]
    assert again == seen  # every pass draws the same batches


def test_the_trainer_draws_the_samplers_batches(shards):
    data = ShardDataset(shards, "train")
    sampler = FactorBatchSampler.over(data, RATIO, steps=5, seed=7)
    trainer = step_batches(ShardReader(shards, "train"), RATIO, [7], torch.device("cpu"), on_gpu=False)
    try:
        for indices in sampler:
            types, images = trainer.next()
            items = data.__getitems__(indices)
            assert types == [items[0][1]["batch_type"]]
            assert torch.equal(images.float() / 255, torch.stack([image[0] for image, _ in items]))
    finally:
        trainer.close()


@pytest.mark.parametrize("ratio, expect", [({"azimuth": 1}, "expected a weight for each batch type"),
                                           ({**RATIO, "light": -1}, "expected weights >= 0"),
                                           (dict.fromkeys(RATIO, 0), "at least one of them positive")])
def test_a_bad_ratio_says_what_is_expected(shards, ratio, expect):
    with pytest.raises(ValueError, match=expect):
        FactorBatchSampler.over(ShardDataset(shards), ratio, steps=1)


def test_the_readme_example_runs(shards, tmp_path):
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## The data in your own training code"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)[1]
    code = code.replace('"data/shards/faces"', repr(str(shards))).replace("steps=200", "steps=4")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "step 0: a " in proc.stdout and "'azimuth': 'rad'" in proc.stdout
