"""Chair batches: procedural or CAD chairs under the views of the sampled batch, the light fixed
relative to the camera."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from render.chairs.catalogue import ChairCatalog, build_catalog
from render.chairs.config import ChairsConfig
from render.chairs.sampling import chair_batch_spec
from render.gl.mesh import AlbedoMesh, facet, normalised
from render.source import BatchSource, Views

# Normalised chairs fit a unit box; this sphere holds any of them turned about the vertical axis.
FRAME_RADIUS = 0.7


def prepare(cfg: ChairsConfig) -> ChairCatalog:
    return build_catalog(cfg)


class ChairBatches(BatchSource):
    """Meshes are built or loaded once and kept in a cache (a procedural chair takes ~30 ms to
    build, several times its render)."""

    CACHE = 512

    def __init__(self, cfg: ChairsConfig, catalog: ChairCatalog):
        super().__init__(cfg, catalog)
        self._cache: OrderedDict = OrderedDict()

    def framing(self):
        from render.gl.renderer import Framing

        return Framing(None, self.cfg.camera.distance, self.cfg.camera.fill, center=(0.0, 0.0, 0.0),
                       radius=FRAME_RADIUS)

    def mesh(self, identity: int) -> AlbedoMesh:
        if identity not in self._cache:
            self._cache[identity] = facet(self._build(identity))
            if len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
        self._cache.move_to_end(identity)
        return self._cache[identity]

    def _build(self, identity: int) -> AlbedoMesh:
        catalog = self.prepared
        if catalog.procedural:
            from render.chairs.procedural.sampling import procedural_chair

            return normalised(procedural_chair(self.cfg.seed, identity)[0])
        from render.chairs.cad import ChairSource
        from render.chairs.cad import load_chair

        return load_chair(ChairSource(catalog.chair_ids[identity], catalog.files[identity]), catalog.source,
                          up=self.cfg.up_axis, front=self.cfg.front_axis, max_faces=self.cfg.max_faces)

    def views(self, split: str, batch_type: str, index: int) -> tuple[Views, dict]:
        spec = chair_batch_spec(self.cfg, split, batch_type, index, self.prepared.pools[split])
        light = np.full(len(spec.identity), self.cfg.light_azimuth)
        labels = {**spec.factors, "identity": spec.identity,
                  "family": np.array([self.prepared.family(int(k)) for k in spec.identity], dtype=np.int64)}
        return Views(spec.identity, spec.factors["azimuth"], spec.factors["elevation"], light), labels
