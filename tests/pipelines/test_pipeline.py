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
    runtime = "train/explorer/node_modules"  # installed by the set-up (npm ci), not in git
    (root / runtime).symlink_to(REPO / runtime)
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
               "evaluate@dcign_faces", "evaluate@baseline_faces", "compare_faces", "report", "explore@dcign_faces",
               "explore@baseline_faces"}
CHAIR_STAGES = {"render_chairs", "preview@chairs", "shard@chairs", "train@dcign_chairs", "evaluate@dcign_chairs",
                "explore@dcign_chairs"}


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
    for name in ("dcign_faces", "baseline_faces", "dcign_chairs"):
        assert (repo / "results" / name / "explorer" / "index.html").is_file()
    report = (repo / "results/report.md").read_text()
    assert "| metric | `dcign_faces` | `baseline_faces` | `dcign_chairs` |" in report
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", report):
        assert (repo / "results" / link).resolve().is_file(), link
    outs = lock_outs(repo)
    assert all(outs[p].endswith(".dir") for p in ("data/rendered/faces", "data/shards/chairs", "models/dcign_faces"))
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=repo)
    again = sh("dvc", "repro", cwd=repo)
    assert not ran(again)


def test_a_cache_of_compiled_modules_in_the_code_changes_no_stage(repo):
    """pipelines/run.sh lets Python write __pycache__ folders into the packages whose code the
    stages hash; .dvcignore keeps them out of those hashes."""
    cache = repo / "render" / "faces" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "scratch.cpython-311.pyc").write_bytes(b"not the code")
    try:
        assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=repo)
    finally:
        shutil.rmtree(cache)


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
    steps = yaml.safe_load((repo / "params.yaml").read_text())["train"]["dcign_faces"]["steps"]
    assert f"models/dcign_faces/live/plots/images/sweeps/{steps}.png" in plots  # the last snapshot


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
    # the model registry: a version is a git tag <artifact>@v<semver>; `dvc artifacts get` fetches it
    sh("git", "tag", "-a", "dcign-faces@v0.1.0", "-m", "registered", cwd=repo)
    got = tmp_path_factory.mktemp("registry") / "dcign-faces"
    sh("dvc", "artifacts", "get", str(repo), "dcign-faces", "--rev", "v0.1.0", "-o", str(got),
       "--remote-config", f"url={remote}", cwd=clone)
    for name in ("model.safetensors", "config.json"):
        assert (got / name).read_bytes() == (repo / "models/dcign_faces" / name).read_bytes()


def test_every_model_is_a_registry_artifact():
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    models = set(pipeline["stages"]["train"]["foreach"])
    artifacts = pipeline["artifacts"]
    assert {a["path"] for a in artifacts.values()} == {f"models/{m}" for m in models}
    for name, artifact in artifacts.items():
        assert artifact["path"] == f"models/{name.replace('-', '_')}" and artifact["type"] == "model"
        assert artifact["desc"] and artifact["labels"]


def test_a_shared_training_default_is_a_param_of_every_training_stage(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["defaults"]["lr"] = 0.001
    write_params(repo / "params.yaml", params)
    status = sh("dvc", "status", cwd=repo)
    assert all(f"train@{m}" in status for m in ("dcign_faces", "baseline_faces", "dcign_chairs"))
    assert "render_faces" not in status and "shard@faces" not in status
    assert "train.defaults.lr" in sh("dvc", "params", "diff", cwd=repo)
    sh("git", "checkout", "-q", "--", "params.yaml", cwd=repo)


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


def module_file(name: str) -> Path | None:
    """The file of a project module or package, if `name` is one."""
    base = REPO / name.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if name.split(".")[0] in ("render", "train") and path.is_file():
            return path
    return None


def project_files(module: str, seen=None) -> set:
    """Project files a module runs, transitively: its imports wherever the statement sits, and the
    __init__ of every package on the way."""
    import ast

    seen = set() if seen is None else seen
    parts = module.split(".")
    for k in range(1, len(parts) + 1):
        path = module_file(".".join(parts[:k]))
        if path is None or path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                if module_file(name):
                    project_files(name, seen)
    return seen


def docstring_only(path: Path) -> bool:
    """A package's __init__ that runs nothing (its docstring is no dependency)."""
    import ast

    body = ast.parse(path.read_text()).body
    return len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)


def entry_modules(words: list[str]) -> list[str]:
    """What a stage's `dcign` command imports; a render also imports its dataset's package, by name
    from the schema."""
    from render.schema import SCHEMAS

    if words[1] == "render":
        return ["render.jobs.dataset", SCHEMAS[words[2]].package]
    return {"preview": ["render.shards.preview"], "shard": ["render.shards.writer"], "train": ["train.loop"],
            "evaluate": ["train.evaluation.evaluate"], "compare": ["train.evaluation.evaluate"],
            "explore": ["train.evaluation.explore"],
            "report": ["train.evaluation.report"]}[words[1]]


def test_every_stage_depends_on_the_code_it_runs_and_nothing_else():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        body = stage.get("do", stage)
        needed = {f for f in set().union(*(project_files(m) for m in entry_modules(body["cmd"].split())))
                  if not docstring_only(f)}
        code = [d for d in body["deps"] if d.split("/")[0] in ("render", "train") and not d.startswith("train/explorer/")]
        covered = lambda f: any(f == REPO / d or REPO / d in f.parents for d in code)
        missing = sorted(f.relative_to(REPO).as_posix() for f in needed if not covered(f))
        assert not missing, f"stage {name} lacks deps {missing}"
        for dep in code:
            assert (REPO / dep).exists(), f"stage {name}: {dep} does not exist"
            assert any(f == REPO / dep or REPO / dep in f.parents for f in needed), \
                f"stage {name}: {dep} holds no code it runs"
    render_deps = set(stages["render_faces"]["deps"])
    assert "render/gl" in render_deps and "render/faces" in render_deps and "render/chairs" not in render_deps


def test_a_comment_in_a_module_that_makes_no_pixels_reruns_nothing_downstream_of_the_renders(repo):
    """The render stages depend on their whole packages, so DVC re-runs them; the fingerprint does not
    cover executors or config parsing, so they keep every chunk and their outputs stay byte-identical."""
    before = lock_outs(repo)
    chunks = {p: p.stat().st_mtime_ns for p in (repo / "data/rendered").rglob("*.npz")}
    for module in ("render/jobs/executors.py", "render/faces/config.py"):
        (repo / module).write_text((repo / module).read_text() + "\n# a comment\n")
    assert ran(sh("dvc", "repro", cwd=repo)) == {"render_faces", "render_chairs"}
    assert all(p.stat().st_mtime_ns == t for p, t in chunks.items())  # nothing re-rendered
    assert lock_outs(repo) == before
    sh("git", "checkout", "-q", "--", "render", cwd=repo)
    assert ran(sh("dvc", "repro", cwd=repo)) == {"render_faces", "render_chairs"}
    assert lock_outs(repo) == before
