"""A third dataset is one package plus one schema entry: rendering, shards, reading and the preview
work on it through the schema alone."""
import numpy as np
import yaml

from pipelines.cli import main
from render.schema import SCHEMAS
from render.shards.preview import contact_sheet
from render.shards.reader import ShardReader
from tests.render.jobs import cubes


def test_a_new_dataset_needs_only_its_package_and_a_schema_entry(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(SCHEMAS, "cubes", cubes.SCHEMA)
    view = {"lighting": {"ambient": 0.3, "intensity": 0.8, "elevation": 0.5}, "camera": {"distance": 6.0, "fill": 1.0},
            "background": 255, "supersample": 1, "chunk_batches": 2}
    params = {"cubes": {"seed": 3, "batch_size": 4, "image_size": 64, "count": 6, "views": 12,
                        "batches": {"train": {"azimuth": 3, "intrinsic": 2}, "test": {"azimuth": 1, "intrinsic": 1}},
                        **view},
              "render": {"workers": 1, "executor": "local"}, "shards": {"size_mb": 1, "seed": 0}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    assert main(["render", "cubes", "--params", path, "--out", tmp_path / "rendered"]) == 0
    assert "28 cubes images" in capsys.readouterr().out
    assert main(["shard", "--in", tmp_path / "rendered", "--out", tmp_path / "shards", "--params", path]) == 0
    reader = ShardReader(tmp_path / "shards", "train")
    assert reader.manifest["type_factor"] == {"azimuth": "azimuth", "intrinsic": None}
    assert reader.manifest["factors"]["azimuth"]["circular"] is True
    images, labels = reader.batch("azimuth", 0)
    assert len(np.unique(labels["azimuth"])) == 4 and len(np.unique(labels["identity"])) == 1
    assert all(np.abs(images[i].astype(int) - images[i + 1]).mean() > 0.5 for i in range(3))  # the box turns
    sheet = contact_sheet(tmp_path / "rendered")
    assert sheet.size[1] > 2 * 64  # one row per batch type


def test_the_fingerprint_covers_a_new_datasets_own_code():
    from render.jobs.fingerprint import code_files

    files = {p.name for p in code_files(cubes.SCHEMA)}
    assert "cubes.py" in files and "renderer.py" in files
