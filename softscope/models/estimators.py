"""Estimators stored as plain arrays and evaluated without scikit-learn.

- :class:`LinearEstimator` (``kind = "linear"``) — z-scoring + a linear decision function
  ``S = w · (x - mean)/scale + b`` (softness: signed distance to the SVM hyperplane
  in the units of the decision function, as scikit-learn's ``decision_function``).
- :class:`TreeEnsemble` (``kind = "trees"``) — regression trees exported node by node,
  evaluated by numba: gradient boosting (``aggregate = "boosting"``, raw score
  ``init + lr * Σ_t tree_t(x)``; output the probability of the rearranging class
  ``sigmoid(raw)`` or, for a regressor, the raw score) or a forest (``"mean"``: the mean
  of the trees' leaf values, for a classifier each leaf's class-1 fraction).
- :class:`~softscope.models.mlp.MLPEstimator` (``kind = "mlp"``, in
  :mod:`softscope.models.mlp`) — a dense network.

Every estimator has ``output``: ``"probability"`` (in [0, 1], decision threshold 0.5) or
``"raw"`` (a signed score or regression value, threshold 0); see :data:`THRESHOLDS`.
All round-trip through :mod:`softscope.models.format` as arrays;
:func:`softscope.models.importers.from_sklearn` builds them from fitted scikit-learn
estimators.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from softscope._jit import nb
from softscope.errors import ModelFormatError, SoftscopeError
from softscope.models.mlp import MLPEstimator
from softscope.models.onnx_estimator import OnnxEstimator

__all__ = [
    "LinearEstimator",
    "TreeEnsemble",
    "MLPEstimator",
    "THRESHOLDS",
    "KINDS",
    "AGGREGATES",
    "OUTPUTS",
    "estimator_from_arrays",
    "scaler_arrays",
]

#: decision threshold of each ``output`` convention ("predicted to rearrange" above it)
THRESHOLDS = {"probability": 0.5, "raw": 0.0}


def scaler_arrays(scaler, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, scale)`` (n_features,) float64 of a fitted scikit-learn ``StandardScaler``
    (z = (x - mean) / scale, honouring ``with_mean``/``with_std``); zeros and ones for
    ``scaler=None``."""
    if scaler is None:
        return np.zeros(n_features), np.ones(n_features)
    mean = getattr(scaler, "mean_", None)
    scale = getattr(scaler, "scale_", None)
    mean = np.zeros(n_features) if mean is None or not scaler.with_mean else mean
    scale = np.ones(n_features) if scale is None or not scaler.with_std else scale
    mean = np.array(mean, dtype=np.float64)
    scale = np.array(scale, dtype=np.float64)
    if mean.shape != (n_features,) or scale.shape != (n_features,):
        raise SoftscopeError(
            f"the scaler was fitted on {mean.shape[0]} features, the estimator on {n_features}"
        )
    return mean, scale


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
    output = "raw"

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
        """From a fitted ``StandardScaler`` (or None) and a fitted binary linear classifier
        (``LinearSVC``, ``SVC(kernel='linear')``, ``LogisticRegression``, ...: output its
        ``decision_function``) or single-output linear regressor (``Ridge``, ...: its
        ``predict``), i.e. any estimator whose output is ``x · coef_ + intercept_``."""
        coef = np.array(linear.coef_, dtype=np.float64)
        if coef.ndim == 2:
            if coef.shape[0] != 1:
                raise SoftscopeError(
                    f"only binary linear classifiers and single-output linear regressors can "
                    f"be exported (this one has {coef.shape[0]} rows of coefficients)"
                )
            coef = coef[0]
        intercept = np.ravel(np.asarray(linear.intercept_, dtype=np.float64))
        if intercept.size != 1:
            raise SoftscopeError(
                f"a linear estimator with {intercept.size} intercepts cannot be exported"
            )
        mean, scale = scaler_arrays(scaler, coef.shape[0])
        return cls(mean=mean, scale=scale, weights=coef, bias=float(intercept[0]))

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


#: ``tree_mode`` codes (stored only when not the default boosting + probability)
AGGREGATES = ("boosting", "mean")
OUTPUTS = ("probability", "raw")
#: precision of the split comparisons: float32-rounded features (scikit-learn's trees,
#: XGBoost, LightGBM) or the float64 features (HistGradientBoosting)
COMPARES = ("float32", "float64")


@dataclass(frozen=True)
class TreeEnsemble:
    """Regression trees as flat node arrays (all trees concatenated).

    ``feature[k] < 0`` marks a leaf; internal nodes send x to ``left`` when
    ``x[feature] <= threshold`` (scikit-learn's rule, on float32-rounded features).
    ``roots[t]`` is tree t's first node.  ``value`` is the leaf value.

    ``aggregate``: ``"boosting"`` — raw score ``init + learning_rate * Σ_t value``;
    output ``"probability"`` = sigmoid(raw) (binary log-loss classifier) or ``"raw"``
    (regressor).  ``"mean"`` — ``Σ_t value / n_trees`` (a forest; ``init`` and
    ``learning_rate`` unused), output ``"probability"`` when the leaf values are class-1
    fractions (classifier), else ``"raw"``.  Optional ``mean``/``scale`` z-score the
    features first (a ``StandardScaler`` in front).  ``compare``: ``"float32"`` (features
    rounded to float32 before the comparisons) or ``"float64"``.
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
    aggregate: str = "boosting"
    output: str = "probability"
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    compare: str = "float32"

    kind = "trees"

    def __post_init__(self) -> None:
        if self.aggregate not in AGGREGATES:
            raise SoftscopeError(
                f"unknown tree aggregate {self.aggregate!r}; known: {', '.join(AGGREGATES)}"
            )
        if self.output not in OUTPUTS:
            raise SoftscopeError(
                f"unknown tree output {self.output!r}; known: {', '.join(OUTPUTS)}"
            )
        if (self.mean is None) != (self.scale is None):
            raise SoftscopeError("a tree ensemble's mean and scale come together")
        if self.compare not in COMPARES:
            raise SoftscopeError(f"unknown tree comparison {self.compare!r}; known: {COMPARES}")

    @property
    def n_features(self) -> int:
        return self.n_features_in

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """(N,) aggregated tree values (boosting: the raw score before the sigmoid)."""
        x = _check_features(x, self.n_features)
        if self.mean is not None:
            x = (x - self.mean) / self.scale
        if self.compare == "float32":
            # scikit-learn's trees compare float32-rounded features with float64 thresholds
            x = x.astype(np.float32).astype(np.float64)
        else:
            x = np.ascontiguousarray(x, dtype=np.float64)
        return _eval_trees(
            x,
            self.feature,
            self.threshold,
            self.left,
            self.right,
            self.value,
            self.roots,
            float(self.init),
            float(self.learning_rate),
            self.aggregate == "mean",
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(N,) output: probability of the rearranging class, or the raw value."""
        d = self.decision_function(x)
        if self.aggregate == "boosting" and self.output == "probability":
            return 1.0 / (1.0 + np.exp(-d))
        return d

    @classmethod
    def from_hist_gradient_boosting(cls, hgb, scaler=None) -> TreeEnsemble:
        """From a fitted ``HistGradientBoostingClassifier`` (binary, log-loss:
        ``predict_proba[:, 1]``) or ``HistGradientBoostingRegressor`` (identity-link losses:
        ``predict``): the predictors' node tables with their float64 thresholds
        (``num_threshold``; x <= threshold goes left, compared in float64 as
        scikit-learn does), the baseline as init, leaf values already shrunk (learning
        rate 1).  softscope features are never NaN, so the missing-value directions are
        never taken; categorical splits are refused."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        classifier = isinstance(hgb, HistGradientBoostingClassifier)
        name = type(hgb).__name__
        if classifier and (len(hgb.classes_) != 2 or hgb.n_trees_per_iteration_ != 1):
            raise SoftscopeError(f"only binary {name} can be exported")
        loss = getattr(hgb, "loss", "log_loss")
        if not classifier and loss not in ("squared_error", "absolute_error", "quantile"):
            raise SoftscopeError(
                f"{name} with loss {loss!r} (a non-identity link) cannot be exported; use "
                "squared_error, absolute_error or quantile"
            )
        nodes = [preds[0].nodes for preds in hgb._predictors]
        if any(np.any(t["is_categorical"]) for t in nodes):
            raise SoftscopeError(f"{name} with categorical splits cannot be exported")
        tables = [
            (t["is_leaf"].astype(bool), t["feature_idx"], t["num_threshold"], t["left"],
             t["right"], t["value"])
            for t in nodes
        ]  # fmt: skip
        return cls._assemble(
            tables,
            float(np.ravel(hgb._baseline_prediction)[0]),
            1.0,
            int(hgb.n_features_in_),
            "boosting",
            "probability" if classifier else "raw",
            scaler,
            "float64",
        )

    @classmethod
    def _assemble(cls, tables, init, lr, n_features, aggregate, output, scaler, compare):
        """The ensemble of per-tree node tables (leaf mask, feature, threshold, left, right,
        value; child indices local to the tree), concatenated with global indices."""
        feats, thr, left, right, values, roots = [], [], [], [], [], []
        start = 0
        for leaf, f, t, lo, hi, v in tables:
            roots.append(start)
            feats.append(np.where(leaf, -1, f).astype(np.int64))
            thr.append(np.asarray(t, np.float64))
            left.append(np.where(leaf, -1, np.asarray(lo, np.int64) + start))
            right.append(np.where(leaf, -1, np.asarray(hi, np.int64) + start))
            values.append(np.asarray(v, np.float64))
            start += len(leaf)
        mean = scale = None
        if scaler is not None:
            mean, scale = scaler_arrays(scaler, n_features)
        return cls(
            np.concatenate(feats),
            np.concatenate(thr),
            np.concatenate(left),
            np.concatenate(right),
            np.concatenate(values),
            np.array(roots, dtype=np.int64),
            init,
            lr,
            n_features,
            aggregate,
            output,
            mean,
            scale,
            compare,
        )

    @classmethod
    def from_sklearn(cls, ensemble, scaler=None) -> TreeEnsemble:
        """From a fitted scikit-learn tree model, with an optional ``StandardScaler`` in
        front: ``GradientBoostingClassifier`` (binary, log-loss: ``predict_proba[:, 1]``),
        ``GradientBoostingRegressor`` (``predict``), ``RandomForest``/``ExtraTrees``
        ``Classifier`` (binary: ``predict_proba[:, 1]``, the mean of the trees' class-1
        fractions) or ``Regressor`` (``predict``), or a single ``DecisionTree...``."""
        from sklearn.ensemble import (
            ExtraTreesClassifier,
            ExtraTreesRegressor,
            GradientBoostingClassifier,
            GradientBoostingRegressor,
            RandomForestClassifier,
            RandomForestRegressor,
        )
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        forests = (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier)
        forests += (ExtraTreesRegressor,)
        single = (DecisionTreeClassifier, DecisionTreeRegressor)
        classifier = isinstance(
            ensemble,
            (GradientBoostingClassifier, RandomForestClassifier, ExtraTreesClassifier)
            + (DecisionTreeClassifier,),
        )
        if classifier and len(getattr(ensemble, "classes_", ())) != 2:
            raise SoftscopeError(
                f"only binary tree classifiers can be exported ({type(ensemble).__name__} "
                f"has {len(getattr(ensemble, 'classes_', ()))} classes)"
            )
        if getattr(ensemble, "n_outputs_", 1) != 1:
            raise SoftscopeError("only single-output tree models can be exported")
        n_features = int(ensemble.n_features_in_)
        if isinstance(ensemble, (GradientBoostingClassifier, GradientBoostingRegressor)):
            if classifier and getattr(ensemble, "loss", "log_loss") not in (
                "log_loss",
                "deviance",
            ):
                raise SoftscopeError(
                    f"only log-loss gradient boosting classifiers can be exported (loss "
                    f"{ensemble.loss!r})"
                )
            if ensemble.init not in (None, "zero"):
                raise SoftscopeError(
                    "gradient boosting with a custom init estimator cannot be exported "
                    "(use init=None or 'zero')"
                )
            trees = [est.tree_ for est in ensemble.estimators_[:, 0]]
            values = [t.value[:, 0, 0].astype(np.float64) for t in trees]
            # init raw score: scikit-learn's _raw_predict_init on any x (constant for init None/'zero')
            x0 = np.zeros((1, n_features))
            init = float(ensemble._raw_predict_init(x0).ravel()[0])
            lr, aggregate = float(ensemble.learning_rate), "boosting"
            output = "probability" if classifier else "raw"
        elif isinstance(ensemble, forests + single):
            ests = [ensemble] if isinstance(ensemble, single) else list(ensemble.estimators_)
            trees = [est.tree_ for est in ests]
            if classifier:
                # each tree's predict_proba: class counts (or fractions) normalised per node
                values = []
                for t in trees:
                    v = t.value[:, 0, :2].astype(np.float64)
                    norm = v.sum(axis=1)
                    norm[norm == 0.0] = 1.0
                    values.append(v[:, 1] / norm)
            else:
                values = [t.value[:, 0, 0].astype(np.float64) for t in trees]
            init, lr, aggregate = 0.0, 1.0, "mean"
            output = "probability" if classifier else "raw"
        else:
            raise SoftscopeError(f"{type(ensemble).__name__} is not a supported tree model")
        tables = [
            (t.children_left < 0, t.feature, t.threshold, t.children_left, t.children_right, v)
            for t, v in zip(trees, values, strict=True)
        ]
        return cls._assemble(tables, init, lr, n_features, aggregate, output, scaler, COMPARES[0])

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "tree_feature": self.feature,
            "tree_threshold": self.threshold,
            "tree_left": self.left,
            "tree_right": self.right,
            "tree_value": self.value,
            "tree_roots": self.roots,
            "tree_scalars": np.array([self.init, self.learning_rate, self.n_features_in]),
        }
        # written only when not the defaults, so that files of the original kind (boosted
        # classifier, no scaler) stay byte for byte what earlier versions wrote
        mode = [AGGREGATES.index(self.aggregate), OUTPUTS.index(self.output)]
        if self.compare != COMPARES[0]:
            mode.append(COMPARES.index(self.compare))
        if mode != [0, 0]:
            arrays["tree_mode"] = np.array(mode, dtype=np.int64)
        if self.mean is not None:
            arrays["tree_mean"] = np.asarray(self.mean, dtype=np.float64)
            arrays["tree_scale"] = np.asarray(self.scale, dtype=np.float64)
        return arrays

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> TreeEnsemble:
        s = a["tree_scalars"]
        mode = np.asarray(a.get("tree_mode", np.zeros(2, dtype=np.int64)))
        if (
            mode.shape not in ((2,), (3,))
            or mode.dtype.kind not in "iu"
            or not 0 <= mode[0] < len(AGGREGATES)
            or not 0 <= mode[1] < len(OUTPUTS)
            or (mode.size == 3 and not 0 <= mode[2] < len(COMPARES))
        ):
            raise ModelFormatError(
                "tree_mode must hold two or three valid codes (aggregate, output[, compare])"
            )
        if ("tree_mean" in a) != ("tree_scale" in a):
            raise ModelFormatError("a tree model stores tree_mean and tree_scale together")
        mean = scale = None
        if "tree_mean" in a:
            mean = np.ascontiguousarray(a["tree_mean"], dtype=np.float64)
            scale = np.ascontiguousarray(a["tree_scale"], dtype=np.float64)
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
            AGGREGATES[int(mode[0])],
            OUTPUTS[int(mode[1])],
            mean,
            scale,
            COMPARES[int(mode[2])] if mode.size == 3 else COMPARES[0],
        )
        n = est.feature.shape[0]
        internal = est.feature >= 0
        if not all(x.shape == (n,) for x in (est.threshold, est.left, est.right, est.value)):
            raise ModelFormatError("tree arrays have inconsistent shapes")
        if est.roots.ndim != 1 or est.roots.size < 1:
            raise ModelFormatError("a tree model needs at least one tree root")
        if mean is not None and (
            mean.shape != (est.n_features_in,)
            or scale.shape != (est.n_features_in,)
            or not np.all(scale > 0)
        ):
            raise ModelFormatError("tree_mean/tree_scale: wrong shape or non-positive scales")
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


@nb.njit(
    parallel=True,
    cache=True,
    aot="f8[::1](f8[:,::1], i8[::1], f8[::1], i8[::1], i8[::1], f8[::1], i8[::1], f8, f8, b1)",
)
def _eval_trees(x, feature, threshold, left, right, value, roots, init, lr, average):
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
        if average:
            out[i] = s / roots.shape[0]
        else:
            out[i] = init + lr * s
    return out


#: estimator classes by the ``kind`` stored in a model file
KINDS = {
    "linear": LinearEstimator,
    "trees": TreeEnsemble,
    "mlp": MLPEstimator,
    "onnx": OnnxEstimator,
}


def estimator_from_arrays(kind: str, arrays: Mapping[str, np.ndarray]):
    """Rebuild a stored estimator of the given kind (a name of :data:`KINDS`)."""
    cls = KINDS.get(kind)
    if cls is None:
        raise ModelFormatError(
            f"unknown estimator kind {kind!r}; known: {', '.join(repr(k) for k in KINDS)}"
        )
    try:
        return cls.from_arrays(arrays)
    except KeyError as exc:
        raise ModelFormatError(f"model file lacks array {exc} needed by a {kind!r} model") from exc
