"""Thin I/O edges: the `dcign` command line and the DVC stage entry points."""
