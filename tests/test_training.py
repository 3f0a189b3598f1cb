"""Training building blocks: windows, balanced rows, grouped CV, exported estimators."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from softscope import SoftscopeError
from softscope.descriptors import DescriptorSpec
from softscope.rearrangement import d2min
from softscope.training import (
    TrainingSet,
    build_training_set,
    fit_linear,
    fit_trees,
    windows_by_strain,
)


def test_windows_by_strain_are_non_overlapping_one_percent(small_cuzr):
    frames = [small_cuzr] * 11
    strains = np.arange(11) * 0.002
    ws = windows_by_strain("s0", frames, strains, window=0.01)
    assert [w.strain for w in ws] == [(0.0, 0.01), (0.01, 0.02)]
    with pytest.raises(SoftscopeError, match="no window"):
        windows_by_strain("s0", frames[:3], strains[:3], window=0.01)


def test_balanced_rows_use_top_q_d2min_labels(small_cuzr):
    rng = np.random.default_rng(0)
    cur = small_cuzr.replace(
        positions=small_cuzr.positions + rng.normal(scale=0.1, size=small_cuzr.positions.shape)
    )
    ws = windows_by_strain("s0", [small_cuzr, cur], [0.0, 0.01], window=0.01)
    spec = DescriptorSpec(
        ("Cu", "Zr"), blocks=({"kind": "radial", "centers": [2.5, 3.0], "sigma": 0.3},)
    )
    ts = build_training_set(ws, spec, q=0.1, progress=False)
    d2 = d2min(small_cuzr, cur, 3.7)
    n_top = int(np.ceil(0.1 * np.isfinite(d2).sum()))
    assert ts.y.sum() == n_top and (ts.y == 0).sum() == n_top
    feats = spec.compute(small_cuzr)
    top = np.argsort(-np.nan_to_num(d2, nan=-1))[:n_top]
    np.testing.assert_array_equal(np.sort(ts.x[ts.y == 1][:, 0]), np.sort(feats[top, 0]))


def test_fit_linear_equals_sklearn_with_chosen_c():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 5))
    y = (x[:, 0] - x[:, 2] + rng.normal(scale=0.7, size=600) > 0).astype(np.int8)
    groups = np.repeat(["a", "b", "c"], 200)
    est, info = fit_linear(TrainingSet(x, y, groups), cs=(0.01, 1.0))
    assert info["C"] in (0.01, 1.0) and len(info["cv_auc_by_C"]) == 2
    sc = StandardScaler().fit(x)
    svm = LinearSVC(C=info["C"], dual="auto", max_iter=20000, random_state=0).fit(
        sc.transform(x), y
    )
    np.testing.assert_allclose(
        est.predict(x), svm.decision_function(sc.transform(x)), rtol=1e-8, atol=1e-8
    )


def test_fit_trees_probability_in_unit_interval_and_informative():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 3))
    y = (x[:, 1] > 0.2).astype(np.int8)
    est, _ = fit_trees(TrainingSet(x, y, np.repeat(["a", "b"], 200)), n_estimators=30)
    p = est.predict(x)
    assert p.min() >= 0 and p.max() <= 1
    assert p[y == 1].mean() > 0.8 and p[y == 0].mean() < 0.2


def test_evaluation_leaves_out_windows_in_which_nothing_moved(small_cuzr):
    """A window whose two frames are identical has D²min of rounding noise: its "top 5 %"
    would be tie order.  Evaluation leaves it out (warning, counted), judges the others
    exactly as alone (sklearn's ROC-AUC on the top-q labels), and refuses when all are."""
    from sklearn.metrics import roc_auc_score

    from softscope.rearrangement import top_fraction
    from softscope.training.evaluate import evaluate_scores

    rng = np.random.default_rng(1)
    cur = small_cuzr.replace(
        positions=small_cuzr.positions + rng.normal(scale=0.1, size=small_cuzr.positions.shape)
    )
    moved = windows_by_strain("s0", [small_cuzr, cur], [0.0, 0.01], window=0.01)
    still = windows_by_strain("s1", [small_cuzr, small_cuzr], [0.0, 0.01], window=0.01)
    score = rng.normal(size=len(small_cuzr))
    with pytest.warns(RuntimeWarning, match="1 window.* nothing moved"):
        ev = evaluate_scores(moved + still, [score, score], 3.7)
    assert ev.summary["n_windows"] == 1 and ev.summary["n_windows_quiet"] == 1
    d2 = d2min(small_cuzr, cur, 3.7)
    ok = np.isfinite(d2)
    want = roc_auc_score(top_fraction(d2[ok], 0.05), score[ok])
    assert ev.summary["roc_auc"] == pytest.approx(want, abs=1e-12)
    with pytest.raises(SoftscopeError, match="nothing moved in any of the 1 windows"):
        evaluate_scores(still, [score], 3.7)
