"""End to end: the real DVC pipeline on a tiny profile, in a fresh copy of the repository."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from tests.conftest import REPO, tiny_pipeline_params, write_params

BIN = Path(sys.executable).parent


def sh(*args, cwd):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(cwd),
               PYOPENGL_PLATFORM="egl")
    proc = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def copy_project(root: Path) -> Path:
    """The project's tracked files (and new ones not ignored), tiny profile, as a new git repository."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (REPO / name).is_file() and not name.startswith("results/"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    (root / "dvc.lock").unlink(missing_ok=True)  # the default profile's lock does not describe the tiny one
    write_params(root / "params.yaml", tiny_pipeline_params())
    sh("git", "init", "-q", cwd=root)
    sh("git", "config", "user.name", "t", cwd=root)
    sh("git", "config", "user.email", "t@t", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "tiny", cwd=root)
    return root


def lock_outs(root: Path) -> dict:
    """Every output of every stage in dvc.lock: path -> md5."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return {o["path"]: o["md5"] for stage in lock["stages"].values() for o in stage.get("outs", [])}


def ran(log: str) -> set:
    return set(re.findall(r"Running stage '([^']+)'", log))


FACE_STAGES = {"render_faces", "preview@faces", "shard@faces", "train@dcign_faces", "train@baseline_faces",
               "evaluate@dcign_faces", "evaluate@baseline_faces", "compare_faces", "report"}
CHAIR_STAGES = {"render_chairs", "preview@chairs", "shard@chairs", "train@dcign_chairs", "evaluate@dcign_chairs"}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("clone"))
    log = sh("dvc", "repro", cwd=root)
    assert ran(log) == FACE_STAGES | CHAIR_STAGES
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "repro", cwd=root)
    return root


def test_dvc_repro_runs_every_stage_then_is_up_to_date(repo):
    assert (repo / "data/rendered/faces/render_info.json").is_file()
    assert Image.open(repo / "data/previews/faces.png").size[1] > 4 * 150
    for name in ("dcign_faces", "baseline_faces", "dcign_chairs"):
        assert (repo / "models" / name / "model.safetensors").is_file()
        assert (repo / "results" / name / "figures" / "sweep_azimuth.png").is_file()
    assert (repo / "results/compare_faces/figures/novel_views.png").is_file()
    report = (repo / "results/report.md").read_text()
    assert "| metric | `dcign_faces` | `baseline_faces` | `dcign_chairs` |" in report
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", report):
        assert (repo / "results" / link).resolve().is_file(), link
    outs = lock_outs(repo)
    assert all(outs[p].endswith(".dir") for p in ("data/rendered/faces", "data/shards/chairs", "models/dcign_faces"))
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=repo)
    again = sh("dvc", "repro", cwd=repo)
    assert not ran(again)


def test_metrics_and_plots_are_declared_for_dvc(repo):
    shown = sh("dvc", "metrics", "show", "--json", cwd=repo)
    data = json.loads(shown)
    files = next(iter(data.values()))["data"]
    for name in ("dcign_faces", "baseline_faces", "dcign_chairs", "compare_faces"):
        assert f"results/{name}/metrics.json" in files
    assert "reconstruction" in files["results/dcign_faces/metrics.json"]["data"]
    plots = json.loads(sh("dvc", "plots", "show", "--json", cwd=repo))["data"]
    assert "results/dcign_faces/plots/equivariance_azimuth.json" in plots
    assert any("loss" in key or key == "Training loss" for key in plots)


def test_two_clean_repros_give_identical_outputs(repo, tmp_path_factory):
    """Same md5 for every output in dvc.lock, trained weights included (CPU)."""
    other = copy_project(tmp_path_factory.mktemp("clone2"))
    sh("dvc", "repro", cwd=other)
    first, second = lock_outs(repo), lock_outs(other)
    assert first == second
    assert "models/dcign_faces" in first and "results/report.md" in first


def test_push_then_fresh_clone_pull_has_nothing_to_reproduce(repo, tmp_path_factory):
    remote = tmp_path_factory.mktemp("remote")
    sh("dvc", "remote", "modify", "--local", "local", "url", str(remote), cwd=repo)
    sh("dvc", "push", cwd=repo)
    clone = tmp_path_factory.mktemp("fresh") / "clone"
    sh("git", "clone", "-q", str(repo), str(clone), cwd=repo)
    sh("dvc", "remote", "modify", "--local", "local", "url", str(remote), cwd=clone)
    sh("dvc", "pull", cwd=clone)
    for dataset in ("faces", "chairs"):
        assert "match the manifest" in sh("dcign", "verify", f"data/shards/{dataset}", cwd=clone)
    assert (clone / "models/dcign_faces/model.safetensors").is_file()
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=clone)
    assert not ran(sh("dvc", "repro", cwd=clone))


def test_an_experiment_with_a_new_pose_range_is_listed_with_its_metrics(repo):
    sh("dvc", "exp", "run", "-n", "narrow-az", "-S", "faces.factors.azimuth.max=1.0", cwd=repo)
    table = json.loads(sh("dvc", "exp", "show", "--json", cwd=repo))
    text = json.dumps(table)
    assert "narrow-az" in text and "results/dcign_faces/metrics.json" in text and "mse" in text
    sh("git", "checkout", "-q", "--", ".", cwd=repo)
    sh("dvc", "checkout", "-q", cwd=repo)


def test_changing_a_face_pose_range_reruns_only_face_stages(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["faces"]["factors"]["azimuth"]["max"] = 1.2
    write_params(repo / "params.yaml", params)
    status = sh("dvc", "status", cwd=repo)
    assert "render_faces" in status and "modified:           faces" in status
    assert "render_chairs" not in status
    dry = ran(sh("dvc", "repro", "--dry", cwd=repo))
    assert "render_faces" in dry and not dry & CHAIR_STAGES
    assert ran(sh("dvc", "repro", cwd=repo)) == FACE_STAGES
    diff = sh("dvc", "metrics", "diff", cwd=repo)
    assert "results/dcign_faces/metrics.json" in diff and "results/dcign_chairs/metrics.json" not in diff


def test_render_stages_depend_on_the_code_that_makes_pixels():
    from render.config import RENDER_CODE

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    deps = set(stages["render_faces"]["deps"]) | set(stages["render_chairs"]["deps"])
    assert {f"render/{name}" for name in RENDER_CODE} <= deps
    for stage in ("render_faces", "render_chairs"):
        assert all((REPO / dep).exists() for dep in stages[stage]["deps"])


ENTRY_MODULES = {"render faces": ["render.faces"], "render chairs": ["render.chairs"], "preview": ["render.shards.preview"],
                 "shard": ["render.shards.reader"], "train": ["train.loop"], "evaluate": ["train.evaluation.evaluate"],
                 "compare": ["train.evaluation.evaluate"], "report": ["train.evaluation.report"]}


def project_imports(module: str, seen=None) -> set:
    """Project modules a module imports, transitively, wherever the import statement sits."""
    import ast

    seen = set() if seen is None else seen
    if module in seen:
        return seen
    seen.add(module)
    tree = ast.parse((REPO / (module.replace(".", "/") + ".py")).read_text())
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        for name in names:
            if name.split(".")[0] in ("render", "train") and (REPO / (name.replace(".", "/") + ".py")).exists():
                project_imports(name, seen)
    return seen


def test_every_stage_depends_on_the_code_it_runs():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    checked = 0
    for name, stage in stages.items():
        body = stage.get("do", stage)
        words = body["cmd"].split()
        sub = " ".join(words[1:3]) if words[1] == "render" else words[1]
        deps = set(body["deps"])
        needed = set().union(*(project_imports(m) for m in ENTRY_MODULES[sub]))
        missing = {m.replace(".", "/") + ".py" for m in needed} - deps
        assert not missing, f"stage {name} lacks deps {sorted(missing)}"
        for dep in deps:
            if dep.endswith(".py"):
                assert (REPO / dep).exists(), f"stage {name}: {dep} does not exist"
                assert dep.replace("/", ".")[:-3] in needed, f"stage {name}: {dep} is not code it runs"
        checked += 1
    assert checked == len(stages) >= 8
