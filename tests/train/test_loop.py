"""The training loop on tiny real shards: exact resume after a kill, logs, the entangled mode,
and data that does not match the config."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.numpy import load_file

from tests.conftest import run_dcign, tiny_params, tiny_train, train_tiny, write_params


def test_training_logs_losses_and_writes_a_model(shards, tmp_path):
    proc = train_tiny(tmp_path, shards, tmp_path / "m")
    assert proc.returncode == 0, proc.stderr
    assert "dcign: dcign_faces trained for 8 steps; last losses per image: loss " in proc.stdout
    metrics = json.loads((tmp_path / "m" / "live" / "metrics.json").read_text())["train"]
    assert {"loss", "bce", "kl"} <= set(metrics) and any(k.startswith("loss_") for k in metrics)
    assert metrics["loss"] == pytest.approx(metrics["bce"] + metrics["kl"], rel=1e-4)
    weights = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert weights["mu.weight"].shape == (8, 225)
    assert len(list((tmp_path / "m").glob("ckpt-*"))) == 2  # the last two are kept
    # a snapshot per checkpoint: input, reconstruction and 7 values for each of the 3 pose latents
    snapshots = tmp_path / "m" / "live" / "plots" / "images" / "sweeps"
    assert sorted(p.name for p in snapshots.iterdir()) == ["2.png", "4.png", "6.png", "8.png"]
    sheet = np.asarray(Image.open(snapshots / "8.png"))
    assert sheet.shape == (3 * 154 + 4, 9 * 154 + 4) and sheet.std() > 0
    assert not np.array_equal(sheet, np.asarray(Image.open(snapshots / "2.png")))  # it shows the learning


def test_a_killed_run_resumes_to_exactly_the_same_weights(shards, tmp_path):
    assert train_tiny(tmp_path, shards, tmp_path / "whole", steps=40).returncode == 0
    params = write_params(tmp_path / "params.yaml", tiny_train(steps=40))
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "train", "--data", str(shards), "--config",
                             "dcign_faces", "--out", str(out), "--params", str(params)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while not list(out.glob("ckpt-*")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if (out / "model.safetensors").exists():
        pytest.skip("the run finished before it could be killed")
    resumed = train_tiny(tmp_path, shards, out, steps=40)
    assert resumed.returncode == 0 and "resuming dcign_faces from step" in resumed.stdout
    assert same_weights(tmp_path / "whole", out)
    log = "live/plots/metrics/train/loss.tsv"
    assert (out / log).read_text() == (tmp_path / "whole" / log).read_text()
    assert same_files(tmp_path / "whole", out)  # checkpoints included: DVC sees the same directory


def same_files(a, b) -> bool:
    """The same files with the same bytes: what DVC hashes of a model directory."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    return files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()) and all(
        (a / f).read_bytes() == (b / f).read_bytes() for f in files)


def same_weights(a, b) -> bool:
    a, b = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_raising_steps_extends_a_finished_run(shards, tmp_path):
    assert train_tiny(tmp_path, shards, tmp_path / "straight", steps=8).returncode == 0
    assert train_tiny(tmp_path, shards, tmp_path / "extended", steps=4).returncode == 0
    proc = train_tiny(tmp_path, shards, tmp_path / "extended", steps=8)
    assert proc.returncode == 0 and "resuming dcign_faces from step 4" in proc.stdout
    assert same_weights(tmp_path / "straight", tmp_path / "extended")
    assert same_files(tmp_path / "straight", tmp_path / "extended")


@pytest.mark.parametrize("damage", ["model.safetensors", "state.json", "state.safetensors", "done"])
def test_a_damaged_checkpoint_falls_back_to_the_newest_intact_one(shards, tmp_path, damage):
    import shutil

    assert train_tiny(tmp_path, shards, tmp_path / "straight", steps=8).returncode == 0
    shutil.copytree(tmp_path / "straight", tmp_path / "hit")
    (tmp_path / "hit" / "model.safetensors").unlink()
    target = tmp_path / "hit" / "ckpt-00000008" / damage
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte flipped, the size unchanged
    target.write_bytes(bytes(data))
    proc = train_tiny(tmp_path, shards, tmp_path / "hit", steps=8)
    assert proc.returncode == 0, proc.stderr
    assert f"dcign: {tmp_path / 'hit' / 'ckpt-00000008'} is damaged (" in proc.stdout
    assert "resuming dcign_faces from step 6" in proc.stdout
    assert same_files(tmp_path / "straight", tmp_path / "hit")


def test_a_diverging_run_stops_at_its_first_non_finite_step_and_keeps_the_good_checkpoints(shards, tmp_path):
    out = tmp_path / "diverged"
    proc = train_tiny(tmp_path, shards, out, lr=1e6, steps=20, checkpoint_every=1, log_every=10)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]  # after the progress bar
    bad = int(line.split("the loss is not finite at step ")[1].split()[0])
    assert line == (f"dcign: error: dcign_faces: the loss is not finite at step {bad} (diverged; try a lower lr "
                    f"than 1e+06); stopped, the newest checkpoint, step {bad - 1}, is the last good one")
    assert not (out / "model.safetensors").exists()
    newest = sorted(out.glob("ckpt-*"))[-1]
    assert newest.name == f"ckpt-{bad - 1:08d}"
    weights = load_file(str(newest / "model.safetensors"))
    assert all(np.isfinite(w).all() for w in weights.values())


def test_lowering_steps_stops_and_keeps_the_longer_run(shards, tmp_path):
    out = tmp_path / "m"
    assert train_tiny(tmp_path, shards, out, steps=6).returncode == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*")}
    proc = train_tiny(tmp_path, shards, out, steps=3)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == (
        f"dcign: error: {out / 'ckpt-00000006'}: this run is trained to step 6, beyond steps = 3; lowering steps "
        "would discard it: raise steps, or use another --out")
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_training_into_a_directory_with_a_users_files_stops_and_keeps_them(shards, tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    proc = train_tiny(tmp_path, shards, out, "--restart-if-changed")
    assert proc.returncode == 2 and "holds 'notes.txt', which `dcign train` did not write" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_another_config_stops_or_restarts_when_asked(shards, tmp_path):
    assert train_tiny(tmp_path, shards, tmp_path / "m", steps=4).returncode == 0
    proc = train_tiny(tmp_path, shards, tmp_path / "m", steps=4, lr=0.001)
    assert proc.returncode == 2
    assert "checkpoint is of another run (checkpoint has lr = 0.0005, the config says 0.001)" in proc.stderr
    proc = train_tiny(tmp_path, shards, tmp_path / "m", "--restart-if-changed", steps=4, lr=0.001)
    assert proc.returncode == 0 and "of a different run" in proc.stdout and "resuming" not in proc.stdout
    assert train_tiny(tmp_path, shards, tmp_path / "fresh", steps=4, lr=0.001).returncode == 0
    assert same_weights(tmp_path / "m", tmp_path / "fresh")
    assert sorted(p.name for p in (tmp_path / "m").glob("ckpt-*")) == ["ckpt-00000002", "ckpt-00000004"]


def test_checkpoint_from_another_architecture(shards, tmp_path):
    assert train_tiny(tmp_path, shards, tmp_path / "m", steps=2).returncode == 0
    proc = train_tiny(tmp_path, shards, tmp_path / "m", steps=4, feature_maps=8)
    assert proc.returncode == 2 and "checkpoint has feature_maps = 4, the config says 8" in proc.stderr
    assert proc.stderr.count("\n") == 1


def one_step(mode: str, batch_type: str = "azimuth"):
    """The model and its gradients after one TrainStep on a random batch, from seed 0."""
    from train.config import train_config
    from train.loop import TrainStep, new_model

    cfg = train_config(tiny_train(mode=mode), "dcign_faces")
    torch.manual_seed(0)
    model = new_model(cfg, torch.device("cpu"))
    images = np.random.default_rng(0).integers(0, 256, (4, 150, 150), dtype=np.uint8)
    TrainStep(cfg, model, torch.device("cpu"), bf16=False)([batch_type], torch.from_numpy(images),
                                                           [torch.Generator().manual_seed(0)])
    return cfg, model, images


def test_entangled_mode_trains_without_the_clamp(shards, tmp_path):
    """Entangled: plain SGVB, so every latent's head row gets its reconstruction gradient; clamped:
    the inactive rows get only the invariance pull, which leaves their bias untouched."""
    from train.model import DCIGN, loss_terms

    cfg, entangled, images = one_step("entangled")
    _, clamped, _ = one_step("clamped")
    inactive = [i for i in range(cfg.latent_dim) if i not in cfg.latents["azimuth"]]
    assert torch.all(clamped.mu.bias.grad[inactive].abs() < 1e-6)
    assert torch.all(entangled.mu.bias.grad[inactive].abs() > 1e-4)
    # and it is exactly the unclamped step, done by hand from the same weights and noise
    torch.manual_seed(0)
    plain = DCIGN(cfg.model)
    x = torch.from_numpy(images).unsqueeze(1).float() / 255
    logits, mu, logvar, _ = plain(x, generator=torch.Generator().manual_seed(0))
    sum(loss_terms(logits, x, mu, logvar)).backward()
    for (name, p), q in zip(entangled.named_parameters(), plain.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-4, msg=name)

    proc = train_tiny(tmp_path, shards, tmp_path / "base", mode="entangled")
    assert proc.returncode == 0 and "training dcign_faces (entangled" in proc.stdout


def test_data_that_does_not_match_the_config(shards, tmp_path):
    params = tiny_params()
    params["faces"]["batches"]["train"]["elevation"] = 0

    def shards_of(image_size: int) -> Path:
        params["faces"]["image_size"] = image_size
        write_params(tmp_path / "p.yaml", params)
        rendered, out = tmp_path / f"r{image_size}", tmp_path / f"s{image_size}"
        run_dcign("render", "faces", "--params", tmp_path / "p.yaml", "--out", rendered, "--workers", 1, check=True)
        run_dcign("shard", "--in", rendered, "--out", out, "--params", tmp_path / "p.yaml", check=True)
        return out

    proc = train_tiny(tmp_path, shards_of(64), tmp_path / "m")
    assert proc.returncode == 2 and "images are 64x64, the model expects 150x150" in proc.stderr
    proc = train_tiny(tmp_path, shards_of(150), tmp_path / "m")
    assert proc.returncode == 2 and "the train split has no elevation batches" in proc.stderr
    proc = train_tiny(tmp_path, shards, tmp_path / "m", dataset="chairs",
                      batch_ratio={"azimuth": 1, "intrinsic": 1}, latents={"azimuth": [0]})
    assert proc.returncode == 2 and "holds faces data" in proc.stderr


def test_a_short_run_makes_the_azimuth_latent_track_azimuth(tmp_path):
    """The paper's claim in miniature: with clamped azimuth batches, z0 alone explains the turn.
    Azimuths are one-signed here (0..1.5 rad): a left-right symmetric head leaves the sign of a
    turn ambiguous, which a short run does not resolve (see the issue notes)."""
    from render.shards.reader import ShardReader
    from train.checkpoints import load_model

    params = tiny_params()
    faces = params["faces"]
    faces.update(batch_size=20, identities={"train": 40, "test": 20}, chunk_batches=8)
    faces["factors"]["azimuth"] = {"min": 0.0, "max": 1.5, "step": 0.05}
    faces["batches"] = {"train": {"azimuth": 24, "elevation": 0, "light": 0, "intrinsic": 8},
                        "test": {"azimuth": 4, "elevation": 0, "light": 0, "intrinsic": 1}}
    section = params["train"]["dcign_faces"]
    section.update(feature_maps=8, latent_dim=16, steps=200, lr=0.002, checkpoint_every=200, log_every=10,
                   device="cpu", batch_ratio={"azimuth": 1, "elevation": 0, "light": 0, "intrinsic": 1})
    write_params(tmp_path / "params.yaml", params)
    run_dcign("render", "faces", "--params", tmp_path / "params.yaml", "--out", tmp_path / "r", "--workers", 2,
              check=True)
    run_dcign("shard", "--in", tmp_path / "r", "--out", tmp_path / "s", "--params", tmp_path / "params.yaml",
              check=True)
    run_dcign("train", "--data", tmp_path / "s", "--config", "dcign_faces", "--out", tmp_path / "m",
              "--params", tmp_path / "params.yaml", check=True)

    losses = [float(line.split("\t")[-1]) for line in
              (tmp_path / "m/live/plots/metrics/train/loss.tsv").read_text().splitlines()[1:]]
    assert np.mean(losses[-3:]) < 0.7 * losses[0]
    model, _ = load_model(tmp_path / "m")
    reader = ShardReader(tmp_path / "s", "test")
    z, y = [], []
    for i in range(reader.count("azimuth")):
        images, labels = reader.batch("azimuth", i)
        with torch.no_grad():
            mu, _ = model.encode(torch.from_numpy(np.array(images)).unsqueeze(1).float() / 255)
        z.append(mu[:, 0].numpy())
        y.append(labels["azimuth"])
    r = np.corrcoef(np.concatenate(z), np.concatenate(y))[0, 1]
    assert abs(r) >= 0.8, f"held-out |r(z0, azimuth)| = {abs(r):.3f}"


def test_rmsprop_option_and_chairs_training(shards, chair_shards, tmp_path):
    assert train_tiny(tmp_path, shards, tmp_path / "rms", steps=2, optimizer="rmsprop").returncode == 0
    params = tiny_params()
    params["train"]["dcign_chairs"].update(feature_maps=4, latent_dim=8, steps=2, checkpoint_every=2, device="cpu")
    write_params(tmp_path / "c.yaml", params)
    proc = run_dcign("train", "--data", chair_shards, "--config", "dcign_chairs", "--out", tmp_path / "mc",
                     "--params", tmp_path / "c.yaml", check=True)
    assert "dcign_chairs trained for 2 steps" in proc.stdout
    metrics = json.loads((tmp_path / "mc" / "live" / "metrics.json").read_text())["train"]
    assert set(k for k in metrics if k.startswith("loss_")) <= {"loss_azimuth", "loss_intrinsic"}


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cpu_training_repeats_bit_for_bit_and_resumes_exactly(shards, tmp_path, precision):
    """Same seed, thread count and machine: the same weights, bit for bit, in either precision,
    with grouped batches, whether the run went straight through or stopped and resumed."""
    kw = dict(precision=precision, batches_per_step=2, steps=6)
    first = train_tiny(tmp_path, shards, tmp_path / "a", **kw)
    assert first.returncode == 0 and ("bf16 autocast" if precision == "bf16" else "fp32 (cpu") in first.stdout
    assert train_tiny(tmp_path, shards, tmp_path / "b", **kw).returncode == 0
    assert same_weights(tmp_path / "a", tmp_path / "b")
    assert train_tiny(tmp_path, shards, tmp_path / "c", **{**kw, "steps": 3}).returncode == 0
    resumed = train_tiny(tmp_path, shards, tmp_path / "c", **kw)
    assert "resuming dcign_faces from step" in resumed.stdout
    assert same_weights(tmp_path / "a", tmp_path / "c")


def assert_cut_run_resumes_to_the_same_weights(tmp_path, shards, kw):
    """The finished 6-step run in <tmp>/straight, cut back to its step-3 checkpoint and resumed,
    ends with the straight run's weights."""
    import shutil

    shutil.copytree(tmp_path / "straight", tmp_path / "cut")
    shutil.rmtree(tmp_path / "cut" / "ckpt-00000006")
    (tmp_path / "cut" / "model.safetensors").unlink()
    resumed = train_tiny(tmp_path, shards, tmp_path / "cut", **kw)
    assert resumed.returncode == 0 and "resuming dcign_faces from step 3" in resumed.stdout
    assert same_weights(tmp_path / "straight", tmp_path / "cut")


def test_schedules_resume_exactly_and_tie_the_run_to_its_steps(shards, tmp_path):
    """A cosine learning rate with warm-ups is a function of the step: a run resumed half-way ends
    with the straight run's weights. Its rate at every step depends on `steps`, so a finished cosine
    run is not extended by raising `steps`: that is another run."""
    kw = dict(lr_schedule="cosine", lr_warmup_steps=2, kl_warmup_steps=3, steps=6, checkpoint_every=3)
    assert train_tiny(tmp_path, shards, tmp_path / "straight", **kw).returncode == 0
    assert train_tiny(tmp_path, shards, tmp_path / "constant", **{**kw, "lr_schedule": "constant"}).returncode == 0
    assert not same_weights(tmp_path / "straight", tmp_path / "constant")
    assert_cut_run_resumes_to_the_same_weights(tmp_path, shards, kw)
    longer = train_tiny(tmp_path, shards, tmp_path / "straight", **{**kw, "steps": 8})
    assert longer.returncode == 2 and "checkpoint is of another run (checkpoint has steps = 6" in longer.stderr


def test_a_late_intrinsic_swap_resumes_exactly(shards, tmp_path):
    """The swap's partners come from the batches' noise streams, which the checkpoints keep: a run
    cut after the swap has started ends with the straight run's weights."""
    kw = dict(intrinsic_swap=True, intrinsic_swap_start=2, steps=6, checkpoint_every=3)
    assert train_tiny(tmp_path, shards, tmp_path / "straight", **kw).returncode == 0
    assert train_tiny(tmp_path, shards, tmp_path / "clamp", **{**kw, "intrinsic_swap": False}).returncode == 0
    assert not same_weights(tmp_path / "straight", tmp_path / "clamp")
    assert_cut_run_resumes_to_the_same_weights(tmp_path, shards, kw)
