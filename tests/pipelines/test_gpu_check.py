"""pipelines/gpu_check.sh, on the CPU at tiny sizes (GPU_CHECK_DEVICE=cpu): every part runs (the
CUDA-only tests are collected and skipped), and the summary table reports each of them."""
import os
import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO


def test_the_gpu_check_runs_every_part_and_summarises_them(tmp_path):
    env = {**os.environ, "GPU_CHECK_DEVICE": "cpu", "GPU_CHECK_WORK": str(tmp_path), "GPU_CHECK_STEPS": "4",
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", str(REPO / "pipelines" / "gpu_check.sh")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr + (tmp_path / "status.tsv").read_text()
    summary = proc.stdout[proc.stdout.index("== GPU check summary"):]
    assert re.search(r"parts +setup ok, cuda-tests ok, bench ok, params ok, render ok, shard ok, train ok$", summary, re.M)
    assert "skipped" in summary and "failed" not in summary.lower()  # the CUDA tests exist and skip here
    assert "bench: naive fp32 eager, 1 batch/step" in summary and "bench: dcign, 2 batches/step" in summary
    assert "images/s) on EGL" in summary and "4 steps in" in summary
    assert "fp32 (cpu has no bf16 units)" in summary or "bf16 autocast (cpu has bf16 units)" in summary


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has the NVIDIA tools")
def test_without_a_gpu_the_check_says_so_in_one_line(tmp_path):
    env = {**os.environ, "GPU_CHECK_WORK": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(["bash", str(REPO / "pipelines" / "gpu_check.sh")], cwd=REPO, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "gpu check: no NVIDIA GPU here (nvidia-smi finds none); GPU_CHECK_DEVICE=cpu checks the script on the CPU"]
