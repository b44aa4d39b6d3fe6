"""`dcign explore`: the ONNX graphs agree with PyTorch, the folder stands alone, and in a real
browser (headless Chromium loading the page from a local file server) a slider re-renders the
image with exactly the decoder PyTorch runs."""
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from html import unescape
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from tests.conftest import run_dcign
from train.checkpoints import load_model

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def explorer(evaluated, shards, tmp_path_factory):
    out = tmp_path_factory.mktemp("explore") / "explorer"
    proc = run_dcign("explore", "--model", evaluated.parent / "model", "--data", shards, "--map",
                     evaluated / "latent_map.json", "--out", out, check=True)
    assert "ONNX vs PyTorch max abs difference" in proc.stdout
    return out


def test_the_folder_holds_the_page_the_runtime_the_graphs_and_test_images(explorer, evaluated):
    info = json.loads((explorer / "explorer.json").read_text())
    for name in ("index.html", "readout.js", "app.js", "style.css", "ort.wasm.min.js", "ort-wasm-simd-threaded.wasm",
                 "encoder.onnx", "decoder.onnx"):
        assert (explorer / name).is_file(), name
    assert set(info["factors"]) == {"azimuth", "elevation", "light"}
    assert info["factors"]["light"]["unit"] == "deg" and info["factors"]["light"]["factor"] == "light_azimuth"
    assert all(v < 1e-4 for v in info["onnx_max_abs_diff"].values())
    assert info["images"] and all((explorer / im["file"]).is_file() for im in info["images"])
    assert {"azimuth", "elevation", "light"} <= set(info["images"][0]["values"])


def test_the_onnx_graphs_give_pytorchs_numbers(explorer, evaluated):
    model, _ = load_model(evaluated.parent / "model")
    z = np.random.default_rng(1).standard_normal((3, model.config.latent_dim)).astype(np.float32)
    got = onnxruntime.InferenceSession(str(explorer / "decoder.onnx")).run(None, {"input": z})[0]
    with torch.no_grad():
        want = model.decode_image(torch.from_numpy(z)).numpy()
    assert np.abs(got - want).max() < 1e-4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(explorer):
    """The folder on a plain local file server, as a user would serve it (no project code)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory",
                               str(explorer)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/index.html"
    server.terminate()
    server.wait()


def chromium(home: Path, *args, timeout=120) -> subprocess.CompletedProcess:
    """Headless Chromium with its profile in `home`, a folder of the test's own (pytest removes it)."""
    return subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--no-first-run", f"--user-data-dir={home}", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_a_slider_rerenders_with_pytorchs_decoder_in_a_real_browser(served, explorer, evaluated, tmp_path):
    assert BROWSER, "chromium is installed by pipelines/run.sh for the tests"
    home = tmp_path / "chromium"
    proc = chromium(home, "--virtual-time-budget=60000", "--dump-dom", f"{served}?test=1&light=-40")  # a link sets light
    found = re.search(r'<pre id="test-result"[^>]*>(.*?)</pre>', proc.stdout, re.S)
    assert found and found[1].strip(), f"the page left no result:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    result = json.loads(unescape(found[1]))
    assert result["factor"] == "azimuth"
    before, after = np.array(result["before"]), np.array(result["after"])
    assert np.abs(after - before).max() > 0  # the slider changed the picture
    model, _ = load_model(evaluated.parent / "model")
    with torch.no_grad():
        want = model.decode_image(torch.tensor([result["z"]], dtype=torch.float32))[0, 0].numpy().ravel()
    assert np.abs(np.array(result["output"]) - want).max() < 1e-4  # the browser's decoder is PyTorch's
    assert np.abs(after - np.round(np.clip(want, 0, 1) * 255)).max() <= 1  # and the canvas shows it
    info = json.loads((explorer / "explorer.json").read_text())
    entry = info["factors"]["azimuth"]
    code = np.array([result["value"], 1.0]) @ np.array(entry["readout"]["to_code"])
    assert np.allclose(np.array(result["z"])[entry["readout"]["latents"]], code, atol=1e-5)  # the slider's value
    light = info["factors"]["light"]
    assert result["sliders"]["light"] == -40
    code = np.array([-40.0, 1.0]) @ np.array(light["readout"]["to_code"])
    assert np.allclose(np.array(result["z"])[light["readout"]["latents"]], code, atol=1e-5)  # combined freely
    shot = tmp_path / "explorer.png"
    chromium(home, "--virtual-time-budget=60000", "--window-size=1280,800", f"--screenshot={shot}", f"{served}?test=1")
    assert shot.is_file() and shot.stat().st_size > 10_000
