"""`render_dataset`: any dataset of the schema, from its config to finished chunks and render_info.json."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from render.chunks import FORMAT_VERSION, write_info
from render.jobs.config import ExecutorConfig
from render.jobs.executors import render_chunks
from render.jobs.fingerprint import fingerprint
from render.jobs.plan import plan_chunks
from render.outputs import RENDER, output_dir
from render.params import SPLITS, load_params
from render.schema import DatasetSchema, schema_of


def load_config(dataset: str, params_path: str | Path) -> tuple[dict, object]:
    """The params tree and the dataset's validated config; relative paths in it are relative to the
    params file."""
    params = load_params(params_path)
    cfg = schema_of(dataset).module().config(params, where=str(params_path), base_dir=str(Path(params_path).parent))
    return params, cfg


def render_info(schema: DatasetSchema, cfg, prepared, chunks, fp: str) -> dict:
    """What a reader needs to interpret the chunks (factors, units and grids from the schema), and
    nothing that varies between runs."""
    config = asdict(cfg)
    config.pop("base_dir")
    return {
        "format_version": FORMAT_VERSION,
        "dataset": schema.name,
        "fingerprint": fp,
        "config": config,
        **prepared.describe(cfg),
        "batch_types": list(schema.batch_types),
        "type_factor": schema.type_factor(),
        "factors": {name: f.describe(cfg.grid(name)) for name, f in schema.factors.items()},
        "counts": cfg.batches,
        "image_shape": [cfg.batch_size, cfg.image_size, cfg.image_size],
        "chunks": [c.describe() for c in chunks],
    }


def render_dataset(dataset: str, cfg, out_dir: Path, executor: ExecutorConfig) -> dict:
    """Render every planned chunk not already on disk; returns the dataset's render_info."""
    schema = schema_of(dataset)
    package = schema.module()
    out_dir = Path(out_dir)
    prepared = package.prepare(cfg)
    chunks = plan_chunks(cfg.batches, cfg.chunk_batches, SPLITS, schema.batch_types)
    fp = fingerprint(schema, cfg, prepared.digest)
    render_chunks(out_dir, chunks, fp, package.Source, (cfg, prepared), executor, cfg.batch_size,
                  desc=f"render {dataset}")
    prepared.after_render(out_dir)
    info = render_info(schema, cfg, prepared, chunks, fp)
    write_info(out_dir, info)
    return info


def render_from_params(dataset: str, params_path: str | Path, out_dir: Path, workers: int | None = None,
                       executor: str | None = None, ray_address: str | None = None) -> dict:
    """`dcign render`: the dataset's params section and the `render` section (command-line values
    taking precedence) -> finished chunks."""
    from render.jobs.config import executor_config

    params, cfg = load_config(dataset, params_path)
    ex = executor_config(params, str(params_path), workers=workers, executor=executor, ray_address=ray_address)
    with output_dir(out_dir, RENDER):
        return render_dataset(dataset, cfg, out_dir, ex)
