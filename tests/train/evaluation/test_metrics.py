"""Known-answer tests for train/evaluation/metrics.py (fast preset; well under a minute on a CPU).

Toy ground truth: K=3 independent discrete factors with 5, 8 and 10 values, drawn uniformly
(3000 train rows, 1000 test rows). Representations:

* identity - the factor classes as floats + N(0, 0.01^2) noise, plus two constant latents;
* constant - every latent is 1;
* shuffled - codes independent of the factors (standard normal noise);
* mixed    - each latent is the sum of two (range-normalised) factors: z0=f0+f1, z1=f1+f2,
             z2=f2+f0.

Thresholds and why:
* Identity: MIG, DCI D/C, FactorVAE, BetaVAE > 0.9 (DL's own sanity range for the identity
  is 0.9-1.0). SAP is DL's *discrete* variant: a one-vs-rest LinearSVC on one raw latent can
  always isolate the two extreme classes (so accuracy >= 2/n vs chance 1/n for other
  latents) but not the middle ones, so for many-valued factors the identity only guarantees
  SAP >~ mean(1/n_k); we assert that bound, and separately that with 2-3 valued factors
  (where a 1-D threshold classifier is exact) SAP reaches > 0.8 of its ceiling mean(1 - 1/n_k).
* Constant: MIG, SAP, FactorVAE and DCI D/C are exactly 0 by construction; DCI
  informativeness and BetaVAE sit at chance (majority frequency / 1/K).
* Shuffled: MIG, SAP < 0.05 (finite-sample MI bias is ~0.03 nats here); DCI D < 0.2 (DL's
  permuted-representation range 0-0.2); FactorVAE/BetaVAE within 0.1 of chance 1/K.
* Mixed: MIG and DCI-D at least 0.3 below the identity.
"""
from __future__ import annotations

import numpy as np
import pytest

from train.evaluation.metrics import (
    PRESETS,
    _Groups,
    all_metrics,
    beta_vae_score,
    dci,
    dci_from_importance,
    discretize,
    factor_vae_score,
    mig,
    sap,
)

SIZES = (5, 8, 10)
K = len(SIZES)
CHANCE = float(np.mean([1.0 / n for n in SIZES]))


def _factors(n, rng, sizes=SIZES):
    return np.stack([rng.integers(s, size=n) for s in sizes], axis=1)


def _represent(f, kind, rng, sizes=SIZES):
    x = f.astype(np.float64)
    if kind == "identity":
        x = x + 0.01 * rng.standard_normal(x.shape)
        return np.concatenate([x, np.ones((x.shape[0], 2))], axis=1)
    if kind == "constant":
        return np.ones_like(x)
    if kind == "shuffled":
        return rng.standard_normal(x.shape)
    if kind == "mixed":
        xs = x / (np.asarray(sizes) - 1.0)
        z = np.stack([xs[:, 0] + xs[:, 1], xs[:, 1] + xs[:, 2], xs[:, 2] + xs[:, 0]], axis=1)
        return z + 0.01 * rng.standard_normal(z.shape)
    raise ValueError(kind)


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(123)
    return _factors(3000, rng), _factors(1000, rng)


@pytest.fixture(scope="module")
def scores(toy):
    ftr, fte = toy
    out = {}
    for i, kind in enumerate(("identity", "constant", "shuffled", "mixed")):
        r = np.random.default_rng(10 + i)
        ctr, cte = _represent(ftr, kind, r), _represent(fte, kind, r)
        out[kind] = all_metrics(ctr, ftr, cte, fte, np.random.default_rng(0), preset="fast")
    return out


# ----------------------------------------------------------------- closed-form DCI


def test_dci_identity_importance():
    d, c = dci_from_importance(np.eye(4))
    assert d == pytest.approx(1.0, abs=1e-6) and c == pytest.approx(1.0, abs=1e-6)


def test_dci_uniform_importance():
    d, c = dci_from_importance(np.ones((5, 3)))
    assert d == pytest.approx(0.0, abs=1e-9) and c == pytest.approx(0.0, abs=1e-9)


def test_dci_all_zero_importance():
    assert dci_from_importance(np.zeros((4, 3))) == (0.0, 0.0)


def test_dci_one_latent_for_all_factors():
    R = np.zeros((4, 3))
    R[1] = 1.0
    d, c = dci_from_importance(R)
    assert d == pytest.approx(0.0, abs=1e-6)
    assert c == pytest.approx(1.0, abs=1e-6)


def test_dci_duplicated_latents():
    # every factor split evenly over two latents (DL's "duplicated code" case)
    n = 5
    d, c = dci_from_importance(np.vstack([np.eye(n), np.eye(n)]))
    assert d == pytest.approx(1.0, abs=1e-6)
    assert c == pytest.approx(1.0 - np.log(2) / np.log(2 * n), abs=1e-6)


def test_dci_hand_computed():
    # R = [[2, 0], [1, 1]] (latents x factors), total importance 4.
    # rows: latent 0 -> (1, 0), H_2 = 0; latent 1 -> (1/2, 1/2), H_2 = 1; weights 2/4, 2/4
    #   => D = 0.5 * 1 + 0.5 * 0 = 0.5
    # cols: factor 0 -> (2/3, 1/3), H_2 = log2(3) - 2/3; factor 1 -> (0, 1), H_2 = 0;
    #   weights 3/4, 1/4 => C = 0.75 * (1 - H_2(2/3, 1/3)) + 0.25 = 0.3112781...
    h = np.log2(3) - 2.0 / 3.0
    d, c = dci_from_importance(np.array([[2.0, 0.0], [1.0, 1.0]]))
    assert d == pytest.approx(0.5, abs=1e-6)
    assert c == pytest.approx(0.75 * (1 - h) + 0.25, abs=1e-6)
    assert c == pytest.approx(0.3112781, abs=1e-6)


# ----------------------------------------------------------------- helpers


def test_discretize_unique_and_grid():
    v = np.array([0.3, -1.0, 0.3, 2.5, -1.0])
    assert discretize(v).tolist() == [1, 0, 1, 2, 0]
    noisy = np.array([0.0 + 1e-9, 0.5 - 1e-9, 1.0, 0.26, 0.74])
    assert discretize(noisy, grid=[1.0, 0.0, 0.5]).tolist() == [0, 1, 2, 1, 1]
    two = np.stack([v, -v], axis=1)
    assert discretize(two).tolist() == [[1, 1], [0, 2], [1, 1], [2, 0], [0, 2]]


def test_groups_fix_the_factor():
    rng = np.random.default_rng(0)
    f = _factors(200, rng)
    g = _Groups(f)
    for k in range(K):
        for v in range(SIZES[k]):
            n_v = int(np.sum(f[:, k] == v))
            rows = g.batch(rng, k, v, 64)  # groups hold ~20-40 rows: with replacement
            assert rows.shape == (64,) and np.all(f[rows, k] == v)
            if n_v >= 8:
                small = g.batch(rng, k, v, 8)
                assert np.unique(small).size == 8  # without replacement when enough
    ks = rng.integers(K, size=(50, 16))
    first = rng.integers(200, size=(50, 16))
    second = g.partners(rng, ks, first)
    assert np.all(f[first, ks] == f[second, ks])


def test_mig_simple_cases():
    rng = np.random.default_rng(1)
    f = _factors(2000, rng)
    # a latent that copies factor 0 twice: gap 0 for factor 0
    z = np.stack([f[:, 0], f[:, 0], f[:, 1], f[:, 2]], axis=1).astype(float)
    assert mig(z, f) == pytest.approx(2.0 / 3.0, abs=0.02)
    assert mig(np.ones((2000, 3)), f) == 0.0


def test_sap_separable_factors():
    rng = np.random.default_rng(2)
    sizes = (2, 3, 2)
    ftr, fte = _factors(2000, rng, sizes), _factors(1000, rng, sizes)
    ctr = ftr + 0.01 * rng.standard_normal(ftr.shape)
    cte = fte + 0.01 * rng.standard_normal(fte.shape)
    ceiling = float(np.mean([1 - 1.0 / n for n in sizes]))
    assert sap(ctr, ftr, cte, fte) > 0.8 * ceiling


def test_small_pool_factor_vae_and_beta_vae():
    # groups smaller than the batch: sampled with replacement, still correct
    rng = np.random.default_rng(3)
    f = _factors(120, rng)
    z = f + 0.01 * rng.standard_normal(f.shape)
    assert factor_vae_score(z, f, rng, n_train=300, n_eval=200, n_var=120) > 0.9
    assert beta_vae_score(z, f, rng, n_train=300, n_eval=200) > 0.9


def test_presets_documented():
    assert set(PRESETS) == {"standard", "fast"}
    fast, std = PRESETS["fast"], PRESETS["standard"]
    for key in ("max_train", "max_test", "mig_bins"):  # so fast MIG, DCI and SAP are the standard ones
        assert fast[key] == std[key]
    assert (std["batch_size"], std["n_train"], std["n_eval"], std["n_var"], std["prune"]) == (
        64, 10000, 5000, 10000, 0.05)
    with pytest.raises(ValueError):
        all_metrics(np.zeros((4, 2)), np.zeros((4, 2), int), np.zeros((4, 2)),
                    np.zeros((4, 2), int), np.random.default_rng(0), preset="nope")


# ----------------------------------------------------------------- known representations


def test_identity_scores_high(scores):
    s = scores["identity"]
    assert s["mig"] > 0.9
    assert s["dci_disentanglement"] > 0.9
    assert s["dci_completeness"] > 0.9
    assert s["dci_informativeness_test"] > 0.95
    assert s["factor_vae"] > 0.9
    assert s["beta_vae"] > 0.9
    assert s["sap"] > CHANCE  # see module docstring: discrete SAP bound for many-valued factors


def test_constant_scores_zero(scores, toy):
    s = scores["constant"]
    _, fte = toy
    majority = np.mean([np.bincount(fte[:, k]).max() / len(fte) for k in range(K)])
    assert s["mig"] == 0.0
    assert s["factor_vae"] == 0.0
    assert s["sap"] == pytest.approx(0.0, abs=1e-12)
    assert s["dci_disentanglement"] == 0.0 and s["dci_completeness"] == 0.0
    assert s["dci_informativeness_test"] <= majority + 0.02
    assert abs(s["beta_vae"] - 1.0 / K) < 0.1


def test_shuffled_scores_near_chance(scores):
    s = scores["shuffled"]
    assert s["mig"] < 0.05
    assert s["sap"] < 0.05
    assert s["dci_disentanglement"] < 0.2
    assert s["dci_informativeness_test"] < CHANCE + 0.05
    assert abs(s["factor_vae"] - 1.0 / K) < 0.1
    assert abs(s["beta_vae"] - 1.0 / K) < 0.1


def test_mixed_scores_below_identity(scores):
    ident, mixed = scores["identity"], scores["mixed"]
    assert mixed["mig"] < ident["mig"] - 0.3
    assert mixed["dci_disentanglement"] < ident["dci_disentanglement"] - 0.3
    assert mixed["factor_vae"] < ident["factor_vae"]


def test_deterministic_under_same_seed(toy):
    ftr, fte = toy
    r = np.random.default_rng(5)
    ctr, cte = _represent(ftr, "mixed", r), _represent(fte, "mixed", r)
    a = all_metrics(ctr, ftr, cte, fte, np.random.default_rng(7), preset="fast")
    b = all_metrics(ctr, ftr, cte, fte, np.random.default_rng(7), preset="fast")
    assert a == b
    fv = [factor_vae_score(ctr, ftr, np.random.default_rng(s), n_train=500, n_eval=300)
          for s in (1, 1, 2)]
    assert fv[0] == fv[1]
    d1 = dci(ctr[:500], ftr[:500], cte, fte)
    d2 = dci(ctr[:500], ftr[:500], cte, fte)
    assert d1 == d2
