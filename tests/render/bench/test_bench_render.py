"""`dcign bench render` runs both renderers on the same images and prints their rates and ratio (no
timing assertions: machines here are noisy; the figures go in the README)."""
import re

import pytest

from tests.conftest import run_dcign, tiny_params, write_params


@pytest.mark.parametrize("extra", [[], ["--dataset", "chairs"]], ids=["faces", "chairs"])
def test_bench_render_prints_rates_ratio_and_agreement(tmp_path, extra):
    params = write_params(tmp_path / "params.yaml", tiny_params())
    proc = run_dcign("bench", "render", "--params", params, "--images", 8, "--workers", 2, *extra, check=True)
    assert ("chairs" in proc.stdout) == bool(extra)
    rates = {}
    for kind in ("dcign", "naive"):
        for processes in (1, 2):
            found = re.search(rf"{kind}\s+{processes} process\(es\):\s+([\d.]+) images/s", proc.stdout)
            assert found, proc.stdout
            rates[kind, processes] = float(found.group(1))
            assert rates[kind, processes] > 0
    ratio = float(re.search(r"per process: ([\d.]+)x", proc.stdout).group(1))
    assert ratio == pytest.approx(rates["dcign", 1] / rates["naive", 1], rel=0.02, abs=0.01)
    iou = float(re.search(r"silhouettes of dcign and naive agree, IoU ([\d.]+)", proc.stdout).group(1))
    assert iou > 0.9  # both draw the same meshes at the same poses
