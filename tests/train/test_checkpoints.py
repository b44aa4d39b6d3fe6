"""Saved weights: models written before the decoder's upsample + convolution pairs became one
layer still load, as the same network."""
import json

import torch
from safetensors.torch import save_file

from train.checkpoints import load_model
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
