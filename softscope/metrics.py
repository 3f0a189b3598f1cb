"""How a prediction is judged against rearrangements (CONVENTIONS.md, last section).

For a window (reference frame -> later frame), the prediction made at the
reference frame is compared with the D²min (or p_hop) of that window:

- labels: an atom rearranges when its D²min is in the top ``q`` fraction of the
  valid atoms (:func:`softscope.rearrangement.top_fraction`); NaN (invalid)
  atoms are left out of every metric;
- ROC-AUC and average precision of the prediction for those labels;
- precision of the top-q *predicted* atoms (the same count as rearranging atoms);
- Pearson and Spearman correlation of prediction and D²min;
- P_R(S): the fraction of rearranging atoms in bins of the prediction.

All functions take plain arrays, so the LAMMPS fix (after a gather), the OVITO
modifiers and the evaluation reports share them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from softscope._jit import nb
from softscope.errors import SoftscopeError

__all__ = ["judge", "roc_auc", "spearman", "average_ranks", "pr_of_s", "roc_curve"]


def finite_pairs(prediction, measure) -> tuple[np.ndarray, np.ndarray]:
    """``(prediction, measure)`` as flat float64 arrays, without the atoms whose measure
    is NaN (e.g. outside the fix group); a non-finite prediction is an error."""
    p = np.asarray(prediction, dtype=np.float64).reshape(-1)
    m = np.asarray(measure, dtype=np.float64).reshape(-1)
    if p.shape != m.shape:
        raise SoftscopeError(f"prediction has {p.size} values but the measure has {m.size}")
    if not np.isfinite(p).all():
        raise SoftscopeError("prediction contains NaN or inf")
    keep = np.isfinite(m)
    if keep.all():  # no copies: the LAMMPS fix judges every atom of a large run
        return p, m
    return p[keep], m[keep]


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank (``scipy.stats.rankdata``'s default), in
    numpy + a kernel only (the LAMMPS fix's embedded interpreter never needs scipy), with
    two (n,) temporaries: the sort order and the ranks."""
    a = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    return _ranks_of_order(a, np.argsort(a, kind="mergesort").astype(np.int64, copy=False))


@nb.njit(cache=True, aot="f8[::1](f8[::1], i8[::1])")
def _ranks_of_order(a, order):
    """Average ranks of ``a`` given its ascending sort ``order``; a run of equal values
    i+1..j (1-based sorted positions) gets (i + 1 + j) / 2 each; NaN never ties."""
    n = a.shape[0]
    out = np.empty(n)
    i = 0
    while i < n:
        v = a[order[i]]
        j = i + 1
        while j < n and a[order[j]] == v:
            j += 1
        r = 0.5 * (i + 1 + j)
        for t in range(i, j):
            out[order[t]] = r
        i = j
    return out


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC (Mann–Whitney U with average ranks for ties); NaN with one class only."""
    y = np.asarray(labels, dtype=bool)
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = average_ranks(scores)
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def spearman(prediction: np.ndarray, measure: np.ndarray) -> float:
    """Spearman correlation: Pearson correlation of the average ranks; NaN when either
    array is constant."""
    p = np.asarray(prediction, dtype=np.float64).reshape(-1)
    m = np.asarray(measure, dtype=np.float64).reshape(-1)
    if np.ptp(p) == 0 or np.ptp(m) == 0:
        return float("nan")
    a = average_ranks(p)
    a -= a.mean()
    b = average_ranks(m)
    b -= b.mean()
    return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) over all thresholds."""
    from sklearn.metrics import roc_curve as _roc

    fpr, tpr, _ = _roc(np.asarray(labels, dtype=bool), np.asarray(scores, dtype=np.float64))
    return fpr, tpr


def pr_of_s(scores: np.ndarray, labels: np.ndarray, n_bins: int = 20, min_count: int = 5):
    """P_R(S): fraction rearranging in equal-width bins of the prediction.

    Returns (bin centres, fraction, count); bins with fewer than ``min_count`` atoms
    have fraction NaN.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if s.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
    lo, hi = float(s.min()), float(s.max())
    if hi == lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    pos = np.bincount(idx, weights=y.astype(float), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(count >= min_count, pos / np.maximum(count, 1), np.nan)
    return 0.5 * (edges[1:] + edges[:-1]), frac, count


def judge(prediction: np.ndarray, measure: np.ndarray, q: float = 0.05) -> dict[str, Any]:
    """All metrics of CONVENTIONS.md for one window, as a JSON-ready dict.

    ``prediction``: (N,) per-atom prediction at the window start (higher = more
    likely to rearrange). ``measure``: (N,) D²min (or p_hop) of the window; NaN
    entries (invalid atoms) are excluded.
    """
    from scipy.stats import pearsonr
    from sklearn.metrics import average_precision_score

    from softscope.rearrangement import top_fraction

    p, m = finite_pairs(prediction, measure)
    if p.size < 2:
        raise SoftscopeError("need at least two atoms with a valid measure to judge a prediction")
    y = top_fraction(m, q)
    n_pos = int(y.sum())
    # precision of the top-q predicted atoms: as many as there are rearranging atoms
    top_pred = np.argsort(-p, kind="stable")[:n_pos]
    both_classes = 0 < n_pos < y.size
    centres, frac, count = pr_of_s(p, y)
    const = np.ptp(p) == 0 or np.ptp(m) == 0
    return {
        "q": float(q),
        "n_atoms": int(p.size),
        "n_rearranging": n_pos,
        "roc_auc": roc_auc(p, y),
        "average_precision": float(average_precision_score(y, p)) if both_classes else float("nan"),
        "precision_top_q": float(y[top_pred].mean()) if n_pos else float("nan"),
        "base_rate": float(n_pos / y.size),
        "pearson": float("nan") if const else float(pearsonr(p, m)[0]),
        "spearman": spearman(p, m),
        "pr_of_s": {"s": centres.tolist(), "p_r": frac.tolist(), "count": count.tolist()},
    }
