"""The page's readout (train/explorer/readout.js, run in Node) gives the Python readout's numbers:
the slider sets the codes the evaluation's figures use, and the page reads an image's value as
the report does."""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from train.evaluation.readout import Readout

READOUT_JS = Path(__file__).resolve().parents[3] / "train" / "explorer" / "readout.js"
NODE = shutil.which("node")


def in_node(readout: dict, values, mu) -> tuple[np.ndarray, np.ndarray]:
    script = (f"const r = require({json.dumps(str(READOUT_JS))});"
              "const q = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "console.log(JSON.stringify({codes: q.values.map((v) => r.codeFor(q.readout, v)),"
              " values: q.mu.map((m) => r.valueOf(q.readout, m))}));")
    query = json.dumps({"readout": readout, "values": list(map(float, values)), "mu": mu.tolist()})
    proc = subprocess.run([NODE, "-e", script], input=query, capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout)
    return np.array(out["codes"]), np.array(out["values"])


@pytest.mark.parametrize("circular", [True, False])
def test_the_page_sets_and_reads_a_factor_as_the_evaluation_does(circular):
    assert NODE, "node is installed by pipelines/run.sh with the explorer's runtime"
    rng = np.random.default_rng(3)
    grid = np.arange(30) * 2 * np.pi / 30 if circular else np.linspace(-1.5, 1.5, 31)
    values = np.repeat(grid, 4)
    mu = rng.normal(size=(len(values), 6))
    u = values + 0.8 * np.sin(2 * values)
    mu[:, 2], mu[:, 4] = 3 * np.cos(u) + 0.3 * mu[:, 2], 2 * np.sin(u) + 0.3 * mu[:, 4]
    read = Readout.fit(mu, values, [2, 4] if circular else [2], "rad", circular)
    settings = np.concatenate([rng.uniform(-1, 7, 40), grid[:3], [0.0, 2 * np.pi - 1e-9]])
    codes, read_values = in_node(read.as_dict(), settings, mu[:50])
    assert codes == pytest.approx(read.codes(settings), abs=1e-9)
    assert read_values == pytest.approx(read.values(mu[:50]), abs=1e-9)
