"""``DescriptorSpec.raw_bounds``: raw columns clamped to a range before coarse-graining,
on every route (frame, local + ghost points, a linear model's projections, tree rows),
against numpy's clip and a brute-force coarse-graining."""

from __future__ import annotations

import numpy as np
import pytest
from reference import brute_pairs

from softscope import SoftscopeError
from softscope.descriptors import DescriptorSpec

R_CG = 4.0


def _free_spec() -> DescriptorSpec:
    return DescriptorSpec(
        species=("Cu", "Zr"),
        blocks=(
            {"kind": "radial", "centers": [2.0, 2.5, 3.0, 4.0], "sigma": 0.3},
            {"kind": "angular", "xi": [2.0], "lambdas": [1, -1], "zetas": [1], "cutoff": 4.0},
        ),
        coarse_grain=(R_CG,),
    )


def _bounds(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A range that clamps about a fifth of every column's values."""
    return np.percentile(raw, 10, axis=0), np.percentile(raw, 90, axis=0)


def _brute_features(frame, raw: np.ndarray) -> np.ndarray:
    """[raw | plain mean of raw over the atom and its neighbours within R_CG]."""
    pairs = brute_pairs(frame.positions, frame.cell, frame.pbc, R_CG)
    cg = np.array([(raw[i] + raw[js].sum(0)) / (1 + len(js)) for i, (js, _) in enumerate(pairs)])
    return np.concatenate([raw, cg], axis=1)


def test_bounds_round_trip_and_are_absent_without_clamping(small_cuzr):
    free = _free_spec()
    assert "raw_bounds" not in free.to_dict()
    lo, hi = _bounds(free.compute_raw(small_cuzr))
    spec = free.with_raw_bounds(lo, hi)
    back = DescriptorSpec.from_json(spec.to_json())
    assert back == spec and back.raw_bounds == (tuple(lo), tuple(hi))
    np.testing.assert_array_equal(back.compute(small_cuzr), spec.compute(small_cuzr))
    assert spec.with_raw_bounds(None) == free


def test_bad_bounds_are_refused_with_the_reason():
    free = _free_spec()
    n = len(free.raw_names())
    with pytest.raises(SoftscopeError, match=f"{n} lower and upper"):
        free.with_raw_bounds(np.zeros(n - 1), np.ones(n - 1))
    with pytest.raises(SoftscopeError, match="lower bound must be <="):
        free.with_raw_bounds(np.ones(n), np.zeros(n))


def test_raw_columns_are_clamped_before_coarse_graining(small_cuzr):
    free = _free_spec()
    raw = free.compute_raw(small_cuzr)
    lo, hi = _bounds(raw)
    spec = free.with_raw_bounds(lo, hi)
    clipped = np.clip(raw, lo, hi)
    assert (clipped != raw).mean() > 0.1  # the bounds bind
    np.testing.assert_array_equal(spec.compute_raw(small_cuzr), clipped)
    ref = _brute_features(small_cuzr, clipped)
    np.testing.assert_allclose(spec.compute(small_cuzr), ref, rtol=1e-12, atol=1e-12)
    # the coarse-grained columns are means of clamped values, not clamped means
    assert not np.allclose(np.clip(_brute_features(small_cuzr, raw), *_stack(lo, hi)), ref)


def _stack(lo, hi):
    return np.concatenate([lo, lo]), np.concatenate([hi, hi])


@pytest.mark.parametrize("kind", ["linear", "trees"])
def test_model_predict_evaluates_the_clamped_features(small_cuzr, kind):
    """Both evaluator strategies (a linear model's projections, a tree model's full
    coarse-grained rows) against scikit-learn on brute-force clamped features."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from softscope.models.estimators import LinearEstimator, TreeEnsemble
    from softscope.models.model import Model

    free = _free_spec()
    raw = free.compute_raw(small_cuzr)
    lo, hi = _bounds(raw)
    spec = free.with_raw_bounds(lo, hi)
    # fitted on unclamped features (splits beyond the bounds), evaluated on clamped ones
    x_free = _brute_features(small_cuzr, raw)
    x = _brute_features(small_cuzr, np.clip(raw, lo, hi))
    col = x_free[:, 2] - 0.5 * x_free[:, 9]
    y = (col >= np.quantile(col, 0.95)).astype(int)  # splits near the top, beyond the bounds
    if kind == "linear":
        scaler = StandardScaler().fit(x_free)
        svc = LinearSVC(C=0.1, max_iter=20000).fit(scaler.transform(x_free), y)
        est = LinearEstimator.from_sklearn(scaler, svc)
        ref = svc.decision_function(scaler.transform(x))
    else:
        gbc = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0)
        gbc.fit(x_free, y)
        est, ref = TreeEnsemble.from_sklearn(gbc), gbc.predict_proba(x)[:, 1]
    model = Model("bounded", "S", spec, est)
    assert model.evaluator.strategy == ("projection" if kind == "linear" else "coarse_grain")
    got = model.predict(small_cuzr)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)
    unbounded = Model("free", "S", free, est).predict(small_cuzr)
    assert np.abs(unbounded - got).max() > 1e-3  # clamping changed the predictions
