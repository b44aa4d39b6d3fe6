"""What MIG and DCI give an ideal disentangled code on a dataset's own factor grids: a reference
beside a model's scores, so that a reader can tell what holds a score down.

The metrics take each factor as classes on its grid (61 azimuths, 33 elevations and 81 light angles
on the full-range faces). Two things then cap a score that has nothing to do with entanglement:

* MIG cuts every latent into 20 bins, so a latent that carries a 61-class factor exactly shares at
  most about ln 20 of its ln 61 nats with it: an exact code scores well below 1.
* A latent that carries its factor with a read error of a few grid steps cannot tell neighbouring
  classes apart. DCI's boosted trees then fit the noise in every latent, spread their importance
  over all of them, and disentanglement falls although each latent holds one factor only.

The reference codes hold one latent per factor on a line, two (cosine and sine) for a circular
factor, built from the true values of the very rows the model's codes were scored on: *exact*, and
*at the model's precision*, with independent Gaussian errors whose median matches the model's
median read error on the test images. A model's errors are not independent (they share offsets
within a batch), so the second is a reference for the model's precision, not a bound.
"""
from __future__ import annotations

import numpy as np

from train.data import DataSchema
from train.evaluation.metrics import mig_and_dci
from train.evaluation.readout import DEGREES, PERIOD

NORMAL_MEDIAN_ABS = 0.6744897501960817  # the median of |x| for x ~ N(0, 1)


def ideal_code(values: np.ndarray, sd: float, period: float, rng: np.random.Generator) -> np.ndarray:
    """A factor's latents: its values plus N(0, sd^2) errors, one column; for a circular factor
    (period > 0) the cosine and sine of that angle, two columns. sd and period in the factor's unit."""
    v = np.asarray(values, dtype=np.float64)
    if sd > 0:
        v = v + rng.normal(0.0, sd, v.shape)
    if not period:
        return v[:, None]
    angle = 2 * np.pi * v / period
    return np.column_stack([np.cos(angle), np.sin(angle)])


def ideal_codes(labels: dict, errors: dict, periods: dict, rng: np.random.Generator) -> np.ndarray:
    """(N, L) codes for the factors of `errors` (factor -> sd), in its order."""
    return np.hstack([ideal_code(labels[f], sd, periods[f], rng) for f, sd in errors.items()])


def read_error_sd(eq: dict, schema: DataSchema, factors: list) -> dict | str:
    """Per factor the sd (in its unit) of Gaussian errors with the model's median read error on the
    test images; or, where a factor has no latents to read it from, why there is none."""
    types = {schema.factor(t): t for t in schema.extrinsic}
    unread = [f for f in factors if types.get(f) not in eq]
    if unread:
        return f"{', '.join(unread)}: no latent of the model reads it, so there is no read error to copy"
    return {f: eq[types[f]]["median_error_deg"] / DEGREES[schema.factors[f]["unit"]] / NORMAL_MEDIAN_ABS
            for f in factors}


def reference_scores(train: dict, test: dict, classes: tuple, schema: DataSchema, factors: list, eq: dict,
                     seed: int, preset: str) -> dict:
    """MIG and DCI of the exact code and of the code at the model's precision, on the rows and with
    the preset the model's own scores used (train/evaluation/metrics.py). `train` and `test` are the
    pools' factor values, `classes` their (train, test) class labels (probes.factor_classes)."""
    periods = {f: PERIOD[schema.factors[f]["unit"]] if schema.factors[f].get("circular") else 0.0 for f in factors}
    rng = np.random.default_rng([seed, 1])  # its own stream: the model's scores keep theirs

    def scores(errors: dict) -> dict:
        codes = ideal_codes(train, errors, periods, rng), ideal_codes(test, errors, periods, rng)
        return mig_and_dci(codes[0], classes[0], codes[1], classes[1], rng, preset=preset)

    out = {"exact": scores({f: 0.0 for f in factors})}
    errors = read_error_sd(eq, schema, factors)
    if isinstance(errors, str):
        out["not_applicable"] = {"model_precision": errors}
    else:
        out["model_precision"] = {**scores(errors), "error_sd": errors}
    return out
