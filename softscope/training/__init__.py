"""Training pipeline: windows of a sheared trajectory -> labels -> features -> estimators."""

from softscope.training.dataset import Sample, find_samples, sample_windows, split_samples
from softscope.training.pipeline import run_evaluation, train_recipe
from softscope.training.recipes import RECIPES, recipe_feature_names, recipe_spec
from softscope.training.train import TrainingSet, build_training_set, fit_linear, fit_trees
from softscope.training.windows import Window, windows_by_strain

__all__ = [
    "Window",
    "windows_by_strain",
    "TrainingSet",
    "build_training_set",
    "fit_linear",
    "fit_trees",
    "Sample",
    "find_samples",
    "sample_windows",
    "split_samples",
    "train_recipe",
    "run_evaluation",
    "RECIPES",
    "recipe_spec",
    "recipe_feature_names",
]
