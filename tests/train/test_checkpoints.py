"""Saved weights: models written before the decoder's upsample + convolution pairs became one
layer still load, as the same network; the checksum record a checkpoint or a model keeps says
which file cannot be trusted."""
import hashlib
import json

import pytest
import torch
from safetensors.torch import save_file

from train.checkpoints import checksum_damage, load_model
from train.model import DCIGN, ModelConfig

OLD_NAMES = {"decoder.3.": "decoder.4.", "decoder.5.": "decoder.7.", "decoder.7.": "decoder.10.",
             "decoder.9.": "decoder.13."}


def test_a_model_saved_under_the_old_decoder_names_loads_as_the_same_network(tmp_path):
    torch.manual_seed(0)
    model = DCIGN(ModelConfig(feature_maps=4, latent_dim=8)).eval()
    old = {}
    for key, value in model.state_dict().items():
        prefix = next((p for p in OLD_NAMES if key.startswith(p)), None)
        old[OLD_NAMES[prefix] + key[len(prefix):] if prefix else key] = value.contiguous()
    assert "decoder.13.weight" in old and "decoder.9.weight" not in old
    save_file(old, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"feature_maps": 4, "latent_dim": 8}))
    loaded, _ = load_model(tmp_path)
    z = torch.randn(3, 8)
    with torch.no_grad():
        assert torch.equal(loaded.decode(z), model.decode(z))


@pytest.fixture
def recorded(tmp_path):
    """A folder of two files and `record.json`, their sha256 digests."""
    for name, text in (("a.bin", "alpha"), ("b.json", "{}")):
        (tmp_path / name).write_text(text)
    sums = {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in ("a.bin", "b.json")}
    (tmp_path / "record.json").write_text(json.dumps(sums))
    return tmp_path


def test_files_that_match_their_record_pass(recorded):
    assert checksum_damage(recorded, "record.json") is None
    assert checksum_damage(recorded, "record.json", ("b.json",)) is None


@pytest.mark.parametrize("record", ["", None])
def test_a_record_written_before_checksums_or_none_at_all_passes(recorded, record):
    if record is None:
        (recorded / "record.json").unlink()
    else:
        (recorded / "record.json").write_text(record)
    assert checksum_damage(recorded, "record.json") is None


def test_a_changed_file_is_named(recorded):
    (recorded / "b.json").write_text("[]")
    assert checksum_damage(recorded, "record.json") == "b.json does not match its checksum in record.json"
    assert checksum_damage(recorded, "record.json", ("a.bin",)) is None


def test_a_missing_file_is_named(recorded):
    (recorded / "a.bin").unlink()
    assert checksum_damage(recorded, "record.json") == "a.bin is missing"


def test_a_file_the_record_lacks_fails_when_it_is_asked_for(recorded):
    (recorded / "c.bin").write_text("gamma")
    assert checksum_damage(recorded, "record.json", ("c.bin",)) == "c.bin does not match its checksum in record.json"


@pytest.mark.parametrize("text, reason", [("{not json", "record.json is unreadable"),
                                          ("[1, 2]", "record.json is damaged")])
def test_a_damaged_record_is_named(recorded, text, reason):
    (recorded / "record.json").write_text(text)
    assert checksum_damage(recorded, "record.json") == reason
