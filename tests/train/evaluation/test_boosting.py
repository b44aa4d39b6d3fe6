"""train/evaluation/boosting.py against scikit-learn's `GradientBoostingClassifier()`, the
estimator disentanglement_lib's DCI uses, on small data (seconds)."""
from __future__ import annotations

import numba
import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from train.evaluation.boosting import boosted_trees
from train.evaluation.metrics import dci_from_importance


@pytest.fixture(scope="module")
def pool():
    """600 codes of 10 latents: latent 0 carries factor 0 (6 classes), latent 1 factor 1 (2
    classes) and a little of factor 0, the rest is noise; 400 rows to fit, 200 to test."""
    rng = np.random.default_rng(0)
    f = np.stack([rng.integers(6, size=600), rng.integers(2, size=600)], axis=1)
    codes = rng.standard_normal((600, 10)).astype(np.float32)
    codes[:, 0] += f[:, 0]
    codes[:, 1] += 0.5 * f[:, 1] + 0.3 * f[:, 0]
    return codes[:400], f[:400], codes[400:], f[400:]


def _sklearn(x, y, xt, yt, seed, stages=100):
    model = GradientBoostingClassifier(n_estimators=stages, random_state=seed).fit(x, y)
    return model.feature_importances_, np.mean(model.predict(x) == y), np.mean(model.predict(xt) == yt)


def test_one_latent_same_model_as_sklearn(pool):
    """With one latent no two latents can tie for a split: the same trees, so the same predictions."""
    x, f, xt, ft = pool
    for k in range(2):
        _, acc, acc_test = _sklearn(x[:, :1], f[:, k], xt[:, :1], ft[:, k], seed=0, stages=30)
        ours = boosted_trees(x[:, :1], f[:, k], xt[:, :1], ft[:, k], stages=30)
        assert (ours.accuracy_train, ours.accuracy_test) == (acc, acc_test)


def test_agrees_with_sklearn_as_sklearn_with_itself(pool):
    """scikit-learn's defaults (100 stages of depth 3), a multiclass and a binary factor. Ties
    between latents are broken in a random order by both, so the comparison is scikit-learn
    under another seed: this code must be about as close to scikit-learn as that is."""
    x, f, xt, ft = pool
    runs = {name: np.zeros((10, 2)) for name in ("ours", "sklearn", "sklearn, seed 1")}
    for k in range(2):
        ours = boosted_trees(x, f[:, k], xt, ft[:, k])
        runs["ours"][:, k] = ours.importance
        runs["sklearn"][:, k], acc, acc_test = _sklearn(x, f[:, k], xt, ft[:, k], seed=0)
        runs["sklearn, seed 1"][:, k] = _sklearn(x, f[:, k], xt, ft[:, k], seed=1)[0]
        assert abs(ours.accuracy_train - acc) <= 0.01 and abs(ours.accuracy_test - acc_test) <= 0.02
    ref, other = runs["sklearn"], runs["sklearn, seed 1"]
    assert np.abs(runs["ours"] - ref).max() <= 2 * np.abs(other - ref).max() + 1e-3
    for ours_dc, ref_dc, other_dc in zip(dci_from_importance(runs["ours"]), dci_from_importance(ref),
                                          dci_from_importance(other)):
        assert abs(ours_dc - ref_dc) <= 2 * abs(other_dc - ref_dc) + 2e-3


def test_same_result_with_one_thread_or_two(pool):
    x, f, xt, ft = pool
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = boosted_trees(x, f[:, 0], xt, ft[:, 0], stages=20)
    finally:
        numba.set_num_threads(threads)
    two = boosted_trees(x, f[:, 0], xt, ft[:, 0], stages=20)
    assert np.array_equal(one.importance, two.importance)
    assert (one.accuracy_train, one.accuracy_test) == (two.accuracy_train, two.accuracy_test)


def test_labels_need_two_classes():
    with pytest.raises(ValueError, match="two classes"):
        boosted_trees(np.zeros((5, 2)), np.ones(5, int), np.zeros((2, 2)), np.ones(2, int))
