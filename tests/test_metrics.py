"""Metrics against independent references (explicit pair counting, scikit-learn, scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from softscope import SoftscopeError
from softscope.metrics import judge, pr_of_s, roc_auc


def _auc_by_pairs(s, y):
    pos, neg = s[y], s[~y]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size


def test_roc_auc_equals_pair_counting_with_ties():
    rng = np.random.default_rng(1)
    s = np.round(rng.normal(size=400), 1)  # many ties
    y = rng.random(400) < 0.2
    assert roc_auc(s, y) == pytest.approx(_auc_by_pairs(s, y), abs=1e-12)
    assert roc_auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_judge_labels_top_q_of_measure_and_skips_invalid():
    rng = np.random.default_rng(2)
    m = rng.exponential(size=1000)
    p = m + rng.normal(scale=0.5, size=1000)
    m[:10] = np.nan
    r = judge(p, m, q=0.05)
    keep = np.isfinite(m)
    y = m[keep] >= np.sort(m[keep])[::-1][r["n_rearranging"] - 1]
    assert r["n_atoms"] == 990
    assert r["n_rearranging"] == y.sum()
    assert r["roc_auc"] == pytest.approx(roc_auc_score(y, p[keep]), abs=1e-12)
    assert r["spearman"] == pytest.approx(spearmanr(p[keep], m[keep])[0], abs=1e-12)
    top = np.argsort(-p[keep])[: y.sum()]
    assert r["precision_top_q"] == pytest.approx(y[top].mean())


def test_perfect_prediction_scores_one():
    m = np.arange(200, dtype=float)
    r = judge(m * 2 + 1, m, q=0.1)
    assert r["roc_auc"] == 1.0 and r["precision_top_q"] == 1.0 and r["average_precision"] == 1.0


def test_pr_of_s_is_fraction_per_bin():
    s = np.array([0.0, 0.1, 0.2, 0.9, 1.0, 0.95])
    y = np.array([0, 0, 1, 1, 1, 0], bool)
    c, f, n = pr_of_s(s, y, n_bins=2, min_count=1)
    np.testing.assert_allclose(f, [1 / 3, 2 / 3])
    np.testing.assert_array_equal(n, [3, 3])


def test_judge_rejects_nan_prediction():
    with pytest.raises(SoftscopeError, match="prediction"):
        judge(np.array([np.nan, 1.0]), np.array([1.0, 2.0]))
