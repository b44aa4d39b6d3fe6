"""The DC-IGN: its network and clamp, training on shards, and the evaluation of trained models."""
