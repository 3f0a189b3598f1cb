"""Models: the safe file format, stored estimators, the Model object and the zoo."""

from __future__ import annotations

from softscope.models.estimators import LinearEstimator, TreeEnsemble
from softscope.models.importers import from_lightgbm, from_onnx, from_sklearn, from_xgboost
from softscope.models.mlp import MLPEstimator
from softscope.models.model import Model, load_model, resolve, zoo_dir, zoo_names, zoo_path
from softscope.models.onnx_estimator import OnnxEstimator

__all__ = [
    "Model",
    "LinearEstimator",
    "TreeEnsemble",
    "MLPEstimator",
    "OnnxEstimator",
    "from_sklearn",
    "from_xgboost",
    "from_lightgbm",
    "from_onnx",
    "load_model",
    "resolve",
    "zoo_dir",
    "zoo_names",
    "zoo_path",
]
