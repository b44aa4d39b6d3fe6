"""DC-IGN model and training loop (filled in by the trainer issue)."""
