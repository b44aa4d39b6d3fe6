"""Faces: a morphable head model (procedural, or a Basel Face Model) rendered as single-factor batches."""
from render.faces.config import faces_config as config
from render.faces.source import FaceBatches as Source
from render.faces.source import prepare

__all__ = ["config", "prepare", "Source"]
