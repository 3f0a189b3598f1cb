"""LAMMPS adapter: the Python side of ``fix softscope`` (see :mod:`.bridge`).

The C++ plugin only forwards hooks and owns per-atom storage; the logic is in
:mod:`softscope.lammps_fix.bridge`.  With the ``lmp`` launcher the plugin loads
automatically; with the ``lammps`` Python module call :func:`load` first.
"""

from __future__ import annotations

__all__ = ["load"]


def load(lmp) -> None:
    """Make ``fix softscope`` available in a ``lammps.lammps`` instance (``plugin load``).

    Does nothing when the style is already known (e.g. auto-loaded from
    ``LAMMPS_PLUGIN_PATH``).
    """
    from softscope.plugins import plugin_path

    if lmp.has_style("fix", "softscope"):
        return
    lmp.command(f"plugin load {plugin_path()}")
