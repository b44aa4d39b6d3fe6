"""What the system does to a run ends it with one line, never a traceback, and keeps what was
finished: a real full disk (a small tmpfs), a damaged model directory, data of another dataset."""
import pytest

from tests.conftest import run_dcign, tiny_params, train_tiny, write_params

FULL = "no space left on the device; free some and re-run the same command (finished work is kept)"


def one_line_error(proc) -> str:
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("workers", [1, 2])
def test_render_onto_a_full_disk(small_disk, tmp_path, workers):
    out = small_disk("200k") / "rendered"
    params = write_params(tmp_path / "params.yaml", tiny_params())
    line = one_line_error(run_dcign("render", "faces", "--params", params, "--out", out, "--workers", workers))
    assert line.startswith(f"dcign: error: {out}/") and line.endswith(FULL)
    assert not (out / "render_info.json").exists()


def test_shard_onto_a_full_disk(small_disk, rendered_faces, tmp_path):
    out = small_disk("200k") / "shards"
    params = write_params(tmp_path / "params.yaml", tiny_params())
    line = one_line_error(run_dcign("shard", "--in", rendered_faces, "--out", out, "--params", params))
    assert line.startswith(f"dcign: error: {out}/") and line.endswith(FULL)
    assert not (out / "manifest.json").exists()


def test_train_onto_a_full_disk(small_disk, shards, tmp_path):
    out = small_disk("48k") / "model"
    line = one_line_error(train_tiny(tmp_path, shards, out))
    assert line.endswith(FULL)
    assert not (out / "model.safetensors").exists()


def test_a_model_directory_without_a_finished_model(shards, tmp_path):
    out = tmp_path / "m"
    assert train_tiny(tmp_path, shards, out).returncode == 0
    (out / "model.safetensors").unlink()
    line = one_line_error(run_dcign("evaluate", "--model", out, "--data", shards, "--out", tmp_path / "r"))
    assert line == (f"dcign: error: {out}: no trained model (model.safetensors and config.json); its training has "
                    "not finished: resume it with the same 'dcign train' command")
    assert train_tiny(tmp_path, shards, out).returncode == 0  # the same command finishes it
    (out / "config.json").write_text("{not json")
    line = one_line_error(run_dcign("rerender", "--model", out, "--map", tmp_path / "r.json", "--image",
                                    tmp_path / "x.png", "--out", tmp_path / "o.png"))
    assert "latent map not found" in line
    (tmp_path / "r.json").write_text('{"factors": {}}')
    line = one_line_error(run_dcign("rerender", "--model", out, "--map", tmp_path / "r.json", "--image",
                                    tmp_path / "x.png", "--out", tmp_path / "o.png"))
    assert line.startswith(f"dcign: error: {out}: damaged model files (")


def test_a_flipped_byte_in_a_trained_models_weights_is_refused(shards, tmp_path):
    """A weight with one bit changed still parses; the checksums training recorded catch it."""
    out = tmp_path / "m"
    assert train_tiny(tmp_path, shards, out).returncode == 0
    data = bytearray((out / "model.safetensors").read_bytes())
    data[-3] ^= 1
    (out / "model.safetensors").write_bytes(bytes(data))
    line = one_line_error(run_dcign("evaluate", "--model", out, "--data", shards, "--out", tmp_path / "r"))
    assert line == (f"dcign: error: {out}: damaged model files (model.safetensors does not match its checksum in "
                    "checksums.json); train it again or restore it with 'dvc checkout'")


def test_a_model_of_one_dataset_on_shards_of_another(shards, chair_shards, tmp_path):
    out = tmp_path / "m"
    assert train_tiny(tmp_path, shards, out).returncode == 0
    line = one_line_error(run_dcign("evaluate", "--model", out, "--data", chair_shards, "--out", tmp_path / "r"))
    assert line == (f"dcign: error: {out}: a faces model, but {chair_shards} holds chairs shards; expected the "
                    "faces shards it was trained on")
    line = one_line_error(run_dcign("evaluate", "--model", out, "--baseline", out, "--data", shards,
                                    "--out", tmp_path / "r"))
    assert line == f"dcign: error: {out}: a clamped model; expected the entangled baseline (a model trained with mode: entangled)"
