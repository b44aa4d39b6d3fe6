"""Chairs: procedural chairs or a folder of CAD meshes, seen from a ring of views, as single-factor batches."""
from render.chairs.config import chairs_config as config
from render.chairs.source import ChairBatches as Source
from render.chairs.source import prepare

__all__ = ["config", "prepare", "Source"]
