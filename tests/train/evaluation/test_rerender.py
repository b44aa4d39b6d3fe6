"""A user's image becomes the network's input as the renders are: any bit depth by its full range,
transparency on white, or a one-line refusal; factor values only within what the model knows."""
import numpy as np
import pytest
from PIL import Image

from render.errors import UserError
from train.evaluation.rerender import load_image, parse_sets


def saved(tmp_path, image: Image.Image, name: str) -> str:
    path = tmp_path / name
    image.save(path)
    return path


def test_8_bit_gray_and_colour_use_the_renderers_luma(tmp_path):
    x = load_image(saved(tmp_path, Image.new("L", (200, 100), 64), "g.png"))
    assert x.shape == (1, 1, 150, 150) and x.numpy() == pytest.approx(64 / 255, abs=1e-4)
    rgb = load_image(saved(tmp_path, Image.new("RGB", (64, 64), (255, 0, 0)), "r.png"))
    assert rgb.numpy() == pytest.approx(0.21, abs=1e-4)


def test_16_bit_and_float_images_keep_their_gray_level(tmp_path):
    sixteen = Image.fromarray(np.full((80, 80), 32768, dtype=np.uint16))
    assert load_image(saved(tmp_path, sixteen, "16.png")).numpy() == pytest.approx(0.5, abs=1e-3)
    floats = Image.fromarray(np.full((80, 80), 0.25, dtype=np.float32))
    assert load_image(saved(tmp_path, floats, "f.tiff")).numpy() == pytest.approx(0.25, abs=1e-4)


def test_transparency_is_composited_on_white(tmp_path):
    clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    assert load_image(saved(tmp_path, clear, "clear.png")).numpy() == pytest.approx(1.0, abs=1e-4)
    half = Image.new("LA", (64, 64), (0, 128))
    assert load_image(saved(tmp_path, half, "half.png")).numpy() == pytest.approx(127 / 255, abs=5e-3)
    palette = Image.new("P", (64, 64), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.info["transparency"] = 0
    assert load_image(saved(tmp_path, palette, "p.png")).numpy() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("make, name, expect", [
    (lambda: Image.new("L", (1, 1), 0), "dot.png", "1x1 pixels; expected at least 32 pixels on each side"),
    (lambda: Image.fromarray(np.full((40, 40), 3.0, np.float32)), "hot.tiff",
     "floating-point pixels from 3 to 3; expected values in [0, 1]"),
    (lambda: None, "junk.png", "not a readable image"),
])
def test_images_that_would_mislead_are_refused_in_one_line(tmp_path, make, name, expect):
    image = make()
    path = saved(tmp_path, image, name) if image is not None else tmp_path / name
    if image is None:
        path.write_bytes(b"not an image")
    with pytest.raises(UserError, match=f"^{path}: .*" + expect.replace("[", r"\[").replace("]", r"\]")):
        load_image(path)


def test_set_values_are_checked_against_the_models_range():
    line = {"readout": {"period": 0.0}, "unit": "rad", "range": [0.0, 1.5]}
    circle = {"readout": {"period": 360.0}, "unit": "deg", "range": [0.0, 348.0]}
    latent_map = {"factors": {"azimuth": line, "turn": circle}}
    assert parse_sets(["azimuth=1.5", "turn=400"], latent_map) == {"azimuth": 1.5, "turn": 400.0}
    with pytest.raises(UserError, match=r"^--set azimuth=2: outside the range this model was trained and tested on; "
                                        r"expected 0\.\.1\.5 rad$"):
        parse_sets(["azimuth=2"], latent_map)
    with pytest.raises(UserError, match="expected a finite number"):
        parse_sets(["azimuth=nan"], latent_map)
