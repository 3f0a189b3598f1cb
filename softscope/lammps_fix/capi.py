"""The few LAMMPS library calls the fix makes, through ctypes on the loaded ``liblammps``.

Inside ``lmp`` (and after ``from lammps import lammps``, which loads the library with
``RTLD_GLOBAL``) the C library interface (``library.h``: ``lammps_extract_global``,
``lammps_extract_box``, ``lammps_extract_atom``, ``lammps_get_natoms``) is in the
process's global symbol table.  Calling it directly spares every MPI rank the ``lammps``
Python module (~8 MB of resident memory per rank: its ctypes wrappers, ``pylammps``, and
the ``mpi4py`` version probe).  The values are those the ``lammps`` module returns.
"""

from __future__ import annotations

import ctypes
from functools import lru_cache

import numpy as np

from softscope.errors import SoftscopeError

__all__ = ["LammpsAPI"]

_vp, _cp, _dp, _ip = (
    ctypes.c_void_p,
    ctypes.c_char_p,
    ctypes.POINTER(ctypes.c_double),
    ctypes.POINTER(ctypes.c_int),
)


@lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(None)
    if not hasattr(lib, "lammps_extract_global"):
        # liblammps not in the global namespace: the lammps module loads it RTLD_GLOBAL
        from lammps import lammps  # noqa: F401

        lib = ctypes.CDLL(None)
        if not hasattr(lib, "lammps_extract_global"):
            raise SoftscopeError("the LAMMPS C library interface is not loaded")
    lib.lammps_extract_global.argtypes = [_vp, _cp]
    lib.lammps_extract_global.restype = _vp
    lib.lammps_extract_atom.argtypes = [_vp, _cp]
    lib.lammps_extract_atom.restype = _vp
    lib.lammps_get_natoms.argtypes = [_vp]
    lib.lammps_get_natoms.restype = ctypes.c_double
    lib.lammps_extract_box.argtypes = [_vp, _dp, _dp, _dp, _dp, _dp, _ip, _ip]
    lib.lammps_extract_box.restype = None
    return lib


class LammpsAPI:
    """A LAMMPS instance (its ``LAMMPS *`` handle) seen through the C library interface."""

    def __init__(self, handle: int) -> None:
        if not handle:
            raise SoftscopeError("no LAMMPS handle")
        self.handle = _vp(handle)
        self.lib = _lib()

    @classmethod
    def from_capsule(cls, capsule) -> LammpsAPI:
        """From the ``PyCapsule`` holding the ``LAMMPS *`` (the plugin passes one)."""
        get = ctypes.pythonapi.PyCapsule_GetPointer
        get.argtypes, get.restype = [ctypes.py_object, ctypes.c_char_p], ctypes.c_void_p
        return cls(get(capsule, None))

    def _global(self, name: str) -> int:
        p = self.lib.lammps_extract_global(self.handle, name.encode())
        if not p:
            raise SoftscopeError(f"LAMMPS has no global {name!r}")
        return p

    def units(self) -> str:
        """The run's unit style (``units`` command), e.g. "metal"."""
        return ctypes.cast(self._global("units"), _cp).value.decode()

    def ntypes(self) -> int:
        """Number of atom types."""
        return int(ctypes.cast(self._global("ntypes"), _ip)[0])

    def natoms(self) -> float:
        """Total number of atoms (all ranks)."""
        return float(self.lib.lammps_get_natoms(self.handle))

    def box(self) -> tuple[list[float], list[float], float, float, float, list[int]]:
        """(boxlo, boxhi, xy, yz, xz, periodicity) as ``lammps.extract_box`` gives them."""
        lo, hi = (ctypes.c_double * 3)(), (ctypes.c_double * 3)()
        xy, yz, xz = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
        per, change = (ctypes.c_int * 3)(), ctypes.c_int()
        self.lib.lammps_extract_box(
            self.handle,
            lo,
            hi,
            ctypes.byref(xy),
            ctypes.byref(yz),
            ctypes.byref(xz),
            per,
            ctypes.byref(change),
        )
        return list(lo), list(hi), xy.value, yz.value, xz.value, list(per)

    def type_masses(self) -> np.ndarray | None:
        """Per-type masses (ntypes,), or None when the atom style has per-atom masses or
        no masses are set."""
        if self.lib.lammps_extract_atom(self.handle, b"rmass"):
            return None
        p = self.lib.lammps_extract_atom(self.handle, b"mass")
        if not p:
            return None
        n = self.ntypes()
        return np.ctypeslib.as_array(ctypes.cast(p, _dp), shape=(n + 1,))[1:].copy()
