"""Per-atom structural descriptors: pure functions of a :class:`~softscope.Frame`.

Each module is one physical concept and has two faces:

- ``name(frame, ...)`` — the public function: builds neighbours with
  :mod:`softscope.neighbors` and returns an (N, F) float64 array;
- ``name_from_neighbors(nl, point_species, ...)`` — the kernel face used by the
  LAMMPS adapter (local + ghost atoms) and by :class:`DescriptorSpec`, so that a
  neighbour list built once is shared by every feature block.
"""

from __future__ import annotations

from softscope.descriptors.angular import angular
from softscope.descriptors.coarse_grain import coarse_grain
from softscope.descriptors.entropy import entropy
from softscope.descriptors.interstice import interstice
from softscope.descriptors.radial import radial
from softscope.descriptors.spec import DescriptorSpec

# Functions share their module's name, so they are imported eagerly (a lazy
# ``__getattr__`` would be shadowed by the submodule once it is imported).
__all__ = ["radial", "angular", "entropy", "interstice", "coarse_grain", "DescriptorSpec"]
