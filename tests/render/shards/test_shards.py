"""Shards: byte-identity, O(1) random access matching the rendered chunks, and every corruption
case stopping with one line that names the file."""
import json
import os
import shutil

import numpy as np
import pytest

from render.chunks import read_npz
from render.errors import UserError
from render.shards.config import ShardParams
from render.shards import reader as reader_module
from render.shards.reader import ShardReader, check_contents
from render.shards.verify import verify
from render.shards.writer import write_shards
from tests.conftest import run_dcign, tiny_params, train_tiny, tree_digest, write_params


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The tiny face profile rendered with 1 and with 2 workers."""
    root = tmp_path_factory.mktemp("shards")
    params = write_params(root / "params.yaml", tiny_params())
    for workers in (1, 2):
        run_dcign("render", "faces", "--params", params, "--out", root / f"render{workers}", "--workers", workers,
                  check=True)
    return root


@pytest.fixture(scope="module")
def shards(rendered):
    out = rendered / "shards"
    write_shards(rendered / "render2", out, ShardParams(size_mb=0.2, seed=0))
    return out


def test_shards_are_byte_identical_whatever_the_render_workers(rendered, shards, tmp_path):
    write_shards(rendered / "render1", tmp_path / "again", ShardParams(size_mb=0.2, seed=0))
    assert tree_digest(tmp_path / "again") == tree_digest(shards)


def test_manifest_describes_the_data(shards):
    manifest = json.loads((shards / "manifest.json").read_text())
    assert manifest["format_version"] == 2 and manifest["dataset"] == "faces"
    assert manifest["splits"]["train"]["counts"] == {"azimuth": 2, "elevation": 1, "light": 1, "intrinsic": 2}
    assert manifest["splits"]["train"]["shards"] == 3  # 0.2 MB shards: two batches of 90 kB each
    assert set(manifest["factors"]) == {"azimuth", "elevation", "light_azimuth"}
    assert manifest["type_factor"] == {"azimuth": "azimuth", "elevation": "elevation", "light": "light_azimuth",
                                       "intrinsic": None}
    light = manifest["factors"]["light_azimuth"]
    assert light["unit"] == "deg" and light["values"][:2] == [-80.0, -78.0] and len(light["values"]) == 81
    assert "render_fingerprint" not in manifest["params"]  # code versions that make the same pixels agree
    assert manifest["params"]["shards"] == {"size_mb": 0.2, "seed": 0} and len(manifest["params_sha256"]) == 64
    for name, entry in manifest["files"].items():
        assert (shards / name).stat().st_size == entry["size"] and len(entry["sha256"]) == 64
    assert verify(shards) == len(manifest["files"])


def test_random_access_returns_exactly_the_rendered_batch(rendered, shards):
    info = json.loads((rendered / "render2" / "render_info.json").read_text())
    for split in ("train", "test"):
        reader = ShardReader(shards, split)
        for chunk in (c for c in info["chunks"] if c["split"] == split):
            data = read_npz(rendered / "render2" / chunk["file"])
            matches = [i for i in range(reader.count(chunk["batch_type"]))
                       if reader.batch(chunk["batch_type"], i)[1]["batch_index"] == chunk["first"]]
            assert len(matches) == 1
            images, labels = reader.batch(chunk["batch_type"], matches[0])
            assert images.dtype == np.uint8 and np.array_equal(images, data["images"][0])
            for key in ("azimuth", "elevation", "light_azimuth", "identity", "shape_coeffs"):
                assert np.array_equal(labels[key], data[key][0])
            assert reader.batch_types[int(labels["batch_type"])] == chunk["batch_type"]


def test_order_is_shuffled_deterministically(rendered, shards, tmp_path):
    order = ShardReader(shards, "train").labels["batch_type"].tolist()
    assert order != sorted(order)
    write_shards(rendered / "render2", tmp_path / "other", ShardParams(size_mb=0.2, seed=1))
    assert ShardReader(tmp_path / "other", "train").labels["batch_type"].tolist() != order or len(order) < 3


@pytest.fixture
def damaged(shards, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(shards, copy)
    return copy


def first_shard(root):
    return root / "train-00000.images.npy"


def expect_error(root, fragment, check=ShardReader):
    with pytest.raises(UserError) as info:
        check(root, "train") if check is ShardReader else check(root)
    message = str(info.value)
    assert "\n" not in message and fragment in message
    return message


def test_missing_shard(damaged):
    first_shard(damaged).unlink()
    assert str(first_shard(damaged)) in expect_error(damaged, "shard file missing")


def test_truncated_shard(damaged):
    data = first_shard(damaged).read_bytes()
    first_shard(damaged).write_bytes(data[: len(data) // 2])
    assert str(first_shard(damaged)) in expect_error(damaged, "truncated")


@pytest.mark.parametrize("name", ["train-00000.images.npy", "train.azimuth.npy", "test.identity.npy"])
def test_a_flipped_byte_or_an_edited_label_is_refused_where_the_data_is_used(damaged, name, tmp_path):
    path = damaged / name
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # the same size: only the contents tell
    path.write_bytes(bytes(data))
    assert str(path) in expect_error(damaged, "does not match the manifest's")
    assert str(path) in expect_error(damaged, "does not match the manifest", check=verify)
    proc = run_dcign("verify", damaged)
    assert proc.returncode == 2 and "corrupted" in proc.stderr.strip().splitlines()[-1]
    proc = train_tiny(tmp_path, damaged, tmp_path / "m")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith(f"dcign: error: {path}: sha256 ")


def test_a_checked_directory_is_hashed_again_only_when_a_file_changes(damaged):
    manifest = json.loads((damaged / "manifest.json").read_text())
    assert check_contents(damaged, manifest, force=True) == len(manifest["files"])
    reader_module._checked.clear()  # as a new process: only the stamp in the cache remains
    assert check_contents(damaged, manifest) == 0
    os.utime(first_shard(damaged), ns=(1, 1))
    reader_module._checked.clear()
    assert check_contents(damaged, manifest) == len(manifest["files"])


@pytest.mark.parametrize("version, words", [(99, "format_version 99 is newer"), (1, "format_version 1 is older")])
def test_manifest_from_another_format(damaged, version, words):
    manifest = json.loads((damaged / "manifest.json").read_text())
    manifest["format_version"] = version
    (damaged / "manifest.json").write_text(json.dumps(manifest))
    expect_error(damaged, words)


def test_shape_not_matching_the_manifest(damaged):
    manifest = json.loads((damaged / "manifest.json").read_text())
    manifest["files"]["train-00000.images.npy"]["shape"][2] = 64
    (damaged / "manifest.json").write_text(json.dumps(manifest))
    assert "manifest says" in expect_error(damaged, "train-00000.images.npy")


@pytest.mark.parametrize("edit, words", [
    (lambda m: m.pop("batch_types"), "manifest.json: a field is missing or of the wrong type (KeyError: 'batch_types')"),
    (lambda m: m["splits"]["train"].pop("batches_per_shard"), "(KeyError: 'batches_per_shard')"),
    (lambda m: m.update(files=[]), "manifest.json: a field is missing or of the wrong type (AttributeError"),
    (lambda m: m["files"]["train.azimuth.npy"].update(size="big"), "train.azimuth.npy: 224 bytes, expected big"),
])
def test_a_manifest_with_a_field_missing_or_of_the_wrong_type_is_one_line(damaged, edit, words):
    manifest = json.loads((damaged / "manifest.json").read_text())
    edit(manifest)
    (damaged / "manifest.json").write_text(json.dumps(manifest))
    expect_error(damaged, words)
    (damaged / "manifest.json").write_text("[1, 2]")
    expect_error(damaged, "expected a JSON object written by 'dcign shard'")


def test_missing_manifest(damaged):
    (damaged / "manifest.json").unlink()
    expect_error(damaged, "manifest not found")


def test_shard_cli_and_bench_load(rendered, tmp_path):
    params = write_params(tmp_path / "params.yaml", tiny_params())
    run_dcign("shard", "--in", rendered / "render1", "--out", tmp_path / "s", "--params", params, check=True)
    assert run_dcign("verify", tmp_path / "s", check=True).stdout.startswith("dcign: ")
    proc = run_dcign("bench", "load", "--data", tmp_path / "s", "--batches", 10, check=True)
    assert "shards (memory-mapped .npy)" in proc.stdout and "speed-up:" in proc.stdout
    bad = run_dcign("shard", "--in", tmp_path / "nothing", "--out", tmp_path / "x", "--params", params)
    assert bad.returncode == 2 and "render_info.json: not found" in bad.stderr
