"""Offscreen rendering of single-factor image batches (faces, later chairs)."""
