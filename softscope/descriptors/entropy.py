"""Two-body excess entropy per atom (Piaggi & Parrinello, J. Chem. Phys. 147, 114112 (2017)).

Definition (CONVENTIONS.md), in units of k_B::

    g_i(r) = 1/(4π ρ r²) · Σ_{j : 0 < r_ij < r_m} (2πσ²)^(−1/2) · exp(−(r − r_ij)² / (2σ²))
    s2_i   = −2π ρ ∫₀^{r_m} [ g_i(r) ln g_i(r) − g_i(r) + 1 ] r² dr

Discretisation — exactly that of LAMMPS ``compute entropy/atom σ r_m``
(src/EXTRA-COMPUTE/compute_entropy_atom.cpp), which is the reference:

- radial grid r_k = k·Δr with Δr = σ (not finer!), k = 0 … nbin−1,
  nbin = int(r_m/σ) + 1 (so the last grid point is ≤ r_m);
- pairs with r_ij < r_m (strict ``<``, as LAMMPS' ``rsq < cutsq``); the pair
  cutoff is r_m itself, not r_m + 3σ;
- each pair adds its Gaussian only to the 7 grid points k = b−3 … b+3 with
  b = floor(r_ij/Δr), clipped to [0, nbin−1] (LAMMPS' ``deltabin = 3``; this
  truncation is part of LAMMPS' definition, so softscope reproduces it);
- where g(r_k) < 1e−10 the integrand is r_k² (the g ln g − g limit for g → 0);
- trapezoid rule over the grid with step Δr;
- ρ = N/V, the number density of the whole system (LAMMPS: ``natoms / (xprd·yprd·zprd)``);
  with ``local_density`` it is instead, per atom, ρ_i = n_i / (4/3 π R³) with n_i the
  number of neighbours within R (LAMMPS: R = pair cutoff + neighbour skin, and n_i
  counts its whole neighbour list).

Neighbour averaging (LAMMPS ``avg yes r_avg``): the mean of s2 over the atom and its
neighbours with r_ij < r_avg — :func:`softscope.descriptors.coarse_grain`'s definition.

Deviation: the grid point r_0 = 0 is left out of the Gaussian sums (LAMMPS divides by
r_0² = 0 there, which gives inf/NaN for atoms with a neighbour closer than 4σ; for
any physical configuration no Gaussian reaches r_0 and the two agree).

Extension (not in LAMMPS): ``species_resolved=True`` uses partial pair distributions.
For atom i and each species β with concentration c_β (whole system)::

    g_iβ(r) = 1/(4π ρ c_β r²) · Σ_{j ∈ β} (2πσ²)^(−1/2) exp(−(r − r_ij)²/(2σ²))
    s2_i    = −2π ρ Σ_β c_β ∫₀^{r_m} [ g_iβ ln g_iβ − g_iβ + 1 ] r² dr

on the same grid; the average of s2_i over the atoms of species α weighted by c_α is
the multicomponent two-body entropy −½ ρ Σ_αβ c_α c_β ∫ [g_αβ ln g_αβ − g_αβ + 1] dV.
For a single species it equals the species-blind value.

Spec block ``{"kind": "entropy", "sigma", "r_max", "average_cutoff"}`` (species-blind,
density N/V of the whole system).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from softscope._jit import nb
from softscope.descriptors.coarse_grain import coarse_grain_from_neighbors, coarse_grain_names
from softscope.descriptors.registry import PointSet, register_block
from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.neighbors import NeighborList, build_from_points, neighbor_list

__all__ = ["entropy", "entropy_from_neighbors", "entropy_names"]

# LAMMPS compute entropy/atom constants
_DELTABIN = 3  # grid points on each side of floor(r/Δr) that receive a pair's Gaussian
_G_FLOOR = 1.0e-10  # below it the integrand is r² (g ln g - g + 1 -> 1)
_MAX_BINS = 1_000_000


def entropy(
    frame: Frame,
    sigma: float,
    r_max: float,
    average_cutoff: float | None = None,
    local_density: bool = False,
    species_resolved: bool = False,
    *,
    local_density_radius: float | None = None,
) -> np.ndarray:
    """Two-body excess entropy s2 of every atom, (N,) float64 in units of k_B.

    Parameters
    ----------
    frame : the configuration (periodic images count as neighbours).
    sigma : Gaussian width σ, length unit; also the radial grid step (as LAMMPS).
    r_max : upper limit of the integral and pair cutoff r_m, length unit.
    average_cutoff : if given, return the mean of s2 over the atom and its neighbours
        closer than this (LAMMPS ``avg yes average_cutoff``).
    local_density : normalise g_i(r) with the local density n_i / (4/3 π R³) instead of
        N/V (LAMMPS ``local yes``).
    species_resolved : extension, not in LAMMPS: partial g_iβ weighted by the
        concentrations c_β (see the module docstring).
    local_density_radius : R for ``local_density``; default ``r_max``.  To match LAMMPS
        pass its neighbour-list cutoff (pair cutoff + skin).

    Equals LAMMPS ``compute entropy/atom sigma r_max [avg yes average_cutoff]
    [local yes]`` to ~1e-12 relative when species-blind.
    """
    sigma, r_max, average_cutoff, local_r = _check_params(
        sigma, r_max, average_cutoff, local_density, local_density_radius
    )
    if not isinstance(frame, Frame):
        raise SoftscopeError(f"frame must be a softscope Frame, got {type(frame).__name__}")
    codes, names = frame.species_index()
    n = len(frame)
    conc = np.bincount(codes, minlength=len(names)).astype(np.float64) / n
    cutoff = max(r_max, average_cutoff or 0.0, local_r or 0.0)
    nl = neighbor_list(frame, cutoff)
    return entropy_from_neighbors(
        nl,
        codes[nl.point_atom],
        sigma,
        r_max,
        n / frame.volume,
        average_cutoff=average_cutoff,
        local_density=local_density,
        local_density_radius=local_r,
        species_resolved=species_resolved,
        concentrations=conc if species_resolved else None,
    )


def entropy_from_neighbors(
    nl: NeighborList,
    point_species: np.ndarray | None,
    sigma: float,
    r_max: float,
    density: float | None,
    *,
    average_cutoff: float | None = None,
    local_density: bool = False,
    local_density_radius: float | None = None,
    species_resolved: bool = False,
    concentrations: np.ndarray | None = None,
) -> np.ndarray:
    """Kernel face: s2 (k_B) of the ``nl.n_query`` query atoms, (n_query,) float64.

    ``nl.cutoff`` must be at least ``r_max``, ``average_cutoff`` and ``local_density_radius``.

    ``density`` (atoms per length unit cubed) and ``concentrations`` (fraction of each
    species code, summing to 1) are those of the **whole system** and must be passed
    explicitly: a LAMMPS rank sees only its sub-domain + ghosts (LAMMPS itself uses
    ``natoms / (xprd·yprd·zprd)``).  ``density`` may be None with ``local_density``.
    ``point_species`` (int codes per point of ``nl.points``) is only read when
    ``species_resolved``; it may be None otherwise.

    With ``average_cutoff`` every neighbour within it must be (an image of) a query
    atom, ``nl.point_atom[j] < n_query``: for LAMMPS build the list for local + ghost
    atoms (like LAMMPS' ghost neighbour list) and keep the first nlocal results.
    """
    sigma, r_max, average_cutoff, local_r = _check_params(
        sigma, r_max, average_cutoff, local_density, local_density_radius
    )
    if not isinstance(nl, NeighborList):
        raise SoftscopeError(f"nl must be a softscope NeighborList, got {type(nl).__name__}")
    need = max(r_max, average_cutoff or 0.0, local_r or 0.0)
    if nl.cutoff < need:
        raise SoftscopeError(
            f"the neighbour list cutoff {nl.cutoff} is shorter than needed ({need}: max of "
            "r_max, average_cutoff and local_density_radius); build it with a larger cutoff"
        )
    if local_density:
        dens = 0.0
    else:
        if density is None or not np.isfinite(density) or density <= 0:
            raise SoftscopeError(
                "density must be the positive number density N/V of the whole system, "
                f"got {density}"
            )
        dens = float(density)
    m = nl.points.shape[0]
    if species_resolved:
        if point_species is None or concentrations is None:
            raise SoftscopeError(
                "species_resolved=True needs point_species (int code per point) and "
                "concentrations (fraction of each code in the whole system)"
            )
        ps = np.ascontiguousarray(point_species, dtype=np.int64).reshape(-1)
        conc = np.ascontiguousarray(concentrations, dtype=np.float64).reshape(-1)
        if ps.shape[0] != m:
            raise SoftscopeError(
                f"point_species has {ps.shape[0]} entries, the neighbour list has {m} points"
            )
        if not np.all(np.isfinite(conc)) or np.any(conc < 0) or abs(conc.sum() - 1.0) > 1e-9:
            raise SoftscopeError(
                f"concentrations must be non-negative fractions summing to 1, got {conc.tolist()}"
            )
        if m and (ps.min() < 0 or ps.max() >= conc.shape[0]):
            raise SoftscopeError(
                f"point_species codes must lie in [0, {conc.shape[0] - 1}] (one per concentration)"
            )
        used = np.unique(ps[nl.neigh]) if nl.n_pairs else np.zeros(0, np.int64)
        if np.any(conc[used] == 0.0):
            raise SoftscopeError(
                "a neighbour has a species whose concentration is 0; concentrations must "
                "describe the whole system"
            )
    else:
        ps = np.zeros(m, dtype=np.int64)
        conc = np.ones(1, dtype=np.float64)
    nbin = int(r_max / sigma) + 1
    s2 = _s2_kernel(
        nl.offsets,
        nl.dist,
        nl.neigh,
        ps,
        conc,
        float(sigma),
        float(r_max),
        nbin,
        dens,
        bool(local_density),
        float(local_r or 0.0),
    )
    if average_cutoff is None:
        return s2
    sub = nl.within(average_cutoff)
    if sub.n_pairs and int(nl.point_atom[sub.neigh].max()) >= nl.n_query:
        raise SoftscopeError(
            "averaging needs s2 of every neighbour within average_cutoff, but some are points "
            "without a neighbour list (point_atom >= n_query); build the list for local + "
            "ghost atoms"
        )
    pv = s2[np.minimum(nl.point_atom, nl.n_query - 1)] if nl.n_query else s2
    return coarse_grain_from_neighbors(sub, pv, average_cutoff)


def entropy_names(
    sigma: float,
    r_max: float,
    average_cutoff: float | None = None,
    local_density: bool = False,
    species_resolved: bool = False,
    local_density_radius: float | None = None,
) -> list[str]:
    """Feature name of the entropy for a parameter set, e.g. ``['cg4(s2[sigma=0.2,r_max=5])']``."""
    sigma, r_max, average_cutoff, local_r = _check_params(
        sigma, r_max, average_cutoff, local_density, local_density_radius
    )
    base = "s2_species" if species_resolved else "s2"
    parts = [f"sigma={sigma:g}", f"r_max={r_max:g}"]
    if local_density:
        parts.append(f"local={local_r:g}")
    name = f"{base}[{','.join(parts)}]"
    if average_cutoff is not None:
        return coarse_grain_names([name], average_cutoff)
    return [name]


# --------------------------------------------------------------------------- checks
def _positive(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SoftscopeError(f"{name} must be a positive finite length, got {value!r}") from None
    if not math.isfinite(v) or v <= 0.0:
        raise SoftscopeError(f"{name} must be a positive finite length, got {value!r}")
    return v


def _check_params(sigma, r_max, average_cutoff, local_density, local_density_radius):
    sigma = _positive("sigma", sigma)
    r_max = _positive("r_max", r_max)
    if r_max / sigma > _MAX_BINS:
        raise SoftscopeError(
            f"r_max/sigma = {r_max / sigma:.3g} would need more than {_MAX_BINS} grid points "
            "(the grid step is sigma); use a larger sigma or a smaller r_max"
        )
    if average_cutoff is not None:
        average_cutoff = _positive("average_cutoff", average_cutoff)
    if not isinstance(local_density, (bool, np.bool_)):
        raise SoftscopeError(f"local_density must be True or False, got {local_density!r}")
    local_r = None
    if local_density:
        local_r = (
            r_max
            if local_density_radius is None
            else _positive("local_density_radius", local_density_radius)
        )
    elif local_density_radius is not None:
        raise SoftscopeError("local_density_radius is only used with local_density=True")
    return sigma, r_max, average_cutoff, local_r


# --------------------------------------------------------------------------- kernel
@nb.njit(
    parallel=True,
    cache=True,
    aot="f8[::1](i8[::1], f8[::1], i4[::1], i8[::1], f8[::1], f8, f8, i8, f8, b1, f8)",
)
def _s2_kernel(
    offsets, dist, neigh, point_species, conc, sigma, r_max, nbin, density, local, local_r
):
    n = offsets.shape[0] - 1
    nsp = conc.shape[0]
    deltar = sigma
    sigmasq2 = 2.0 * sigma * sigma
    rbin = np.empty(nbin)
    rbinsq = np.empty(nbin)
    for k in range(nbin):
        rbin[k] = k * deltar
        rbinsq[k] = rbin[k] * rbin[k]
    out = np.empty(n, dtype=np.float64)
    chunk = 64
    nchunk = (n + chunk - 1) // chunk
    for c in nb.prange(nchunk):
        gofr = np.empty((nsp, nbin))
        inv_norm = np.empty(nsp)
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            rho = density
            if local:
                cnt = 0
                for p in range(offsets[i], offsets[i + 1]):
                    if dist[p] < local_r:
                        cnt += 1
                rho = cnt / ((4.0 / 3.0) * np.pi * local_r * local_r * local_r)
            # LAMMPS: 1 / (4 pi rho * sqrt(2 pi) sigma), with rho -> rho c_b per species
            for b in range(nsp):
                base = 4.0 * np.pi * (rho * conc[b]) if nsp > 1 else 4.0 * np.pi * rho
                base *= np.sqrt(2.0 * np.pi) * sigma
                inv_norm[b] = 1.0 / base if base > 0.0 else 0.0
                for k in range(nbin):
                    gofr[b, k] = 0.0
            for p in range(offsets[i], offsets[i + 1]):
                r = dist[p]
                if r >= r_max:
                    continue
                b = point_species[neigh[p]] if nsp > 1 else 0
                bn = int(np.floor(r / deltar))
                kmin = bn - _DELTABIN
                if kmin < 1:  # k = 0 left out: r_0 = 0 (LAMMPS divides by 0 there)
                    kmin = 1
                kmax = bn + _DELTABIN
                if kmax > nbin - 1:
                    kmax = nbin - 1
                for k in range(kmin, kmax + 1):
                    d = r - rbin[k]
                    gofr[b, k] += (inv_norm[b] / rbinsq[k]) * np.exp(-d * d / sigmasq2)
            value = 0.0
            for b in range(nsp):
                if nsp > 1 and conc[b] == 0.0:
                    continue
                tot = 0.0
                first = 0.0
                last = 0.0
                for k in range(nbin):
                    g = gofr[b, k]
                    if g < _G_FLOOR:
                        integ = rbinsq[k]
                    else:
                        integ = (g * np.log(g) - g + 1.0) * rbinsq[k]
                    if k == 0:
                        first = integ
                    if k == nbin - 1:
                        last = integ
                    if 0 < k < nbin - 1:
                        tot += integ
                tot += 0.5 * first
                tot += 0.5 * last
                tot *= deltar
                value += tot * conc[b] if nsp > 1 else tot
            out[i] = -2.0 * np.pi * rho * value
    return out


# --------------------------------------------------------------------------- spec block
def _normalise(b: Mapping[str, Any]) -> dict[str, Any]:
    avg = b.get("average_cutoff")
    return {
        "sigma": float(b["sigma"]),
        "r_max": float(b["r_max"]),
        "average_cutoff": None if avg is None else float(avg),
    }


def _cutoff(b, species) -> float:
    # the neighbour average needs the neighbours' own r_max neighbourhoods
    return b["r_max"] + (b["average_cutoff"] or 0.0)


def _compute(b, frame: Frame, species, extra) -> np.ndarray:
    return entropy(frame, b["sigma"], b["r_max"], average_cutoff=b["average_cutoff"])[:, None]


def _compute_points(b, p: PointSet) -> np.ndarray:
    if p.density is None:
        raise SoftscopeError("an entropy block needs the system's number density N/V")
    avg = b["average_cutoff"]
    # the neighbour average needs s2 of every point within average_cutoff of a query
    n_e = p.points.shape[0] if avg else p.n_query
    nl = build_from_points(p.points, n_e, max(b["r_max"], avg or 0.0))
    out = entropy_from_neighbors(
        nl, p.codes, b["sigma"], b["r_max"], float(p.density), average_cutoff=avg
    )
    return out[: p.n_query, None]


register_block(
    "entropy",
    normalise=_normalise,
    cutoff=_cutoff,
    names=lambda b, species: entropy_names(
        b["sigma"], b["r_max"], average_cutoff=b["average_cutoff"]
    ),
    compute=_compute,
    compute_points=_compute_points,
)
