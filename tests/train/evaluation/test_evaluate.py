"""`dcign evaluate` on a tiny trained model: every output exists and is sane."""
import json
import re

import numpy as np
import pytest
from PIL import Image

from render.schema import CHAIR_FAMILIES as FAMILIES
from render.shards.reader import ShardReader
from tests.conftest import run_dcign, tiny_params, train_tiny, write_params


def test_metrics_json_has_every_section(evaluated, shards):
    metrics = json.loads((evaluated / "metrics.json").read_text())
    mse = metrics["reconstruction"]["mse"]
    assert 0 < mse < 0.25 and metrics["reconstruction"]["mse_authors_div3"] == pytest.approx(mse / 3)
    assert set(metrics["equivariance"]) == {"azimuth", "elevation", "light"}
    for v in metrics["equivariance"].values():
        assert -1 <= v["pearson_r"] <= 1 and v["abs_r"] == pytest.approx(abs(v["pearson_r"]))
        assert v["median_error_deg"] >= 0
    assert metrics["evaluation"] == {"preset": "fast", "factors": ["azimuth", "elevation", "light_azimuth"]}
    identity = metrics["identity"]
    batch = len(ShardReader(shards, "test").batch("intrinsic", 0)[0])
    assert 0 <= identity["top1"] <= 1 and identity["chance"] == pytest.approx(1 / batch) and identity["spread_ratio"] >= 0
    assert set(metrics["invariance"]) == {"azimuth", "elevation", "light", "intrinsic"}
    assert all(v >= 0 for spreads in metrics["invariance"].values() for v in spreads.values())
    assert {"mig", "sap"} <= set(metrics["disentanglement"])
    reference = metrics["disentanglement_reference"]
    # (24 training rows: too few for the exact code to score high; test_ideal_code.py checks the scores)
    assert 0 <= reference["exact"]["dci_disentanglement"] <= 1 and "not_applicable" not in reference
    precise = reference["model_precision"]
    assert set(precise["error_sd"]) == {"azimuth", "elevation", "light_azimuth"}
    assert precise["error_sd"]["light_azimuth"] * 0.6745 == pytest.approx(
        metrics["equivariance"]["light"]["median_error_deg"], rel=1e-3)  # light is in degrees
    assert set(metrics["sweeps"]) == set(metrics["routes"]) == {"azimuth", "elevation", "light"}
    for v in metrics["routes"].values():
        assert set(v) == {"reconstruction", "own", "intrinsic", "other_factors"} and min(v.values()) >= 0
    for v in metrics["sweeps"].values():
        assert v["true_change"] > 0 and v["sweep_change"] >= 0
        assert v["ratio"] == pytest.approx(v["sweep_change"] / v["true_change"])


def test_sweep_strength_compares_end_frames_with_the_true_extremes(shards):
    from train.evaluation.figures import sweep_strength

    reader = ShardReader(shards, "test")
    images = reader.batch("azimuth", 0)[0]
    true = np.abs(images[-1].astype(float) - images[0].astype(float)).mean()
    tiles = np.zeros((2, 6, 150, 150), np.uint8)
    flat = sweep_strength(tiles, reader, "azimuth", "azimuth", max_batches=1)
    assert flat == {"sweep_change": 0.0, "true_change": pytest.approx(true), "ratio": 0.0}
    tiles[:, 2], tiles[:, -1] = images[0], images[-1]  # a sweep that moves exactly as the factor does
    assert sweep_strength(tiles, reader, "azimuth", "azimuth", max_batches=1)["ratio"] == pytest.approx(1.0, rel=0.2)


def test_figures_and_report(evaluated, shards):
    report = (evaluated / "report.md").read_text()
    assert "| azimuth | — |" in report and "| intrinsic |" in report  # invariance matrix, diagonal blank
    assert "### Against an ideal code on the same grids" in report
    assert "| factor | reconstructions | own latents | intrinsic latents | other factors' latents |" in report
    assert re.search(r"^\| ideal code, with this model's read errors \| [01]\.\d{3} \| [01]\.\d{3} \|", report, re.M)
    for t in ("azimuth", "elevation", "light"):
        png = Image.open(evaluated / "figures" / f"sweep_{t}.png")
        assert png.size[0] > 10 * 150 and png.size[1] > 4 * 150  # inputs x (input, recon, 8 sweep steps)
        gif = Image.open(evaluated / "figures" / f"sweep_{t}.gif")
        assert gif.size == (4 * 150, 150)  # the inputs side by side (identical frames are merged)
        assert (evaluated / "figures" / f"equivariance_{t}.png").is_file()
        assert f"figures/sweep_{t}.png" in report and f"figures/equivariance_{t}.png" in report
        rows = json.loads((evaluated / "plots" / f"equivariance_{t}.json").read_text())
        assert rows and {"true", "inferred"} <= set(rows[0])
    latent_map = json.loads((evaluated / "latent_map.json").read_text())
    assert latent_map["factors"]["azimuth"]["readout"]["latents"] == [0]
    manifest = json.loads((shards / "manifest.json").read_text())  # units as the data records them
    for t, entry in latent_map["factors"].items():
        assert entry["unit"] == manifest["factors"][manifest["type_factor"][t]]["unit"]
    assert latent_map["factors"]["light"]["unit"] == "deg" and latent_map["factors"]["azimuth"]["unit"] == "rad"
    sweep = np.asarray(Image.open(evaluated / "figures" / "sweep_azimuth.png"))
    assert sweep.std() > 5  # not a blank sheet


def test_comparison_with_the_entangled_baseline(shards, evaluated, tmp_path):
    root = evaluated.parent
    assert train_tiny(tmp_path, shards, root / "baseline", steps=6, mode="entangled", feature_maps=8).returncode == 0
    run_dcign("evaluate", "--model", root / "model", "--baseline", root / "baseline", "--data", shards,
              "--out", tmp_path / "results", "--preset", "fast", check=True)
    metrics = json.loads((tmp_path / "results" / "metrics.json").read_text())
    table = metrics["novel_view"]
    assert table["dcign"]["latents"] == [0] and 0 <= table["baseline"]["latents"][0] < 8
    assert set(table) == {"dcign", "baseline", "copy_input", "dcign_no_rotation"}
    assert all(0 < row["novel_view_mse"] < 0.25 for row in table.values())  # over pairs of different views
    report = (tmp_path / "results" / "report.md").read_text()
    assert "| copy the input | — | — |" in report and "| DC-IGN, no rotation | — | — |" in report
    reader = ShardReader(shards, "test")  # copying the input, by hand: every ordered pair of different views
    pairs = []
    for i in range(reader.count("azimuth")):
        x = reader.batch("azimuth", i)[0].astype(np.float64) / 255
        d = ((x[:, None] - x[None]) ** 2).mean(axis=(2, 3))
        pairs.append(d[~np.eye(len(x), dtype=bool)])
    assert table["copy_input"]["novel_view_mse"] == pytest.approx(np.concatenate(pairs).mean(), rel=1e-5)
    ratio = table["dcign"]["novel_view_mse"] / table["copy_input"]["novel_view_mse"]
    assert f"DC-IGN ÷ copy the input: {ratio:.2f}" in report
    figure = Image.open(tmp_path / "results" / "figures" / "novel_views.png")
    assert figure.size[1] > 3 * 150  # truth, DC-IGN, baseline rows
    assert "Novel views (paper Fig. 7)" in (tmp_path / "results" / "report.md").read_text()
    run_dcign("evaluate", "--model", root / "baseline", "--data", shards, "--out", tmp_path / "base",
              "--preset", "fast", check=True)
    units = json.loads((tmp_path / "base" / "latent_map.json").read_text())["factors"]
    assert units["azimuth"]["readout"]["latents"] == table["baseline"]["latents"]  # the paper's unit, not z0
    alone = json.loads((tmp_path / "base" / "metrics.json").read_text())["novel_view"]
    assert set(alone) == {"baseline", "copy_input", "baseline_no_rotation"}
    assert alone["baseline"]["novel_view_mse"] == pytest.approx(table["baseline"]["novel_view_mse"])
    run_dcign("compare", "--model", root / "model", "--baseline", root / "baseline", "--data", shards,
              "--out", tmp_path / "compared", check=True)
    compared = json.loads((tmp_path / "compared" / "metrics.json").read_text())["novel_view"]
    assert compared.keys() == table.keys()  # `compare` fits the readouts the evaluation does
    for name, row in table.items():
        assert compared[name].pop("latents", None) == row.get("latents")
        assert compared[name] == pytest.approx({k: v for k, v in row.items() if k != "latents"})


def test_rerender_a_users_image(evaluated, tmp_path):
    root = evaluated.parent
    photo = tmp_path / "photo.jpg"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "out.png"
    proc = run_dcign("rerender", "--model", root / "model", "--map", evaluated / "latent_map.json", "--image", photo,
                     "--set", "azimuth=0.6", "--set", "light=-40", "--out", out, check=True)
    side = Image.open(out)
    assert side.size == (2 * 154 + 4, 154 + 4) and side.mode == "L"  # input | re-render
    shown = np.asarray(side)[4:154, 4:154].astype(float)
    from train.evaluation.rerender import load_image
    assert np.abs(shown - load_image(photo)[0, 0].numpy() * 255).max() <= 1  # the input as the model saw it
    read = re.search(r"the model reads from .*: azimuth ([-+.\d]+) rad, elevation ([-+.\d]+) rad, "
                     r"light ([-+.\d]+) deg", proc.stdout)
    assert read and all(np.isfinite(float(v)) for v in read.groups())
    gif = tmp_path / "sweep.gif"
    run_dcign("rerender", "--model", root / "model", "--map", evaluated / "latent_map.json", "--image", photo,
              "--sweep", "azimuth", "--out", gif, check=True)
    frames = Image.open(gif)
    assert frames.size == (2 * 154 + 4, 154 + 4) and frames.n_frames > 2
    first = np.asarray(frames.convert("L"))[4:154, 4:154].copy()
    frames.seek(frames.n_frames // 2)
    assert np.array_equal(np.asarray(frames.convert("L"))[4:154, 4:154], first)  # the input stays beside
    bad = run_dcign("rerender", "--model", root / "model", "--map", evaluated / "latent_map.json", "--image", photo,
                    "--set", "roll=1", "--out", out)
    assert bad.returncode == 2 and "unknown factor 'roll'" in bad.stderr
    missing = run_dcign("rerender", "--model", root / "model", "--image", photo, "--set", "azimuth=0", "--out", out,
                        cwd=tmp_path)
    assert missing.returncode == 2 and "latent map not found" in missing.stderr


def test_factor_classes_index_the_manifest_grid_in_every_split():
    """A class is a grid value, whichever values a split happens to hold (per-split numbering
    would give 0.5 rad class 0 in one split and class 2 in another)."""
    from train.data import DataSchema
    from train.evaluation.probes import factor_classes

    schema = DataSchema(("azimuth", "intrinsic"), {"azimuth": "azimuth", "intrinsic": None},
                        {"azimuth": {"unit": "rad", "circular": False, "values": [0.0, 0.25, 0.5, 0.75]}})
    train = {"labels": {"azimuth": np.array([0.0, 0.25, 0.5, 0.75], np.float32)}}
    test = {"labels": {"azimuth": np.array([0.5, 0.75, 0.5], np.float32)}}
    assert factor_classes(train, schema, ["azimuth"])[:, 0].tolist() == [0, 1, 2, 3]
    assert factor_classes(test, schema, ["azimuth"])[:, 0].tolist() == [2, 3, 2]


def test_the_summary_has_a_row_per_factor_measured():
    from train.evaluation.report import summary_rows

    chairs = {"equivariance": {"azimuth": {"median_error_deg": 9.0}}, "sweeps": {"azimuth": {}}}
    faces = {"equivariance": {t: {"median_error_deg": 9.0, "pearson_r": 0.9} for t in ("azimuth", "elevation", "light")},
             "sweeps": {t: {} for t in ("azimuth", "elevation", "light")}}
    labels = [row[0] for row in summary_rows([chairs])]
    assert "azimuth sweep / true image change" in labels and not any("Pearson" in label for label in labels)
    assert "azimuth: median error of the value read from its latents (deg)" in labels
    assert not any(label.startswith(("elevation", "light")) for label in labels)
    labels = [row[0] for row in summary_rows([chairs, faces])]
    assert [label.split(":")[0] for label in labels if "Pearson" in label] == ["azimuth", "elevation", "light"]
    assert labels[0] == "training steps" and labels[-1] == "BetaVAE score"


def test_a_chairs_model_reads_its_azimuth_around_the_circle(chair_shards, tmp_path):
    """Two latents carry the chairs' full turn: the readout is a circle, errors wrap, the sweep goes
    once around, and the elevation (which no batch type varies) joins the scored factors, so DCI
    disentanglement is defined."""
    params = tiny_params()
    # (F = 4 leaves a 2-step encoder with one output for every image: no turn to set)
    params["train"]["dcign_chairs"].update(feature_maps=8, latent_dim=8, steps=2, checkpoint_every=2, device="cpu",
                                           latents={"azimuth": [0, 1]})
    write_params(tmp_path / "c.yaml", params)
    run_dcign("train", "--data", chair_shards, "--config", "dcign_chairs", "--out", tmp_path / "m",
              "--params", tmp_path / "c.yaml", env={"OMP_NUM_THREADS": "1"}, check=True)
    run_dcign("evaluate", "--model", tmp_path / "m", "--data", chair_shards, "--out", tmp_path / "r",
              "--preset", "fast", check=True)
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert set(metrics["equivariance"]) == set(metrics["sweeps"]) == {"azimuth"}
    azimuth = metrics["equivariance"]["azimuth"]
    assert azimuth["latents"] == [0, 1] and "pearson_r" not in azimuth and 0 <= azimuth["median_error_deg"] <= 180
    assert azimuth["median_error_deg_by_family"] and set(azimuth["median_error_deg_by_family"]) <= set(FAMILIES)
    assert all(0 <= e <= 180 for e in azimuth["median_error_deg_by_family"].values())
    assert set(metrics["invariance"]) == {"azimuth", "intrinsic"}
    assert set(metrics["routes"]["azimuth"]) == {"reconstruction", "own", "intrinsic"}  # no other factor's latents
    assert metrics["evaluation"]["factors"] == ["azimuth", "elevation"]
    assert "dci_disentanglement" in metrics["disentanglement"] and "not_applicable" not in metrics["disentanglement"]
    reference = metrics["disentanglement_reference"]  # the exact code holds the elevation; the model reads none
    assert "dci_disentanglement" in reference["exact"] and "model_precision" not in reference
    assert reference["not_applicable"]["model_precision"].startswith("elevation: no latent of the model reads it")
    assert set(metrics["novel_view"]) == {"dcign", "copy_input", "dcign_no_rotation"}
    latent_map = json.loads((tmp_path / "r" / "latent_map.json").read_text())
    entry = latent_map["factors"]["azimuth"]
    assert set(latent_map["factors"]) == {"azimuth"} and entry["unit"] == "rad"
    assert entry["readout"]["latents"] == [0, 1] and entry["readout"]["period"] == pytest.approx(2 * np.pi)
    run_dcign("report", tmp_path / "r", "--out", tmp_path / "report.md", check=True)
    report = (tmp_path / "report.md").read_text()
    assert "| azimuth: median error of the value read from its latents (deg) |" in report
    assert "Pearson r of its latent |" not in report
    assert "| ideal code, with this model's read errors | n/a: elevation: no latent of the model reads it" in report
    assert "azimuth by chair family, median error (deg)" in (tmp_path / "r" / "report.md").read_text()
    gif = tmp_path / "turn.gif"
    photo = tmp_path / "photo.png"
    Image.fromarray(ShardReader(chair_shards, "test").batch("intrinsic", 0)[0][0]).save(photo)
    run_dcign("rerender", "--model", tmp_path / "m", "--map", tmp_path / "r" / "latent_map.json", "--image", photo,
              "--sweep", "azimuth", "--out", gif, check=True)
    assert Image.open(gif).size == (2 * 154 + 4, 154 + 4)
    single = tmp_path / "one.png"
    run_dcign("rerender", "--model", tmp_path / "m", "--map", tmp_path / "r" / "latent_map.json", "--image", photo,
              "--set", "azimuth=3.5", "--out", single, check=True)
    assert Image.open(single).size == (2 * 154 + 4, 154 + 4)


def test_one_factor_scores_are_reported_as_not_applicable(tmp_path):
    from train.evaluation.report import combined_report

    references = {"chairs": {"exact": {"mig": 0.9}, "not_applicable": {"model_precision": "elevation: no latent"}},
                  "faces": {"exact": {"mig": 0.8}, "model_precision": {"mig": 0.3}}}
    for name, extra in (("chairs", {"not_applicable": {"factor_vae": "one factor varies"}}), ("faces", {"factor_vae": 0.7})):
        (tmp_path / name).mkdir()
        metrics = {"training": {"steps": 5}, "reconstruction": {"mse": 0.01}, "evaluation": {"preset": "standard"},
                   "disentanglement": {"mig": 0.1, **extra}, "disentanglement_reference": references[name]}
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
        (tmp_path / name / "report.md").write_text("# x\n")
    report = combined_report([tmp_path / "chairs", tmp_path / "faces"], tmp_path / "report.md").read_text()
    assert "| FactorVAE score | n/a | 0.700 |" in report
    assert "| MIG of an exact ideal code (the most on these grids) | 0.900 | 0.800 |" in report
    assert "| MIG of an ideal code with the model's read errors | n/a | 0.300 |" in report
    assert "| disentanglement metric preset | `standard` | `standard` |" in report


def test_each_model_s_novel_views_sit_in_its_own_column():
    from train.evaluation.report import own_novel_views

    alone = {"novel_view": {"baseline": {"latents": [5], "novel_view_mse": 0.02}, "copy_input": {"novel_view_mse": 0.03},
                            "baseline_no_rotation": {"novel_view_mse": 0.025}}}
    assert own_novel_views(alone) == {"model": 0.02, "copy_input": 0.03, "no_rotation": 0.025}
    both = {"novel_view": {"baseline": {"latents": [5], "novel_view_mse": 0.02}, "copy_input": {"novel_view_mse": 0.03},
                           "dcign": {"latents": [0], "novel_view_mse": 0.01}, "dcign_no_rotation": {"novel_view_mse": 0.02}}}
    assert own_novel_views(both)["model"] == 0.01 and own_novel_views({}) == {}
