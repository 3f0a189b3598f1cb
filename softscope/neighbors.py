"""The one neighbour engine: periodic images + a numba cell list -> CSR neighbour lists.

Every descriptor, D2min and coarse-graining asks this module for neighbours.

Model
-----
A neighbour list is built over a set of ``points`` (M, 3); the first ``n_query``
points are the atoms whose neighbours are wanted.  For a periodic :class:`Frame`
the points are the wrapped atoms followed by as many periodic images as the
cutoff needs (any cutoff, also larger than half the cell: every image within the
cutoff is a separate neighbour, as in LAMMPS).  For LAMMPS the points are local
+ ghost atoms with no images added.  ``point_atom[m]`` is the atom a point is an
image of (identity for LAMMPS ghosts, which carry their own values).

Pairs are those with ``0 < |r_j - r_i| < cutoff`` (strict, as LAMMPS), excluding
the atom itself but including its own periodic images.  Memory is O(pairs):
12 bytes per pair (int32 point index + float64 distance).

Kernels without a stored pair list
----------------------------------
:func:`cell_walk` bins the points once (a :class:`CellWalk`); a numba kernel then calls
:func:`gather` per query point to collect the slots and squared distances of its
neighbours within a reach into scratch arrays (the same pairs, d² < reach², as the
lists above) and consumes them at once: the radial descriptor, coarse-graining, the
linear projections and D²min walk neighbours this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from softscope._jit import nb
from softscope.errors import SoftscopeError
from softscope.frame import Frame, cell_widths

__all__ = [
    "NeighborList",
    "neighbor_list",
    "periodic_images",
    "image_points",
    "build_from_points",
    "check_kernel_inputs",
    "CellWalk",
    "cell_walk",
    "gather",
    "choose_stencil",
    "STENCIL",
]


@dataclass(frozen=True, eq=False)
class NeighborList:
    """CSR neighbour lists of the first ``n_query`` points.

    Attributes
    ----------
    points : (M, 3) float64 — positions of atoms and images (length unit).
    point_atom : (M,) int64 — index of the atom each point stands for.
    n_query : int — points[:n_query] are the atoms with neighbour lists.
    offsets : (n_query + 1,) int64 — neighbours of i are ``neigh[offsets[i]:offsets[i+1]]``.
    neigh : (P,) int32 — indices into ``points``.
    dist : (P,) float64 — |points[neigh] - points[i]|.
    cutoff : float — pairs satisfy dist < cutoff.
    """

    points: np.ndarray
    point_atom: np.ndarray
    n_query: int
    offsets: np.ndarray
    neigh: np.ndarray
    dist: np.ndarray
    cutoff: float

    @property
    def n_pairs(self) -> int:
        return int(self.neigh.shape[0])

    def counts(self) -> np.ndarray:
        """Number of neighbours of each query atom."""
        return np.diff(self.offsets)

    def vectors(self) -> np.ndarray:
        """(P, 3) vectors r_j - r_i (allocates; kernels compute them on the fly)."""
        i = np.repeat(np.arange(self.n_query), self.counts())
        return self.points[self.neigh] - self.points[i]

    def within(self, cutoff: float) -> NeighborList:
        """The sub-list of pairs with dist < ``cutoff`` (<= the list's own cutoff)."""
        if cutoff > self.cutoff:
            raise SoftscopeError(
                f"cannot narrow a neighbour list of cutoff {self.cutoff} to a larger cutoff {cutoff}"
            )
        if cutoff == self.cutoff:
            return self
        offsets, neigh, dist = _filter_csr(self.offsets, self.neigh, self.dist, float(cutoff))
        return NeighborList(
            self.points, self.point_atom, self.n_query, offsets, neigh, dist, float(cutoff)
        )


# --------------------------------------------------------------------------- images
def periodic_images(frame: Frame, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Wrapped atoms followed by every periodic image within ``cutoff`` of the cell.

    Returns ``points`` (M, 3) and ``point_atom`` (M,), with points[:N] the wrapped atoms.
    Works for triclinic cells and cutoffs larger than the cell (several image shells).
    """
    return image_points(
        frame.reduced_positions(),
        frame.cell,
        frame.origin,
        frame.pbc,
        cutoff,
        widths=frame.perpendicular_widths(),
    )


def image_points(
    reduced: np.ndarray,
    cell: np.ndarray,
    origin: np.ndarray,
    pbc,
    cutoff: float,
    widths: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Points given by ``reduced`` coordinates (n, 3) in ``cell`` (rows = cell vectors),
    wrapped along the periodic axes, followed by each of their periodic images that lies
    within ``cutoff`` of the cell.  Returns ``points`` (M, 3) (length unit) and
    ``point_atom`` (M,): the row of ``reduced`` each point is a copy of.  The points need
    not be all atoms of the cell (a LAMMPS rank's atoms: their images within the cutoff)."""
    _check_cutoff(cutoff)
    cell = np.asarray(cell, dtype=np.float64)
    s = np.array(reduced, dtype=np.float64)
    n = s.shape[0]
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    s[:, pbc] -= np.floor(s[:, pbc])
    # periodic wrap can give exactly 1.0 after floor for tiny negatives
    s[:, pbc] = np.where(s[:, pbc] >= 1.0, 0.0, s[:, pbc])
    if widths is None:
        widths = cell_widths(cell)
    pad = np.where(pbc, cutoff / widths, 0.0)
    nimg = np.where(pbc, np.ceil(pad).astype(np.int64), 0)
    n_total_images = np.prod(2 * nimg + 1)
    if n_total_images > 10_000:
        raise SoftscopeError(
            f"cutoff {cutoff} needs {n_total_images} periodic images of a cell with widths "
            f"{np.round(widths, 3).tolist()}; use a larger cell (replicate it) or a smaller "
            "cutoff"
        )
    shifts = np.stack(
        np.meshgrid(*[np.arange(-k, k + 1) for k in nimg], indexing="ij"), axis=-1
    ).reshape(-1, 3)
    # zero shift first
    order = np.argsort(np.abs(shifts).sum(axis=1), kind="stable")
    shifts = shifts[order]
    pts_s = [s]
    atoms = [np.arange(n, dtype=np.int64)]
    for sh in shifts[1:]:
        t = s + sh
        mask = np.ones(n, dtype=bool)
        for k in range(3):
            if pbc[k]:
                mask &= (t[:, k] >= -pad[k]) & (t[:, k] <= 1.0 + pad[k])
        idx = np.flatnonzero(mask)
        if idx.size:
            pts_s.append(t[idx])
            atoms.append(idx.astype(np.int64))
    all_s = np.concatenate(pts_s)
    points = np.asarray(origin, dtype=np.float64) + all_s @ cell
    return np.ascontiguousarray(points), np.concatenate(atoms)


def neighbor_list(frame: Frame, cutoff: float) -> NeighborList:
    """Neighbour lists of every atom of ``frame`` within ``cutoff`` (periodic images counted)."""
    points, point_atom = periodic_images(frame, cutoff)
    return build_from_points(points, len(frame), cutoff, point_atom=point_atom)


def build_from_points(
    points: np.ndarray, n_query: int, cutoff: float, point_atom: np.ndarray | None = None
) -> NeighborList:
    """Neighbour lists of points[:n_query] among all ``points`` (no periodicity added).

    Used directly by the LAMMPS adapter with local + ghost atoms.
    """
    _check_cutoff(cutoff)
    points = np.ascontiguousarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise SoftscopeError(f"points must have shape (M, 3), got {points.shape}")
    m = points.shape[0]
    if not (0 <= n_query <= m):
        raise SoftscopeError(f"n_query={n_query} must lie in [0, {m}]")
    if m >= 2**31 - 1:
        raise SoftscopeError("more than 2^31 points are not supported")
    if point_atom is None:
        point_atom = np.arange(m, dtype=np.int64)
    if not np.isfinite(points).all():
        raise SoftscopeError("points contain NaN or inf")
    reach = choose_stencil(points, float(cutoff))
    cell_start, cell_points, bin_of, nb3 = _bin_points(points, float(cutoff) / reach)
    rc2 = float(cutoff) ** 2
    counts = _count(points, n_query, cell_start, cell_points, bin_of, nb3, rc2, reach)
    offsets = np.zeros(n_query + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    neigh, dist = _fill(points, n_query, cell_start, cell_points, bin_of, nb3, rc2, offsets, reach)
    return NeighborList(points, point_atom, int(n_query), offsets, neigh, dist, float(cutoff))


def check_kernel_inputs(
    nl: NeighborList, point_species, n_species: int, cutoff: float
) -> tuple[float, int, np.ndarray]:
    """Validate a descriptor kernel's inputs; returns (cutoff, n_species, int64 codes).

    ``point_species`` needs one code in [0, n_species) per point of ``nl.points``, and the
    descriptor's ``cutoff`` may not exceed the list's.
    """
    rc = float(cutoff)
    _check_cutoff(rc)
    if rc > nl.cutoff * (1 + 1e-12):
        raise SoftscopeError(
            f"cutoff {rc} exceeds the neighbour list's cutoff {nl.cutoff}; build the list "
            "with a cutoff >= the descriptor's"
        )
    n_species = int(n_species)
    if n_species < 1:
        raise SoftscopeError(f"n_species must be >= 1, got {n_species}")
    ps = np.ascontiguousarray(point_species, dtype=np.int64)
    if ps.shape != (nl.points.shape[0],):
        raise SoftscopeError(
            f"point_species must have one code per neighbour-list point "
            f"({nl.points.shape[0]}), got shape {ps.shape}"
        )
    if ps.size and (ps.min() < 0 or ps.max() >= n_species):
        raise SoftscopeError(
            f"point_species codes must lie in [0, {n_species}), got [{ps.min()}, {ps.max()}]"
        )
    return rc, n_species, ps


def _check_cutoff(cutoff: float) -> None:
    if not np.isfinite(cutoff) or cutoff <= 0:
        raise SoftscopeError(f"cutoff must be a positive finite length, got {cutoff}")


# --------------------------------------------------------------------------- cell list
STENCIL = 2


def choose_stencil(points: np.ndarray, cutoff: float) -> int:
    """Stencil half-width (bins searched on each side) for a cell-list walk of ``points``
    (M, 3) within ``cutoff``: 2 (bins of side cutoff/2) or 1 (bins of side cutoff).

    Bins of side cutoff/2 searched ±2 visit ~40 % fewer candidates than cutoff-sized
    bins searched ±1 (the bins along z are walked as one run, so small bins cost little)
    but cost more when a half-size bin holds fewer than ~1.5 atoms (short cutoffs: Cu-Zr
    glass, 3.7-4 Å), where ±1 is kept (measured on a 16,000 + 13,000-point rank at
    3.7, 4, 6 and 6.8 Å)."""
    span = np.maximum(points.max(axis=0) - points.min(axis=0), 1e-12)
    density = points.shape[0] / float(np.prod(span))
    return STENCIL if density * (cutoff / STENCIL) ** 3 >= 1.5 else 1


def _bin_points(points: np.ndarray, cutoff: float):
    """Sort points into an axis-aligned grid of bins of side >= ``cutoff`` (the bin size)."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    lo = points.min(axis=0)
    hi = points.max(axis=0)
    span = np.maximum(hi - lo, 1e-12)
    nb3 = np.maximum(1, np.floor(span / cutoff)).astype(np.int64)
    # keep the bin count bounded (sparse/elongated sets) while bins stay >= cutoff
    while np.prod(nb3) > 4 * points.shape[0] + 64:
        k = int(np.argmax(nb3))
        nb3[k] = max(1, nb3[k] // 2)
    size = span / nb3
    bin_of = _bin_of(points, lo, size, nb3)
    cell_start, order = _counting_sort(bin_of, int(np.prod(nb3)))
    return cell_start, order, bin_of, nb3


@nb.njit(cache=True, aot="i8[::1](f8[:,::1], f8[::1], f8[::1], i8[::1])")
def _bin_of(points, lo, size, nb3):
    """Flat bin of each point: min(⌊(x − lo)/size⌋, nb − 1) per axis, x-major (no (M, 3)
    temporaries, the same numbers as the numpy expression)."""
    m = points.shape[0]
    out = np.empty(m, dtype=np.int64)
    for i in range(m):
        bx = min(int((points[i, 0] - lo[0]) / size[0]), nb3[0] - 1)
        by = min(int((points[i, 1] - lo[1]) / size[1]), nb3[1] - 1)
        bz = min(int((points[i, 2] - lo[2]) / size[2]), nb3[2] - 1)
        out[i] = (bx * nb3[1] + by) * nb3[2] + bz
    return out


@nb.njit(cache=True, aot="Tuple((i8[::1], f8[:,::1]))(f8[:,::1], i8[::1], i8)")
def _cell_order(points, order, n_slot):
    """Slot in cell order of each of the first ``n_slot`` points, and the coordinates of
    all points in cell order as (3, M) rows."""
    m = order.shape[0]
    slot = np.empty(n_slot, dtype=np.int64)
    xyz = np.empty((3, m))
    for s in range(m):
        q = order[s]
        if q < n_slot:
            slot[q] = s
        xyz[0, s] = points[q, 0]
        xyz[1, s] = points[q, 1]
        xyz[2, s] = points[q, 2]
    return slot, xyz


@nb.njit(cache=True, aot="Tuple((i8[::1], i8[::1]))(i8[::1], i8)")
def _counting_sort(bin_of, ncell):
    """CSR offsets per bin and the points in bin order, stable (= argsort kind="stable")."""
    m = bin_of.shape[0]
    cell_start = np.zeros(ncell + 1, dtype=np.int64)
    for i in range(m):
        cell_start[bin_of[i] + 1] += 1
    for c in range(ncell):
        cell_start[c + 1] += cell_start[c]
    fill = cell_start[:ncell].copy()
    order = np.empty(m, dtype=np.int64)
    for i in range(m):
        b = bin_of[i]
        order[fill[b]] = i
        fill[b] += 1
    return cell_start, order


class CellWalk(NamedTuple):
    """Points binned by :func:`cell_walk` for kernels that :func:`gather` neighbours
    without a stored pair list.

    A kernel reads the query point ``i`` (one of the first ``n_query`` points) at
    ``slot[i]`` in cell order, in bin ``bin_of[i]``, and passes ``xyz[0], xyz[1], xyz[2]``,
    ``cell_start``, ``nb3`` and ``st`` to :func:`gather` with scratch arrays of
    ``max_cand + 1`` entries; ``cell_points`` maps a cell-order slot back to its point
    (e.g. ``codes[cell_points]``: per-slot species).
    """

    cell_start: np.ndarray  # (n_bins + 1,) int64 CSR offsets of each bin into cell order
    cell_points: np.ndarray  # (M,) int64 point index of each cell-order slot
    bin_of: np.ndarray  # (M,) int64 bin of each point (the first n_query only, if given)
    nb3: np.ndarray  # (3,) int64 bins per axis
    xyz: np.ndarray  # (3, M) float64 coordinates in cell order (rows read as streams)
    slot: np.ndarray  # (M,) int64 cell-order slot of each point (first n_query only, if given)
    max_cand: int  # bound on the candidates of one gather (its scratch size)
    st: int  # stencil half-width in bins (bins >= reach/st)


def cell_walk(
    points: np.ndarray, reach: float, st: int | None = None, n_query: int | None = None
) -> CellWalk:
    """Bin ``points`` (M, 3, length unit) for kernels that :func:`gather` the points within
    ``reach`` of each query point (bins >= reach/st, ±st stencil), without a stored pair
    list.  ``st`` defaults to :func:`choose_stencil` (2 where a half-reach bin holds >= 1.5
    points, else 1).  With ``n_query``, ``slot`` and ``bin_of`` keep only the query points
    ``points[:n_query]`` (all a kernel reads of them; 16 bytes less per other point)."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    if st is None:
        st = choose_stencil(points, reach)
    cell_start, cell_points, bin_of, nb3 = _bin_points(points, reach / st)
    m = points.shape[0]
    nq = m if n_query is None else min(int(n_query), m)
    if nq < m:  # before the coordinates are copied: the full array goes now
        bin_of = bin_of[:nq].copy()
    slot, xyz = _cell_order(points, cell_points, nq)
    max_cand = min((2 * st + 1) ** 3 * int(np.diff(cell_start).max()), m)
    return CellWalk(cell_start, cell_points, bin_of, nb3, xyz, slot, max_cand, st)


@nb.njit(cache=True, inline="always")
def gather(
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    xi: float,
    yi: float,
    zi: float,
    me: int,
    b: int,
    cell_start: np.ndarray,
    nb3: np.ndarray,
    st: int,
    rc2: float,
    cand: np.ndarray,
    cd2: np.ndarray,
) -> int:
    """Kernel (numba, inlined into its caller): the points within ``sqrt(rc2)`` of a query
    point at (``xi``, ``yi``, ``zi``) in bin ``b`` of a :class:`CellWalk`.

    ``x, y, z``: the walk's ``xyz`` rows (cell order); ``me``: the query point's own slot,
    excluded (-1 to exclude none); ``cell_start``, ``nb3``, ``st``: from the walk;
    ``rc2``: squared reach (length unit²), at most the walk's reach squared.  Writes the
    slots (cell order) of the m points with d² < rc2 to ``cand[:m]`` and their d² to
    ``cd2[:m]``, in cell order, and returns m; ``cand`` (int64) and ``cd2`` (float64) need
    ``max_cand + 1`` entries (one spare: the compaction writes before it tests)."""
    bz = b % nb3[2]
    t = b // nb3[2]
    by = t % nb3[1]
    bx = t // nb3[1]
    m = 0
    z0 = max(bz - st, 0)
    z1 = min(bz + st, nb3[2] - 1)
    for ax in range(max(bx - st, 0), min(bx + st + 1, nb3[0])):
        for ay in range(max(by - st, 0), min(by + st + 1, nb3[1])):
            # the stencil's bins along z are consecutive in cell order: one run of points
            row = (ax * nb3[1] + ay) * nb3[2]
            for q in range(cell_start[row + z0], cell_start[row + z1 + 1]):
                dx = x[q] - xi
                dy = y[q] - yi
                dz = z[q] - zi
                d2 = dx * dx + dy * dy + dz * dz
                # branch-free compaction: the hit test is unpredictable
                cand[m] = q
                cd2[m] = d2
                m += (d2 < rc2) & (q != me)
    return m


@nb.njit(cache=True, inline="always")
def _unflatten(b, nb3):
    bz = b % nb3[2]
    t = b // nb3[2]
    by = t % nb3[1]
    bx = t // nb3[1]
    return bx, by, bz


@nb.njit(
    parallel=True,
    cache=True,
    aot="i8[::1](f8[:,::1], i8, i8[::1], i8[::1], i8[::1], i8[::1], f8, i8)",
)
def _count(points, n_query, cell_start, cell_points, bin_of, nb3, rc2, reach):
    counts = np.zeros(n_query, dtype=np.int64)
    for i in nb.prange(n_query):
        xi = points[i, 0]
        yi = points[i, 1]
        zi = points[i, 2]
        bx, by, bz = _unflatten(bin_of[i], nb3)
        c = 0
        z0 = max(bz - reach, 0)
        z1 = min(bz + reach, nb3[2] - 1)
        for ax in range(max(bx - reach, 0), min(bx + reach + 1, nb3[0])):
            for ay in range(max(by - reach, 0), min(by + reach + 1, nb3[1])):
                row = (ax * nb3[1] + ay) * nb3[2]  # bins along z: one run of points
                for q in range(cell_start[row + z0], cell_start[row + z1 + 1]):
                    j = cell_points[q]
                    dx = points[j, 0] - xi
                    dy = points[j, 1] - yi
                    dz = points[j, 2] - zi
                    d2 = dx * dx + dy * dy + dz * dz
                    if d2 < rc2 and j != i:
                        c += 1
        counts[i] = c
    return counts


@nb.njit(
    parallel=True,
    cache=True,
    aot="Tuple((i4[::1], f8[::1]))(f8[:,::1], i8, i8[::1], i8[::1], i8[::1], i8[::1], f8, i8[::1], i8)",
)
def _fill(points, n_query, cell_start, cell_points, bin_of, nb3, rc2, offsets, reach):
    npair = offsets[n_query]
    neigh = np.empty(npair, dtype=np.int32)
    dist = np.empty(npair, dtype=np.float64)
    for i in nb.prange(n_query):
        xi = points[i, 0]
        yi = points[i, 1]
        zi = points[i, 2]
        bx, by, bz = _unflatten(bin_of[i], nb3)
        p = offsets[i]
        z0 = max(bz - reach, 0)
        z1 = min(bz + reach, nb3[2] - 1)
        for ax in range(max(bx - reach, 0), min(bx + reach + 1, nb3[0])):
            for ay in range(max(by - reach, 0), min(by + reach + 1, nb3[1])):
                row = (ax * nb3[1] + ay) * nb3[2]  # bins along z: one run of points
                for q in range(cell_start[row + z0], cell_start[row + z1 + 1]):
                    j = cell_points[q]
                    dx = points[j, 0] - xi
                    dy = points[j, 1] - yi
                    dz = points[j, 2] - zi
                    d2 = dx * dx + dy * dy + dz * dz
                    if d2 < rc2 and j != i:
                        neigh[p] = j
                        dist[p] = np.sqrt(d2)
                        p += 1
    return neigh, dist


@nb.njit(cache=True)
def _filter_csr(offsets, neigh, dist, rc):
    n = offsets.shape[0] - 1
    new_off = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        c = 0
        for p in range(offsets[i], offsets[i + 1]):
            if dist[p] < rc:
                c += 1
        new_off[i + 1] = new_off[i] + c
    nn = np.empty(new_off[n], dtype=neigh.dtype)
    dd = np.empty(new_off[n], dtype=np.float64)
    for i in range(n):
        q = new_off[i]
        for p in range(offsets[i], offsets[i + 1]):
            if dist[p] < rc:
                nn[q] = neigh[p]
                dd[q] = dist[p]
                q += 1
    return new_off, nn, dd
