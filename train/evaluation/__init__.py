"""Evaluating trained models: encodings, probes, disentanglement metrics, figures, reports and re-rendering."""
