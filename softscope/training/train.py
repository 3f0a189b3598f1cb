"""Balanced training sets and the estimators of the recipes (scikit-learn, exported to arrays).

- ``softness``: z-scored features -> linear SVM (``LinearSVC``), C by grouped CV.
- ``igd``: the same estimator on structure + entropy + vibrational MSD features.
- ``qs``: gradient-boosted trees (``GradientBoostingClassifier``) on interstice features.

Cross-validation folds are *glass samples* (``GroupKFold``): atoms of one sample never
sit on both sides of a split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed

from softscope.descriptors.spec import DescriptorSpec
from softscope.errors import SoftscopeError
from softscope.models.estimators import LinearEstimator, TreeEnsemble
from softscope.training.windows import Window

__all__ = ["TrainingSet", "build_training_set", "fit_linear", "fit_trees"]


@dataclass(frozen=True)
class TrainingSet:
    """Features ``x`` (n, F), labels ``y`` (n,) in {0, 1}, sample names ``groups`` (n,)."""

    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(np.unique(self.groups).size)


def _window_rows(
    w: Window, spec: DescriptorSpec, cutoff: float, q: float, stable_q: float, seed: int
):
    from softscope.rearrangement import labels

    feats = spec.compute(w.reference, extra=w.extra or None)
    lab = labels(w.d2min(cutoff), q=q, stable_q=stable_q)
    pos = np.flatnonzero(lab == 1)
    neg = np.flatnonzero(lab == 0)
    rng = np.random.default_rng(seed)
    n = min(pos.size, neg.size)
    pick = np.concatenate([rng.choice(pos, n, replace=False), rng.choice(neg, n, replace=False)])
    return feats[pick], (lab[pick] == 1).astype(np.int8)


def build_training_set(
    windows: Sequence[Window],
    spec: DescriptorSpec,
    cutoff: float = 3.7,
    q: float = 0.05,
    stable_q: float = 0.5,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool = True,
) -> TrainingSet:
    """Balanced rows from every window: all top-q atoms and as many random stable atoms.

    Features are computed at the window's reference frame; labels from the window's
    D²min (OVITO convention, ``cutoff``). ``n_jobs`` parallelises over windows (joblib).
    """
    if not windows:
        raise SoftscopeError("no windows to train on")
    it = windows
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(windows, desc="features+labels", unit="window")
    rows = Parallel(n_jobs=n_jobs)(
        delayed(_window_rows)(w, spec, cutoff, q, stable_q, seed + k) for k, w in enumerate(it)
    )
    x = np.concatenate([r[0] for r in rows])
    y = np.concatenate([r[1] for r in rows])
    g = np.concatenate([np.full(r[1].size, w.sample, dtype=object) for r, w in zip(rows, windows, strict=True)])
    return TrainingSet(x, y, g.astype(str))


def _grouped_cv(ts: TrainingSet, n_splits: int):
    from sklearn.model_selection import GroupKFold

    k = min(n_splits, ts.n_samples)
    if k < 2:
        return None
    return list(GroupKFold(n_splits=k).split(ts.x, ts.y, ts.groups))


def fit_linear(
    ts: TrainingSet, cs: Sequence[float] = (0.001, 0.01, 0.1, 1.0), n_splits: int = 4, seed: int = 0
) -> tuple[LinearEstimator, dict]:
    """StandardScaler + LinearSVC; C chosen by ROC-AUC in sample-grouped CV."""
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    def fit(x, y, c):
        sc = StandardScaler().fit(x)
        svm = LinearSVC(C=c, dual="auto", max_iter=20000, random_state=seed).fit(sc.transform(x), y)
        return sc, svm

    folds = _grouped_cv(ts, n_splits)
    scores: dict[float, float] = {}
    if folds is not None and len(cs) > 1:
        for c in cs:
            aucs = []
            for tr, te in folds:
                sc, svm = fit(ts.x[tr], ts.y[tr], c)
                aucs.append(roc_auc_score(ts.y[te], svm.decision_function(sc.transform(ts.x[te]))))
            scores[c] = float(np.mean(aucs))
        best = max(scores, key=scores.get)
    else:
        best = cs[0]
    sc, svm = fit(ts.x, ts.y, best)
    info = {
        "estimator": "LinearSVC",
        "C": best,
        "cv_auc_by_C": {str(k): v for k, v in scores.items()},
        "cv": "GroupKFold by glass sample",
        "n_rows": int(ts.y.size),
        "n_samples": ts.n_samples,
    }
    return LinearEstimator.from_sklearn(sc, svm), info


def fit_trees(
    ts: TrainingSet,
    n_estimators: int = 200,
    max_depth: int = 3,
    learning_rate: float = 0.1,
    subsample: float = 0.8,
    seed: int = 0,
) -> tuple[TreeEnsemble, dict]:
    """Gradient-boosted trees (log-loss) exported to arrays."""
    from sklearn.ensemble import GradientBoostingClassifier

    gbc = GradientBoostingClassifier(
        n_estimators=n_estimators,
        max_depth=max_depth,
        learning_rate=learning_rate,
        subsample=subsample,
        random_state=seed,
    ).fit(ts.x, ts.y)
    info = {
        "estimator": "GradientBoostingClassifier",
        "n_estimators": n_estimators,
        "max_depth": max_depth,
        "learning_rate": learning_rate,
        "subsample": subsample,
        "n_rows": int(ts.y.size),
        "n_samples": ts.n_samples,
    }
    return TreeEnsemble.from_sklearn(gbc), info
