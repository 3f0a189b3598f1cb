"""Estimators stored as plain arrays and evaluated without scikit-learn.

- :class:`LinearEstimator` — z-scoring + a linear decision function
  ``S = w · (x - mean)/scale + b`` (softness: signed distance to the SVM hyperplane
  in the units of the decision function, as scikit-learn's ``decision_function``).
- :class:`TreeEnsemble` — gradient-boosted regression trees of a binary
  classifier, exported node by node; the output is the probability of the
  rearranging class, ``sigmoid(init + lr * Σ_t tree_t(x))``, evaluated by numba.

Both are built from fitted scikit-learn estimators (``from_sklearn``) and
round-trip through :mod:`softscope.models.format` as arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from softscope._jit import nb
from softscope.errors import ModelFormatError, SoftscopeError

__all__ = ["LinearEstimator", "TreeEnsemble", "estimator_from_arrays"]


def _check_features(x: np.ndarray, n_features: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != n_features:
        raise SoftscopeError(f"features must have shape (N, {n_features}), got {x.shape}")
    if not np.isfinite(x).all():
        raise SoftscopeError("features contain NaN or inf")
    return x


@dataclass(frozen=True)
class LinearEstimator:
    """``S = w · (x - mean) / scale + b``."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    kind = "linear"

    @property
    def n_features(self) -> int:
        return int(self.weights.shape[0])

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = _check_features(x, self.n_features)
        return ((x - self.mean) / self.scale) @ self.weights + self.bias

    def block_coefficients(self, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
        """(C, c): the features cut into ``n_blocks`` equal consecutive blocks (e.g. raw,
        cg(r_1), cg(r_2)) and S = b + Σ_k (C[k] · x_k + c[k]) with x_k block k of x;
        C = (n_blocks, F / n_blocks) = w / scale, c = −Σ w·mean/scale per block."""
        n_blocks = int(n_blocks)
        if n_blocks < 1 or self.n_features % n_blocks:
            raise SoftscopeError(
                f"cannot cut {self.n_features} features into {n_blocks} equal blocks"
            )
        shape = (n_blocks, self.n_features // n_blocks)
        w = np.asarray(self.weights, np.float64) / np.asarray(self.scale, np.float64)
        coef = np.ascontiguousarray(w.reshape(shape))
        const = -(w * np.asarray(self.mean, np.float64)).reshape(shape).sum(axis=1)
        return coef, const

    @classmethod
    def from_sklearn(cls, scaler, linear) -> LinearEstimator:
        """From a fitted ``StandardScaler`` and a binary linear classifier (``LinearSVC``, ``SVC(kernel='linear')``, ``LogisticRegression``)."""
        coef = np.asarray(linear.coef_, dtype=np.float64)
        if coef.ndim == 2:
            if coef.shape[0] != 1:
                raise SoftscopeError("only binary linear classifiers can be exported")
            coef = coef[0]
        scale = np.asarray(scaler.scale_, dtype=np.float64)
        return cls(
            mean=np.asarray(scaler.mean_, dtype=np.float64),
            scale=scale,
            weights=coef,
            bias=float(np.ravel(linear.intercept_)[0]),
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "mean": self.mean,
            "scale": self.scale,
            "weights": self.weights,
            "bias": np.array([self.bias]),
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> LinearEstimator:
        est = cls(a["mean"], a["scale"], a["weights"], float(a["bias"][0]))
        n = est.n_features
        if est.mean.shape != (n,) or est.scale.shape != (n,):
            raise ModelFormatError("linear model arrays have inconsistent shapes")
        if np.any(est.scale <= 0):
            raise ModelFormatError("linear model has non-positive feature scales")
        return est


@dataclass(frozen=True)
class TreeEnsemble:
    """Gradient-boosted binary classifier as flat node arrays (all trees concatenated).

    ``feature[k] < 0`` marks a leaf; internal nodes send x to ``left`` when
    ``x[feature] <= threshold`` (scikit-learn's rule).  ``roots[t]`` is tree t's
    first node.  ``value`` is the leaf value (raw score contribution).
    Optional ``mean``/``scale`` z-score the features first.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    init: float
    learning_rate: float
    n_features_in: int

    kind = "trees"

    @property
    def n_features(self) -> int:
        return self.n_features_in

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        # scikit-learn compares float32-rounded features with float64 thresholds
        x = _check_features(x, self.n_features).astype(np.float32).astype(np.float64)
        return _eval_trees(
            x,
            self.feature,
            self.threshold,
            self.left,
            self.right,
            self.value,
            self.roots,
            self.init,
            self.learning_rate,
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probability of the rearranging class."""
        return 1.0 / (1.0 + np.exp(-self.decision_function(x)))

    @classmethod
    def from_sklearn(cls, gbc) -> TreeEnsemble:
        """From a fitted binary ``sklearn.ensemble.GradientBoostingClassifier`` (log-loss)."""
        if getattr(gbc, "n_classes_", 2) != 2:
            raise SoftscopeError("only binary gradient-boosted classifiers can be exported")
        if getattr(gbc, "loss", "log_loss") not in ("log_loss", "deviance"):
            raise SoftscopeError("only log-loss gradient boosting can be exported")
        feats, thr, left, right, val, roots = [], [], [], [], [], []
        start = 0
        for est in gbc.estimators_[:, 0]:
            t = est.tree_
            roots.append(start)
            f = t.feature.astype(np.int64)
            leaf = t.children_left < 0
            f[leaf] = -1
            feats.append(f)
            thr.append(t.threshold.astype(np.float64))
            left.append(np.where(leaf, -1, t.children_left + start).astype(np.int64))
            right.append(np.where(leaf, -1, t.children_right + start).astype(np.int64))
            val.append(t.value[:, 0, 0].astype(np.float64))
            start += t.node_count
        # init raw score: scikit-learn's _raw_predict_init on any x (constant for default init)
        x0 = np.zeros((1, gbc.n_features_in_))
        init = float(gbc._raw_predict_init(x0).ravel()[0])
        return cls(
            np.concatenate(feats),
            np.concatenate(thr),
            np.concatenate(left),
            np.concatenate(right),
            np.concatenate(val),
            np.array(roots, dtype=np.int64),
            init,
            float(gbc.learning_rate),
            int(gbc.n_features_in_),
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "tree_feature": self.feature,
            "tree_threshold": self.threshold,
            "tree_left": self.left,
            "tree_right": self.right,
            "tree_value": self.value,
            "tree_roots": self.roots,
            "tree_scalars": np.array([self.init, self.learning_rate, self.n_features_in]),
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> TreeEnsemble:
        s = a["tree_scalars"]
        est = cls(
            a["tree_feature"].astype(np.int64),
            a["tree_threshold"].astype(np.float64),
            a["tree_left"].astype(np.int64),
            a["tree_right"].astype(np.int64),
            a["tree_value"].astype(np.float64),
            a["tree_roots"].astype(np.int64),
            float(s[0]),
            float(s[1]),
            int(s[2]),
        )
        n = est.feature.shape[0]
        internal = est.feature >= 0
        if not all(x.shape == (n,) for x in (est.threshold, est.left, est.right, est.value)):
            raise ModelFormatError("tree arrays have inconsistent shapes")
        if (
            np.any(est.feature >= est.n_features_in)
            or np.any(est.left[internal] < 0)
            or np.any(est.left[internal] >= n)
            or np.any(est.right[internal] < 0)
            or np.any(est.right[internal] >= n)
            or np.any(est.roots < 0)
            or np.any(est.roots >= n)
        ):
            raise ModelFormatError("tree arrays point outside the node table")
        # children must come after their parent (no cycles): true for sklearn exports
        idx = np.arange(n)
        if np.any(est.left[internal] <= idx[internal]) or np.any(
            est.right[internal] <= idx[internal]
        ):
            raise ModelFormatError("tree arrays are not in parent-before-child order")
        return est


@nb.njit(parallel=True, cache=True)
def _eval_trees(x, feature, threshold, left, right, value, roots, init, lr):
    n = x.shape[0]
    out = np.empty(n, dtype=np.float64)
    for i in nb.prange(n):
        s = 0.0
        for t in range(roots.shape[0]):
            k = roots[t]
            while feature[k] >= 0:
                if x[i, feature[k]] <= threshold[k]:
                    k = left[k]
                else:
                    k = right[k]
            s += value[k]
        out[i] = init + lr * s
    return out


def estimator_from_arrays(kind: str, arrays: dict[str, np.ndarray]):
    """Rebuild a stored estimator of the given kind."""
    try:
        if kind == "linear":
            return LinearEstimator.from_arrays(arrays)
        if kind == "trees":
            return TreeEnsemble.from_arrays(arrays)
    except KeyError as exc:
        raise ModelFormatError(f"model file lacks array {exc} needed by a {kind!r} model") from exc
    raise ModelFormatError(f"unknown estimator kind {kind!r}; known: 'linear', 'trees'")
