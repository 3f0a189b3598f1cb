"""Coarse-graining: the mean of per-atom values over the atom and its neighbours.

    CG[v](i; r_cg) = ( v_i + Σ_{j : 0 < r_ij < r_cg} v_j ) / (1 + n_i)

Periodic images of an atom count as separate neighbours (as everywhere in softscope).
This is also LAMMPS ``compute entropy/atom … avg yes r_avg``'s neighbour average.
"""

from __future__ import annotations

import numpy as np

from softscope._jit import nb
from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.neighbors import NeighborList, neighbor_list

__all__ = ["coarse_grain", "coarse_grain_from_neighbors", "coarse_grain_names"]


def coarse_grain(frame: Frame, values: np.ndarray, r_cg: float) -> np.ndarray:
    """Mean of ``values`` (N,) or (N, F) over each atom and its neighbours within ``r_cg``.

    Returns float64 of the same shape as ``values``.
    """
    vals = np.asarray(values, dtype=np.float64)
    if vals.shape[0] != len(frame):
        raise SoftscopeError(
            f"values has {vals.shape[0]} rows but the frame has {len(frame)} atoms"
        )
    nl = neighbor_list(frame, r_cg)
    return coarse_grain_from_neighbors(nl, vals[nl.point_atom], r_cg)


def coarse_grain_from_neighbors(
    nl: NeighborList, point_values: np.ndarray, r_cg: float
) -> np.ndarray:
    """Kernel face: ``point_values`` holds a value row for every point of ``nl.points``.

    Returns the coarse-grained values of the ``nl.n_query`` query atoms.
    """
    pv = np.asarray(point_values, dtype=np.float64)
    squeeze = pv.ndim == 1
    if squeeze:
        pv = pv[:, None]
    if pv.shape[0] != nl.points.shape[0]:
        raise SoftscopeError(
            f"point_values has {pv.shape[0]} rows, the neighbour list has {nl.points.shape[0]} points"
        )
    if not np.isfinite(pv[: nl.n_query]).all():
        raise SoftscopeError("values to coarse-grain contain NaN or inf")
    sub = nl.within(float(r_cg))
    out = _cg_kernel(sub.offsets, sub.neigh, np.ascontiguousarray(pv))
    return out[:, 0] if squeeze else out


def coarse_grain_names(names: list[str], r_cg: float) -> list[str]:
    """Feature names of coarse-grained features, e.g. ``cg4.0(G_Cu(2.4))``."""
    return [f"cg{r_cg:g}({n})" for n in names]


@nb.njit(parallel=True, cache=True)
def _cg_kernel(offsets, neigh, pv):
    n = offsets.shape[0] - 1
    nf = pv.shape[1]
    out = np.empty((n, nf), dtype=np.float64)
    for i in nb.prange(n):
        for f in range(nf):
            out[i, f] = pv[i, f]
        for p in range(offsets[i], offsets[i + 1]):
            j = neigh[p]
            for f in range(nf):
                out[i, f] += pv[j, f]
        inv = 1.0 / (1.0 + offsets[i + 1] - offsets[i])
        for f in range(nf):
            out[i, f] *= inv
    return out
