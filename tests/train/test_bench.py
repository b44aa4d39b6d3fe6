"""`dcign bench train` times the trainer's own step and data path against a naive fp32 eager loop
that computes the same thing (no timing assertions: machines here are noisy)."""
import re

import torch

from tests.conftest import run_dcign, tiny_train

ROW = r"^\s+{}\s+([\d.]+)\s+([\d.]+)x\s+([\d.]+)\s+([\d.]+)%\s+([\d.]+)%$"


def test_bench_train_prints_every_loop_at_every_width_and_shows_they_compute_the_same_step(shards):
    proc = run_dcign("bench", "train", "--feature-maps", "4,8", "--latent-dim", 8, "--batches-per-step", 2,
                     "--steps", 1, "--device", "cpu", "--data", shards, env={"OMP_NUM_THREADS": "1"}, check=True)
    out = proc.stdout
    assert re.search(r"measured matmul peak: fp32 \d+ GFLOP/s, bf16 \d+ GFLOP/s", out), out
    assert f"data: {shards}" in out and "batch 4," in out
    for width in (4, 8):
        block = out[out.index(f"\nF={width}:"):]
        written, executed = map(float, re.search(r"([\d.]+) GFLOP per image per training step as written .*, "
                                                 r"([\d.]+) as the project computes it", block).groups())
        assert 0 < executed < 0.6 * written  # the polyphase decoder: 16 instead of 49 multiply-adds per output
        same = re.search(r"loss per image dcign ([\d.]+), naive ([\d.]+) \(relative difference ([\d.e+-]+)\); "
                         r"gradients differ by ([\d.e+-]+)", block)
        dcign, naive, loss_diff, grad_diff = map(float, same.groups())
        assert dcign > 0 and loss_diff <= 1e-5 and grad_diff <= 1e-3  # fp32 rounding only
        rates = {}
        for label in ("naive fp32 eager, 1 batch/step", "dcign, 1 batch/step", "dcign, 2 batches/step"):
            rate, ratio, gflops, fp32_share, _ = map(float, re.search(ROW.format(re.escape(label)), block, re.M).groups())
            rates[label] = rate
            assert rate > 0 and gflops > 0 and fp32_share > 0
            assert abs(ratio - rate / rates["naive fp32 eager, 1 batch/step"]) <= 0.01 + 0.01 * ratio
    summary = out[out.index("speed-up of the project step over the naive loop"):]
    assert re.search(r"F=4: [\d.]+x \(dcign, [12] batch(es)?/step, the fastest\); [\d.]+x with dcign, 2 batches/step$",
                     summary, re.M)
    assert re.search(r"F=8: [\d.]+x \(dcign, [12] batch(es)?/step, the fastest\); [\d.]+x with dcign, 2 batches/step; "
                     r"CPU target 2x: (met|MISSED)$", summary, re.M)


def test_bench_widths_are_checked_in_one_line():
    proc = run_dcign("bench", "train", "--feature-maps", "8,30")
    assert proc.returncode == 2 and "'8,30': every width must be a multiple of 4, at least 4" in proc.stderr


def test_the_bench_times_the_step_the_trainer_runs(shards, tmp_path):
    from train import bench
    from train.config import train_config
    from train.loop import Trainer

    trainer = Trainer(train_config(tiny_train(), "dcign_faces"), shards, tmp_path / "m")
    assert type(trainer.train_step) is bench.TrainStep and type(trainer.batches) is bench.Prefetch
    trainer.batches.close()


def test_bench_literal_network_is_the_model_written_out():
    from train.bench import literal_net
    from train.model import DCIGN, ModelConfig

    torch.manual_seed(0)
    model = DCIGN(ModelConfig(feature_maps=4, latent_dim=8)).double()
    x = torch.rand(2, 1, 150, 150, dtype=torch.float64)
    torch.testing.assert_close(literal_net(model).decode(model.encode(x)[0]), model.decode(model.encode(x)[0]))
