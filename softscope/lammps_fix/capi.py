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
import re
from functools import lru_cache

import numpy as np

from softscope.errors import SoftscopeError

__all__ = ["LammpsAPI", "parse_reference"]

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
    lib.lammps_extract_compute.argtypes = [_vp, _cp, ctypes.c_int, ctypes.c_int]
    lib.lammps_extract_compute.restype = _vp
    lib.lammps_extract_fix.argtypes = [_vp, _cp, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.lammps_extract_fix.argtypes += [ctypes.c_int]
    lib.lammps_extract_fix.restype = _vp
    lib.lammps_extract_variable.argtypes = [_vp, _cp, _cp]
    lib.lammps_extract_variable.restype = _vp
    lib.lammps_free.argtypes = [_vp]
    lib.lammps_free.restype = None
    return lib


# library.h constants
_STYLE_ATOM, _TYPE_VECTOR, _TYPE_ARRAY, _SIZE_COLS = 1, 1, 2, 5
_REF = re.compile(r"^(c|f|v)_([A-Za-z0-9_]+)(?:\[([0-9]+)\])?$")


def parse_reference(ref: str) -> tuple[str, str, int]:
    """``c_ID``, ``c_ID[k]``, ``f_ID``, ``f_ID[k]`` or ``v_name`` -> (kind, name, column
    k, 0 for a per-atom vector), as LAMMPS input scripts write them."""
    m = _REF.match(ref)
    if m is None or (m.group(1) == "v" and m.group(3)):
        raise SoftscopeError(
            f"{ref!r} is not a per-atom reference: use c_ID, c_ID[k], f_ID, f_ID[k] or v_name"
        )
    return m.group(1), m.group(2), int(m.group(3) or 0)


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

    def peratom(self, ref: str, nlocal: int) -> np.ndarray:
        """(nlocal,) copy of a per-atom quantity of this rank's atoms: a compute's vector or
        column (``c_ID``, ``c_ID[k]``; LAMMPS invokes the compute if it is not current), a
        fix's (``f_ID``, ``f_ID[k]``; as the fix last set it) or an atom-style variable
        (``v_name``, evaluated now)."""
        kind, name, col = parse_reference(ref)
        h, key = self.handle, name.encode()
        if kind == "v":
            p = self.lib.lammps_extract_variable(h, key, b"all")
            if not p:
                raise SoftscopeError(f"{ref}: no atom-style variable {name!r}")
            try:
                return np.ctypeslib.as_array(ctypes.cast(p, _dp), shape=(nlocal,)).copy()
            finally:
                self.lib.lammps_free(p)
        if kind == "c":
            cols_p = self.lib.lammps_extract_compute(h, key, _STYLE_ATOM, _SIZE_COLS)
            if not cols_p:
                raise SoftscopeError(f"{ref}: no compute {name!r} with per-atom values")
            ncols = int(ctypes.cast(cols_p, _ip)[0])
            typ = _TYPE_ARRAY if ncols else _TYPE_VECTOR
            p = self.lib.lammps_extract_compute(h, key, _STYLE_ATOM, typ)
        else:
            ncols = -1  # a fix says its width only through its data: trust the reference
            typ = _TYPE_ARRAY if col else _TYPE_VECTOR
            p = self.lib.lammps_extract_fix(h, key, _STYLE_ATOM, typ, 0, 0)
            if not p:
                raise SoftscopeError(f"{ref}: no fix {name!r} with per-atom values")
        if ncols == 0 and col:
            raise SoftscopeError(f"{ref}: compute {name!r} gives one value per atom; use c_{name}")
        if ncols > 0 and not 1 <= col <= ncols:
            raise SoftscopeError(
                f"{ref}: compute {name!r} gives {ncols} values per atom; use c_{name}[k], "
                f"1 <= k <= {ncols}"
            )
        if nlocal == 0:
            return np.zeros(0)
        if not p:
            raise SoftscopeError(f"{ref}: LAMMPS holds no per-atom values for it now")
        if typ == _TYPE_VECTOR:
            return np.ctypeslib.as_array(ctypes.cast(p, _dp), shape=(nlocal,)).copy()
        # a per-atom array is one contiguous block with row pointers: its row stride is the
        # distance of the first two rows (a fix's width is not in the library interface)
        rows = ctypes.cast(p, ctypes.POINTER(_dp))
        first = ctypes.cast(rows[0], ctypes.c_void_p).value
        stride = col
        if nlocal > 1:
            stride = (ctypes.cast(rows[1], ctypes.c_void_p).value - first) // 8
        if stride < col:
            raise SoftscopeError(f"{ref}: fix {name!r} has fewer than {col} values per atom")
        block = np.ctypeslib.as_array(rows[0], shape=((nlocal - 1) * stride + col,))
        return block[col - 1 :: stride][:nlocal].copy()
