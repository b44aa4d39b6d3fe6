"""Gradient-boosted trees for DCI: scikit-learn's `GradientBoostingClassifier()` with its defaults,
rebuilt for speed.

DCI (disentanglement_lib) fits one `GradientBoostingClassifier()` per factor: 100 stages of
regression trees of depth 3, learning rate 0.1, every latent tried at every split. scikit-learn
sorts the node's values of every latent again at every node of every tree; with 3,200 codes of
200 latents and factors of 31, 33 and 81 classes (one tree per class per stage) that took about
41 minutes per face model on one core. Here every latent is sorted once, and each tree level is
one pass over each latent's sorted values that serves every tree of the stage (they only share
the stage's gradient), latents in parallel: about 85 s per face model on two cores.

The same algorithm step by step (scikit-learn 1.9's `_gb.py` and `tree/_splitter.pyx`):

* start from the class priors' log-odds (binary) or log-probabilities (multiclass, centred);
* each stage: the negative gradient g = y_k - p_k of the log loss; per class (one tree when
  there are two classes) a squared-error regression tree on g, grown greedily to depth 3: a
  node is split where sum_left^2 / n_left + sum_right^2 / n_right is largest, between two
  neighbouring sorted values that differ by more than 1e-7, halfway; a node with fewer
  than two rows or a variance below machine epsilon stays a leaf;
* each leaf predicts one Newton step, mean(g) / mean(p (1 - p)), times (K - 1) / K for K > 2
  classes; the raw scores grow by 0.1 times the leaf value;
* importance of latent j: the sum over every split on j of n_node var_node - n_left var_left -
  n_right var_right, normalised to sum 1 (scikit-learn's `feature_importances_`).

Values are float32, as scikit-learn casts them. Two latents often give the same best split (the
gradient of the first stage takes two values per tree, so only counts decide): scikit-learn then
takes the one it met first in a random order of the latents, and so does this code, with its own
random order; and sums are accumulated in another order, which decides near-ties. So the two
agree as scikit-learn under one seed agrees with itself under another (disentanglement_lib leaves
the seed unset), which `tests/train/evaluation/test_boosting.py` checks against scikit-learn's
own estimator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

STAGES = 100
DEPTH = 3
LEARNING_RATE = 0.1
_SAME = np.float32(1e-7)  # scikit-learn's FEATURE_THRESHOLD: closer sorted values cannot be split
# apart; like scikit-learn, the test adds it to a float32 value in float32 arithmetic
_EPS = np.finfo(np.float64).eps
_TINY = 1e-150  # a Newton step with a smaller denominator is 0 (scikit-learn's _safe_divide)


@dataclass(frozen=True)
class Boosted:
    """What DCI reads from one factor's classifier."""

    importance: np.ndarray  # (latents,) non-negative, sums to 1 unless no tree ever split
    accuracy_train: float
    accuracy_test: float


def boosted_trees(x_train, y_train, x_test, y_test, stages: int = STAGES, depth: int = DEPTH,
                  learning_rate: float = LEARNING_RATE, seed: int = 0) -> Boosted:
    """Fit the boosted trees on (x_train, y_train); importances and train / test accuracy.

    ``y`` are class labels; the classes are those of ``y_train`` (a test label never seen in
    training counts as wrong), as in scikit-learn. ``seed`` orders the latents where two give the
    same split.
    """
    x = np.ascontiguousarray(x_train, dtype=np.float32)
    xt = np.ascontiguousarray(x_test, dtype=np.float32)
    classes, y = np.unique(np.asarray(y_train), return_inverse=True)
    if classes.size < 2:
        raise ValueError("boosted trees need at least two classes in y_train")
    order = np.argsort(x, axis=0, kind="stable").T.astype(np.int64)
    sorted_x = np.take_along_axis(x, order.T, axis=0).T.astype(np.float64)
    prior = np.clip(np.bincount(y, minlength=classes.size) / y.size, _EPS, 1 - _EPS)
    if classes.size == 2:
        init = np.array([np.log(prior[1] / (1 - prior[1]))])
    else:
        init = np.log(prior) - np.log(prior).mean()
    raw, raw_test, importance = _boost(x.astype(np.float64), sorted_x, order, y.astype(np.int64),
                                       xt.astype(np.float64), init, stages, depth, learning_rate, seed)
    total = importance.sum()
    importance = importance / total if total > 0 else importance
    return Boosted(importance=importance, accuracy_train=_accuracy(raw, classes, y_train),
                   accuracy_test=_accuracy(raw_test, classes, y_test))


def _accuracy(raw, classes, labels) -> float:
    """How often the class the raw scores predict (scikit-learn's rule: the sign of the one score
    for two classes, the largest score otherwise) is the label."""
    predicted = (raw[:, 0] >= 0).astype(np.int64) if classes.size == 2 else np.argmax(raw, axis=1)
    return float(np.mean(classes[predicted] == np.asarray(labels)))


@njit(cache=True)
def _probabilities(raw, binary):
    n, trees = raw.shape
    p = np.empty_like(raw)
    for i in range(n):
        if binary:
            p[i, 0] = 1.0 / (1.0 + np.exp(-raw[i, 0]))
        else:
            top = raw[i].max()
            z = 0.0
            for k in range(trees):
                p[i, k] = np.exp(raw[i, k] - top)
                z += p[i, k]
            for k in range(trees):
                p[i, k] /= z
    return p


@njit(parallel=True, cache=True)
def _boost(x, sorted_x, order, y, xt, init, stages, depth, learning_rate, seed):
    np.random.seed(seed)
    n, latents = x.shape
    trees = init.size
    binary = trees == 1
    factor = 1.0 if binary else (trees - 1.0) / trees
    raw = np.empty((n, trees))
    raw_test = np.empty((xt.shape[0], trees))
    for k in range(trees):
        raw[:, k] = init[k]
        raw_test[:, k] = init[k]
    importance = np.zeros(latents)
    nodes = 2 ** (depth + 1) - 1
    for _ in range(stages):
        p = _probabilities(raw, binary)
        g = np.empty((n, trees))
        for i in range(n):
            for k in range(trees):
                label = (y[i] == 1) if binary else (y[i] == k)
                g[i, k] = (1.0 if label else 0.0) - p[i, k]
        feature, threshold, node = _grow(x, sorted_x, order, g, depth, importance)
        step_g = np.zeros((trees, nodes))
        step_h = np.zeros((trees, nodes))
        count = np.zeros((trees, nodes))
        for i in range(n):
            for k in range(trees):
                h = node[i, k]
                step_g[k, h] += g[i, k]
                step_h[k, h] += p[i, k] * (1.0 - p[i, k])
                count[k, h] += 1.0
        value = np.zeros((trees, nodes))
        for k in range(trees):
            for h in range(nodes):
                if count[k, h] > 0 and abs(step_h[k, h] / count[k, h]) >= _TINY:
                    value[k, h] = (step_g[k, h] / count[k, h]) * factor / (step_h[k, h] / count[k, h])
        for i in range(n):
            for k in range(trees):
                raw[i, k] += learning_rate * value[k, node[i, k]]
        for i in range(xt.shape[0]):
            for k in range(trees):
                h = 0
                while feature[k, h] >= 0:
                    h = 2 * h + 1 if xt[i, feature[k, h]] <= threshold[k, h] else 2 * h + 2
                raw_test[i, k] += learning_rate * value[k, h]
    return raw, raw_test, importance


@njit(cache=True)
def _grow(x, sorted_x, order, g, depth, importance):
    """One stage's regression trees, one per column of g, grown level by level; nodes are
    numbered as a heap (children of h: 2h + 1, 2h + 2, feature -1 for a leaf). Of latents that
    give the same best split the first in a random order wins, as in scikit-learn. Adds their
    importances to ``importance``; returns (feature, threshold) per tree and node, and each
    row's leaf per tree."""
    n, latents = x.shape
    trees = g.shape[1]
    nodes = 2 ** (depth + 1) - 1
    feature = np.full((trees, nodes), -1)
    threshold = np.zeros((trees, nodes))
    count = np.zeros((trees, nodes))
    total = np.zeros((trees, nodes))
    squares = np.zeros((trees, nodes))
    node = np.zeros((n, trees), dtype=np.int64)
    for i in range(n):
        for k in range(trees):
            count[k, 0] += 1.0
            total[k, 0] += g[i, k]
            squares[k, 0] += g[i, k] * g[i, k]
    for level in range(depth):
        first, width = 2 ** level - 1, 2 ** level
        open_ = np.zeros((trees, width), dtype=np.bool_)
        for k in range(trees):
            for m in range(width):
                c = count[k, first + m]
                open_[k, m] = c >= 2 and squares[k, first + m] / c - (total[k, first + m] / c) ** 2 > _EPS
        if not open_.any():
            break
        best, cut, left = _best_splits(sorted_x, order, g, node, first, open_, count[:, first:first + width],
                                       total[:, first:first + width])
        for k in range(trees):
            for m in range(width):
                if not open_[k, m]:
                    continue
                j = -1
                for f in np.random.permutation(latents):
                    if best[f, k, m] > -np.inf and (j < 0 or best[f, k, m] > best[j, k, m]):
                        j = f
                if j < 0:
                    continue
                h = first + m
                a, b = 2 * h + 1, 2 * h + 2
                feature[k, h] = j
                threshold[k, h] = cut[j, k, m]
                count[k, a], total[k, a], squares[k, a] = left[j, k, m, 0], left[j, k, m, 1], left[j, k, m, 2]
                count[k, b] = count[k, h] - count[k, a]
                total[k, b] = total[k, h] - total[k, a]
                squares[k, b] = squares[k, h] - squares[k, a]
                importance[j] += (_spread(count[k, h], total[k, h], squares[k, h])
                                  - _spread(count[k, a], total[k, a], squares[k, a])
                                  - _spread(count[k, b], total[k, b], squares[k, b]))
        for i in range(n):
            for k in range(trees):
                h = node[i, k]
                if h >= first and feature[k, h] >= 0:
                    node[i, k] = 2 * h + 1 if x[i, feature[k, h]] <= threshold[k, h] else 2 * h + 2
    return feature, threshold, node


@njit(parallel=True, cache=True)
def _best_splits(sorted_x, order, g, node, first, open_, count, total):
    """For every latent, tree and open node of this level: the best split's proxy (-inf if none),
    its threshold and the left side's count, sum and sum of squares. One pass over each latent's
    sorted values serves every tree and node; latents run in parallel."""
    latents, n = sorted_x.shape
    trees, width = open_.shape
    best = np.full((latents, trees, width), -np.inf)
    cut = np.zeros((latents, trees, width))
    left = np.zeros((latents, trees, width, 3))
    for j in prange(latents):
        nl = np.zeros((trees, width))
        sl = np.zeros((trees, width))
        ql = np.zeros((trees, width))
        last = np.zeros((trees, width))
        for t in range(n):
            i = order[j, t]
            v = sorted_x[j, t]
            for k in range(trees):
                m = node[i, k] - first
                if m < 0 or m >= width or not open_[k, m]:
                    continue
                c = nl[k, m]
                if c > 0 and v > np.float32(np.float32(last[k, m]) + _SAME):
                    s = sl[k, m]
                    r = total[k, m] - s
                    proxy = s * s / c + r * r / (count[k, m] - c)
                    if proxy > best[j, k, m]:
                        best[j, k, m] = proxy
                        cut[j, k, m] = last[k, m] / 2.0 + v / 2.0
                        left[j, k, m, 0] = c
                        left[j, k, m, 1] = s
                        left[j, k, m, 2] = ql[k, m]
                gi = g[i, k]
                nl[k, m] = c + 1.0
                sl[k, m] += gi
                ql[k, m] += gi * gi
                last[k, m] = v
    return best, cut, left


@njit(cache=True)
def _spread(count, total, squares):
    """count x variance: a node's share of the squared error, as its importance weighs it."""
    return squares - total * total / count
