"""The single-factor invariant of labels, identity split and determinism of batch sampling (pure, fast)."""
import numpy as np
import pytest

import yaml

from render.faces.config import SCHEMA, faces_config
from render.faces.sampling import batch_spec, identity_coefficients, identity_range
from tests.conftest import REPO, tiny_params

BATCH_TYPES = SCHEMA.batch_types
FACTORS = tuple(SCHEMA.factors)


@pytest.fixture(scope="module")
def cfg():
    return faces_config(yaml.safe_load((REPO / "params.yaml").read_text()))


@pytest.mark.parametrize("batch_type", BATCH_TYPES)
@pytest.mark.parametrize("split", ["train", "test"])
def test_each_batch_varies_exactly_its_factor(cfg, split, batch_type):
    b = cfg.batch_size
    for index in range(25):
        spec = batch_spec(cfg, split, batch_type, index)
        for factor in FACTORS:
            values = spec.factors[factor]
            assert values.shape == (b,)
            grid = cfg.grid(factor).astype(np.float32)
            assert np.isin(values, grid).all(), f"{factor} off the grid"
            if SCHEMA.factor_of(batch_type) == factor:
                assert len(np.unique(values)) == b
            else:
                assert len(np.unique(values)) == 1
        distinct_ids = len(np.unique(spec.identity))
        assert distinct_ids == (b if batch_type == "intrinsic" else 1)
        assert set(spec.identity.tolist()) <= set(identity_range(cfg, split))


def test_neutral_fixed_factors_hold_the_grid_value_nearest_zero(cfg):
    params = tiny_params(fixed_factors="neutral", **{"factors.azimuth.min": 0.2})
    neutral = faces_config(params)
    for batch_type in BATCH_TYPES:
        spec = batch_spec(neutral, "train", batch_type, 3)
        random_spec = batch_spec(faces_config(tiny_params(**{"factors.azimuth.min": 0.2})), "train", batch_type, 3)
        assert np.array_equal(spec.identity, random_spec.identity)  # same identities either way
        for factor, held in (("azimuth", 0.2), ("elevation", 0.0), ("light_azimuth", 0.0)):
            if SCHEMA.factor_of(batch_type) != factor:
                assert np.allclose(spec.factors[factor], held)


def test_train_and_test_identities_are_disjoint(cfg):
    train = {int(i) for t in BATCH_TYPES for k in range(40) for i in batch_spec(cfg, "train", t, k).identity}
    test = {int(i) for t in BATCH_TYPES for k in range(40) for i in batch_spec(cfg, "test", t, k).identity}
    assert train and test and not (train & test)


def test_batches_are_pure_functions_of_params_seed_and_index(cfg):
    a = batch_spec(cfg, "train", "light", 7)
    b = batch_spec(cfg, "train", "light", 7)
    assert np.array_equal(a.identity, b.identity)
    for factor in FACTORS:
        assert np.array_equal(a.factors[factor], b.factors[factor])
    other = faces_config(tiny_params(seed=cfg.seed + 1, batch_size=cfg.batch_size,
                                     identities=cfg.identities))
    c = batch_spec(other, "train", "light", 7)
    assert not np.array_equal(a.factors["light_azimuth"], c.factors["light_azimuth"]) or a.identity[0] != c.identity[0]


def test_identity_coefficients_are_standard_normal_clipped_and_prefix_stable(cfg):
    shape, albedo = identity_coefficients(cfg, 3, 50, 20)
    assert shape.shape == (50,) and albedo.shape == (20,)
    longer, _ = identity_coefficients(cfg, 3, 80, 20)
    assert np.array_equal(longer[:50], shape)
    many = np.concatenate([identity_coefficients(cfg, i, 50, 0)[0] for i in range(400)])
    assert abs(many.mean()) < 0.05 and abs(many.std() - 1) < 0.05
    assert np.abs(many).max() <= cfg.coeff_clip
