"""What crosses the boundary between the C++ plugin and the Python fix objects.

- :class:`PluginLayout`: what a fix object tells the C++ fix once, at creation (numbers of
  per-atom columns, intervals, ghost cutoff, sizes of the global outputs);
- :class:`AtomView`: zero-copy numpy views of LAMMPS per-atom memory for one hook call,
  built by :func:`make_view` from the C++ context tuple;
- :class:`ForwardComm`: a hook's request to copy columns of owned atoms to their ghosts;
- :func:`unpack_image`: LAMMPS's packed image flags as (ix, iy, iz).

The protocol itself (hooks, return values): :mod:`softscope.lammps_fix.bridge`.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from softscope.errors import SoftscopeError

__all__ = ["AtomView", "ForwardComm", "PluginLayout", "make_view", "unpack_image"]


class PluginLayout(NamedTuple):
    """The fix's shape as the C++ constructor reads it (this order, these types).

    ``nout`` output columns (``f_ID[1..nout]``) and ``nstate`` state columns, float64 per
    atom, migrating with atoms and saved in restarts, then ``nscratch`` scratch columns
    (valid within one hook only, never migrated or saved); ``nevery``: evaluation interval
    (steps); ``ghost_cutoff``: reach the fix needs from ghost atoms (length unit);
    ``scalar``: 1 if the fix has a global scalar; ``size_vector``: length of its global
    vector; ``want_min``: 1 to get the minimizer hooks; ``sample_every``: interval of the
    ``sample`` hook (steps, 0 = never).
    """

    nout: int
    nstate: int
    nevery: int
    ghost_cutoff: float
    scalar: int
    size_vector: int
    want_min: int
    nscratch: int
    sample_every: int


@dataclass(frozen=True)
class ForwardComm:
    """Request: copy store columns ``first .. first + n - 1`` (0-based, numbered over
    outputs, then state, then scratch) of owned atoms to their ghost atoms."""

    first: int
    n: int = 1


@dataclass(frozen=True, eq=False)
class AtomView:
    """Zero-copy views of LAMMPS per-atom memory, valid during one hook call only.

    ``x`` (nlocal + nghost, 3) positions (length unit, ghosts are periodic images),
    ``type`` / ``tag`` / ``mask`` (nlocal + nghost,) int32; ``out`` (nlocal + nghost, nout),
    ``state`` (nlocal + nghost, nstate) and ``scratch`` (nlocal + nghost, nscratch) float64:
    this fix's columns (ghost rows hold what the last forward communication put there);
    ``image`` (nlocal,) int32 LAMMPS image flags (``LAMMPS_SMALLBIG`` packing, see
    :func:`unpack_image`).
    """

    step: int
    nlocal: int
    nghost: int
    x: np.ndarray
    type: np.ndarray
    tag: np.ndarray
    mask: np.ndarray
    out: np.ndarray
    state: np.ndarray
    scratch: np.ndarray | None = None
    image: np.ndarray | None = None

    @property
    def ntotal(self) -> int:
        return self.nlocal + self.nghost


def make_view(ctx: tuple) -> AtomView:
    """Build an :class:`AtomView` from the C++ context tuple."""
    step, nlocal, nghost, nmax, nout, nstate, px, ptype, ptag, pmask, pout, pstate = ctx[:12]
    nscratch, pscratch, pimage = ctx[12:15] if len(ctx) >= 15 else (0, 0, 0)
    n = nlocal + nghost
    if n > nmax:
        raise SoftscopeError(f"inconsistent atom counts: nlocal+nghost={n} > nmax={nmax}")

    def arr(addr, ctype, shape, dtype):
        if addr == 0 or int(np.prod(shape)) == 0:
            return np.zeros(shape, dtype=dtype)
        return np.ctypeslib.as_array((ctype * int(np.prod(shape))).from_address(addr)).reshape(
            shape
        )

    return AtomView(
        step=int(step),
        nlocal=int(nlocal),
        nghost=int(nghost),
        x=arr(px, ctypes.c_double, (n, 3), np.float64),
        type=arr(ptype, ctypes.c_int32, (n,), np.int32),
        tag=arr(ptag, ctypes.c_int32, (n,), np.int32),  # tagint is int32 (LAMMPS_SMALLBIG)
        mask=arr(pmask, ctypes.c_int32, (n,), np.int32),
        out=arr(pout, ctypes.c_double, (n, nout), np.float64),
        state=arr(pstate, ctypes.c_double, (n, nstate), np.float64),
        scratch=arr(pscratch, ctypes.c_double, (n, nscratch), np.float64),
        image=arr(pimage, ctypes.c_int32, (nlocal,), np.int32),  # imageint = int32
    )


def unpack_image(image: np.ndarray) -> np.ndarray:
    """(n, 3) int64 image counts (ix, iy, iz) from packed LAMMPS image flags.

    ``LAMMPS_SMALLBIG``: 10 bits per direction, offset 512.  The unwrapped position is
    ``x + (ix, iy, iz) @ H`` with H's rows the box vectors a, b, c (``Domain::unmap``).
    """
    img = np.asarray(image).astype(np.int64)
    return np.stack([(img & 1023) - 512, ((img >> 10) & 1023) - 512, (img >> 20) - 512], axis=1)
