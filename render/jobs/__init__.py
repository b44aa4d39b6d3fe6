"""Render jobs: chunk planning, the local and Ray executors, resume, the fingerprint, and render_dataset."""
