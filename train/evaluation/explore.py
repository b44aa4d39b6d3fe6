"""`dcign explore`: a page to play with a trained model as the paper's "learned graphics engine":
pick a held-out test image (or drop in your own), and turn and relight it with one slider per
factor, combined freely, re-rendered live in the browser by the model's own decoder.

The folder it writes works offline from any static file server (`python -m http.server`), with
nothing of the project installed: `index.html`, `readout.js`, `app.js`, `style.css` (train/explorer/),
onnxruntime-web's WebAssembly build (the npm package the set-up installs), the network as two ONNX
graphs (the encoder's mean, and the decoder with its sigmoid), `explorer.json` (each factor's
latents, unit, range and the evaluation's readout both ways, from latent_map.json) and the test
images of a few held-out identities with their ground truth, so the page can show the true render
beside the re-render wherever the test set has that pose.

The ONNX graphs are checked against PyTorch on the same inputs when they are written (onnxruntime,
max abs difference recorded in explorer.json); a difference above CHECK_TOLERANCE is an error.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from render.errors import UserError
from render.outputs import EXPLORE, clear, output_dir
from render.shards.reader import ShardReader
from train.checkpoints import load_model
from train.data import DataSchema
from train.evaluation.encoding import check_dataset

PAGE = Path(__file__).parents[1] / "explorer"  # train/explorer/: the page's own files and its npm package
RUNTIME = PAGE / "node_modules" / "onnxruntime-web" / "dist"
RUNTIME_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs")
PAGE_FILES = ("index.html", "readout.js", "app.js", "style.css")
IDENTITIES = 8  # held-out identities whose test images the page carries
CHECK_TOLERANCE = 1e-4


class _Encoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.encode(x)[0]


class _Decoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, z):
        return self.model.decode_image(z)


def export_onnx(model, out: Path) -> dict:
    """encoder.onnx (x (N, 1, 150, 150) in [0, 1] -> mu) and decoder.onnx (z -> image in [0, 1]),
    each checked against PyTorch with onnxruntime: {graph: max abs difference}."""
    import onnxruntime

    model = model.float().eval().to(memory_format=torch.contiguous_format)
    dim, size = model.config.latent_dim, model.config.image_size
    rng = np.random.default_rng(0)
    checks = {}
    for name, module, example in (
            ("encoder", _Encoder(model), torch.from_numpy(rng.random((2, 1, size, size), dtype=np.float32))),
            ("decoder", _Decoder(model), torch.from_numpy(rng.standard_normal((2, dim), dtype=np.float32)))):
        path = out / f"{name}.onnx"
        torch.onnx.export(module, (example,), str(path), dynamo=False, opset_version=17, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "n"}, "output": {0: "n"}})
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(None, {"input": example.numpy()})[0]
        with torch.no_grad():
            want = module(example).numpy()
        checks[name] = float(np.abs(got - want).max())
        if checks[name] > CHECK_TOLERANCE:
            raise UserError(f"{path}: the ONNX graph differs from PyTorch by {checks[name]:.2e} "
                            f"(expected at most {CHECK_TOLERANCE:g}); the export is wrong")
    return checks


def page_images(reader: ShardReader, schema: DataSchema, out: Path, identities: int = IDENTITIES) -> list[dict]:
    """Every test image of the first `identities` identities that extrinsic test batches show, as
    PNGs, with their labels (each factor by the batch type that varies it, and the identity)."""
    labels = reader.labels
    chosen, images = [], []
    for t in schema.extrinsic:
        for i in range(reader.count(t)):
            identity = int(np.asarray(reader.batch(t, i)[1]["identity"]).reshape(-1)[0])
            if identity not in chosen and len(chosen) < identities:
                chosen.append(identity)
    (out / "images").mkdir()
    fixed = [f for f in schema.factors if f not in schema.type_factor.values()]  # labelled, no slider (chairs)
    for position in range(len(reader)):
        pixels, batch_labels = reader.at(position)
        ids = np.asarray(batch_labels["identity"]).reshape(-1)
        for row in np.flatnonzero(np.isin(np.broadcast_to(ids, (len(pixels),)), chosen)):
            name = f"images/{len(images):04d}.png"
            Image.fromarray(np.asarray(pixels[row])).save(out / name)
            value = {t: float(np.broadcast_to(batch_labels[schema.factor(t)], (len(pixels),))[row])
                     for t in schema.extrinsic}
            value.update({f: float(np.broadcast_to(batch_labels[f], (len(pixels),))[row]) for f in fixed})
            images.append({"file": name, "identity": int(np.broadcast_to(ids, (len(pixels),))[row]),
                           "batch_type": schema.batch_types[int(labels["batch_type"][position])], "values": value})
    return images


def explore(model_dir: Path, data: Path, map_path: Path, out: Path) -> dict:
    """Write the explorer folder for a model; returns what explorer.json holds."""
    missing = [f for f in RUNTIME_FILES if not (RUNTIME / f).is_file()]
    if missing:
        raise UserError(f"{RUNTIME / missing[0]}: onnxruntime-web is not installed; run 'bash pipelines/run.sh' "
                        "(it runs npm ci in train/explorer)")
    if not Path(map_path).is_file():
        raise UserError(f"{map_path}: latent map not found; run 'dcign evaluate' for this model first")
    latent_map = json.loads(Path(map_path).read_text())
    model, cfg = load_model(model_dir)
    reader = ShardReader(data, "test")
    check_dataset(cfg, model_dir, reader)
    schema = DataSchema.of(reader)
    with output_dir(out, EXPLORE):
        clear(out, EXPLORE)
        checks = export_onnx(model, Path(out))
        for f in PAGE_FILES:
            shutil.copyfile(PAGE / f, Path(out) / f)
        for f in RUNTIME_FILES:
            shutil.copyfile(RUNTIME / f, Path(out) / f)
        info = {
            "model": Path(model_dir).name, "dataset": cfg["dataset"], "mode": cfg["mode"],
            "latent_dim": cfg["latent_dim"], "image_size": model.config.image_size,
            "factors": {t: {**latent_map["factors"][t], "factor": schema.factor(t),
                            "grid": schema.grid(schema.factor(t))} for t in latent_map["factors"]},
            "images": page_images(reader, schema, Path(out)),
            "onnx_max_abs_diff": checks,
        }
        (Path(out) / "explorer.json").write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
    return info
