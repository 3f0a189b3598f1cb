"""Radial structure functions (Behler–Parrinello G2 as used for "softness").

For atom i, neighbour species X and Gaussian centres μ_k (length unit, Å for
``units metal``):

    G_X(i; μ_k, σ) = Σ_{j ∈ X, j ≠ i, r_ij < r_c} exp( −(r_ij − μ_k)² / (2σ²) ) [· f_c(r_ij)]

with the optional smooth cutoff f_c(r) = ½[cos(π r / r_c) + 1].  Periodic images
count as separate neighbours.  Output columns: one block of ``len(centers)`` per
neighbour species, blocks in the model's species order, centres in the given order.
With ``cutoff_function=True`` the result equals dscribe's ACSF G2 with
η = 1/(2σ²), R_s = μ_k.

Speed: for each pair only the centres within ±``WINDOW``·σ of r_ij are evaluated;
every dropped term is < exp(−WINDOW²/2) ≈ 2e-16 (relative to a term's maximum, 1).
On a uniform grid of centres the window is walked with a two-exponential
recurrence instead of one exponential per centre.  :func:`radial` walks the
neighbour engine's own periodic images and cell bins in one fused pass (no stored
pair list), :func:`radial_from_points` the same on local + ghost points (LAMMPS);
:func:`radial_from_neighbors` runs the same pair kernel on a prebuilt
:class:`~softscope.neighbors.NeighborList` (shared lists).

Spec block ``{"kind": "radial", "centers", "sigma", "cutoff", "cutoff_function"}``
(cutoff default max(μ) + 4σ).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from softscope._jit import nb
from softscope.descriptors.registry import PointSet, register_block
from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.neighbors import (
    NeighborList,
    cell_walk,
    check_kernel_inputs,
    gather,
    periodic_images,
)

__all__ = [
    "radial",
    "radial_from_points",
    "radial_from_neighbors",
    "radial_names",
    "default_radial_cutoff",
    "check_radial_params",
    "add_gaussians",
    "WINDOW",
]

#: Half-width of the evaluated window, in units of σ: terms with |r − μ_k| > WINDOW·σ
#: are dropped; each is < exp(−WINDOW²/2) = exp(−36.1) ≈ 2.0e-16 of its maximum.
WINDOW = 8.5

# The recurrence multiplies by q = exp((2 h d − h²)/(2σ²)) with |d| ≲ (WINDOW + 1)σ;
# keep h/σ bounded so q cannot overflow (and grids that coarse need few exps anyway).
_MAX_STEP_OVER_SIGMA = 2.0


def default_radial_cutoff(centers: Sequence[float] | np.ndarray, sigma: float) -> float:
    """CONVENTIONS' default r_c = max(μ) + 4σ (length unit)."""
    return float(np.max(centers)) + 4.0 * float(sigma)


def check_radial_params(
    centers: Sequence[float] | np.ndarray, sigma: float
) -> tuple[np.ndarray, float]:
    """Validated centres μ_k (K,) float64 and width σ (length unit); a
    :class:`SoftscopeError` says which is wrong."""
    mu = np.asarray(centers, dtype=np.float64)
    if mu.ndim != 1 or mu.size == 0:
        raise SoftscopeError(
            f"centers must be a non-empty 1-D sequence of distances, got shape {mu.shape}"
        )
    if not np.isfinite(mu).all():
        raise SoftscopeError("centers must be finite distances (no NaN or inf)")
    if mu.min() < 0:
        raise SoftscopeError(f"centers must be >= 0 (distances), got min {mu.min()}")
    try:
        s = float(sigma)
    except (TypeError, ValueError):
        raise SoftscopeError(f"sigma must be a positive length, got {sigma!r}") from None
    if not np.isfinite(s) or s <= 0:
        raise SoftscopeError(f"sigma must be a positive finite length, got {sigma}")
    return mu, s


def _grid(mu: np.ndarray, sigma: float):
    """Sorted centres, the column of each sorted centre, and the uniform-grid step (0 if none)."""
    order = np.argsort(mu, kind="stable").astype(np.int64)
    ms = np.ascontiguousarray(mu[order])
    step = 0.0
    if ms.size >= 3:
        h = (ms[-1] - ms[0]) / (ms.size - 1)
        ideal = ms[0] + h * np.arange(ms.size)
        scale = max(float(np.abs(ms).max()), sigma)
        uniform = np.abs(ms - ideal).max() <= 1e-12 * scale
        if h > 0 and uniform and h <= _MAX_STEP_OVER_SIGMA * sigma:
            step = float(h)
    return ms, order, step


def radial_names(species: Sequence[str], centers: Sequence[float] | np.ndarray) -> list[str]:
    """Feature names in column order, e.g. ``G_Cu(2.4)`` (neighbour species, centre μ_k)."""
    mu = np.asarray(centers, dtype=np.float64).reshape(-1)
    return [f"G_{s}({m:g})" for s in species for m in mu]


def radial(
    frame: Frame,
    centers: Sequence[float] | np.ndarray,
    sigma: float,
    species: Sequence[str] | None = None,
    cutoff: float | None = None,
    cutoff_function: bool = False,
) -> np.ndarray:
    """Radial structure functions of every atom, (N, n_species·len(centers)) float64.

    Parameters
    ----------
    frame : the configuration (periodic images are counted as neighbours).
    centers : Gaussian centres μ_k (length unit), any order, need not be uniform.
    sigma : Gaussian width σ (length unit), > 0.
    species : neighbour-species order of the blocks (default: sorted names in the frame).
        Species listed but absent from the frame give zero blocks.
    cutoff : r_c (length unit); pairs with r_ij < r_c count.  Default max(μ) + 4σ.
    cutoff_function : multiply each pair by f_c(r_ij) = ½[cos(π r_ij / r_c) + 1].

    This standalone path walks the neighbour engine's periodic images and cell
    binning once and evaluates the Gaussians on the fly (no pair list is stored);
    it gives the result of :func:`radial_from_neighbors` on ``neighbor_list(frame,
    cutoff)`` to rounding (same pairs, summed in another order), ~1.6× faster and
    without the 12 bytes/pair of the list.  To share neighbours with other descriptors, use
    :func:`radial_from_neighbors`.
    """
    mu, s = check_radial_params(centers, sigma)
    rc = default_radial_cutoff(mu, s) if cutoff is None else float(cutoff)
    if not np.isfinite(rc) or rc <= 0:
        raise SoftscopeError(f"cutoff must be a positive finite length, got {cutoff}")
    codes, names = frame.species_index(species)
    points, point_atom = periodic_images(frame, rc)
    return _walk(points, codes[point_atom], len(frame), len(names), mu, s, rc, cutoff_function)


def radial_from_points(
    points: np.ndarray,
    point_species: np.ndarray,
    n_query: int,
    n_species: int,
    centers: Sequence[float] | np.ndarray,
    sigma: float,
    cutoff: float,
    cutoff_function: bool = False,
) -> np.ndarray:
    """LAMMPS face: radial structure functions of ``points[:n_query]`` among all
    ``points`` (M, 3; local then ghost atoms, no periodicity added), (n_query,
    n_species·len(centers)) float64.

    ``point_species``: int code in [0, n_species) per point.  Ghosts must reach ``cutoff``
    beyond every query point.  One cell-list walk, no stored pair list (as :func:`radial`).
    """
    mu, s = check_radial_params(centers, sigma)
    rc = float(cutoff)
    if not np.isfinite(rc) or rc <= 0:
        raise SoftscopeError(f"cutoff must be a positive finite length, got {cutoff}")
    points = np.ascontiguousarray(points, dtype=np.float64)
    codes = np.ascontiguousarray(point_species, dtype=np.int64)
    n_species = int(n_species)
    m = points.shape[0]
    if points.ndim != 2 or points.shape[1] != 3 or codes.shape != (m,):
        raise SoftscopeError(
            f"points must have shape (M, 3) and point_species (M,), got {points.shape} "
            f"and {codes.shape}"
        )
    if m and (codes.min() < 0 or codes.max() >= n_species):
        raise SoftscopeError(f"point_species codes must lie in [0, {n_species})")
    n_query = int(n_query)
    if not 0 <= n_query <= m:
        raise SoftscopeError(f"n_query={n_query} must lie in [0, {m}]")
    if n_query == 0:
        return np.zeros((0, n_species * len(mu)))
    return _walk(points, codes, n_query, n_species, mu, s, rc, cutoff_function)


def _walk(points, codes, n_query, n_species, mu, sigma, rc, cutoff_function) -> np.ndarray:
    """One cell-list walk of ``points`` (contiguous float64) and the Gaussians of the
    query points, pair by pair; ``codes`` (M,) int species code per point."""
    cell_start, cell_points, bin_of, nb3, xyz, slot, max_cand, st = cell_walk(points, rc)
    sorted_species = np.ascontiguousarray(codes[cell_points], dtype=np.int64)
    ms, order, step = _grid(mu, sigma)
    out = _radial_fused(
        xyz,
        sorted_species,
        points[:n_query],
        slot[:n_query],
        bin_of[:n_query],
        cell_start,
        nb3,
        st,
        max_cand,
        n_species,
        ms,
        float(step),
        float(sigma),
        float(rc),
        bool(cutoff_function),
        WINDOW,
    )
    return _to_caller_order(out, n_species, order)


def radial_from_neighbors(
    nl: NeighborList,
    point_species: np.ndarray,
    n_species: int,
    centers: Sequence[float] | np.ndarray,
    sigma: float,
    cutoff: float,
    cutoff_function: bool = False,
) -> np.ndarray:
    """Kernel face: radial structure functions of the ``nl.n_query`` query points.

    ``point_species`` is an int code in [0, n_species) for every point of ``nl.points``
    (``codes[nl.point_atom]`` for a periodic frame; local + ghost codes in LAMMPS).
    ``nl`` may have a larger cutoff than ``cutoff``; only pairs with r_ij < cutoff count.
    """
    mu, s = check_radial_params(centers, sigma)
    rc, n_species, ps = check_kernel_inputs(nl, point_species, n_species, cutoff)
    ms, order, step = _grid(mu, s)
    out = _radial_kernel(
        nl.offsets,
        nl.neigh,
        nl.dist,
        ps,
        n_species,
        ms,
        float(step),
        s,
        rc,
        bool(cutoff_function),
        WINDOW,
    )
    return _to_caller_order(out, n_species, order)


def _to_caller_order(out: np.ndarray, n_species: int, order: np.ndarray) -> np.ndarray:
    """Columns were accumulated with centres sorted; put them back in the caller's order."""
    nc = order.shape[0]
    if np.array_equal(order, np.arange(nc)):
        return out
    res = np.empty_like(out)
    res.reshape(out.shape[0], n_species, nc)[:, :, order] = out.reshape(-1, n_species, nc)
    return res


@nb.njit(cache=True, inline="always")
def add_gaussians(
    row: np.ndarray,
    base: int,
    r: float,
    w: float,
    ms: np.ndarray,
    step: float,
    inv2s2: float,
    half: float,
    c: float,
) -> None:
    """Kernel (numba, inlined): add w·exp(−(r − μ_k)²/(2σ²)) to ``row[base + k]`` for the
    sorted centres μ_k = ``ms[k]`` within ±``half`` of the distance ``r`` (length unit).

    ``inv2s2`` = 1/(2σ²); ``step`` > 0: the centres are the uniform grid ms[0] + k·step,
    walked by the recurrence g_{k+1} = g_k q_k, q_{k+1} = q_k c with
    ``c`` = exp(−step²/σ²) (two exponentials per pair); ``step`` = 0: any sorted centres,
    one exponential each."""
    nc = ms.shape[0]
    if step > 0.0:
        # uniform grid: exactly the k with |r − μ_k| <= half (up to rounding of k),
        # walked with g_{k+1} = g_k q_k, q_{k+1} = q_k c (two exps per pair)
        mu0 = ms[0]
        klo = int(np.ceil((r - half - mu0) / step))
        khi = int(np.floor((r + half - mu0) / step))
        if klo < 0:
            klo = 0
        if khi > nc - 1:
            khi = nc - 1
        if klo > khi:
            return
        d = r - ms[klo]
        g = w * np.exp(-d * d * inv2s2)
        q = np.exp((2.0 * step * d - step * step) * inv2s2)
        for k in range(klo, khi + 1):
            row[base + k] += g
            g *= q
            q *= c
    else:
        klo = np.searchsorted(ms, r - half)
        khi = np.searchsorted(ms, r + half, side="right")
        for k in range(klo, khi):
            d = r - ms[k]
            row[base + k] += w * np.exp(-d * d * inv2s2)


@nb.njit(parallel=True, cache=True)
def _radial_kernel(offsets, neigh, dist, ps, n_species, ms, step, sigma, rc, use_fc, window):
    n = offsets.shape[0] - 1
    nc = ms.shape[0]
    out = np.zeros((n, n_species * nc), dtype=np.float64)
    inv2s2 = 1.0 / (2.0 * sigma * sigma)
    half = window * sigma
    c = np.exp(-step * step * 2.0 * inv2s2)
    for i in nb.prange(n):
        row = out[i]
        for p in range(offsets[i], offsets[i + 1]):
            r = dist[p]
            if r >= rc:
                continue
            w = 0.5 * (np.cos(np.pi * r / rc) + 1.0) if use_fc else 1.0
            add_gaussians(row, ps[neigh[p]] * nc, r, w, ms, step, inv2s2, half, c)
    return out


@nb.njit(cache=True, inline="always")
def _radial_atom(
    row,
    i,
    x,
    y,
    z,
    spc,
    qpos,
    qslot,
    qbin,
    cell_start,
    nb3,
    st,
    rc2,
    cand,
    cd2,
    nc,
    ms,
    step,
    inv2s2,
    half,
    c,
    rc,
    use_fc,
):
    """Add query point i's windowed Gaussians G_X(μ) (all its pairs) to ``row``."""
    m = gather(
        x,
        y,
        z,
        qpos[i, 0],
        qpos[i, 1],
        qpos[i, 2],
        qslot[i],
        qbin[i],
        cell_start,
        nb3,
        st,
        rc2,
        cand,
        cd2,
    )
    for u in range(m):
        r = np.sqrt(cd2[u])
        w = 0.5 * (np.cos(np.pi * r / rc) + 1.0) if use_fc else 1.0
        add_gaussians(row, spc[cand[u]] * nc, r, w, ms, step, inv2s2, half, c)


@nb.njit(
    parallel=True,
    cache=True,
    aot="f8[:,::1](f8[:,::1], i8[::1], f8[:,::1], i8[::1], i8[::1], i8[::1], i8[::1], i8, i8, "
    "i8, f8[::1], f8, f8, f8, b1, f8)",
)
def _radial_fused(
    xyz,
    spc,
    qpos,
    qslot,
    qbin,
    cell_start,
    nb3,
    st,
    max_cand,
    n_species,
    ms,
    step,
    sigma,
    rc,
    use_fc,
    window,
):
    """Cell-list walk (bins >= r_c/st, ±st stencil) + Gaussians, pair by pair."""
    n = qpos.shape[0]
    nc = ms.shape[0]
    out = np.zeros((n, n_species * nc), dtype=np.float64)
    inv2s2 = 1.0 / (2.0 * sigma * sigma)
    half = window * sigma
    c = np.exp(-step * step * 2.0 * inv2s2)
    rc2 = rc * rc
    x = xyz[0]
    y = xyz[1]
    z = xyz[2]
    chunk = 256
    nchunk = (n + chunk - 1) // chunk
    for ch in nb.prange(nchunk):
        cand = np.empty(max_cand + 1, dtype=np.int64)
        cd2 = np.empty(max_cand + 1, dtype=np.float64)
        for i in range(ch * chunk, min((ch + 1) * chunk, n)):
            _radial_atom(
                out[i],
                i,
                x,
                y,
                z,
                spc,
                qpos,
                qslot,
                qbin,
                cell_start,
                nb3,
                st,
                rc2,
                cand,
                cd2,
                nc,
                ms,
                step,
                inv2s2,
                half,
                c,
                rc,
                use_fc,
            )
    return out


# --------------------------------------------------------------------------- spec block
def _normalise(b: Mapping[str, Any]) -> dict[str, Any]:
    centers = [float(c) for c in b["centers"]]
    sigma = float(b["sigma"])
    if not centers or sigma <= 0:
        raise SoftscopeError("radial block needs non-empty centers and sigma > 0")
    cutoff = float(b.get("cutoff") or (max(centers) + 4 * sigma))
    return {
        "centers": centers,
        "sigma": sigma,
        "cutoff": cutoff,
        "cutoff_function": bool(b.get("cutoff_function", False)),
    }


def _compute(b, frame: Frame, species, extra) -> np.ndarray:
    return radial(
        frame,
        b["centers"],
        b["sigma"],
        species=list(species),
        cutoff=b["cutoff"],
        cutoff_function=b["cutoff_function"],
    )


def _compute_points(b, p: PointSet) -> np.ndarray:
    return radial_from_points(
        p.points,
        p.codes,
        p.n_query,
        len(p.species),
        b["centers"],
        b["sigma"],
        b["cutoff"],
        b["cutoff_function"],
    )


register_block(
    "radial",
    normalise=_normalise,
    cutoff=lambda b, species: b["cutoff"],
    names=lambda b, species: radial_names(list(species), b["centers"]),
    compute=_compute,
    compute_points=_compute_points,
)
