"""OVITO modifiers: the softscope core inside OVITO pipelines and OVITO Pro's GUI.

One :class:`ovito.pipeline.ModifierInterface` class per modifier; they only adapt
OVITO data to the core (models, descriptors, D²min, p_hop, metrics):

- :class:`PredictModifier` — a model's prediction ("Softness (softscope)");
- :class:`FeaturesModifier` — raw descriptor features ("Structural features (softscope)");
- :class:`RearrangementModifier` — D²min vs the prediction, metrics and plots
  ("Rearrangements vs prediction (softscope)");
- :class:`PhopModifier` — p_hop of thermal trajectories ("p_hop (softscope)").

Importing this package imports ``ovito``.
"""

from __future__ import annotations

from softscope.ovito_modifiers.features import FeaturesModifier
from softscope.ovito_modifiers.phop import PhopModifier
from softscope.ovito_modifiers.predict import PredictModifier
from softscope.ovito_modifiers.rearrangement import RearrangementModifier

__all__ = ["PredictModifier", "FeaturesModifier", "RearrangementModifier", "PhopModifier"]
