"""Rearrangement measures: D²min (OVITO's convention), p_hop, and top-fraction labels.

D²min (Falk & Langer), as OVITO's ``AtomicStrainModifier`` computes it
---------------------------------------------------------------------
For atom i with neighbours j within ``cutoff`` in the **reference** frame
(every periodic image within the cutoff is a separate neighbour, also when the
cutoff exceeds half the cell):

    V = Σ_j d_ij(0) d_ij(0)ᵀ,  W = Σ_j d_ij(t) d_ij(0)ᵀ,  F = W V⁻¹ (the J of CONVENTIONS.md)
    D²min(i) = Σ_j | d_ij(t) − F d_ij(0) |²        (length², NOT divided by the count)

with OVITO's defaults ``affine_mapping = Off`` and ``minimum_image_convention = True``:

- ``d_ij(0)`` is the reference neighbour vector (reference cell H0);
- each atom's displacement is taken in reduced coordinates,
  ``Δs_i = H1⁻¹(r_i(t) − o1) − H0⁻¹(r_i(0) − o0)``, wrapped to the nearest image
  along periodic directions (so wrapped current positions are handled, provided no
  atom moves more than half a cell width between the two frames);
- ``d_ij(t) = H1 (H0⁻¹ d_ij(0) + Δs_j − Δs_i)``: the current vector between the
  *same image* of j as in the reference, in the current cell H1.

An atom is **invalid** (OVITO's criterion) when it has fewer than 3 neighbours, or
``|det V| ≤ 1e-12 Σ_j |d_ij(0)|²``, or ``|det W| ≤`` the same threshold. OVITO writes 0
for such atoms; softscope writes NaN, warns with the count, and can return the mask.

LAMMPS's ``fix nonaffine/displacement … d2min`` is a different measure: see
:func:`lammps_nonaffine_to_sum`.

p_hop (Candelier et al.)
------------------------
See :func:`phop`. Labels: :func:`top_fraction`, :func:`labels`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from softscope._jit import nb
from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.neighbors import CellWalk, cell_walk, gather, image_points, neighbor_list

__all__ = [
    "d2min",
    "d2min_from_points",
    "d2min_from_walk",
    "d2min_min_image",
    "d2min_since_reference",
    "d2min_from_vectors",
    "continued_cell",
    "d2min_names",
    "lammps_nonaffine_to_sum",
    "phop",
    "top_fraction",
    "nothing_moved",
    "labels",
]

#: OVITO's relative singularity threshold: |det| <= DET_EPS * Σ|d(0)|² is singular.
DET_EPS = 1e-12


# --------------------------------------------------------------------------- D2min
def d2min(
    reference: Frame,
    current: Frame,
    cutoff: float,
    return_invalid: bool = False,
    minimum_image: bool = True,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """D²min of every atom between ``reference`` and ``current`` (OVITO's convention).

    Parameters
    ----------
    reference, current : the two frames; atoms are matched by ``ids`` (the current
        frame may list them in any order). Same atom count, same id set, same species
        per id and same ``pbc`` are required. (Frames built without ids get 1..N, i.e.
        they are then matched by list position.)
    cutoff : neighbour cutoff in the reference frame (length unit, e.g. Å).
    return_invalid : also return the (N,) bool mask of invalid atoms.
    minimum_image : wrap each atom's reduced displacement to the nearest periodic
        image (OVITO's ``minimum_image_convention``, default True). Set False only
        for unwrapped coordinates of atoms that may move more than half a cell.

    Returns
    -------
    (N,) float64 D²min in length², in the order of ``reference``'s atoms; NaN for
    invalid atoms (fewer than 3 non-coplanar neighbours; a warning gives the count).
    With ``return_invalid=True``: ``(values, invalid)``.
    """
    _check_pair(reference, current)
    cur_index = _match_by_id(reference, current)
    cur_pos = current.positions[cur_index]

    s0 = reference.reduced_positions()
    cell1 = continued_cell(reference, current.cell, cur_pos - current.origin)
    s1 = np.linalg.solve(cell1.T, (cur_pos - current.origin).T).T
    ds = s1 - s0
    if minimum_image:
        for k in range(3):
            if reference.pbc[k]:
                ds[:, k] -= np.floor(ds[:, k] + 0.5)

    nl = neighbor_list(reference, float(cutoff))
    # d_ij(t) = H1 (H0⁻¹ d_ij(0) + Δs_j − Δs_i) in rows: (d0 @ inv0 + ds_j − ds_i) @ cell1,
    # computed on the fly (no per-pair arrays); same algebra as d2min_from_vectors.
    values, invalid = _d2min_frame_kernel(
        nl.offsets,
        nl.neigh,
        nl.points,
        nl.point_atom,
        np.ascontiguousarray(ds),
        np.linalg.inv(reference.cell),
        np.ascontiguousarray(cell1),
        DET_EPS,
    )
    return _finish(values, invalid, return_invalid)


def continued_cell(reference: Frame, cell: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The current cell ``cell`` (rows a, b, c) written in the lattice basis that continues
    the reference cell's: ``L @ cell`` with L = [[1,0,0],[k1,1,0],[k2,k3,1]] (integers),
    the same periodic lattice.  A LAMMPS box flip (``fix deform``, ``flip yes``: tilt xy
    jumps by ±a, xz by ±a, yz by ±b) changes the basis, not the lattice; undoing it makes
    reduced displacements small again.  Of the candidate bases around round(H0 H1⁻¹),
    the one with the smallest sum of squared minimum-image displacements of the atoms
    (``positions`` relative to the origin, in ``reference``'s atom order; up to 4096
    atoms sampled) is returned; the unchanged cell unless another basis is strictly
    better."""
    cell = np.asarray(cell, dtype=np.float64)
    pbc = np.array(reference.pbc)
    if not pbc.all():  # flips need the tilt's axes periodic; only full pbc is searched
        return cell
    stride = max(1, len(reference) // 4096)
    s0 = reference.reduced_positions()[::stride]
    x1 = np.asarray(positions, dtype=np.float64)[::stride]

    def score(h: np.ndarray) -> float:
        ds = x1 @ np.linalg.inv(h) - s0
        ds -= np.floor(ds + 0.5)
        return float(((ds @ h) ** 2).sum())

    best, best_score = cell, score(cell)
    guess = reference.cell @ np.linalg.inv(cell)
    centre = np.rint([guess[1, 0], guess[2, 0], guess[2, 1]]).astype(int)
    for k1 in range(centre[0] - 2, centre[0] + 3):
        for k2 in range(centre[1] - 2, centre[1] + 3):
            for k3 in range(centre[2] - 2, centre[2] + 3):
                if k1 == k2 == k3 == 0:
                    continue
                lat = np.array([[1.0, 0.0, 0.0], [k1, 1.0, 0.0], [k2, k3, 1.0]])
                h = lat @ cell
                sc = score(h)
                if sc < best_score * (1.0 - 1e-9):
                    best, best_score = h, sc
    return best


def d2min_from_vectors(
    offsets: np.ndarray, d0: np.ndarray, d1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Kernel face: D²min from per-pair vectors in CSR order.

    ``offsets`` (n+1,) int64; ``d0``/``d1`` (P, 3): reference / current vector of
    each pair of atom i (pairs ``offsets[i]:offsets[i+1]``), in any consistent sign
    convention. Returns ``(values (n,) float64, invalid (n,) bool)``; invalid atoms
    (OVITO's criterion, see the module docstring) get NaN.
    """
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    d0 = np.ascontiguousarray(d0, dtype=np.float64)
    d1 = np.ascontiguousarray(d1, dtype=np.float64)
    if offsets.ndim != 1 or offsets.shape[0] < 1:
        raise SoftscopeError("offsets must be a 1-D CSR offset array of length n+1 >= 1")
    npair = int(offsets[-1])
    if d0.shape != (npair, 3) or d1.shape != (npair, 3):
        raise SoftscopeError(
            f"d0 and d1 must both have shape (P, 3) with P = offsets[-1] = {npair}; "
            f"got {d0.shape} and {d1.shape}"
        )
    if offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        raise SoftscopeError("offsets must start at 0 and be non-decreasing")
    return _d2min_kernel(offsets, d0, d1, DET_EPS)


def d2min_from_points(
    reference: np.ndarray, current: np.ndarray, n_query: int, cutoff: float
) -> tuple[np.ndarray, np.ndarray]:
    """Kernel face for LAMMPS: D²min of ``reference[:n_query]`` from free points.

    ``reference`` / ``current`` (M, 3): every point's reference and current position
    (local then ghost atoms, each ghost an image already placed; no periodicity is
    added).  Neighbours: points within ``cutoff`` of the query point in the
    **reference** positions (OVITO's convention); pair vectors are differences of the
    points.  Same values as :func:`d2min_from_vectors` on those pairs (to rounding: the
    sums run in cell order), without storing pair lists.  Returns ``(values, invalid)``.
    """
    x0 = np.ascontiguousarray(reference, dtype=np.float64)
    if x0.ndim != 2 or x0.shape[1] != 3 or np.shape(current) != x0.shape:
        raise SoftscopeError(
            f"reference and current must both be (M, 3) arrays, got {x0.shape} and "
            f"{np.shape(current)}"
        )
    _check_cutoff(cutoff)
    if not 0 <= int(n_query) <= x0.shape[0]:
        raise SoftscopeError(f"n_query must be in [0, {x0.shape[0]}], got {n_query}")
    if int(n_query) == 0:
        return np.empty(0), np.zeros(0, dtype=bool)
    return d2min_from_walk(cell_walk(x0, cutoff, n_query=int(n_query)), current, n_query, cutoff)


def d2min_from_walk(
    walk: CellWalk, current: np.ndarray, n_query: int, cutoff: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`d2min_from_points` with the reference points already binned
    (``walk = cell_walk(reference, cutoff)``), so that a caller can drop its (M, 3)
    reference array before the kernel runs (the LAMMPS fix's peak memory).  The kernel
    reads ``current`` through the walk's cell order: no cell-ordered copy of it."""
    x1 = np.ascontiguousarray(current, dtype=np.float64)
    m = walk.cell_points.shape[0]
    if x1.shape != (m, 3):
        raise SoftscopeError(f"current must be an ({m}, 3) array, got {x1.shape}")
    n_query = int(n_query)
    if not 0 <= n_query <= walk.slot.shape[0]:
        raise SoftscopeError(
            f"n_query must be in [0, {walk.slot.shape[0]}] (the walk's query points), got {n_query}"
        )
    _check_cutoff(cutoff)
    if n_query == 0:
        return np.empty(0), np.zeros(0, dtype=bool)
    return _d2min_points_kernel(
        walk.xyz,
        x1,
        walk.cell_points,
        walk.slot[:n_query],
        walk.bin_of[:n_query],
        walk.cell_start,
        walk.nb3,
        walk.st,
        walk.max_cand,
        float(cutoff) ** 2,
        DET_EPS,
    )


def d2min_since_reference(
    reference_reduced: np.ndarray,
    reference_cell: np.ndarray,
    reference_origin: np.ndarray,
    current: np.ndarray,
    cell: np.ndarray,
    pbc,
    n_query: int,
    cutoff: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """D²min of atoms ``0..n_query-1`` since a reference (the LAMMPS fix's face).

    ``reference_reduced`` (n, 3): the atoms' reduced positions in ``reference_cell`` /
    ``reference_origin`` (the query atoms first, then any other atoms they may neighbour);
    ``current`` (n, 3): the same atoms' positions now, any periodic image each, in
    ``cell`` (rows = cell vectors, periodic along ``pbc``).  Reference neighbours: a
    periodic search within ``cutoff`` in the reference cell; current pair vectors: the
    minimum image in ``cell`` (:func:`d2min_min_image`), so a box flip between the
    reference and now changes nothing.  Returns ``(values, invalid, counts)`` as
    :func:`d2min_min_image`."""
    pts, point_atom = image_points(reference_reduced, reference_cell, reference_origin, pbc, cutoff)
    walk = cell_walk(pts, cutoff, n_query=n_query)
    del pts
    return d2min_min_image(walk, point_atom, current, cell, pbc, n_query, cutoff)


def d2min_min_image(
    walk: CellWalk,
    point_atom: np.ndarray,
    current: np.ndarray,
    cell: np.ndarray,
    pbc,
    n_query: int,
    cutoff: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kernel face for LAMMPS: D²min of atoms ``0..n_query-1`` from reference points
    binned in ``walk`` (``cell_walk`` of the reference positions, the query atoms first,
    then other atoms and periodic images; ``point_atom[p]`` = the atom point p stands
    for) and the atoms' **current** positions ``current`` (n_atoms, 3), any periodic
    image each.

    Neighbours: points within ``cutoff`` of the query in the reference positions
    (OVITO's convention).  Current pair vector: the minimum image, in ``cell`` (rows =
    cell vectors, periodic along ``pbc``), of current(j) − current(i).  That is OVITO's
    vector (``H1 (H0⁻¹ d(0) + Δs_j − Δs_i)``) whenever it is shorter than half the cell's
    smallest width, and it does not depend on which basis describes the current cell: a
    LAMMPS box flip between the reference and now changes nothing.  Returns
    ``(values, invalid, counts)``: D²min (length², NaN for invalid atoms), the invalid
    mask and each query's reference neighbour count."""
    x1 = np.ascontiguousarray(current, dtype=np.float64)
    point_atom = np.ascontiguousarray(point_atom, dtype=np.int64)
    m = walk.cell_points.shape[0]
    if x1.ndim != 2 or x1.shape[1] != 3:
        raise SoftscopeError(f"current must be an (n, 3) array, got {x1.shape}")
    if point_atom.shape != (m,) or (m and (point_atom.min() < 0 or point_atom.max() >= len(x1))):
        raise SoftscopeError(f"point_atom must be ({m},) indices into current's {len(x1)} rows")
    n_query = int(n_query)
    if not 0 <= n_query <= walk.slot.shape[0]:
        raise SoftscopeError(
            f"n_query must be in [0, {walk.slot.shape[0]}] (the walk's query points), got {n_query}"
        )
    _check_cutoff(cutoff)
    if n_query == 0:
        return np.empty(0), np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
    cell = np.ascontiguousarray(cell, dtype=np.float64)
    per = np.asarray(np.broadcast_to(np.asarray(pbc, dtype=bool), (3,)), dtype=np.float64)
    return _d2min_min_image_kernel(
        walk.xyz,
        x1,
        point_atom,
        walk.cell_points,
        walk.slot[:n_query],
        walk.bin_of[:n_query],
        walk.cell_start,
        walk.nb3,
        walk.st,
        walk.max_cand,
        float(cutoff) ** 2,
        np.ascontiguousarray(np.linalg.inv(cell)),
        cell,
        np.ascontiguousarray(per),
        DET_EPS,
    )


def _check_cutoff(cutoff) -> None:
    if not (cutoff > 0 and math.isfinite(cutoff)):
        raise SoftscopeError(f"cutoff must be positive, got {cutoff}")


def d2min_names(cutoff: float) -> list[str]:
    """Feature name of D²min for a cutoff, e.g. ``['D2min(3.7)']`` (OVITO convention)."""
    return [f"D2min({cutoff:g})"]


def lammps_nonaffine_to_sum(values: np.ndarray, n_neighbors: np.ndarray) -> np.ndarray:
    """Undo LAMMPS ``fix nonaffine/displacement … d2min``'s normalisation: ``n · v²``.

    LAMMPS reports ``v = sqrt(D²/n)`` with n and the neighbours j taken **within the
    pair (or custom) cutoff in the current frame**, the reference vectors by the
    minimum image of the stored reference positions, and 0 for singular atoms.
    This function returns ``n · v²``, the un-normalised sum over *those* neighbours.

    It is **not** OVITO's D²min in general: OVITO (and :func:`d2min`) sums over the
    neighbours within the cutoff in the *reference* frame; the two sets differ
    whenever a pair crosses the cutoff between frames (always, in practice, for
    rearranging atoms). There is no exact conversion; the two agree only if no pair
    crosses the cutoff. ``n_neighbors`` must be LAMMPS's own current-frame count.
    Atoms LAMMPS flagged singular (v = 0) come back as 0, not NaN: mask them yourself.
    """
    v = np.asarray(values, dtype=np.float64)
    n = np.asarray(n_neighbors, dtype=np.float64)
    if v.shape != n.shape:
        raise SoftscopeError(f"values {v.shape} and n_neighbors {n.shape} must have the same shape")
    if np.any(v < 0) or np.any(n < 0):
        raise SoftscopeError("LAMMPS nonaffine values and neighbour counts must be >= 0")
    return n * v * v


def _finish(values, invalid, return_invalid):
    n_bad = int(invalid.sum())
    if n_bad:
        warnings.warn(
            f"D2min undefined for {n_bad} of {invalid.shape[0]} atoms (fewer than 3 "
            "non-coplanar neighbours within the cutoff); their value is NaN. Increase "
            "the cutoff.",
            RuntimeWarning,
            stacklevel=3,
        )
    return (values, invalid) if return_invalid else values


def _check_pair(reference: Frame, current: Frame) -> None:
    if not isinstance(reference, Frame) or not isinstance(current, Frame):
        raise SoftscopeError("reference and current must be softscope Frame objects")
    if len(reference) != len(current):
        raise SoftscopeError(
            f"frames differ in size: {len(reference)} atoms in the reference (first) frame, "
            f"{len(current)} in the other; both frames must hold the same atoms"
        )
    if tuple(reference.pbc) != tuple(current.pbc):
        raise SoftscopeError(
            f"periodicity differs: reference pbc={reference.pbc}, current pbc={current.pbc}; "
            "both frames must have the same pbc"
        )


def _match_by_id(reference: Frame, current: Frame) -> np.ndarray:
    """Index into ``current`` of each reference atom (same id); checks ids and species."""
    rid = reference.ids
    cid = current.ids
    co = np.argsort(cid, kind="stable")
    pos = np.searchsorted(cid[co], rid)
    pos = np.minimum(pos, len(cid) - 1)
    found = cid[co][pos] == rid
    if not found.all():
        missing = rid[~found][:5].tolist()
        raise SoftscopeError(
            f"atom ids differ between frames: {int((~found).sum())} reference id(s) absent "
            f"from the current frame (first: {missing}); both frames must hold the same ids"
        )
    idx = co[pos]
    bad = reference.species != current.species[idx]
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise SoftscopeError(
            f"species differ between frames for {int(bad.sum())} atom(s), e.g. id {int(rid[k])}: "
            f"{reference.species[k]} in reference, {current.species[idx[k]]} in current"
        )
    return idx


@nb.njit(cache=True, inline="always")
def _det3(m):
    return (
        m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1])
        - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0])
        + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0])
    )


@nb.njit(cache=True)
def _affine_fit(V, W, ssq, nn, det_eps):
    """F = W V⁻¹ and validity, with OVITO's criterion (n >= 3, |det V|, |det W| > eps·Σ|d0|²)."""
    F = np.zeros((3, 3))
    thr = det_eps * ssq
    detv = _det3(V)
    if nn < 3 or abs(detv) <= thr or abs(_det3(W)) <= thr:
        return False, F
    Vi = np.empty((3, 3))  # cofactor inverse, as OVITO's Matrix_3::inverse
    Vi[0, 0] = (V[1, 1] * V[2, 2] - V[1, 2] * V[2, 1]) / detv
    Vi[0, 1] = (V[0, 2] * V[2, 1] - V[0, 1] * V[2, 2]) / detv
    Vi[0, 2] = (V[0, 1] * V[1, 2] - V[0, 2] * V[1, 1]) / detv
    Vi[1, 0] = (V[1, 2] * V[2, 0] - V[1, 0] * V[2, 2]) / detv
    Vi[1, 1] = (V[0, 0] * V[2, 2] - V[0, 2] * V[2, 0]) / detv
    Vi[1, 2] = (V[0, 2] * V[1, 0] - V[0, 0] * V[1, 2]) / detv
    Vi[2, 0] = (V[1, 0] * V[2, 1] - V[1, 1] * V[2, 0]) / detv
    Vi[2, 1] = (V[0, 1] * V[2, 0] - V[0, 0] * V[2, 1]) / detv
    Vi[2, 2] = (V[0, 0] * V[1, 1] - V[0, 1] * V[1, 0]) / detv
    for a in range(3):
        for b in range(3):
            for c in range(3):
                F[a, b] += W[a, c] * Vi[c, b]
    return True, F


@nb.njit(cache=True, inline="always")
def _accumulate(V, W, x0, x1):
    for a in range(3):
        for b in range(3):
            V[a, b] += x0[a] * x0[b]
            W[a, b] += x1[a] * x0[b]
    return x0[0] * x0[0] + x0[1] * x0[1] + x0[2] * x0[2]


@nb.njit(cache=True, inline="always")
def _residual2(F, x0, x1):
    r = 0.0
    for a in range(3):
        e = F[a, 0] * x0[0] + F[a, 1] * x0[1] + F[a, 2] * x0[2] - x1[a]
        r += e * e
    return r


@nb.njit(cache=True, inline="always")
def _d2min_of_pairs(R0, R1, m, V, W, det_eps):
    """D²min of one atom from the reference / current vectors ``R0[:m]``, ``R1[:m]`` of its
    m pairs (``V``, ``W``: 3x3 scratch); (NaN, False) for an invalid atom."""
    V[:] = 0.0
    W[:] = 0.0
    ssq = 0.0
    for t in range(m):
        ssq += _accumulate(V, W, R0[t], R1[t])
    ok, F = _affine_fit(V, W, ssq, m, det_eps)
    if not ok:
        return np.nan, False
    d2 = 0.0
    for t in range(m):
        d2 += _residual2(F, R0[t], R1[t])
    return d2, True


@nb.njit(
    parallel=True,
    cache=True,
    aot="Tuple((f8[::1], b1[::1]))(i8[::1], f8[:,::1], f8[:,::1], f8)",
)
def _d2min_kernel(offsets, d0, d1, det_eps):
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.float64)
    invalid = np.zeros(n, dtype=np.bool_)
    for i in nb.prange(n):
        V = np.empty((3, 3))
        W = np.empty((3, 3))
        lo, hi = offsets[i], offsets[i + 1]
        out[i], ok = _d2min_of_pairs(d0[lo:hi], d1[lo:hi], hi - lo, V, W, det_eps)
        invalid[i] = not ok
    return out, invalid


@nb.njit(
    parallel=True,
    cache=True,
    aot="Tuple((f8[::1], b1[::1]))(f8[:,::1], f8[:,::1], i8[::1], i8[::1], i8[::1], i8[::1], "
    "i8[::1], i8, i8, f8, f8)",
)
def _d2min_points_kernel(
    xyz0, x1, cell_points, qslot, qbin, cell_start, nb3, st, max_cand, rc2, det_eps
):
    """D²min over cell-list neighbours in the reference points (see d2min_from_walk):
    reference positions in cell order (``xyz0``, rows x, y, z), current positions by
    point index (``x1[cell_points[slot]]``); query i is the point in slot ``qslot[i]``."""
    n = qslot.shape[0]
    out = np.empty(n, dtype=np.float64)
    invalid = np.zeros(n, dtype=np.bool_)
    x = xyz0[0]
    y = xyz0[1]
    z = xyz0[2]
    chunk = 256
    nchunk = (n + chunk - 1) // chunk
    for ch in nb.prange(nchunk):
        cand = np.empty(max_cand + 1, dtype=np.int64)
        cd2 = np.empty(max_cand + 1, dtype=np.float64)
        V = np.empty((3, 3))
        W = np.empty((3, 3))
        R0 = np.empty((max_cand + 1, 3))
        R1 = np.empty((max_cand + 1, 3))
        for i in range(ch * chunk, min((ch + 1) * chunk, n)):
            me = qslot[i]
            m = gather(
                x, y, z, x[me], y[me], z[me], me, qbin[i], cell_start, nb3, st, rc2, cand, cd2
            )
            pi = cell_points[me]
            for t in range(m):
                _walk_pair(xyz0, x1, cell_points, cand[t], me, pi, R0[t], R1[t])
            out[i], ok = _d2min_of_pairs(R0, R1, m, V, W, det_eps)
            invalid[i] = not ok
    return out, invalid


@nb.njit(
    parallel=True,
    cache=True,
    aot="Tuple((f8[::1], b1[::1], i8[::1]))(f8[:,::1], f8[:,::1], i8[::1], i8[::1], i8[::1], "
    "i8[::1], i8[::1], i8[::1], i8, i8, f8, f8[:,::1], f8[:,::1], f8[::1], f8)",
)
def _d2min_min_image_kernel(
    xyz0,
    x1,
    point_atom,
    cell_points,
    qslot,
    qbin,
    cell_start,
    nb3,
    st,
    max_cand,
    rc2,
    inv1,
    cell1,
    per,
    det_eps,
):
    """D²min over cell-list neighbours of reference points (see d2min_min_image): reference
    vectors between the points (``xyz0``, cell order), current vectors the minimum image
    (cell ``cell1``, periodic where ``per`` > 0) between the points' atoms' positions
    ``x1[point_atom[p]]``; also the neighbour count of each query."""
    n = qslot.shape[0]
    out = np.empty(n, dtype=np.float64)
    invalid = np.zeros(n, dtype=np.bool_)
    count = np.zeros(n, dtype=np.int64)
    x = xyz0[0]
    y = xyz0[1]
    z = xyz0[2]
    chunk = 256
    nchunk = (n + chunk - 1) // chunk
    for ch in nb.prange(nchunk):
        cand = np.empty(max_cand + 1, dtype=np.int64)
        cd2 = np.empty(max_cand + 1, dtype=np.float64)
        V = np.empty((3, 3))
        W = np.empty((3, 3))
        R0 = np.empty((max_cand + 1, 3))
        R1 = np.empty((max_cand + 1, 3))
        for i in range(ch * chunk, min((ch + 1) * chunk, n)):
            me = qslot[i]
            m = gather(
                x, y, z, x[me], y[me], z[me], me, qbin[i], cell_start, nb3, st, rc2, cand, cd2
            )
            count[i] = m
            ai = point_atom[cell_points[me]]
            for t in range(m):
                _min_image_pair(
                    xyz0,
                    x1,
                    point_atom,
                    cell_points,
                    inv1,
                    cell1,
                    per,
                    cand[t],
                    me,
                    ai,
                    R0[t],
                    R1[t],
                )
            out[i], ok = _d2min_of_pairs(R0, R1, m, V, W, det_eps)
            invalid[i] = not ok
    return out, invalid, count


@nb.njit(cache=True, inline="always")
def _min_image_pair(xyz0, x1, point_atom, cell_points, inv1, cell1, per, q, me, ai, r0, r1):
    """Reference vector between the slots ``me`` and ``q``; current vector between their
    atoms, wrapped to the minimum image of the current cell (reduced rounding)."""
    aj = point_atom[cell_points[q]]
    d0 = x1[aj, 0] - x1[ai, 0]
    d1 = x1[aj, 1] - x1[ai, 1]
    d2 = x1[aj, 2] - x1[ai, 2]
    for a in range(3):
        r0[a] = xyz0[a, q] - xyz0[a, me]
    s0 = d0 * inv1[0, 0] + d1 * inv1[1, 0] + d2 * inv1[2, 0]
    s1 = d0 * inv1[0, 1] + d1 * inv1[1, 1] + d2 * inv1[2, 1]
    s2 = d0 * inv1[0, 2] + d1 * inv1[1, 2] + d2 * inv1[2, 2]
    if per[0] > 0.0:
        s0 -= np.floor(s0 + 0.5)
    if per[1] > 0.0:
        s1 -= np.floor(s1 + 0.5)
    if per[2] > 0.0:
        s2 -= np.floor(s2 + 0.5)
    for a in range(3):
        r1[a] = s0 * cell1[0, a] + s1 * cell1[1, a] + s2 * cell1[2, a]


@nb.njit(cache=True, inline="always")
def _walk_pair(xyz0, x1, cell_points, q, me, pi, r0, r1):
    """Reference (r0, cell order) and current (r1, by point index) vector from the query
    in slot ``me`` (point ``pi``) to the neighbour in slot ``q``."""
    pq = cell_points[q]
    for a in range(3):
        r0[a] = xyz0[a, q] - xyz0[a, me]
        r1[a] = x1[pq, a] - x1[pi, a]


@nb.njit(cache=True, inline="always")
def _pair(p, i, neigh, points, point_atom, ds, inv0, cell1, x0, x1):
    j = neigh[p]
    a = point_atom[j]
    for k in range(3):
        x0[k] = points[j, k] - points[i, k]
    for k in range(3):
        # reduced current vector: reduced reference vector + change of the image-free offset
        s = x0[0] * inv0[0, k] + x0[1] * inv0[1, k] + x0[2] * inv0[2, k] + ds[a, k] - ds[i, k]
        x1[k] = s  # reduced for now
    s0, s1, s2 = x1[0], x1[1], x1[2]
    for k in range(3):
        x1[k] = s0 * cell1[0, k] + s1 * cell1[1, k] + s2 * cell1[2, k]


@nb.njit(parallel=True, cache=True)
def _d2min_frame_kernel(offsets, neigh, points, point_atom, ds, inv0, cell1, det_eps):
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.float64)
    invalid = np.zeros(n, dtype=np.bool_)
    for i in nb.prange(n):
        V = np.zeros((3, 3))
        W = np.zeros((3, 3))
        x0 = np.empty(3)
        x1 = np.empty(3)
        ssq = 0.0
        for p in range(offsets[i], offsets[i + 1]):
            _pair(p, i, neigh, points, point_atom, ds, inv0, cell1, x0, x1)
            ssq += _accumulate(V, W, x0, x1)
        ok, F = _affine_fit(V, W, ssq, offsets[i + 1] - offsets[i], det_eps)
        if not ok:
            invalid[i] = True
            out[i] = np.nan
            continue
        d2 = 0.0
        for p in range(offsets[i], offsets[i + 1]):
            _pair(p, i, neigh, points, point_atom, ds, inv0, cell1, x0, x1)
            d2 += _residual2(F, x0, x1)
        out[i] = d2
    return out, invalid


# --------------------------------------------------------------------------- p_hop
def phop(
    frames: Sequence[Frame], window: int, unwrap: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """p_hop (Candelier et al.) of every atom at every time with a full window.

        p_hop(i, t) = sqrt( ⟨(r_i − ⟨r_i⟩_B)²⟩_A · ⟨(r_i − ⟨r_i⟩_A)²⟩_B )

    with A = frames [t − window/2, t] and B = frames [t, t + window/2], **both
    including frame t** (each holds window/2 + 1 frames); ⟨·⟩ are plain means over
    frames (equal time spacing assumed) and (·)² the squared vector norm (length²,
    so p_hop is in length²).

    Parameters
    ----------
    frames : the trajectory, T >= window + 1 frames of the same atoms (matched by
        ``ids`` to ``frames[0]``; same species and pbc).
    window : t_R in frames, even and >= 2.
    unwrap : positions are unwrapped by the minimum image of each atom's displacement
        between consecutive frames (reduced coordinates of the later frame's cell).
        This assumes no atom moves more than half a cell width between consecutive
        frames; it leaves already-unwrapped positions unchanged under that assumption.
        False takes positions as given.

    Returns
    -------
    times : (T − window,) int64 frame indices t = window/2 … T − 1 − window/2.
    values : (len(times), N) float64, atoms in ``frames[0]``'s order.
    """
    if (
        isinstance(window, bool)
        or not isinstance(window, (int, np.integer))
        or window < 2
        or window % 2
    ):
        raise SoftscopeError(f"window must be an even number of frames >= 2, got {window!r}")
    frames = list(frames)
    T = len(frames)
    if T < window + 1:
        raise SoftscopeError(
            f"p_hop with window={window} needs at least {window + 1} frames, got {T}"
        )
    ref = frames[0]
    R = np.empty((T, len(ref), 3))
    R[0] = ref.positions
    for k in range(1, T):
        f = frames[k]
        _check_pair(ref, f)
        R[k] = f.positions[_match_by_id(ref, f)]
        if unwrap:
            d = R[k] - R[k - 1]
            s = np.linalg.solve(f.cell.T, d.T).T
            for ax in range(3):
                if f.pbc[ax]:
                    s[:, ax] -= np.round(s[:, ax])
            R[k] = R[k - 1] + s @ f.cell
    h = window // 2
    nt = T - window
    times = np.arange(h, h + nt, dtype=np.int64)
    mA = np.zeros((nt, len(ref), 3))
    mB = np.zeros((nt, len(ref), 3))
    for k in range(h + 1):  # loop over window slots, vectorised over times and atoms
        mA += R[k : k + nt]
        mB += R[h + k : h + k + nt]
    mA /= h + 1
    mB /= h + 1
    sA = np.zeros((nt, len(ref)))
    sB = np.zeros((nt, len(ref)))
    for k in range(h + 1):
        sA += ((R[k : k + nt] - mB) ** 2).sum(axis=2)
        sB += ((R[h + k : h + k + nt] - mA) ** 2).sum(axis=2)
    values = np.sqrt((sA / (h + 1)) * (sB / (h + 1)))
    return times, values


# --------------------------------------------------------------------------- labels
def nothing_moved(measure: np.ndarray, cutoff: float) -> bool:
    """True when a window's rearrangement measure (D²min or p_hop, length²) is rounding
    noise everywhere (max <= 1e-12 cutoff², e.g. identical frames): its top-q "rearranging"
    atoms would be chosen by tie order, so such a window can neither train nor judge."""
    return not np.nanmax(np.asarray(measure, dtype=np.float64), initial=0.0) > 1e-12 * cutoff**2


def top_fraction(
    values: np.ndarray, q: float = 0.05, tie_key: np.ndarray | None = None
) -> np.ndarray:
    """Bool mask of the atoms whose value is in the top ``q`` fraction.

    NaN values are excluded (never selected) and do not count in n_valid. Exactly
    ``k = ceil(q · n_valid)`` atoms are selected (so at least one when q > 0 and an
    atom is valid); ties at the threshold are broken deterministically in favour of
    the lower index, or of the lower ``tie_key`` (e.g. atom ids, when the values come
    in another order than the ids).
    """
    v = _check_values(values)
    q = _check_q(q, "q")
    if tie_key is not None:
        tie_key = np.asarray(tie_key)
        if tie_key.shape != v.shape:
            raise SoftscopeError(f"tie_key has shape {tie_key.shape}, values {v.shape}")
    nan = np.isnan(v)
    valid = np.flatnonzero(~nan) if nan.any() else None  # None: all valid, no copies
    n_valid = v.size if valid is None else valid.size
    k = _count_for(q, n_valid)
    if not k:
        return np.zeros(v.shape[0], dtype=bool)
    vv = v if valid is None else v[valid]
    sel = np.ones(vv.size, dtype=bool)
    if k < vv.size:
        # O(n): the k-th largest value, everything above it, then the lowest-index
        # (lowest-key) atoms equal to it (= a stable sort's first k)
        thr = np.partition(vv, vv.size - k)[vv.size - k]
        sel = vv > thr
        tied = np.flatnonzero(vv == thr)
        need = k - int(np.count_nonzero(sel))
        if tie_key is not None and tied.size > need:
            key = tie_key[tied] if valid is None else tie_key[valid[tied]]
            tied = tied[np.argsort(key, kind="stable")]
        sel[tied[:need]] = True
    if valid is None:
        return sel
    mask = np.zeros(v.shape[0], dtype=bool)
    mask[valid[sel]] = True
    return mask


def labels(values: np.ndarray, q: float = 0.05, stable_q: float | None = None) -> np.ndarray:
    """Class labels (N,) int8: +1 rearranging (top ``q``), 0 stable, −1 ignored.

    ``stable_q`` is the bottom fraction labelled stable (default 0.5: the bottom
    half), counted like :func:`top_fraction` (``ceil(stable_q · n_valid)`` atoms, ties
    to the lower index). Atoms in between, and NaN (invalid) atoms, are −1, so a gap
    separates the classes and borderline atoms are not trained on.
    Requires q + stable_q <= 1.
    """
    v = _check_values(values)
    q = _check_q(q, "q")
    sq = 0.5 if stable_q is None else _check_q(stable_q, "stable_q")
    if q + sq > 1.0 + 1e-12:
        raise SoftscopeError(
            f"q + stable_q must be <= 1 (the classes may not overlap), got {q} + {sq}"
        )
    out = np.full(v.shape[0], -1, dtype=np.int8)
    top = top_fraction(v, q)
    valid = np.flatnonzero(~np.isnan(v))
    k = _count_for(sq, valid.size)
    k = min(k, valid.size - int(top.sum()))
    if k > 0:
        # ascending, ties to lower index; skip atoms already in the top class
        cand = valid[~top[valid]]
        order = np.argsort(v[cand], kind="stable")
        out[cand[order[:k]]] = 0
    out[top] = 1
    return out


def _count_for(q: float, n_valid: int) -> int:
    # ceil with a small tolerance so that q·n = 102.00000000001 gives 102
    return min(n_valid, int(math.ceil(q * n_valid - 1e-9))) if n_valid else 0


def _check_values(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise SoftscopeError(f"values must be a 1-D per-atom array, got shape {v.shape}")
    if np.isinf(v).any():
        raise SoftscopeError("values contain inf; only finite numbers or NaN (invalid) are allowed")
    return v


def _check_q(q, name: str) -> float:
    try:
        qf = float(q)
    except (TypeError, ValueError):
        raise SoftscopeError(f"{name} must be a fraction in (0, 1], got {q!r}") from None
    if not (0.0 < qf <= 1.0):
        raise SoftscopeError(f"{name} must be a fraction in (0, 1], got {q}")
    return qf
