"""The data side of dcign, in the order data flows:

params.py (params.yaml -> validated values) -> schema.py (each dataset's batch types, factors,
units, grids, latents) -> faces/ | chairs/ (sampling and the batch source, one interface:
source.py) -> gl/ (the OpenGL renderer) -> jobs/ (chunk planning, executors, resume,
fingerprint, render_dataset) -> chunks.py (the chunk file format) -> shards/ (the training layout:
writer, reader, verify, preview). bench/ measures it; train/ reads the shards.
"""
