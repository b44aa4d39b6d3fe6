"""`dcign bench render` runs both renderers on the same images and prints their ratio (no timing
assertions: machines here are noisy; the figures go in the issue note)."""
import re

import pytest

from tests.conftest import run_dcign, tiny_params, write_params


@pytest.mark.parametrize("extra", [[], ["--chairs"]], ids=["faces", "chairs"])
def test_bench_render_prints_rates_and_ratio(tmp_path, extra):
    params = write_params(tmp_path / "params.yaml", tiny_params())
    proc = run_dcign("bench", "render", "--params", params, "--images", 8, "--workers", 2, *extra, check=True)
    assert ("chairs" in proc.stdout) == bool(extra)
    for kind in ("dcign", "naive"):
        for processes in (1, 2):
            assert re.search(rf"{kind}\s+{processes} process\(es\):\s+[\d.]+ images/s", proc.stdout), proc.stdout
    ratio = float(re.search(r"per process: ([\d.]+)x", proc.stdout).group(1))
    assert ratio > 0
