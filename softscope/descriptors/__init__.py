"""Per-atom structural descriptors: pure functions of a :class:`~softscope.Frame`.

Each module is one physical concept and has two faces:

- ``name(frame, ...)`` — the public function: builds neighbours with
  :mod:`softscope.neighbors` and returns an (N, F) float64 array;
- ``name_from_neighbors(nl, point_species, ...)`` — the kernel face used by the
  LAMMPS adapter (local + ghost atoms) and by :class:`DescriptorSpec`, so that a
  neighbour list built once is shared by every feature block.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "radial": "softscope.descriptors.radial",
    "angular": "softscope.descriptors.angular",
    "entropy": "softscope.descriptors.entropy",
    "interstice": "softscope.descriptors.interstice",
    "coarse_grain": "softscope.descriptors.coarse_grain",
    "DescriptorSpec": "softscope.descriptors.spec",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'softscope.descriptors' has no attribute {name!r}")
