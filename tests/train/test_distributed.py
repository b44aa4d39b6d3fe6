"""Data-parallel training: `dcign train --nproc 2` (torchrun, gloo on CPU) against one process
accumulating the same global batches, resume across process counts, and bad process counts."""
import copy
import json

import numpy as np
import torch
from safetensors.numpy import load_file

from tests.conftest import cuda, tiny_train, train_tiny
from train.data import stream_seed
from train.distributed import Ranks, without_nproc


FP32 = {"precision": "fp32"}  # see assert_close


def weights(model_dir):
    return load_file(str(model_dir / "model.safetensors"))


def assert_close(a_dir, b_dir):
    """Equal to float rounding: one grouped pass over both batches sums in another order than two
    processes with one batch each, and Adam's normalised steps magnify that for tiny gradients
    (weights here are of order 0.01 to 0.1). The runs compared train in fp32 (FP32): under bf16
    autocast, on a CPU with bf16 units, the two orders round apart at bf16's precision."""
    a, b = weights(a_dir), weights(b_dir)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-5, err_msg=key)


def test_each_rank_takes_its_own_streams():
    assert list(Ranks(0, 2).streams(4)) == [0, 1] and list(Ranks(1, 2).streams(4)) == [2, 3]
    assert list(Ranks().streams(3)) == [0, 1, 2]
    assert stream_seed(7, 0) == 7  # one batch per step draws what a plain run always drew
    assert len({stream_seed(7, k) for k in range(4)}) == 4


def test_the_ranks_command_line_has_no_nproc():
    argv = ["train", "--nproc", "2", "--data", "d", "--nproc=4", "--config", "c"]
    assert without_nproc(argv) == ["train", "--data", "d", "--config", "c"]


def test_two_processes_match_one_process_on_the_same_global_batches(shards, tmp_path):
    single = train_tiny(tmp_path, shards, tmp_path / "single", batches_per_step=2, **FP32)
    assert single.returncode == 0, single.stderr
    ddp = train_tiny(tmp_path, shards, tmp_path / "ddp", "--nproc", 2, batches_per_step=2, **FP32)
    assert ddp.returncode == 0, ddp.stderr
    assert "on 2 processes on cpu" in ddp.stdout
    assert ddp.stdout.count("trained for 8 steps") == 1  # rank 0 reports, the others stay quiet
    assert_close(tmp_path / "single", tmp_path / "ddp")
    # the logged losses are the mean over both ranks' batches, as the single process's
    log = "live/plots/metrics/train/loss.tsv"
    rows = [[float(v) for v in line.split("\t")[:2]] for d in ("single", "ddp")
            for line in (tmp_path / d / log).read_text().splitlines()[1:]]
    half = len(rows) // 2
    np.testing.assert_allclose(rows[:half], rows[half:], rtol=1e-4)
    # checkpoints are written once, by rank 0, with every stream's state
    ckpts = sorted((tmp_path / "ddp").glob("ckpt-*"))
    assert [p.name for p in ckpts] == ["ckpt-00000006", "ckpt-00000008"]
    assert len(json.loads((ckpts[-1] / "rng.json").read_text())) == 2


def test_a_distributed_run_resumes_in_any_process_count(shards, tmp_path):
    assert train_tiny(tmp_path, shards, tmp_path / "straight", batches_per_step=2, steps=8, **FP32).returncode == 0
    first = train_tiny(tmp_path, shards, tmp_path / "resumed", "--nproc", 2, batches_per_step=2, steps=4, **FP32)
    assert first.returncode == 0, first.stderr
    again = train_tiny(tmp_path, shards, tmp_path / "resumed", batches_per_step=2, steps=6, **FP32)  # one process
    assert again.returncode == 0 and "resuming dcign_faces from step 4" in again.stdout, again.stderr
    last = train_tiny(tmp_path, shards, tmp_path / "resumed", env={"DCIGN_NPROC": "2"}, batches_per_step=2, steps=8,
                      **FP32)
    assert last.returncode == 0 and "resuming dcign_faces from step 6" in last.stdout, last.stderr
    assert "on 2 processes on cpu" in last.stdout  # DCIGN_NPROC: how a DVC stage's train gets N processes
    assert_close(tmp_path / "straight", tmp_path / "resumed")


def test_a_process_count_that_does_not_divide_the_batches_is_one_line(shards, tmp_path):
    proc = train_tiny(tmp_path, shards, tmp_path / "m", "--nproc", 2, batches_per_step=3)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "dcign: error: train.dcign_faces.batches_per_step = 3 is not a multiple of the 2 training processes: each "
        "process needs whole single-factor batches (the clamp works on one batch type at a time); set "
        "batches_per_step to a multiple of 2"]
    assert not (tmp_path / "m").exists()
    bad = train_tiny(tmp_path, shards, tmp_path / "m", batches_per_step=0)
    assert bad.returncode == 2 and "batches_per_step = 0: expected >= 1" in bad.stderr



@cuda
def test_nccl_data_parallel_step_in_one_process_matches_the_plain_step(monkeypatch):
    """NCCL and DistributedDataParallel on one GPU, as a one-process torchrun job would set them up:
    the step's gradients are those of the step without DDP."""
    from train.config import train_config
    from train.loop import TrainStep, new_model

    cfg = train_config(tiny_train(feature_maps=8, batches_per_step=2), "dcign_faces")
    device = torch.device("cuda")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29533")
    torch.distributed.init_process_group("nccl", rank=0, world_size=1, device_id=device)
    try:
        torch.manual_seed(0)
        model = new_model(cfg, device)
        plain = copy.deepcopy(model)
        images = torch.randint(0, 256, (10, 150, 150), dtype=torch.uint8, device=device)
        grads = []
        for net, ddp in ((model, True), (plain, False)):
            step = TrainStep(cfg, net, device, bf16=False, ddp=ddp)
            step(["azimuth", "intrinsic"], images, [torch.Generator(device=device).manual_seed(s) for s in (1, 2)])
            grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
        torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)
    finally:
        torch.distributed.destroy_process_group()
