"""Balanced training sets and the estimators of the recipes (scikit-learn, exported to arrays).

- ``softness``: z-scored features -> linear SVM (``LinearSVC``), C by grouped CV.
- ``igd``: the same estimator on structure + entropy + vibrational MSD features.
- ``qs``: gradient-boosted trees (``GradientBoostingClassifier``) on interstice features.

Cross-validation folds are *glass samples* (``GroupKFold``): atoms of one sample never
sit on both sides of a split.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed

from softscope.descriptors.spec import DescriptorSpec
from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.models.estimators import LinearEstimator, TreeEnsemble
from softscope.models.mlp import MLPEstimator
from softscope.training.perturbation_guard import PerturbationGuard
from softscope.training.windows import Window

__all__ = [
    "TrainingSet",
    "build_training_set",
    "fit_linear",
    "thermal_shift",
    "fit_trees",
    "fit_mlp",
    "usable_features",
    "feature_families",
    "MIN_RELATIVE_STD",
]


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
    from softscope.rearrangement import labels, nothing_moved

    feats = spec.compute(w.reference, extra=w.extra or None)
    lab = w.train_labels
    if lab is None:
        m = w.rearrangement(cutoff)
        if nothing_moved(m, cutoff):
            return feats[:0], np.zeros(0, dtype=np.int8)
        lab = labels(m, q=q, stable_q=stable_q)
    pos = np.flatnonzero(lab == 1)
    neg = np.flatnonzero(lab == 0)
    rng = np.random.default_rng(seed)
    n = min(pos.size, neg.size)
    if n == 0:
        return feats[:0], np.zeros(0, dtype=np.int8)
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
    if not y.any():
        raise SoftscopeError(
            f"no rearranging atoms (with stable ones beside them) in any of the {len(windows)} "
            "label windows; use a longer --window, a larger --q, or (p_hop) a lower threshold"
        )
    g = np.concatenate(
        [np.full(r[1].size, w.sample, dtype=object) for r, w in zip(rows, windows, strict=True)]
    )
    return TrainingSet(x, y, g.astype(str))


def _grouped_cv(ts: TrainingSet, n_splits: int):
    from sklearn.model_selection import GroupKFold

    k = min(n_splits, ts.n_samples)
    if k < 2:
        return None
    return list(GroupKFold(n_splits=k).split(ts.x, ts.y, ts.groups))


#: A feature is kept by :func:`fit_linear` when its standard deviation over the training
#: rows is at least this fraction of the largest one of its family (:func:`feature_families`:
#: e.g. the radial functions, their 4 Å coarse-grained copies): near-empty features (e.g.
#: G(μ = 1 Å): no pair is that close in a relaxed glass) would otherwise be z-scored into
#: coefficients of 1e11-1e12 on the raw feature, and a 0.1 Å thermal displacement would
#: move the prediction by hundreds of spreads.
MIN_RELATIVE_STD = 1e-2


def feature_families(names: Sequence[str]) -> list[str]:
    """The family of each feature name: its coarse-graining copy and descriptor kind, over
    all species, e.g. ``G_Cu(1.2)`` and ``G_Zr(3)`` -> ``G``, ``cg4(Psi_CuZr(...))`` ->
    ``cg4|Psi``, ``cg6(msd)`` -> ``cg6|msd``: features of one family share units and
    scale, so a species (pair) whose features are all tiny next to the others' (Fe80P20's
    P-P triplets: ~1e-7 against ~1e-2) is near-empty, not a family of its own."""
    out = []
    for n in names:
        cg = ""
        if n.startswith("cg") and "(" in n and n.endswith(")"):
            cg, n = n[: n.index("(")] + "|", n[n.index("(") + 1 : -1]
        base = re.split(r"[(\[]", n, maxsplit=1)[0]
        kind = re.fullmatch(r"(G|Psi)_\w+", base)
        out.append(cg + (kind.group(1) if kind else base))
    return out


def usable_features(
    x: np.ndarray,
    families: Sequence[str] | None = None,
    min_relative_std: float = MIN_RELATIVE_STD,
) -> np.ndarray:
    """(F,) bool: features whose std over the rows ``x`` (n, F) is at least
    ``min_relative_std`` times the largest std of their family (``families``, one label
    per feature, e.g. :func:`feature_families`; default: one family); never constant ones."""
    x = np.asarray(x, dtype=np.float64)
    std = x.std(axis=0)
    f = std.shape[0]
    fam = (
        np.zeros(f, dtype=np.int64)
        if families is None
        else np.unique(families, return_inverse=True)[1]
    )
    if fam.shape != (f,):
        raise SoftscopeError(f"families must label each of the {f} features")
    top = np.zeros(int(fam.max()) + 1 if f else 0)
    np.maximum.at(top, fam, std)
    return (std > 0.0) & (std >= min_relative_std * top[fam])


def thermal_shift(
    spec: DescriptorSpec,
    frames: Sequence[Frame],
    amplitude: float,
    extras: Sequence[dict | None] | None = None,
    seed: int = 0,
    features: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """(F,) mean change of each raw feature when every atom of ``frames`` is displaced by
    Gaussian noise of standard deviation ``amplitude`` per axis (length unit; the thermal
    scale, :data:`softscope.models.stability.THERMAL_AMPLITUDE`), averaged over the atoms
    of all frames.  ``extras``: per-frame external inputs (e.g. ``msd``), held fixed;
    ``features``: the frames' features when already computed."""
    rng = np.random.default_rng(seed)
    extras = list(extras) if extras is not None else [None] * len(frames)
    total, n = np.zeros(spec.n_features), 0
    for k, (fr, ex) in enumerate(zip(frames, extras, strict=True)):
        x = features[k] if features is not None else spec.compute(fr, extra=ex)
        noisy = fr.replace(positions=fr.positions + rng.normal(0.0, amplitude, fr.positions.shape))
        total += (spec.compute(noisy, extra=ex) - x).sum(axis=0)
        n += len(fr)
    return total / max(n, 1)


def _orthogonal_complement(directions: np.ndarray, f: int) -> np.ndarray:
    """(f, f) projector onto the complement of the rows of ``directions`` (k, f)."""
    d = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    d = d[np.linalg.norm(d, axis=1) > 0.0]
    if d.size == 0:
        return np.eye(f)
    q, _r = np.linalg.qr(d.T)
    return np.eye(f) - q @ q.T


class _ProjectedLinear:
    """A fitted linear classifier on transformed features z·T as one on z: coef T·w."""

    def __init__(self, svm, t: np.ndarray) -> None:
        self.coef_ = (t @ svm.coef_[0])[None, :]
        self.intercept_ = svm.intercept_

    def decision_function(self, z: np.ndarray) -> np.ndarray:
        return z @ self.coef_[0] + self.intercept_[0]


def _transform(
    scale: np.ndarray, dirs: np.ndarray | None, penalty: np.ndarray | None, strength: float
) -> np.ndarray | None:
    """(f, f) map T of standardised features z -> z·T such that a LinearSVC on z·T with
    weights v is the linear model w = T·v on z, with penalty ½ wᵀ(I + strength·M̂)w instead
    of ½|w|² (M̂: ``penalty`` in standardised units, normalised to unit mean diagonal;
    generalised Tikhonov) and w·(d / scale) = 0 for each row d of ``dirs``.  None: identity."""
    f = scale.shape[0]
    t = None
    if penalty is not None and strength > 0.0:
        mz = penalty / np.outer(scale, scale)
        norm = float(np.mean(np.diag(mz)))
        if norm > 0.0:
            val, vec = np.linalg.eigh(np.eye(f) + strength * mz / norm)
            t = (vec / np.sqrt(np.clip(val, 1.0, None))) @ vec.T
    if dirs is not None:
        d = dirs / scale
        proj = _orthogonal_complement(d if t is None else d @ t, f)
        t = proj if t is None else t @ proj
    return t


def fit_linear(
    ts: TrainingSet,
    cs: Sequence[float] = (0.001, 0.01, 0.1, 1.0),
    n_splits: int = 4,
    seed: int = 0,
    families: Sequence[str] | None = None,
    min_relative_std: float = MIN_RELATIVE_STD,
    invariant: np.ndarray | None = None,
    guard: PerturbationGuard | None = None,
) -> tuple[LinearEstimator, dict]:
    """StandardScaler + LinearSVC on the usable features (:func:`usable_features`; the
    others get weight 0, mean 0, scale 1 - the model keeps every column, so the fix and the
    modifiers compute the same features); C chosen by ROC-AUC in sample-grouped CV.

    ``invariant``: raw-feature directions (k, F) the prediction must not change along, e.g.
    :func:`thermal_shift` (the mean feature change under thermal-scale noise): the SVM is
    fitted on the standardised features projected onto the complement of those directions
    (standardised), so its weights w satisfy w · (d / scale) = 0 and the mean prediction
    does not move under that noise (to first order).

    ``guard``: keep the response to tiny perturbations small
    (:mod:`softscope.training.perturbation_guard`; jumps of hard-cutoff features): with C
    from the unpenalised CV, the weakest of ``guard.strengths`` whose fit keeps the
    guard's figures within its targets (the strongest when none does), then weaker
    ones while its CV ROC-AUC is more than ``guard.max_cv_loss`` below the unpenalised
    one.  The info records every strength tried, its response and CV ROC-AUC where
    computed, and whether the target was met."""
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    keep = usable_features(ts.x, families, min_relative_std)
    if not keep.any():
        raise SoftscopeError("every feature is (near-)constant over the training rows")
    xk = ts.x[:, keep]
    dirs = None if invariant is None else np.atleast_2d(invariant)[:, keep]
    penalty = None if guard is None else guard.penalty[np.ix_(keep, keep)]

    def fit(x, y, c, strength):
        sc = StandardScaler().fit(x)
        t = _transform(sc.scale_, dirs, penalty, strength)
        z = sc.transform(x) if t is None else sc.transform(x) @ t
        svm = LinearSVC(C=c, dual="auto", max_iter=20000, random_state=seed).fit(z, y)
        return sc, (svm if t is None else _ProjectedLinear(svm, t))

    folds = _grouped_cv(ts, n_splits)

    def cv_auc(c, strength):
        aucs = []
        for tr, te in folds:
            sc, svm = fit(xk[tr], ts.y[tr], c, strength)
            aucs.append(roc_auc_score(ts.y[te], svm.decision_function(sc.transform(xk[te]))))
        return float(np.mean(aucs))

    def estimator(c, strength):
        sc, svm = fit(xk, ts.y, c, strength)
        part = LinearEstimator.from_sklearn(sc, svm)
        f = ts.x.shape[1]
        mean, scale, weights = np.zeros(f), np.ones(f), np.zeros(f)
        mean[keep], scale[keep], weights[keep] = part.mean, part.scale, part.weights
        return LinearEstimator(mean=mean, scale=scale, weights=weights, bias=part.bias)

    scores: dict[float, float] = {}
    if folds is not None and len(cs) > 1:
        scores = {c: cv_auc(c, 0.0) for c in cs}
        best = max(scores, key=scores.get)
    else:
        best = cs[0]
    guard_info: dict = {}
    est = estimator(best, 0.0)
    strength = 0.0
    if guard is not None:
        fits = {}
        for strength in guard.strengths:
            fits[strength] = est = estimator(best, strength) if strength else est
            guard_info[str(strength)] = guard.figures(est.weights / est.scale)
            if guard.met(guard_info[str(strength)]):
                break
        # never bought with prediction quality: back off while the CV ROC-AUC is more
        # than guard.max_cv_loss below the unpenalised one
        base = scores.get(best)
        if base is None and folds is not None and strength > 0.0:
            base = cv_auc(best, 0.0)
        tried = list(fits)
        while base is not None and strength > 0.0:
            auc = guard_info[str(strength)]["cv_auc"] = cv_auc(best, strength)
            k = tried.index(strength)
            if auc >= base - guard.max_cv_loss or k == 0:
                break
            strength = tried[k - 1]
        est = fits[strength]
    raw_coef = np.abs(est.weights / est.scale)
    info = {
        "estimator": "LinearSVC",
        "C": best,
        "cv_auc_by_C": {str(k): v for k, v in scores.items()},
        "cv": "GroupKFold by glass sample",
        "n_rows": int(ts.y.size),
        "n_samples": ts.n_samples,
        "features_used": int(keep.sum()),
        "features_dropped": [int(i) for i in np.flatnonzero(~keep)],
        "min_relative_std": float(min_relative_std),
        "max_raw_coefficient": float(raw_coef.max()),
    }
    if dirs is not None:
        info["invariant_directions"] = int(dirs.shape[0])
    if guard is not None:
        chosen = guard_info[str(strength)]
        info["perturbation_penalty"] = {
            "strength": strength,
            "target_p999": guard.target,
            **({"target_thermal_max": guard.thermal_target} if "thermal_max" in chosen else {}),
            "met": guard.met(chosen),
            "max_cv_loss": guard.max_cv_loss,
            "cv_auc_unpenalised": base,
            "tried": guard_info,
        }
    return est, info


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


def fit_mlp(
    ts: TrainingSet,
    hidden: Sequence[int] = (32, 8),
    alpha: float = 1e-2,
    seed: int = 0,
    families: Sequence[str] | None = None,
    min_relative_std: float = MIN_RELATIVE_STD,
) -> tuple[MLPEstimator, dict]:
    """StandardScaler + ``MLPClassifier`` (relu hidden layers ``hidden``, a small bottleneck
    last, L2 ``alpha``, early stopping on 10 % of the rows) on the usable features
    (:func:`usable_features`; the others get zero input weights, mean 0, scale 1); output:
    probability of rearranging."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    keep = usable_features(ts.x, families, min_relative_std)
    if not keep.any():
        raise SoftscopeError("every feature is (near-)constant over the training rows")
    sc = StandardScaler().fit(ts.x[:, keep])
    mlp = MLPClassifier(
        hidden_layer_sizes=tuple(int(h) for h in hidden),
        alpha=alpha,
        early_stopping=True,
        validation_fraction=0.1,
        max_iter=500,
        random_state=seed,
    ).fit(sc.transform(ts.x[:, keep]), ts.y)
    f = ts.x.shape[1]
    mean, scale = np.zeros(f), np.ones(f)
    mean[keep], scale[keep] = sc.mean_, sc.scale_
    w0 = np.zeros((f, mlp.coefs_[0].shape[1]))
    w0[keep] = mlp.coefs_[0]
    acts = [mlp.activation] * (len(mlp.coefs_) - 1) + [mlp.out_activation_]
    est = MLPEstimator(mean, scale, (w0, *mlp.coefs_[1:]), tuple(mlp.intercepts_), tuple(acts))
    info = {
        "estimator": "MLPClassifier",
        "hidden_layer_sizes": list(mlp.hidden_layer_sizes),
        "activation": mlp.activation,
        "alpha": alpha,
        "early_stopping": "10 % of the rows",
        "n_iter": int(mlp.n_iter_),
        "n_rows": int(ts.y.size),
        "n_samples": ts.n_samples,
        "features_used": int(keep.sum()),
        "min_relative_std": float(min_relative_std),
    }
    return est, info
