"""Training pipeline: windows of a sheared trajectory -> labels -> features -> estimators."""

from softscope.training.train import TrainingSet, build_training_set, fit_linear, fit_trees
from softscope.training.windows import Window, windows_by_strain

__all__ = [
    "Window",
    "windows_by_strain",
    "TrainingSet",
    "build_training_set",
    "fit_linear",
    "fit_trees",
]
