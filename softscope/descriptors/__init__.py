"""Per-atom structural descriptors: pure functions of a :class:`~softscope.Frame`.

Each module is one physical concept and has two faces:

- ``name(frame, ...)`` — the public function: builds neighbours with
  :mod:`softscope.neighbors` and returns an (N, F) float64 array;
- a points face (``radial_from_points``, ``name_from_neighbors`` on a list built by
  :func:`softscope.neighbors.build_from_points`, ...) for local + ghost atoms or a
  frame's atoms + periodic images, reached through the block kind's ``compute_points``
  (the route of :class:`softscope.models.evaluator.Evaluator`).

Each descriptor module also registers its block kind for :class:`DescriptorSpec`
(:func:`softscope.descriptors.registry.register_block`); importing this package imports
every built-in kind.
"""

from __future__ import annotations

import softscope.descriptors.external  # noqa: F401  (registers the "external" block kind)
from softscope.descriptors.angular import angular
from softscope.descriptors.coarse_grain import coarse_grain
from softscope.descriptors.entropy import entropy
from softscope.descriptors.interstice import interstice
from softscope.descriptors.radial import radial
from softscope.descriptors.registry import register_block
from softscope.descriptors.spec import DescriptorSpec

# Functions share their module's name, so they are imported eagerly (a lazy
# ``__getattr__`` would be shadowed by the submodule once it is imported).
__all__ = [
    "radial",
    "angular",
    "entropy",
    "interstice",
    "coarse_grain",
    "DescriptorSpec",
    "register_block",
]
