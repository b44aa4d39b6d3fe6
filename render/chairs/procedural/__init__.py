"""Procedural chairs: the embedded default chair set, generated rather than downloaded.

Data flow: `sampling.sample_chair_params(seed, chair_id)` draws a `ChairParams` record
(`chair_params`: a family of `render.schema.CHAIR_FAMILIES` plus plain continuous and
categorical parameters);
`families.build_chair` turns it into an `AlbedoMesh` from the shared `parts`, which are made of
the generic `primitives`. `sampling.procedural_chair` does both. Everything is deterministic.
"""
