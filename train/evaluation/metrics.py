"""Disentanglement metrics on a finite, labelled pool of encoded observations.

Own numpy / scikit-learn implementation of the six scores of Locatello et al. (2019) as
defined in google-research/disentanglement_lib ("DL"); definitions and defaults are
restated in train/evaluation/metrics.md. No DL code is used (it needs TensorFlow 1).

Inputs everywhere
-----------------
``codes``   float (N, L): the representation to score, i.e. the encoder **means**.
``factors`` int (N, K): **discrete** ground-truth classes, already mapped to 0..n_k-1
            (use :func:`discretize` for continuous factor values).
``rng``     ``np.random.Generator``; every function is deterministic given its generator
            (and the ``random_state`` of the sklearn estimators, fixed to 0 by default).

Finite pool instead of re-rendering
-----------------------------------
DL draws *fresh* observations from the generative model for the FactorVAE and BetaVAE scores
(fix one factor, sample the others, render, encode). Here the batches are drawn from the given
pool of already encoded observations:

* FactorVAE: choose a factor k uniformly, take v = factor k of a uniformly drawn pool row (so
  values come with their pool frequency, which for a uniform grid equals DL's uniform draw),
  then sample ``batch_size`` rows with factor k == v -- without replacement when the pool has
  enough such rows, with replacement otherwise.
* BetaVAE: as in DL, a point is a batch of *pairs* sharing factor k: the first element of each
  pair is a uniformly drawn pool row, the second is a uniformly drawn pool row (with
  replacement) that has the same value of factor k.

The other factors in such a batch therefore vary as they do in the pool, not as an independent
uniform draw; with a pool that covers the factor grid uniformly the two coincide in
distribution. Votes / points used to fit and to evaluate the classifiers are drawn from the
same pool (DL also draws both from the same distribution).

Factors with fewer than two distinct values in the data carry no information and are dropped
by every metric (DL's grids never contain such factors).
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mutual_info_score
from sklearn.svm import LinearSVC

from train.evaluation.boosting import boosted_trees

__all__ = [
    "AS_STANDARD",
    "PRESETS",
    "all_metrics",
    "beta_vae_score",
    "dci",
    "dci_from_importance",
    "discretize",
    "factor_vae_score",
    "mig",
    "mig_and_dci",
    "sap",
]

# Standard = the settings of Locatello et al. 2019 (DL unsupervised_study_v1 metric configs).
# Fast = a preset for quick looks. Its MIG, DCI and SAP are the standard ones (same pools, same
# settings); FactorVAE and BetaVAE take fewer votes (the same scores, noisier). DCI's boosted
# trees are train/evaluation/boosting.py's, the standard estimator's algorithm in about 85 s per
# face model (scikit-learn's own took about 41 minutes per face model on one core).
#   max_train / max_test: the train / test pools are randomly subsampled to at most this many
#   rows for MIG, DCI and SAP (DL: num_train=10000, num_test=5000).
PRESETS = {
    "standard": dict(
        max_train=10000, max_test=5000, mig_bins=20,
        batch_size=64, n_train=10000, n_eval=5000, n_var=10000, prune=0.05,
    ),
    "fast": dict(
        max_train=10000, max_test=5000, mig_bins=20,
        batch_size=32, n_train=2000, n_eval=1000, n_var=2000, prune=0.05,
    ),
}
# what each preset computes as the standard preset does (the rest departs or is noisier)
AS_STANDARD = {"standard": ("mig", "dci_disentanglement", "dci_completeness", "dci_informativeness_train",
                            "dci_informativeness_test", "sap", "factor_vae", "beta_vae"),
               "fast": ("mig", "dci_disentanglement", "dci_completeness", "dci_informativeness_train",
                        "dci_informativeness_test", "sap")}


# --------------------------------------------------------------------------- helpers


def discretize(values, grid=None) -> np.ndarray:
    """Map continuous factor values to class indices.

    ``values``: (N,) or (N, K). Without ``grid`` the sorted unique values of each column become
    0..n-1. With ``grid`` (one sequence of grid values for a 1-D input, or a list with one
    sequence per column) each value is mapped to the index of the nearest grid point in the
    sorted grid, which absorbs floating-point noise around the grid values.
    """
    v = np.asarray(values)
    if v.ndim == 1:
        return _discretize_column(v, grid)
    if v.ndim != 2:
        raise ValueError(f"values must be 1-D or 2-D, got shape {v.shape}")
    if grid is not None and len(grid) != v.shape[1]:
        raise ValueError("grid must hold one sequence of grid values per column")
    cols = [_discretize_column(v[:, j], None if grid is None else grid[j]) for j in range(v.shape[1])]
    return np.stack(cols, axis=1)


def _discretize_column(v: np.ndarray, grid) -> np.ndarray:
    if grid is None:
        return np.unique(v, return_inverse=True)[1].reshape(-1).astype(np.int64)
    g = np.unique(np.asarray(grid, dtype=np.float64))
    if g.size == 0:
        raise ValueError("empty grid")
    if g.size == 1:
        return np.zeros(v.shape[0], dtype=np.int64)
    x = v.astype(np.float64)
    hi = np.clip(np.searchsorted(g, x), 1, g.size - 1)
    lo = hi - 1
    return np.where(np.abs(x - g[lo]) <= np.abs(g[hi] - x), lo, hi).astype(np.int64)


def _check(codes, factors) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(codes, dtype=np.float64)
    f = np.asarray(factors)
    if c.ndim != 2 or f.ndim != 2 or c.shape[0] != f.shape[0]:
        raise ValueError(f"need codes (N, L) and factors (N, K), got {c.shape} and {f.shape}")
    if not np.issubdtype(f.dtype, np.integer):
        if not np.all(np.equal(np.mod(f, 1), 0)):
            raise ValueError("factors must be discrete class labels; use discretize()")
        f = f.astype(np.int64)
    if f.size and f.min() < 0:
        raise ValueError("factor classes must be non-negative (0..n_k-1)")
    return c, f


def _informative(factors: np.ndarray) -> np.ndarray:
    """Indices of the factor columns that take at least two values."""
    keep = [k for k in range(factors.shape[1]) if np.unique(factors[:, k]).size >= 2]
    if not keep:
        raise ValueError("no factor takes more than one value")
    return np.asarray(keep, dtype=np.int64)


def _train_test(codes_train, factors_train, codes_test, factors_test):
    """Checked train and test arrays, keeping only the factors that vary in training."""
    ctr, ftr = _check(codes_train, factors_train)
    cte, fte = _check(codes_test, factors_test)
    keep = _informative(ftr)
    return ctr, ftr[:, keep], cte, fte[:, keep]


def _histogram_discretize(codes: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins over each latent's own observed range (DL's histogram discretizer)."""
    out = np.empty(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], bins)[1]
        out[:, j] = np.digitize(codes[:, j], edges[:-1])
    return out


def _top2_gap(matrix: np.ndarray) -> np.ndarray:
    """Per column: largest minus second-largest entry (second = 0 for a single row)."""
    s = np.sort(matrix, axis=0)[::-1]
    second = s[1] if s.shape[0] > 1 else np.zeros(s.shape[1])
    return s[0] - second


# --------------------------------------------------------------------------- MIG


def mig(codes, factors, bins: int = 20) -> float:
    """Mutual Information Gap (Chen et al. 2018), DL's ``discrete_mig``.

    Each latent is cut into ``bins`` equal-width bins over its observed range; m[j, k] is the
    mutual information (nats) between binned latent j and factor k; MIG is the mean over
    factors of (largest - second-largest m[:, k]) / H(factor k).
    """
    c, f = _check(codes, factors)
    f = f[:, _informative(f)]
    z = _histogram_discretize(c, bins)
    L, K = z.shape[1], f.shape[1]
    m = np.array([[mutual_info_score(f[:, k], z[:, j]) for k in range(K)] for j in range(L)])
    h = np.array([mutual_info_score(f[:, k], f[:, k]) for k in range(K)])
    return float(np.mean(_top2_gap(m) / h))


# --------------------------------------------------------------------------- DCI


def _entropy_rows(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy (in ``base``) of each row of a non-negative matrix after normalising the row.

    Like DL, 1e-11 is added to every entry first, so all-zero rows count as uniform.
    """
    q = p + 1e-11
    q = q / q.sum(axis=1, keepdims=True)
    return -(q * np.log(q)).sum(axis=1) / np.log(base)


def dci_from_importance(R) -> tuple[float, float]:
    """Disentanglement and completeness (Eastwood & Williams 2018) of an importance matrix.

    ``R`` is (L latents, K factors), non-negative. Disentanglement D = sum_i rho_i
    (1 - H_K(R[i, :] / sum R[i, :])) with rho_i = sum R[i, :] / sum R; completeness
    C = sum_k rho_k (1 - H_L(R[:, k] / sum R[:, k])) with rho_k = sum R[:, k] / sum R. An
    all-zero matrix scores (0, 0). With a single factor (K = 1) every latent is trivially
    disentangled (D = 1); with a single latent C = 1.
    """
    R = np.abs(np.asarray(R, dtype=np.float64))
    if R.ndim != 2:
        raise ValueError("importance matrix must be 2-D (latents, factors)")
    L, K = R.shape
    total = R.sum()
    if total == 0:
        return 0.0, 0.0
    rho_latent = R.sum(axis=1) / total
    rho_factor = R.sum(axis=0) / total
    d_per = 1.0 - _entropy_rows(R, K) if K > 1 else np.ones(L)
    c_per = 1.0 - _entropy_rows(R.T, L) if L > 1 else np.ones(K)
    return float(np.sum(rho_latent * d_per)), float(np.sum(rho_factor * c_per))


def dci(codes_train, factors_train, codes_test, factors_test) -> dict:
    """DCI (Eastwood & Williams 2018) with gradient-boosted trees, as in DL.

    One classifier per factor on all latents, DL's ``GradientBoostingClassifier()`` with
    scikit-learn's defaults (100 stages of depth 3; :mod:`train.evaluation.boosting`). R[j, k] =
    the feature importance of latent j for factor k; see :func:`dci_from_importance` for D and
    C. Informativeness is the mean classification accuracy over factors (train and test), which
    DL stores under ``informativeness_train/test`` although its code calls it an error.
    """
    ctr, ftr, cte, fte = _train_test(codes_train, factors_train, codes_test, factors_test)
    L, K = ctr.shape[1], ftr.shape[1]
    R = np.zeros((L, K))
    acc_train, acc_test = [], []
    for k in range(K):
        fit = boosted_trees(ctr, ftr[:, k], cte, fte[:, k])
        R[:, k] = fit.importance
        acc_train.append(fit.accuracy_train)
        acc_test.append(fit.accuracy_test)
    d, c = dci_from_importance(R)
    return dict(
        disentanglement=d,
        completeness=c,
        informativeness_train=float(np.mean(acc_train)),
        informativeness_test=float(np.mean(acc_test)),
    )


# --------------------------------------------------------------------------- SAP


def sap(codes_train, factors_train, codes_test, factors_test, random_state: int = 0) -> float:
    """Separated Attribute Predictability (Kumar et al. 2018), DL's discrete-factor variant.

    For every latent j and factor k a ``LinearSVC(C=0.01, class_weight='balanced')`` is fit on
    latent j alone (raw, unstandardised values, as in DL); s[j, k] is its test accuracy. SAP is
    the mean over factors of (best - second-best s[:, k]).
    """
    ctr, ftr, cte, fte = _train_test(codes_train, factors_train, codes_test, factors_test)
    L, K = ctr.shape[1], ftr.shape[1]
    s = np.zeros((L, K))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for j in range(L):
            for k in range(K):
                svc = LinearSVC(C=0.01, class_weight="balanced", random_state=random_state)
                svc.fit(ctr[:, j:j + 1], ftr[:, k])
                s[j, k] = np.mean(svc.predict(cte[:, j:j + 1]) == fte[:, k])
    return float(np.mean(_top2_gap(s)))


# --------------------------------------------------------------------------- pool sampling


class _Groups:
    """Pool rows grouped by the value of each factor, for fixed-factor sampling."""

    def __init__(self, factors: np.ndarray):
        self.factors = factors
        self.order, self.start, self.count = [], [], []
        for k in range(factors.shape[1]):
            col = factors[:, k]
            order = np.argsort(col, kind="stable")
            n_vals = int(col.max()) + 1
            count = np.bincount(col, minlength=n_vals)
            start = np.concatenate([[0], np.cumsum(count)[:-1]])
            self.order.append(order)
            self.start.append(start)
            self.count.append(count)

    def batch(self, rng, k: int, v: int, size: int) -> np.ndarray:
        """``size`` rows with factor k == v; without replacement when there are enough."""
        s, c = self.start[k][v], self.count[k][v]
        members = self.order[k][s:s + c]
        return rng.choice(members, size=size, replace=c < size)

    def partners(self, rng, k: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """For each (k, row) a uniformly drawn row (with replacement) sharing factor k."""
        out = np.empty(rows.shape, dtype=np.int64)
        u = rng.random(rows.shape)
        for kk in np.unique(k):
            sel = k == kk
            v = self.factors[rows[sel], kk]
            s, c = self.start[kk][v], self.count[kk][v]
            pos = s + np.minimum((u[sel] * c).astype(np.int64), c - 1)
            out[sel] = self.order[kk][pos]
        return out


# --------------------------------------------------------------------------- FactorVAE


def factor_vae_score(codes, factors, rng: np.random.Generator, batch_size: int = 64,
                     n_train: int = 10000, n_eval: int = 5000, n_var: int = 10000,
                     prune: float = 0.05) -> float:
    """FactorVAE score (Kim & Mnih 2018), DL's ``eval_accuracy``, on a finite pool.

    Global per-latent variances (ddof=1) come from ``n_var`` pool rows (the whole pool if it is
    not larger; otherwise drawn without replacement). Latents with std < ``prune`` are inactive;
    if none is active the score is 0. One vote: choose factor k, draw a batch with k fixed (see
    the module docstring), vote (k, argmin over active latents of batch variance / global
    variance). The classifier maps each latent to its majority factor among ``n_train`` votes;
    the score is its accuracy on ``n_eval`` fresh votes.
    """
    c, f = _check(codes, factors)
    f = f[:, _informative(f)]
    N = c.shape[0]
    var_rows = np.arange(N) if n_var >= N else rng.choice(N, size=n_var, replace=False)
    global_var = np.var(c[var_rows], axis=0, ddof=1)
    active = np.flatnonzero(np.sqrt(global_var) >= prune)
    if active.size == 0:
        return 0.0
    groups = _Groups(f)
    K = f.shape[1]

    def votes(n):
        table = np.zeros((K, active.size), dtype=np.int64)
        for _ in range(n):
            k = int(rng.integers(K))
            v = int(f[rng.integers(N), k])
            rows = groups.batch(rng, k, v, batch_size)
            local_var = np.var(c[rows][:, active], axis=0, ddof=1)
            table[k, np.argmin(local_var / global_var[active])] += 1
        return table

    train = votes(n_train)
    classifier = np.argmax(train, axis=0)  # majority factor per latent
    test = votes(n_eval)
    return float(test[classifier, np.arange(active.size)].sum() / n_eval)


# --------------------------------------------------------------------------- BetaVAE


def beta_vae_score(codes, factors, rng: np.random.Generator, batch_size: int = 64,
                   n_train: int = 10000, n_eval: int = 5000, random_state: int = 0) -> float:
    """BetaVAE score (Higgins et al. 2017), DL's ``eval_accuracy``, on a finite pool.

    One point: choose factor k; draw ``batch_size`` pairs sharing factor k (module docstring);
    feature = mean over the batch of |z1 - z2| per latent, label = k. A
    ``LogisticRegression`` (sklearn defaults except ``max_iter=1000``, so that it converges on
    unstandardised features) is fit on ``n_train`` points; the score is its accuracy on
    ``n_eval`` fresh points.
    """
    c, f = _check(codes, factors)
    f = f[:, _informative(f)]
    N, K = c.shape[0], f.shape[1]
    groups = _Groups(f)

    def points(n):
        k = rng.integers(K, size=n)
        first = rng.integers(N, size=(n, batch_size))
        second = groups.partners(rng, np.broadcast_to(k[:, None], first.shape), first)
        x = np.concatenate([np.abs(c[first[s:s + 500]] - c[second[s:s + 500]]).mean(axis=1)
                            for s in range(0, n, 500)])  # 500 points at a time: bounded memory
        return x, k

    x_train, y_train = points(n_train)
    x_eval, y_eval = points(n_eval)
    if np.unique(y_train).size < 2:
        return float(np.mean(y_eval == y_train[0]))
    model = LogisticRegression(max_iter=1000, random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    return float(np.mean(model.predict(x_eval) == y_eval))


# --------------------------------------------------------------------------- all

NOT_APPLICABLE_ONE_FACTOR = {
    "dci_disentanglement": "one factor varies: the entropy of a latent's importance over one factor is "
                           "undefined (the formula gives 1 whatever the code)",
    "factor_vae": "one factor varies: the majority-vote classifier has one factor to name and is always right",
    "beta_vae": "one factor varies: the classifier has one factor to name and is always right",
}


def _subsample(rng, n: int, cap: int) -> np.ndarray:
    return np.arange(n) if n <= cap else np.sort(rng.choice(n, size=cap, replace=False))


def _preset(preset: str) -> dict:
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    return PRESETS[preset]


def _pools(ctr, ftr, cte, fte, rng, p: dict) -> tuple:
    """Checked train and test pools, randomly capped at the preset's sizes."""
    itr = _subsample(rng, ctr.shape[0], p["max_train"])
    ite = _subsample(rng, cte.shape[0], p["max_test"])
    return ctr[itr], ftr[itr], cte[ite], fte[ite]


def _mig_dci(pools: tuple, p: dict, one_factor: bool) -> dict:
    """MIG and DCI on capped pools; DCI disentanglement is left out where one factor varies."""
    out = {"mig": mig(*pools[:2], bins=p["mig_bins"])}
    out.update({f"dci_{key}": val for key, val in dci(*pools).items()})
    if one_factor:
        del out["dci_disentanglement"]
    return out


def mig_and_dci(codes_train, factors_train, codes_test, factors_test, rng: np.random.Generator,
                preset: str = "standard") -> dict:
    """MIG and the DCI scores alone, on pools capped as ``all_metrics`` caps them: what a reference
    code is scored with (train/evaluation/ideal_code.py)."""
    p = _preset(preset)
    ctr, ftr = _check(codes_train, factors_train)
    cte, fte = _check(codes_test, factors_test)
    return _mig_dci(_pools(ctr, ftr, cte, fte, rng, p), p, _informative(ftr).size < 2)


def all_metrics(codes_train, factors_train, codes_test, factors_test,
                rng: np.random.Generator, preset: str = "standard") -> dict:
    """Every metric with the settings of ``PRESETS[preset]`` ('standard' or 'fast').

    * MIG on the train pool (capped at ``max_train`` rows).
    * DCI and SAP fit on the train pool, evaluate on the test pool (capped at ``max_train`` /
      ``max_test`` rows).
    * FactorVAE and BetaVAE sample their batches from the union of the two pools.

    Keys: mig, dci_disentanglement, dci_completeness, dci_informativeness_train,
    dci_informativeness_test, sap, factor_vae, beta_vae. With a single factor that varies, three
    of them say nothing and are left out, with the reason under ``not_applicable``: DCI
    disentanglement (an entropy over one factor), the FactorVAE and BetaVAE scores (a classifier
    that has one factor to name is always right).
    """
    p = _preset(preset)
    ctr, ftr = _check(codes_train, factors_train)
    cte, fte = _check(codes_test, factors_test)
    pools = _pools(ctr, ftr, cte, fte, rng, p)
    one_factor = _informative(ftr).size < 2
    out = _mig_dci(pools, p, one_factor)
    out["sap"] = sap(*pools)
    if one_factor:
        out["not_applicable"] = {key: NOT_APPLICABLE_ONE_FACTOR[key]
                                 for key in ("dci_disentanglement", "factor_vae", "beta_vae")}
        return out
    pool_c = np.concatenate([ctr, cte])
    pool_f = np.concatenate([ftr, fte])
    out["factor_vae"] = factor_vae_score(
        pool_c, pool_f, rng, batch_size=p["batch_size"], n_train=p["n_train"],
        n_eval=p["n_eval"], n_var=p["n_var"], prune=p["prune"])
    out["beta_vae"] = beta_vae_score(
        pool_c, pool_f, rng, batch_size=p["batch_size"], n_train=p["n_train"],
        n_eval=p["n_eval"])
    return out
