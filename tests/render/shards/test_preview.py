"""The contact sheet of a rendered dataset."""
import numpy as np
from PIL import Image

from tests.conftest import run_dcign


def test_preview_has_one_row_per_batch_type(rendered_faces, tmp_path):
    png = tmp_path / "preview.png"
    run_dcign("preview", rendered_faces, "--out", png, check=True)
    image = np.asarray(Image.open(png))
    assert image.ndim == 2 and image.shape[0] > 4 * 150 and image.shape[1] > 4 * 150
    proc = run_dcign("preview", tmp_path / "nothing", "--out", png)
    assert proc.returncode == 2 and "render_info.json: not found" in proc.stderr
