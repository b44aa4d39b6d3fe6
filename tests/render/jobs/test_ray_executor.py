"""The Ray executor on a real local Ray instance (2 CPUs): byte-identical to the local pool,
resume, retries of lost and failed tasks, bad input, and the benchmark."""
import os
import sys
from pathlib import Path

import pytest

from render.errors import UserError
from render.faces.config import SCHEMA, faces_config
from render.faces.source import FaceBatches, prepare
from render.jobs.config import ExecutorConfig
from render.jobs.fingerprint import fingerprint
from render.jobs.plan import plan_chunks
from render.params import SPLITS
from render.outputs import MARKER
from tests.conftest import run_dcign, tiny_params, tree_digest, write_params

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")


@pytest.fixture(scope="module")
def ray_address():
    """One local Ray instance for the module; the CLI runs join it with --ray-address."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the flaky renderers below
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The tiny faces and chairs rendered by the local pool."""
    root = tmp_path_factory.mktemp("local")
    params = write_params(root / "params.yaml", tiny_params())
    for dataset in ("faces", "chairs"):
        run_dcign("render", dataset, "--params", params, "--out", root / dataset, "--workers", 2, check=True)
    return root


@pytest.mark.parametrize("dataset", ["faces", "chairs"])
def test_ray_writes_the_same_bytes_as_the_local_pool_and_resumes(ray_address, local, tmp_path, dataset):
    out = tmp_path / dataset
    args = ("render", dataset, "--params", local / "params.yaml", "--out", out, "--executor", "ray",
            "--ray-address", ray_address)
    proc = run_dcign(*args, check=True)
    assert "chunks as Ray tasks on 2 CPUs (1 node(s))" in proc.stdout
    assert f"under {out}" in proc.stdout and "img/s" in proc.stderr  # tqdm progress, as the local pool
    assert tree_digest(out) == tree_digest(local / dataset)
    if dataset == "faces":  # an interrupted render: a re-run renders only the missing chunks
        for chunk in sorted(out.glob("train/*.npz"))[:3]:
            chunk.unlink()
        again = run_dcign(*args, check=True)
        assert "resuming: 7 of 10 chunks already rendered" in again.stdout
        assert "3 chunks as Ray tasks" in again.stdout
        assert tree_digest(out) == tree_digest(local / dataset)


class FlakyRenderer(FaceBatches):
    """The real face renderer, except that the first attempt at a chunk's first batch kills its
    worker process (a lost task) or raises (a failed task), as marked in `faults`."""

    def __init__(self, cfg, model, faults: dict, marks: str):
        super().__init__(cfg, model)
        self.faults, self.marks = faults, Path(marks)

    def render_batch(self, split, batch_type, index):
        fault = self.faults.get(f"{split}/{batch_type}/{index}")
        mark = self.marks / f"{split}-{batch_type}-{index}"
        if fault and not mark.exists():
            mark.write_text(fault)
            if fault == "crash":
                os._exit(1)
            raise RuntimeError("a transient failure")
        return super().render_batch(split, batch_type, index)


class BrokenRenderer(FaceBatches):
    """A renderer that meets bad input: counts its attempts, fails the same way each time."""

    def __init__(self, cfg, model, marks: str):
        super().__init__(cfg, model)
        self.marks = Path(marks)

    def render_batch(self, split, batch_type, index):
        attempt = len(list(self.marks.glob("attempt-*")))
        (self.marks / f"attempt-{attempt}").write_text("")
        raise UserError("broken.obj: not a mesh (expected a triangle mesh)")


def render_with(factory, args, tmp_path):
    from render.jobs.ray_executor import render_on_ray

    cfg = faces_config(tiny_params())
    model = prepare(cfg)
    chunks = plan_chunks(cfg.batches, cfg.chunk_batches, SPLITS, SCHEMA.batch_types)
    done = []
    render_on_ray(tmp_path / "out", chunks, fingerprint(SCHEMA, cfg, model.digest), factory, (cfg, model, *args),
                  ExecutorConfig("ray", 2), done.append)
    return chunks, done


def test_lost_and_failed_tasks_are_retried(ray_address, local, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    faults = {"train/azimuth/0": "crash", "train/intrinsic/1": "raise", "test/light/0": "crash"}
    chunks, done = render_with(FlakyRenderer, (faults, str(marks)), tmp_path)
    assert sorted(p.name for p in marks.iterdir()) == sorted(k.replace("/", "-") for k in faults)
    assert sum(done) == len(chunks)
    rendered = tree_digest(tmp_path / "out")
    expected = {k: v for k, v in tree_digest(local / "faces").items() if k not in ("render_info.json", MARKER)}
    assert rendered == expected  # the chunks (the CLI's render also marks its directory)


def test_bad_input_in_a_task_is_one_error_and_not_retried(ray_address, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    with pytest.raises(UserError, match=r"^broken.obj: not a mesh \(expected a triangle mesh\)$"):
        render_with(BrokenRenderer, (str(marks),), tmp_path)
    first_attempts = len(list(marks.glob("attempt-*")))
    assert 1 <= first_attempts <= 4  # the chunks in flight when the first error came back, each tried once


def test_asking_for_ray_without_it_names_the_extra(local, tmp_path):
    fake = tmp_path / "no-ray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    env = {"PYTHONPATH": f"{fake.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = run_dcign("render", "faces", "--params", local / "params.yaml", "--out", tmp_path / "out",
                     "--executor", "ray", env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "dcign: error: render executor 'ray' needs Ray, which is not installed: pip install -e '.[ray]' "
        "(or use executor: local)")
    ok = run_dcign("render", "faces", "--params", local / "params.yaml", "--out", tmp_path / "out", env=env)
    assert ok.returncode == 0, ok.stderr  # the local executor needs no Ray
    assert tree_digest(tmp_path / "out") == tree_digest(local / "faces")


@pytest.mark.parametrize("args, message", [
    (["--executor", "spark"], "argument --executor: invalid choice: 'spark'"),
    (["--ray-address", "10.0.0.1:6379"], "--ray-address 10.0.0.1:6379: only used with the ray executor"),
])
def test_bad_executor_choices_are_one_line(local, tmp_path, args, message):
    proc = run_dcign("render", "faces", "--params", local / "params.yaml", "--out", tmp_path / "out", *args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_a_bad_executor_in_params_names_the_key(tmp_path):
    params = tiny_params()
    params["render"]["executor"] = "dask"
    path = write_params(tmp_path / "params.yaml", params)
    proc = run_dcign("render", "faces", "--params", path, "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"dcign: error: {path}: render.executor = 'dask': expected one of local, ray"


def test_bench_compares_ray_with_the_local_pool(ray_address, local):
    proc = run_dcign("bench", "render", "--params", local / "params.yaml", "--images", 16, "--workers", 2,
                     "--executor", "ray", "--ray-address", ray_address, check=True)
    assert "local pool:" in proc.stdout and "ray       :" in proc.stdout
    assert "outputs byte-identical: yes" in proc.stdout
