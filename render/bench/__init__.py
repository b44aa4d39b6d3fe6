"""Speed benchmarks of rendering and loading, each against a naive baseline run in the same process."""
