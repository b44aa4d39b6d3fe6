"""What the evaluation tests share: a tiny model, trained and evaluated once by the real CLI."""
import pytest

from tests.conftest import run_dcign, train_tiny


@pytest.fixture(scope="session")
def evaluated(shards, tmp_path_factory):
    """The results directory of `dcign evaluate` on a 30-step model; the model is its sibling `model`."""
    root = tmp_path_factory.mktemp("eval")
    assert train_tiny(root, shards, root / "model", steps=30, feature_maps=8).returncode == 0
    proc = run_dcign("evaluate", "--model", root / "model", "--data", shards, "--out", root / "results",
                     "--preset", "fast", check=True)
    assert "report in" in proc.stdout
    return root / "results"
