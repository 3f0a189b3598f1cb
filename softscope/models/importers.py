"""Your own fitted estimators as softscope models (stored as arrays: no pickle).

:func:`from_sklearn` turns a fitted scikit-learn estimator, optionally behind a
``StandardScaler`` (a ``Pipeline`` or a ``(scaler, estimator)`` pair), trained on the
feature matrix of a :class:`~softscope.descriptors.spec.DescriptorSpec`
(``spec.compute(frame)``, columns in ``spec.feature_names()`` order), into a
:class:`~softscope.models.model.Model`: usable by ``Model.predict``, the OVITO modifiers
and the LAMMPS fix, savable as a ``.ssm`` file.  The model's output is, per atom:

- linear classifiers (``LinearSVC``, ``LogisticRegression``, ``SVC(kernel='linear')``,
  ``RidgeClassifier``, ...): ``decision_function`` (threshold 0); linear regressors
  (``Ridge``, ``LinearRegression``, ``Lasso``, ...): ``predict``;
- binary tree and network classifiers (``GradientBoostingClassifier``,
  ``RandomForestClassifier``, ``ExtraTreesClassifier``, ``MLPClassifier``):
  ``predict_proba[:, 1]``, the probability of ``classes_[1]`` (threshold 0.5);
- their regressors: ``predict`` (threshold 0).

Trees compare float32-rounded features, as scikit-learn does (``HistGradientBoosting*``:
float64 features against its float64 thresholds, as it does); everything else agrees with
scikit-learn to rounding.  Not supported: multi-class or multi-output models, kernels
other than linear, categorical splits, other transformers in a pipeline.

:func:`from_xgboost` and :func:`from_lightgbm` read XGBoost's JSON and LightGBM's text
model formats (or the libraries' objects, converted through those formats) into tree
ensembles; see :mod:`softscope.models.boosters` for their exact split rules.  The
libraries are needed only to pass their objects, never to evaluate the models.

:func:`from_onnx` stores an ONNX network (any architecture) as its graph bytes; it is
evaluated with onnxruntime (:mod:`softscope.models.onnx_estimator`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from softscope.descriptors.spec import DescriptorSpec
from softscope.errors import SoftscopeError
from softscope.models.boosters import (
    lightgbm_ensemble,
    lightgbm_text,
    xgboost_ensemble,
    xgboost_json,
)
from softscope.models.estimators import LinearEstimator, TreeEnsemble, scaler_arrays
from softscope.models.mlp import MLPEstimator
from softscope.models.model import Model
from softscope.models.onnx_estimator import OnnxEstimator

__all__ = ["from_sklearn", "from_xgboost", "from_lightgbm", "from_onnx", "SKLEARN_SUPPORTED"]

#: scikit-learn estimators whose output is ``x · coef_ + intercept_`` (classifiers:
#: ``decision_function``; regressors: ``predict``)
_LINEAR = (
    "LinearSVC",
    "LinearSVR",
    "SVC",
    "NuSVC",
    "LogisticRegression",
    "LogisticRegressionCV",
    "RidgeClassifier",
    "RidgeClassifierCV",
    "SGDClassifier",
    "Perceptron",
    "LinearRegression",
    "Ridge",
    "RidgeCV",
    "Lasso",
    "LassoCV",
    "ElasticNet",
    "ElasticNetCV",
    "Lars",
    "LassoLars",
    "BayesianRidge",
    "ARDRegression",
    "HuberRegressor",
    "SGDRegressor",
)
_TREES = (
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor",
)
_MLP = ("MLPClassifier", "MLPRegressor")

#: names of the scikit-learn estimators :func:`from_sklearn` converts
SKLEARN_SUPPORTED = _LINEAR + _TREES + _MLP


def _supported_text() -> str:
    return (
        "supported: an optional StandardScaler followed by one of "
        + ", ".join(SKLEARN_SUPPORTED)
        + " (binary classifiers or single-output regressors; SVC/NuSVC with kernel='linear')"
    )


def _steps(estimator: Any) -> tuple[Any, Any]:
    """``(scaler or None, final estimator)`` of a Pipeline, a pair or a bare estimator."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if isinstance(estimator, Pipeline):
        steps = [s for _, s in estimator.steps if s is not None and s != "passthrough"]
    elif isinstance(estimator, (tuple, list)):
        steps = list(estimator)
    else:
        steps = [estimator]
    if len(steps) == 1:
        return None, steps[0]
    if len(steps) == 2 and isinstance(steps[0], StandardScaler):
        return steps[0], steps[1]
    names = [type(s).__name__ for s in steps]
    raise SoftscopeError(f"cannot export the pipeline {names}; {_supported_text()}")


def _check_fitted(est: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(est)
    except NotFittedError as exc:
        raise SoftscopeError(f"{type(est).__name__} is not fitted: fit it first") from exc
    except TypeError as exc:  # not a scikit-learn estimator at all
        raise SoftscopeError(
            f"{type(est).__name__} is not a scikit-learn estimator; {_supported_text()}"
        ) from exc


def _convert(scaler: Any, est: Any) -> tuple[LinearEstimator | TreeEnsemble | MLPEstimator, str]:
    """The stored estimator and a description of its output."""
    from sklearn.base import is_classifier

    cls = type(est).__name__
    classifier = is_classifier(est)
    n_classes = len(getattr(est, "classes_", ())) if classifier else 0
    if classifier and n_classes != 2:
        raise SoftscopeError(
            f"{cls} has {n_classes} classes; only binary classifiers can be exported "
            "(one per-atom output: train one-vs-rest models for more classes)"
        )
    if cls not in SKLEARN_SUPPORTED:
        raise SoftscopeError(f"{cls} cannot be exported; {_supported_text()}")
    if cls.startswith("HistGradientBoosting"):
        tree = TreeEnsemble.from_hist_gradient_boosting(est, scaler)
        return tree, "predict_proba[:, 1]" if classifier else "predict"
    if cls in _TREES:
        tree = TreeEnsemble.from_sklearn(est, scaler)
        return tree, "predict_proba[:, 1]" if classifier else "predict"
    if cls in _MLP:
        return _mlp_from_sklearn(est, scaler), "predict_proba[:, 1]" if classifier else "predict"
    if cls in ("SVC", "NuSVC") and est.kernel != "linear":
        raise SoftscopeError(
            f"{cls}(kernel={est.kernel!r}) cannot be exported: only kernel='linear' (its "
            "decision function is then linear in the features)"
        )
    return LinearEstimator.from_sklearn(scaler, est), (
        "decision_function" if classifier else "predict"
    )


def _mlp_from_sklearn(mlp: Any, scaler: Any) -> MLPEstimator:
    """A fitted binary ``MLPClassifier`` (logistic output unit) or single-output
    ``MLPRegressor`` (identity output; exp for the Poisson loss) as an
    :class:`MLPEstimator`."""
    coefs = [np.array(c, dtype=np.float64) for c in mlp.coefs_]
    out = str(mlp.out_activation_)
    if out not in ("logistic", "identity", "exp") or coefs[-1].shape[1] != 1:
        raise SoftscopeError(
            f"{type(mlp).__name__} with {coefs[-1].shape[1]} output units ({out!r}) cannot "
            "be exported: only binary classifiers and single-output regressors"
        )
    mean, scale = scaler_arrays(scaler, coefs[0].shape[0])
    return MLPEstimator(
        mean,
        scale,
        tuple(coefs),
        tuple(np.array(b, dtype=np.float64) for b in mlp.intercepts_),
        (str(mlp.activation),) * (len(coefs) - 1) + (out,),
    )


def _json_value(v: Any) -> Any:
    v = v.item() if isinstance(v, np.generic) else v
    return v if isinstance(v, (str, int, float, bool)) else str(v)


def from_sklearn(
    estimator: Any,
    spec: DescriptorSpec | Mapping[str, Any],
    *,
    name: str,
    output_name: str,
    card: Mapping[str, Any] | None = None,
) -> Model:
    """A :class:`Model` from a fitted scikit-learn estimator trained on ``spec``'s features.

    ``estimator``: a fitted estimator, a ``Pipeline`` of an optional ``StandardScaler``
    and one estimator, or a ``(scaler, estimator)`` pair (see the module docstring for
    the kinds and their outputs).  ``spec``: the :class:`DescriptorSpec` (or its dict)
    whose ``compute(frame)`` gave the training features.  ``name``: the model's short
    name; ``output_name``: its per-atom property (e.g. ``"Softness"``).  ``card``:
    provenance and metrics (JSON); ``card["imported"]`` records the source estimator.
    Raises :class:`SoftscopeError` naming what is supported for anything else.
    """
    import sklearn

    if not isinstance(spec, DescriptorSpec):
        spec = DescriptorSpec.from_dict(spec)
    scaler, est = _steps(estimator)
    _check_fitted(est)
    if scaler is not None:
        _check_fitted(scaler)
    n_in = getattr(est, "n_features_in_", None)
    if n_in is not None and int(n_in) != spec.n_features:
        raise SoftscopeError(
            f"{type(est).__name__} was fitted on {n_in} features; the spec computes "
            f"{spec.n_features} (fit on spec.compute(frame))"
        )
    names = getattr(est if scaler is None else scaler, "feature_names_in_", None)
    want = spec.feature_names()
    if names is not None and list(names) != want and sorted(names) == sorted(want):
        raise SoftscopeError(
            "the estimator was fitted on the spec's features in another column order; "
            "fit on the columns in spec.feature_names() order"
        )
    stored, output = _convert(scaler, est)
    card = dict(card or {})
    imported: dict[str, Any] = {
        "library": "scikit-learn",
        "version": sklearn.__version__,
        "pipeline": ([type(scaler).__name__] if scaler is not None else []) + [type(est).__name__],
        "output": output,
    }
    if output == "predict_proba[:, 1]":
        imported["positive_class"] = _json_value(est.classes_[1])
    card.setdefault("imported", imported)
    return Model(name, output_name, spec, stored, card)


def _booster_model(
    est: TreeEnsemble,
    info: dict[str, Any],
    spec: DescriptorSpec | Mapping[str, Any],
    name: str,
    output_name: str,
    card: Mapping[str, Any] | None,
) -> Model:
    """The Model of an imported XGBoost / LightGBM ensemble, after checking its features
    against ``spec`` (count, and not the spec's columns in another order)."""
    if not isinstance(spec, DescriptorSpec):
        spec = DescriptorSpec.from_dict(spec)
    library = {"xgboost": "XGBoost", "lightgbm": "LightGBM"}[info["library"]]
    if est.n_features != spec.n_features:
        raise SoftscopeError(
            f"the {library} model was trained on {est.n_features} features; the spec "
            f"computes {spec.n_features} (train on spec.compute(frame))"
        )
    names, want = info.pop("feature_names", []), spec.feature_names()
    if names and list(names) != want and sorted(names) == sorted(want):
        raise SoftscopeError(
            f"the {library} model was trained on the spec's features in another column "
            "order; train on the columns in spec.feature_names() order"
        )
    card = dict(card or {})
    card.setdefault("imported", info)
    return Model(name, output_name, spec, est, card)


def from_xgboost(
    booster_or_json: Any,
    spec: DescriptorSpec | Mapping[str, Any],
    *,
    name: str,
    output_name: str,
    card: Mapping[str, Any] | None = None,
    all_trees: bool = False,
) -> Model:
    """A :class:`Model` from an XGBoost model trained on ``spec``'s features.

    ``booster_or_json``: a ``Booster``, a fitted ``XGBClassifier``/``XGBRegressor``, the
    path of a JSON model (``booster.save_model("m.json")``), its text, bytes
    (``save_raw("json")``) or parsed dict.  ``gbtree`` booster; objectives
    ``binary:logistic``/``reg:logistic`` (output: probability, as ``predict_proba[:, 1]``)
    and ``binary:logitraw``, ``reg:squarederror``, ``reg:absoluteerror``,
    ``reg:pseudohubererror`` (output: raw, as ``predict``).  Trees up to the recorded best
    iteration (early stopping), as the scikit-learn wrapper predicts; ``all_trees``: all,
    as ``Booster.predict``.  Routing is XGBoost's exactly; values agree to XGBoost's
    float32 summation.  ``card``: provenance and metrics; ``card["imported"]`` records the
    source.  Raises :class:`SoftscopeError` for anything else.
    """
    est, info = xgboost_ensemble(xgboost_json(booster_or_json), all_trees=all_trees)
    return _booster_model(est, info, spec, name, output_name, card)


def from_lightgbm(
    booster_or_text: Any,
    spec: DescriptorSpec | Mapping[str, Any],
    *,
    name: str,
    output_name: str,
    card: Mapping[str, Any] | None = None,
) -> Model:
    """A :class:`Model` from a LightGBM model trained on ``spec``'s features.

    ``booster_or_text``: a ``Booster``, a fitted ``LGBMClassifier``/``LGBMRegressor``,
    the text model (``booster.model_to_string()``) or the path of a ``save_model`` file.
    Objectives ``binary``/``cross_entropy`` (output: probability, as
    ``predict_proba[:, 1]``) and ``regression``, ``regression_l1``, ``huber``, ``fair``,
    ``quantile``, ``mape`` (output: raw, as ``predict``); gbdt or rf boosting.  Raw scores
    equal LightGBM's except for features within a float32 step of a threshold (see
    :mod:`softscope.models.boosters`).  Categorical splits, linear trees and multi-class
    models raise :class:`SoftscopeError`.
    """
    est, info = lightgbm_ensemble(lightgbm_text(booster_or_text))
    if _is_library_object(booster_or_text, "lightgbm"):
        import lightgbm

        info["version"] = lightgbm.__version__
    return _booster_model(est, info, spec, name, output_name, card)


def _is_library_object(obj: Any, library: str) -> bool:
    return type(obj).__module__.split(".")[0] == library


def _onnx_bytes(graph: Any) -> bytes:
    """The serialized graph of an ``onnx.ModelProto``, bytes, or a ``.onnx`` file path."""
    from pathlib import Path

    if isinstance(graph, (bytes, bytearray, memoryview)):
        return bytes(graph)
    if isinstance(graph, (str, Path)):
        path = Path(graph)
        if not path.is_file():
            raise SoftscopeError(f"ONNX model file {str(path)!r} not found")
        return path.read_bytes()
    if hasattr(graph, "SerializeToString"):
        return graph.SerializeToString()
    raise SoftscopeError(
        f"from_onnx takes an onnx.ModelProto, its bytes or a .onnx path, not {type(graph).__name__}"
    )


def from_onnx(
    graph: Any,
    spec: DescriptorSpec | Mapping[str, Any],
    *,
    name: str,
    output_name: str,
    output: str = "raw",
    output_index: int | None = None,
    column: int | None = None,
    card: Mapping[str, Any] | None = None,
) -> Model:
    """A :class:`Model` from an ONNX network trained on ``spec``'s features.

    ``graph``: an ``onnx.ModelProto``, its serialized bytes or the path of a ``.onnx``
    file (``torch.onnx.export``, skl2onnx with ``options={"zipmap": False}``, ...), one
    (N, F) float input.  ``output``: ``"probability"`` (threshold 0.5) or ``"raw"``
    (threshold 0).  ``output_index``: which graph output (default: the last for
    probabilities, as skl2onnx puts them after the labels; else the first).
    ``column``: which column of a 2-D output (default: the last, the positive class).
    The graph is run once on the spec's zero vector to check its input and output
    shapes (needs onnxruntime, ``softscope[onnx]``).  ``card``: provenance and metrics;
    ``card["imported"]`` records the source.
    """
    if not isinstance(spec, DescriptorSpec):
        spec = DescriptorSpec.from_dict(spec)
    data = _onnx_bytes(graph)
    probe = OnnxEstimator(data, spec.n_features, output, 0, -1)
    sess = probe.session()
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    if len(inputs) != 1:
        raise SoftscopeError(
            f"the ONNX graph has {len(inputs)} inputs; softscope feeds one (N, F) feature matrix"
        )
    shape = inputs[0].shape
    if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != spec.n_features):
        raise SoftscopeError(
            f"the ONNX graph takes input of shape {shape}; the spec computes "
            f"{spec.n_features} features per atom: (N, {spec.n_features})"
        )
    if output_index is None:
        output_index = len(outputs) - 1 if output == "probability" else 0
    est = OnnxEstimator(
        data, spec.n_features, output, output_index, -1 if column is None else column
    )
    est.predict(np.zeros((2, spec.n_features)))  # shapes checked here, with clear errors
    card = dict(card or {})
    try:
        import onnxruntime

        runtime = onnxruntime.__version__
    except ImportError:  # pragma: no cover - session() needed it above
        runtime = None
    card.setdefault(
        "imported",
        {
            "library": "onnx",
            "onnxruntime": runtime,
            "sha256": est.digest,
            "input": {"name": inputs[0].name, "type": inputs[0].type},
            "output": {"name": outputs[output_index].name, "column": est.column, "kind": output},
        },
    )
    return Model(name, output_name, spec, est, card)
