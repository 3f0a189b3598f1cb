"""Models: the safe file format, stored estimators, the Model object and the zoo."""

from __future__ import annotations

from softscope.models.estimators import LinearEstimator, TreeEnsemble
from softscope.models.importers import from_sklearn
from softscope.models.mlp import MLPEstimator
from softscope.models.model import Model, load_model, resolve, zoo_dir, zoo_names, zoo_path

__all__ = [
    "Model",
    "LinearEstimator",
    "TreeEnsemble",
    "MLPEstimator",
    "from_sklearn",
    "load_model",
    "resolve",
    "zoo_dir",
    "zoo_names",
    "zoo_path",
]
