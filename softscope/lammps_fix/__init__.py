"""LAMMPS adapter: the Python side of ``fix softscope`` (see :mod:`.bridge`).

The C++ plugin only forwards hooks and owns per-atom storage; the logic is in
:mod:`softscope.lammps_fix.bridge`.  With the ``lmp`` launcher the plugin loads
automatically; with the ``lammps`` Python module call :func:`load` first.
"""

from __future__ import annotations

__all__ = ["attach_external", "load"]


def attach_external(lmp, args: str):
    """Plugin-free fallback on one rank: see :func:`softscope.lammps_fix.external.attach_external`."""
    from softscope.lammps_fix.external import attach_external as _attach

    return _attach(lmp, args)


def load(lmp) -> None:
    """Make ``fix softscope`` available in a ``lammps.lammps`` instance (``plugin load``).

    Does nothing when the style is already known (e.g. auto-loaded from
    ``LAMMPS_PLUGIN_PATH``).
    """
    from softscope.plugins import plugin_path

    if lmp.has_style("fix", "softscope"):
        return
    lmp.command(f"plugin load {plugin_path()}")
