"""XGBoost and LightGBM tree models as :class:`~softscope.models.estimators.TreeEnsemble`
node tables, read from the libraries' own documented model formats (never pickle).

- XGBoost: the JSON model (``booster.save_model("m.json")``, ``booster.save_raw("json")``),
  ``gbtree`` booster, one output.  XGBoost rounds features to float32 and sends x left
  when ``x < split_condition`` (float32, strict); a float32 x satisfies that exactly when
  ``x <= nextafter(split_condition, -inf)``, so the thresholds are stored one float32
  step down and the tree ensemble's ``<=`` rule on float32-rounded features routes every
  atom as XGBoost does.  Leaf values are XGBoost's float32 numbers; the margin starts at
  the objective's link of ``base_score`` (logit for the logistic objectives, computed in
  float32 as XGBoost does; identity otherwise).  XGBoost sums trees in float32, softscope
  in float64: outputs agree to float32 rounding of the sum (≈ 1e-7 × trees × |margin|).
- LightGBM: the text model (``booster.model_to_string()``, ``save_model`` files).
  LightGBM sends x left when ``x <= threshold`` on doubles; the tree ensemble compares
  the float64 features with the float64 thresholds too (``compare = "float64"``), so every
  atom is routed as LightGBM routes it.  ``zero_as_missing`` splits (|x| <= 1e-35f takes
  the default side) are rewritten as two or three comparisons.  Leaf values are doubles
  and summed in the same order: raw scores agree to the last bit.

Missing values: softscope features are never NaN, so the default (missing) directions of
NaN are never taken.  Not representable (clear :class:`SoftscopeError`): categorical
splits, linear trees, multi-class / multi-output models, dart and linear boosters,
objectives with other output transforms (Poisson, Gamma, ranking, ...).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from softscope.errors import SoftscopeError
from softscope.models.estimators import TreeEnsemble

__all__ = [
    "XGBOOST_OBJECTIVES",
    "LIGHTGBM_OBJECTIVES",
    "xgboost_json",
    "xgboost_ensemble",
    "lightgbm_text",
    "lightgbm_ensemble",
]

#: XGBoost objectives -> (output of the tree ensemble, link applied to base_score)
XGBOOST_OBJECTIVES = {
    "binary:logistic": ("probability", "logit"),
    "reg:logistic": ("probability", "logit"),
    "binary:logitraw": ("raw", "identity"),
    "reg:squarederror": ("raw", "identity"),
    "reg:absoluteerror": ("raw", "identity"),
    "reg:pseudohubererror": ("raw", "identity"),
}

#: LightGBM objectives -> output of the tree ensemble (all others are refused)
LIGHTGBM_OBJECTIVES = {
    "binary": "probability",
    "cross_entropy": "probability",
    "regression": "raw",
    "regression_l1": "raw",
    "huber": "raw",
    "fair": "raw",
    "quantile": "raw",
    "mape": "raw",
}

# LightGBM's kZeroThreshold (1e-35f as a double): |x| <= it counts as zero
_LGB_ZERO = float(np.float32(1e-35))
# the largest double below -_LGB_ZERO: a double x < -zero  <=>  x <= _LGB_BELOW_ZERO
_LGB_BELOW_ZERO = float(np.nextafter(-_LGB_ZERO, -np.inf))

# a node: a leaf value, or (feature, bounds, destinations): x <= bounds[0] -> dests[0],
# elif x <= bounds[1] -> dests[1], ..., else dests[-1] (source node ids)
_Node = float | tuple[int, list[float], list[int]]


class _NodeTable:
    """Flat node arrays in parent-before-child order (the TreeEnsemble layout)."""

    def __init__(self) -> None:
        self.feature: list[int] = []
        self.threshold: list[float] = []
        self.left: list[int] = []
        self.right: list[int] = []
        self.value: list[float] = []
        self.roots: list[int] = []

    def _add(self, feature: int, threshold: float, value: float) -> int:
        self.feature.append(feature)
        self.threshold.append(threshold)
        self.left.append(-1)
        self.right.append(-1)
        self.value.append(value)
        return len(self.feature) - 1

    def add_tree(self, root: int, describe: Callable[[int], _Node], n_nodes: int) -> None:
        """Append one tree: ``describe(source id)`` gives each node (see ``_Node``); nodes
        are numbered depth first, every child after its parent."""
        where: dict[int, int] = {}
        links: list[tuple[int, bool, int]] = []  # (our node, is left, source child)
        stack = [root]
        while stack:
            s = stack.pop()
            if s in where or len(where) > n_nodes:
                raise SoftscopeError("the model's tree is not a tree (a node has two parents)")
            node = describe(s)
            if not isinstance(node, tuple):
                where[s] = self._add(-1, 0.0, float(node))
                continue
            feature, bounds, dests = node
            chain = [self._add(int(feature), float(b), 0.0) for b in bounds]
            where[s] = chain[0]
            for j, c in enumerate(chain):
                links.append((c, True, dests[j]))
                if j + 1 < len(chain):
                    self.right[c] = chain[j + 1]
                else:
                    links.append((c, False, dests[-1]))
            stack.extend(reversed(list(dict.fromkeys(dests))))
        for c, is_left, s in links:
            if is_left:
                self.left[c] = where[s]
            else:
                self.right[c] = where[s]
        self.roots.append(where[root])

    def ensemble(
        self,
        n_features: int,
        output: str,
        init: float = 0.0,
        learning_rate: float = 1.0,
        aggregate: str = "boosting",
        compare: str = "float32",
    ) -> TreeEnsemble:
        if not self.roots:
            raise SoftscopeError("the model has no trees")
        return TreeEnsemble(
            np.array(self.feature, dtype=np.int64),
            np.array(self.threshold, dtype=np.float64),
            np.array(self.left, dtype=np.int64),
            np.array(self.right, dtype=np.int64),
            np.array(self.value, dtype=np.float64),
            np.array(self.roots, dtype=np.int64),
            float(init),
            float(learning_rate),
            int(n_features),
            aggregate,
            output,
            compare=compare,
        )


def _library_object(obj: Any, library: str) -> bool:
    return type(obj).__module__.split(".")[0] == library


def _read_text(source: str | os.PathLike, what: str) -> str:
    path = Path(source).expanduser()
    if not path.is_file():
        raise SoftscopeError(f"{what} file not found: {path}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SoftscopeError(f"{path} is not a {what} text file (binary content)") from exc


# --------------------------------------------------------------------------- XGBoost
def xgboost_json(model: Any) -> dict[str, Any]:
    """XGBoost's JSON model document of ``model``: a ``Booster``, an ``XGBClassifier`` /
    ``XGBRegressor`` (its booster), JSON text or bytes (``save_raw("json")``), a parsed
    dict, or the path of a ``.json`` model file.  Needs xgboost only for the objects."""
    if isinstance(model, Mapping):
        return dict(model)
    if _library_object(model, "xgboost"):
        booster = model
        if hasattr(model, "get_booster"):  # the scikit-learn wrapper
            try:
                booster = model.get_booster()
            except Exception as exc:  # NotFittedError of xgboost's wrapper
                raise SoftscopeError(f"{type(model).__name__} is not fitted: fit it first") from exc
        if not hasattr(booster, "save_raw"):
            raise SoftscopeError(f"{type(model).__name__} is not an XGBoost Booster or model")
        return _parse_json(bytes(booster.save_raw(raw_format="json")), "XGBoost booster")
    if isinstance(model, (bytes, bytearray, memoryview)):
        return _parse_json(bytes(model), "XGBoost model bytes")
    if isinstance(model, str) and model.lstrip().startswith("{"):
        return _parse_json(model, "XGBoost JSON text")
    if isinstance(model, (str, os.PathLike)):
        path = Path(model).expanduser()
        if path.suffix.lower() in (".ubj", ".model", ".bin", ".deprecated"):
            raise SoftscopeError(
                f"{path}: only XGBoost's JSON model format is read; save the model with "
                "booster.save_model('model.json')"
            )
        return _parse_json(_read_text(path, "XGBoost JSON model"), str(path))
    raise SoftscopeError(
        f"cannot read an XGBoost model from a {type(model).__name__}: give a Booster, an "
        "XGBClassifier/XGBRegressor, JSON text or the path of booster.save_model('m.json')"
    )


def _parse_json(text: str | bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SoftscopeError(
            f"{what} is not XGBoost's JSON model format ({exc}); save the model with "
            "booster.save_model('model.json') (not UBJSON or the deprecated binary format)"
        ) from exc
    if not isinstance(doc, dict) or "learner" not in doc:
        raise SoftscopeError(f"{what} is not an XGBoost JSON model (no 'learner' object)")
    return doc


def _xgb_scalar(text: Any, what: str) -> float:
    """A number of ``learner_model_param`` ("5E-1" or, from XGBoost 3, "[5E-1]")."""
    values = str(text).strip().strip("[]").split(",")
    if len(values) != 1:
        raise SoftscopeError(
            f"the model has {len(values)} values of {what}: only single-output models"
        )
    return float(values[0])


def xgboost_ensemble(
    doc: Mapping[str, Any], all_trees: bool = False
) -> tuple[TreeEnsemble, dict[str, Any]]:
    """``(TreeEnsemble, info)`` of an XGBoost JSON model document (:func:`xgboost_json`).

    Trees up to the recorded ``best_iteration`` (early stopping), as
    ``XGBClassifier.predict_proba`` / ``XGBRegressor.predict`` use them; ``all_trees``:
    every tree, as ``Booster.predict``.  ``info``: objective, tree count, XGBoost version,
    feature names and the library output the ensemble reproduces."""
    try:
        return _xgboost_ensemble(doc, all_trees)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        if isinstance(exc, SoftscopeError):
            raise
        raise SoftscopeError(f"malformed XGBoost JSON model: {type(exc).__name__}: {exc}") from exc


def _xgboost_ensemble(doc: Mapping[str, Any], all_trees: bool) -> tuple[TreeEnsemble, dict]:
    learner = doc["learner"]
    version = tuple(int(v) for v in doc.get("version", (0, 0, 0)))
    booster = learner["gradient_booster"]
    if booster.get("name") != "gbtree":
        raise SoftscopeError(
            f"XGBoost booster {booster.get('name')!r} cannot be imported: only 'gbtree' "
            "(dart weights its trees at prediction, gblinear has none)"
        )
    objective = learner["objective"]["name"]
    if objective not in XGBOOST_OBJECTIVES:
        raise SoftscopeError(
            f"XGBoost objective {objective!r} cannot be imported; supported: "
            f"{', '.join(XGBOOST_OBJECTIVES)} (binary classifiers and single-output regressors)"
        )
    output, link = XGBOOST_OBJECTIVES[objective]
    if objective == "binary:logitraw" and version < (1, 4, 0):
        raise SoftscopeError(
            "binary:logitraw models saved before XGBoost 1.4 put base_score on another "
            "scale; load and re-save the model with a recent XGBoost"
        )
    param = learner["learner_model_param"]
    if int(param.get("num_class", 0)) > 1 or int(param.get("num_target", 1)) != 1:
        raise SoftscopeError(
            "multi-class and multi-output XGBoost models cannot be imported (one per-atom "
            "output: train one binary model per class)"
        )
    n_features = int(param["num_feature"])
    base_score = np.float32(_xgb_scalar(param["base_score"], "base_score"))
    if link == "logit":
        if not 0.0 < base_score < 1.0:
            raise SoftscopeError(f"base_score {base_score} is not a probability in (0, 1)")
        one = np.float32(1.0)
        with np.errstate(all="ignore"):  # XGBoost's ProbToMargin, in float32
            init = float(np.float32(-np.log(one / base_score - one)))
    else:
        init = float(base_score)
    model = booster["model"]
    trees = list(model["trees"])
    if any(int(t) != 0 for t in model.get("tree_info", [])):
        raise SoftscopeError("the XGBoost model has trees of several outputs (multi-class)")
    indptr = model.get("iteration_indptr")
    if indptr is None:  # before XGBoost 2: num_parallel_tree trees per iteration
        per = int(model.get("gbtree_model_param", {}).get("num_parallel_tree", 1))
        indptr = list(range(0, len(trees) + 1, max(per, 1)))
    best = (learner.get("attributes") or {}).get("best_iteration")
    n_trees = len(trees)
    if best is not None and not all_trees and int(best) + 1 < len(indptr):
        n_trees = int(indptr[int(best) + 1])
    cats = model.get("cats") or {}
    if any(cats.get(k) for k in ("enc", "feature_segments", "sorted_idx")):
        raise SoftscopeError("XGBoost models with categorical features cannot be imported")
    table = _NodeTable()
    for tree in trees[:n_trees]:
        _add_xgboost_tree(table, tree, n_features)
    est = table.ensemble(n_features, output, init=init)
    info = {
        "library": "xgboost",
        "version": ".".join(str(v) for v in version),
        "objective": objective,
        "booster": "gbtree",
        "n_trees": n_trees,
        "base_score": float(base_score),
        "feature_names": list(learner.get("feature_names") or []),
        "output": (
            "XGBClassifier.predict_proba[:, 1] (Booster.predict)"
            if output == "probability"
            else "XGBRegressor.predict / Booster.predict (raw margin for binary:logitraw)"
        ),
    }
    if best is not None:
        info["best_iteration"] = int(best)
    return est, info


def _add_xgboost_tree(table: _NodeTable, tree: Mapping[str, Any], n_features: int) -> None:
    param = tree.get("tree_param", {})
    if int(param.get("size_leaf_vector", 1)) > 1:
        raise SoftscopeError("XGBoost multi-output trees (vector leaves) cannot be imported")
    left = np.asarray(tree["left_children"], dtype=np.int64)
    right = np.asarray(tree["right_children"], dtype=np.int64)
    feature = np.asarray(tree["split_indices"], dtype=np.int64)
    cond = np.asarray(tree["split_conditions"], dtype=np.float64).astype(np.float32)
    split_type = np.asarray(tree.get("split_type") or np.zeros(len(left)), dtype=np.int64)
    n = len(left)
    if not all(len(a) == n for a in (right, feature, cond, split_type)) or n == 0:
        raise SoftscopeError("malformed XGBoost tree: node arrays of different lengths")
    # x < c (float32 x)  <=>  x <= the largest float32 below c
    below = np.nextafter(cond, np.float32(-np.inf)).astype(np.float64)
    value = cond.astype(np.float64)

    def describe(s: int) -> _Node:
        # checked node by node: deleted (unreachable) nodes may hold anything
        if not np.isfinite(value[s]):
            raise SoftscopeError("malformed XGBoost tree: a split condition or leaf is not finite")
        if left[s] < 0:
            return float(value[s])
        if split_type[s] != 0:
            raise SoftscopeError("XGBoost models with categorical splits cannot be imported")
        if not (0 <= feature[s] < n_features and left[s] < n and 0 <= right[s] < n):
            raise SoftscopeError("malformed XGBoost tree: a feature or child index is out of range")
        return int(feature[s]), [float(below[s])], [int(left[s]), int(right[s])]

    table.add_tree(0, describe, n)


# --------------------------------------------------------------------------- LightGBM
def lightgbm_text(model: Any) -> str:
    """LightGBM's text model of ``model``: a ``Booster``, an ``LGBMClassifier`` /
    ``LGBMRegressor`` (``booster_``), the text itself (``model_to_string()``) or the path
    of a ``save_model`` file.  Needs lightgbm only for the objects."""
    if _library_object(model, "lightgbm"):
        booster = model
        if not hasattr(model, "model_to_string"):  # the scikit-learn wrapper
            try:
                booster = model.booster_
            except Exception as exc:  # LightGBMError / NotFittedError: not fitted
                raise SoftscopeError(f"{type(model).__name__} is not fitted: fit it first") from exc
        return str(booster.model_to_string())
    if isinstance(model, (bytes, bytearray)):
        model = bytes(model).decode("utf-8", errors="replace")
    if isinstance(model, str) and "\n" in model:  # the text itself (a path has no newline)
        return model
    if isinstance(model, (str, os.PathLike)):
        return _read_text(model, "LightGBM text model")
    raise SoftscopeError(
        f"cannot read a LightGBM model from a {type(model).__name__}: give a Booster, an "
        "LGBMClassifier/LGBMRegressor, its model_to_string() text or a save_model file"
    )


def _lgb_sections(text: str) -> tuple[dict[str, str], set[str], list[dict[str, str]]]:
    """(header fields, header flags, per-tree fields) of a LightGBM text model."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "tree":
        raise SoftscopeError(
            "not a LightGBM text model (it starts with 'tree'; save it with "
            "booster.save_model('model.txt') or booster.model_to_string())"
        )
    header: dict[str, str] = {}
    flags: set[str] = set()
    trees: list[dict[str, str]] = []
    for raw in lines[1:]:
        line = raw.strip()
        if line == "end of trees":
            return header, flags, trees
        if not line:
            continue
        if line.startswith("Tree="):
            trees.append({})
            continue
        key, sep, value = line.partition("=")
        if trees:
            trees[-1][key] = value
        elif sep:
            header[key] = value
        else:
            flags.add(key)
    raise SoftscopeError("truncated LightGBM text model (no 'end of trees' line)")


def lightgbm_ensemble(text: str) -> tuple[TreeEnsemble, dict[str, Any]]:
    """``(TreeEnsemble, info)`` of a LightGBM text model (:func:`lightgbm_text`): the
    trees it holds (``model_to_string()`` keeps those up to the best iteration)."""
    try:
        return _lightgbm_ensemble(text)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        if isinstance(exc, SoftscopeError):
            raise
        raise SoftscopeError(f"malformed LightGBM text model: {type(exc).__name__}: {exc}") from exc


def _lightgbm_ensemble(text: str) -> tuple[TreeEnsemble, dict[str, Any]]:
    header, flags, trees = _lgb_sections(text)
    if int(header.get("num_class", 1)) != 1 or int(header.get("num_tree_per_iteration", 1)) != 1:
        raise SoftscopeError(
            "multi-class LightGBM models cannot be imported (one per-atom output: train "
            "one binary model per class)"
        )
    tokens = header.get("objective", "").split()
    name = tokens[0] if tokens else "(none)"
    name = {"xentropy": "cross_entropy"}.get(name, name)
    options = dict(t.split(":", 1) for t in tokens[1:] if ":" in t)
    if name not in LIGHTGBM_OBJECTIVES or "sqrt" in tokens[1:]:
        raise SoftscopeError(
            f"LightGBM objective {header.get('objective', '(none)')!r} cannot be imported; "
            f"supported: {', '.join(LIGHTGBM_OBJECTIVES)} (binary classifiers and "
            "regressors whose prediction is the sum of the trees, or its sigmoid)"
        )
    output = LIGHTGBM_OBJECTIVES[name]
    sigmoid = float(options.get("sigmoid", 1.0)) if name == "binary" else 1.0
    if not sigmoid > 0:
        raise SoftscopeError(f"LightGBM sigmoid parameter must be > 0, got {sigmoid}")
    n_features = int(header["max_feature_idx"]) + 1
    table = _NodeTable()
    for k, tree in enumerate(trees):
        _add_lightgbm_tree(table, tree, n_features, k)
    n = len(trees)
    average = "average_output" in flags  # random forest: the mean of the trees
    if average and output == "raw":
        est = table.ensemble(n_features, output, aggregate="mean", compare="float64")
    else:
        # LightGBM: probability = 1 / (1 + exp(-sigmoid * raw)), raw = Σ (or Σ / n)
        est = table.ensemble(
            n_features, output, learning_rate=sigmoid / (n if average else 1), compare="float64"
        )
    info = {
        "library": "lightgbm",
        "format_version": header.get("version", "?"),
        "objective": header.get("objective", ""),
        "n_trees": n,
        "feature_names": header.get("feature_names", "").split(),
        "output": (
            "LGBMClassifier.predict_proba[:, 1] (Booster.predict)"
            if output == "probability"
            else "LGBMRegressor.predict / Booster.predict"
        ),
    }
    if average:
        info["average_output"] = True
    return est, info


def _ints(tree: Mapping[str, str], key: str) -> np.ndarray:
    return np.array(tree.get(key, "").split(), dtype=np.int64)


def _add_lightgbm_tree(table: _NodeTable, tree: Mapping[str, str], n_features: int, k: int) -> None:
    n_leaves = int(tree["num_leaves"])
    if int(tree.get("num_cat", 0)) > 0:
        raise SoftscopeError(
            "LightGBM models with categorical splits cannot be imported (tree "
            f"{k}); train on the numeric descriptor features only"
        )
    if tree.get("is_linear", "0").strip() not in ("", "0"):
        raise SoftscopeError(f"LightGBM linear trees cannot be imported (tree {k})")
    leaf_value = np.array(tree["leaf_value"].split(), dtype=np.float64)
    if n_leaves < 1 or leaf_value.shape != (n_leaves,):
        raise SoftscopeError(f"malformed LightGBM tree {k}: {n_leaves} leaves")
    if n_leaves == 1:
        table.add_tree(0, lambda s: float(leaf_value[0]), 1)
        return
    feature = _ints(tree, "split_feature")
    threshold = np.array(tree["threshold"].split(), dtype=np.float64)
    decision = _ints(tree, "decision_type")
    left, right = _ints(tree, "left_child"), _ints(tree, "right_child")
    m = n_leaves - 1
    if not all(a.shape == (m,) for a in (feature, threshold, decision, left, right)):
        raise SoftscopeError(f"malformed LightGBM tree {k}: node arrays of different lengths")
    if np.any(decision & 1):
        raise SoftscopeError(
            f"LightGBM models with categorical splits cannot be imported (tree {k})"
        )
    children = np.concatenate([left, right])
    if (
        np.any((feature < 0) | (feature >= n_features))
        or np.any((children >= m) | (children < -n_leaves))
        or np.any(np.isnan(threshold))
    ):
        raise SoftscopeError(f"malformed LightGBM tree {k}: index or threshold out of range")

    def describe(s: int) -> _Node:
        if s < 0:
            return float(leaf_value[~s])
        lo, hi = int(left[s]), int(right[s])
        t = float(threshold[s])
        if (int(decision[s]) >> 2) & 3 != 1:  # missing None / NaN: finite x just compare
            return int(feature[s]), [t], [lo, hi]
        # missing type Zero: |x| <= 1e-35f goes to the default side, else x <= t
        default = lo if decision[s] & 2 else hi
        pieces = (
            [(t, lo), (_LGB_BELOW_ZERO, hi)] if t < _LGB_BELOW_ZERO else [(_LGB_BELOW_ZERO, lo)]
        )
        pieces.append((_LGB_ZERO, default))
        pieces += [(t, lo), (math.inf, hi)] if t > _LGB_ZERO else [(math.inf, hi)]
        merged: list[tuple[float, int]] = []
        for bound, dest in pieces:
            if merged and merged[-1][1] == dest:
                merged[-1] = (bound, dest)
            else:
                merged.append((bound, dest))
        return int(feature[s]), [b for b, _ in merged[:-1]], [d for _, d in merged]

    table.add_tree(0, describe, 2 * n_leaves)
