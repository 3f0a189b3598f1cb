"""LAMMPS adapter: the Python side of ``fix softscope``.

The C++ plugin only forwards hooks and owns per-atom storage; the logic is in Python:

- :mod:`.bridge`: entry point of the C++ calls (``create``, ``dispatch``), the fix styles;
- :mod:`.protocol`: what crosses the boundary (atom views, forward-communication
  requests, the plugin layout);
- :mod:`.base`, :mod:`.model_fix`, :mod:`.debug_fix`: the fix styles, each with its
  keyword table (:mod:`.keywords`) and named per-atom columns (:mod:`.columns`);
- :mod:`.outputs`: the names of the outputs; :mod:`.comm`: MPI collectives through the
  plugin; :mod:`.profiling`: phase timings; :mod:`.capi`: LAMMPS library calls;
- :mod:`.external`: the ``fix external`` fallback without the plugin.

With the ``lmp`` launcher the plugin loads automatically; with the ``lammps`` Python
module call :func:`load` first.
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
