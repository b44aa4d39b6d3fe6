"""`dcign bench train` times the trainer's own step against a naive fp32 eager loop that computes
the same thing (no timing assertions: machines here are noisy)."""
import re

from tests.conftest import run_dcign, tiny_train


def test_bench_train_prints_both_rates_and_shows_both_loops_compute_the_same_step():
    proc = run_dcign("bench", "train", "--feature-maps", 4, "--latent-dim", 8, "--batch", 4, "--steps", 2,
                     "--device", "cpu", env={"OMP_NUM_THREADS": "1"}, check=True)
    out = proc.stdout
    rates = {kind: float(re.search(rf"^\s+{kind}\s+([\d.]+) images/s", out, re.M).group(1)) for kind in ("dcign", "naive")}
    assert all(rate > 0 for rate in rates.values()), out
    speed_up = float(re.search(r"speed-up vs naive: ([\d.]+)x", out).group(1))
    assert abs(speed_up - rates["dcign"] / rates["naive"]) < 0.01 + 0.01 * speed_up
    same = re.search(r"loss per image dcign ([\d.]+), naive ([\d.]+) \(relative difference ([\d.e+-]+)\); "
                     r"gradients differ by ([\d.e+-]+)", out)
    assert same, out
    dcign, naive, loss_diff, grad_diff = map(float, same.groups())
    assert dcign > 0 and abs(dcign - naive) <= 1e-5 * naive and loss_diff <= 1e-5
    assert grad_diff <= 1e-4  # fp32 on the CPU: channels_last and NCHW convolutions differ by rounding only
    assert "GFLOP per image" in out and "of the measured matmul peak" in out


def test_the_bench_times_the_step_the_trainer_runs(shards, tmp_path):
    from train import bench
    from train.config import train_config
    from train.loop import Trainer

    trainer = Trainer(train_config(tiny_train(), "dcign_faces"), shards, tmp_path / "m")
    assert type(trainer.train_step) is bench.TrainStep
