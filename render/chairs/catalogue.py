"""Which chairs exist, which split each belongs to, and how to build one: procedural ids, or the
usable meshes of a CAD folder (broken ones, and what discovery cannot use, are listed with their
reason, never fatal alone)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from render.chairs.config import ChairsConfig
from render.chairs.sampling import chair_split
from render.errors import UserError
from render.params import SPLITS
from render.schema import CHAIR_FAMILIES
from render.source import Prepared

SKIPPED_FILE = "skipped_chairs.json"


@dataclass(frozen=True)
class ChairCatalog(Prepared):
    source: str  # 'procedural' or the resolved folder
    chair_ids: tuple  # str ids; position = identity label
    files: tuple  # per chair: tuple of files (folder sources), () for procedural
    pools: dict  # split -> list of positions
    skipped: tuple  # ({chair_id, files, reason}, ...) for folder sources
    listing: str  # digest of the folder listing, part of the fingerprint

    @property
    def procedural(self) -> bool:
        return self.source == "procedural"

    @property
    def digest(self) -> str:
        return f"listing:{self.listing}"

    @property
    def summary(self) -> str:
        return f"{len(self.chair_ids)} {'procedural' if self.procedural else 'CAD'} chairs"

    def family(self, identity: int) -> int:
        if not self.procedural:
            return -1
        return identity % len(CHAIR_FAMILIES)

    def describe(self, cfg: ChairsConfig) -> dict:
        chairs = {
            "source": cfg.source,
            "usable": len(self.chair_ids),
            "skipped": len(self.skipped),
            "per_split": {s: len(self.pools[s]) for s in SPLITS},
            "ids": {s: [self.chair_ids[k] for k in self.pools[s]] for s in SPLITS},
        }
        if self.procedural:
            chairs["families"] = list(CHAIR_FAMILIES)
        return {"chairs": chairs}

    def after_render(self, out_dir: Path) -> None:
        (Path(out_dir) / SKIPPED_FILE).write_text(json.dumps(list(self.skipped), indent=2, sort_keys=True) + "\n")
        if self.skipped:
            print(f"dcign: skipped {len(self.skipped)} chair files or folders it cannot use; reasons in "
                  f"{Path(out_dir) / SKIPPED_FILE}")


def build_catalog(cfg: ChairsConfig) -> ChairCatalog:
    if cfg.source == "procedural":
        n_train, n_test = cfg.count["train"], cfg.count["test"]
        ids = tuple(str(i) for i in range(n_train + n_test))
        pools = {"train": list(range(n_train)), "test": list(range(n_train, n_train + n_test))}
        return ChairCatalog("procedural", ids, tuple(() for _ in ids), pools, (), "")
    from render.chairs.cad import BrokenMesh, find_chairs, load_chair

    root = (Path(cfg.base_dir) / cfg.source).resolve()
    usable, skipped = [], []
    found = find_chairs(root, problems=skipped)
    for source in tqdm(found, desc="check chairs", unit="chair", dynamic_ncols=True):
        try:
            load_chair(source, root, up=cfg.up_axis, front=cfg.front_axis, max_faces=cfg.max_faces)
            usable.append(source)
        except BrokenMesh as e:
            skipped.append({"chair_id": source.chair_id, "files": list(source.files), "reason": str(e)})
    if not usable:
        raise UserError(f"chairs.source = {cfg.source!r}: no usable chair among {len(skipped)} found "
                        f"(first: {skipped[0]['chair_id']}: {skipped[0]['reason']})" if skipped else
                        f"chairs.source = {cfg.source!r}: no chair meshes found")
    ids = tuple(s.chair_id for s in usable)
    pools = chair_split(cfg.seed, list(ids), cfg.test_fraction)
    for split in SPLITS:
        need = cfg.batch_size if cfg.batches[split]["intrinsic"] else 1
        if any(cfg.batches[split].values()) and len(pools[split]) < need:
            raise UserError(f"chairs.source = {cfg.source!r}: the {split} split holds {len(pools[split])} usable "
                            f"chairs, expected at least {need} (more chairs, or another chairs.test_fraction)")
    listing = [(s.chair_id, [(f, (root / f).stat().st_size, (root / f).stat().st_mtime_ns) for f in s.files])
               for s in usable]
    digest = hashlib.sha256(json.dumps([listing, skipped], sort_keys=True).encode()).hexdigest()[:16]
    return ChairCatalog(str(root), ids, tuple(s.files for s in usable), pools, tuple(skipped), digest)
