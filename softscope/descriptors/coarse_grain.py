"""Coarse-graining: the mean of per-atom values over the atom and its neighbours.

    CG[v](i; r_cg) = ( v_i + Σ_{j : 0 < r_ij < r_cg} v_j ) / (1 + n_i)

Periodic images of an atom count as separate neighbours (as everywhere in softscope).
This is also LAMMPS ``compute entropy/atom … avg yes r_avg``'s neighbour average.

With a ``taper`` width δ > 0 (length; default 0, the convention above) the mean is
weighted, w(r) = 1 for r ≤ r_cg − δ, ½[1 + cos(π (r − r_cg + δ)/δ)] up to r_cg, 0 beyond:

    CG_δ[v](i; r_cg) = ( v_i + Σ_j w(r_ij) v_j ) / (1 + Σ_j w(r_ij))

continuous in the positions, so a neighbour crossing r_cg no longer makes every
coarse-grained feature of the atom jump (docs/training.md, "Smooth recipes").

Faces: :func:`coarse_grain` (periodic frame), :func:`coarse_grain_from_neighbors` (a
prebuilt neighbour list), and for local + ghost points (LAMMPS, no stored pair list: one
cell-list walk for all radii) :func:`coarse_grain_points` and
:func:`coarse_grain_diagonal`.  All count the pairs with d² < r_cg² (the neighbour
engine's pairs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from softscope._jit import nb
from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.neighbors import NeighborList, cell_walk, gather, neighbor_list

__all__ = [
    "coarse_grain",
    "coarse_grain_from_neighbors",
    "coarse_grain_points",
    "coarse_grain_diagonal",
    "coarse_grain_names",
]


def coarse_grain(frame: Frame, values: np.ndarray, r_cg: float, taper: float = 0.0) -> np.ndarray:
    """Mean of ``values`` (N,) or (N, F) over each atom and its neighbours within ``r_cg``
    (weighted by the cosine ``taper`` of width δ when δ > 0; module docstring).

    Returns float64 of the same shape as ``values``.
    """
    vals = np.asarray(values, dtype=np.float64)
    if vals.shape[0] != len(frame):
        raise SoftscopeError(
            f"values has {vals.shape[0]} rows but the frame has {len(frame)} atoms"
        )
    nl = neighbor_list(frame, r_cg)
    return coarse_grain_from_neighbors(nl, vals[nl.point_atom], r_cg, taper)


def coarse_grain_from_neighbors(
    nl: NeighborList, point_values: np.ndarray, r_cg: float, taper: float = 0.0
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
    r_cg, taper = float(r_cg), _check_taper(taper, (r_cg,))
    sub = nl.within(r_cg)
    out = _cg_kernel(sub.offsets, sub.neigh, sub.dist, np.ascontiguousarray(pv), r_cg, taper)
    return out[:, 0] if squeeze else out


def coarse_grain_points(
    points: np.ndarray,
    values: np.ndarray,
    n_query: int,
    radii: Sequence[float],
    with_raw: bool = True,
    taper: float = 0.0,
) -> np.ndarray:
    """``[values[:n_query] | cg(r_1) | cg(r_2) ...]`` of the query points
    ``points[:n_query]`` among all ``points`` (M, 3, length unit; no periodicity added),
    (n_query, F·(1 + len(radii))) float64; without the first block when ``with_raw`` is
    False.

    ``values`` (M, F): one row per point (for LAMMPS, ghost rows copied from their
    owners); points must reach max(radii) beyond every query point.  cg(r) is the mean
    over the query point and every other point with d² < r² (weighted by the ``taper``).
    """
    pts = np.ascontiguousarray(points, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    n_query, r = _check_walk_inputs(pts, vals, n_query, radii)
    taper = _check_taper(taper, r)
    nf = vals.shape[1]
    out = np.empty((n_query, nf * (int(with_raw) + len(r))))
    if with_raw:
        out[:, :nf] = vals[:n_query]
    if n_query == 0:
        return out
    cell_start, cell_points, bin_of, nb3, xyz, slot, max_cand, st = cell_walk(
        pts, max(r), n_query=n_query
    )
    vals_sorted = np.ascontiguousarray(vals[cell_points], dtype=np.float64)
    r2 = np.array([x * x for x in r], dtype=np.float64)
    _cg_fused(
        xyz,
        vals_sorted,
        pts[:n_query],
        slot[:n_query],
        bin_of[:n_query],
        cell_start,
        nb3,
        st,
        max_cand,
        r2,
        taper,
        out,
    )
    return out


def coarse_grain_diagonal(
    points: np.ndarray,
    values: np.ndarray,
    n_query: int,
    radii: Sequence[float],
    taper: float = 0.0,
) -> np.ndarray:
    """Σ_k of column k of ``values`` (M, K) coarse-grained over ``radii[k]`` (K = number
    of radii), for the query points ``points[:n_query]``: (n_query,) float64.

    The diagonal of :func:`coarse_grain_points` (``with_raw=False``) summed over k, bit
    for bit, without its (n_query, K²) array and with K× less work: the coarse-grained
    terms of a linear model, one projection per radius.  ``values`` may have any strides
    (it is read in place)."""
    pts = np.ascontiguousarray(points, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    nr = len(radii)
    if vals.ndim != 2 or vals.shape != (pts.shape[0], nr):
        raise SoftscopeError(
            f"point_values must have shape ({pts.shape[0]}, {nr}) (one column per "
            f"coarse-graining radius), got {vals.shape}"
        )
    n_query, r = _check_walk_inputs(pts, vals, n_query, radii)
    taper = _check_taper(taper, r)
    out = np.zeros(n_query)
    if n_query == 0:
        return out
    cell_start, cell_points, bin_of, nb3, xyz, slot, max_cand, st = cell_walk(
        pts, max(r), n_query=n_query
    )
    r2 = np.array([x * x for x in r], dtype=np.float64)
    _cg_diagonal(
        xyz,
        vals,
        cell_points,
        slot[:n_query],
        bin_of[:n_query],
        cell_start,
        nb3,
        st,
        max_cand,
        r2,
        taper,
        out,
    )
    return out


def _check_taper(taper: float, radii: Sequence[float]) -> float:
    t = float(taper)
    if not np.isfinite(t) or t < 0 or (t > 0 and t >= min(radii)):
        raise SoftscopeError(
            f"the coarse-graining taper must be a length in [0, {min(radii):g}) (below the "
            f"smallest radius), got {taper}"
        )
    return t


def _check_walk_inputs(pts, vals, n_query, radii) -> tuple[int, tuple[float, ...]]:
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise SoftscopeError(f"points must have shape (M, 3), got {pts.shape}")
    if vals.ndim != 2 or vals.shape[0] != pts.shape[0]:
        raise SoftscopeError(f"values must have shape ({pts.shape[0]}, F), got {vals.shape}")
    n_query = int(n_query)
    if not 0 <= n_query <= pts.shape[0]:
        raise SoftscopeError(f"n_query={n_query} must lie in [0, {pts.shape[0]}]")
    r = tuple(float(x) for x in radii)
    if not r or any(not np.isfinite(x) or x <= 0 for x in r):
        raise SoftscopeError(f"coarse-graining radii must be positive lengths, got {r}")
    if not np.isfinite(vals[:n_query]).all():
        raise SoftscopeError("values to coarse-grain contain NaN or inf")
    return n_query, r


def coarse_grain_names(names: list[str], r_cg: float) -> list[str]:
    """Feature names of coarse-grained features, e.g. ``cg4.0(G_Cu(2.4))``."""
    return [f"cg{r_cg:g}({n})" for n in names]


@nb.njit(cache=True, inline="always")
def _weight(d2, r2, taper):
    """Weight of a neighbour at squared distance d2 < r2 (the radius squared): 1 when
    taper = 0 (the plain mean), else the cosine taper over the last ``taper`` before √r2."""
    if taper <= 0.0:
        return 1.0
    x = np.sqrt(d2) - (np.sqrt(r2) - taper)
    if x <= 0.0:
        return 1.0
    return 0.5 * (1.0 + np.cos(np.pi * x / taper))


@nb.njit(parallel=True, cache=True)
def _cg_kernel(offsets, neigh, dist, pv, r_cg, taper):
    n = offsets.shape[0] - 1
    nf = pv.shape[1]
    r2 = r_cg * r_cg
    out = np.empty((n, nf), dtype=np.float64)
    for i in nb.prange(n):
        for f in range(nf):
            out[i, f] = pv[i, f]
        cnt = 1.0
        for p in range(offsets[i], offsets[i + 1]):
            j = neigh[p]
            w = _weight(dist[p] * dist[p], r2, taper)
            cnt += w
            for f in range(nf):
                out[i, f] += w * pv[j, f]
        inv = 1.0 / cnt
        for f in range(nf):
            out[i, f] *= inv
    return out


@nb.njit(
    parallel=True,
    cache=True,
    aot="void(f8[:,::1], f8[:,::1], f8[:,::1], i8[::1], i8[::1], i8[::1], i8[::1], i8, i8, "
    "f8[::1], f8, f8[:,::1])",
)
def _cg_fused(xyz, raw_sorted, qpos, qslot, qbin, cell_start, nb3, st, max_cand, r2, taper, out):
    """Per query point: the neighbours within max r (one gather), then the means, written
    to the last len(r2)·F columns of ``out``."""
    n = qpos.shape[0]
    nf = raw_sorted.shape[1]
    nr = r2.shape[0]
    r2max = r2.max()
    x = xyz[0]
    y = xyz[1]
    z = xyz[2]
    chunk = 256
    nchunk = (n + chunk - 1) // chunk
    for ch in nb.prange(nchunk):
        cand = np.empty(max_cand + 1, dtype=np.int64)
        cd2 = np.empty(max_cand + 1, dtype=np.float64)
        acc = np.empty((nr, nf))
        cnt = np.empty(nr)
        for i in range(ch * chunk, min((ch + 1) * chunk, n)):
            me = qslot[i]
            m = gather(
                x,
                y,
                z,
                qpos[i, 0],
                qpos[i, 1],
                qpos[i, 2],
                me,
                qbin[i],
                cell_start,
                nb3,
                st,
                r2max,
                cand,
                cd2,
            )
            for k in range(nr):
                cnt[k] = 1.0
                for f in range(nf):
                    acc[k, f] = raw_sorted[me, f]
            for t in range(m):
                q = cand[t]
                d2 = cd2[t]
                for k in range(nr):
                    if d2 < r2[k]:
                        w = _weight(d2, r2[k], taper)
                        cnt[k] += w
                        for f in range(nf):
                            acc[k, f] += w * raw_sorted[q, f]
            for k in range(nr):
                inv = 1.0 / cnt[k]
                base = out.shape[1] - nf * (nr - k)  # the cg blocks are the last nr * nf
                for f in range(nf):
                    out[i, base + f] = acc[k, f] * inv


@nb.njit(
    parallel=True,
    cache=True,
    aot="void(f8[:,::1], f8[:,:], i8[::1], i8[::1], i8[::1], i8[::1], i8[::1], i8, i8, "
    "f8[::1], f8, f8[::1])",
)
def _cg_diagonal(
    xyz, vals, cell_points, qslot, qbin, cell_start, nb3, st, max_cand, r2, taper, out
):
    """out[i] = Σ_k mean of column k over the query point and its points with d² < r2[k]
    (the terms and their order of :func:`_cg_fused`'s diagonal: sum, then × 1/count).
    ``vals`` (M, K), any strides (e.g. the LAMMPS fix's transit columns, read in place),
    read by point index through the cell order."""
    n = qslot.shape[0]
    nr = r2.shape[0]
    r2max = r2.max()
    x = xyz[0]
    y = xyz[1]
    z = xyz[2]
    chunk = 256
    nchunk = (n + chunk - 1) // chunk
    for ch in nb.prange(nchunk):
        cand = np.empty(max_cand + 1, dtype=np.int64)
        cd2 = np.empty(max_cand + 1, dtype=np.float64)
        acc = np.empty(nr)
        cnt = np.empty(nr)
        for i in range(ch * chunk, min((ch + 1) * chunk, n)):
            me = qslot[i]
            m = gather(
                x, y, z, x[me], y[me], z[me], me, qbin[i], cell_start, nb3, st, r2max, cand, cd2
            )
            pi = cell_points[me]
            for k in range(nr):
                cnt[k] = 1.0
                acc[k] = vals[pi, k]
            for t in range(m):
                pq = cell_points[cand[t]]
                d2 = cd2[t]
                for k in range(nr):
                    if d2 < r2[k]:
                        w = _weight(d2, r2[k], taper)
                        cnt[k] += w
                        acc[k] += w * vals[pq, k]
            s = 0.0
            for k in range(nr):
                s += acc[k] * (1.0 / cnt[k])
            out[i] = s
