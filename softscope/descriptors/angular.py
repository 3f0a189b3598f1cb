"""Angular structure functions (Cubuk/Schoenholz form).

For atom i and a species pair X ≤ Y (in the model's species order) of neighbours j, k:

    Ψ_XY(i; ξ, λ, ζ) = [2^(1−ζ)] Σ_{j∈X, k∈Y} exp(−(r_ij² + r_ik² + r_jk²)/ξ²) (1 + λ cos θ_jik)^ζ
                        [· f_c(r_ij) f_c(r_ik) f_c(r_jk)]

- the sum runs over j ≠ k with r_ij < r_c and r_ik < r_c (periodic images are separate
  neighbours); for X = Y each unordered pair {j, k} counts once (j < k), for X ≠ Y every
  (j ∈ X, k ∈ Y) counts once — i.e. every unordered pair of neighbours exactly once;
- ``prefactor=True`` multiplies by 2^(1−ζ) (Behler G4, dscribe); default off (Cubuk);
- **r_jk**: with ``cutoff_function=False`` r_jk is *not* restricted (the only cut is
  r_ij, r_ik < r_c, the closest truncation of Cubuk's untruncated sum; the Gaussian
  already makes far triplets negligible, see :func:`default_angular_cutoff`).
  With ``cutoff_function=True`` the factor f_c(r_jk) is applied, with f_c(r) = 0 for
  r ≥ r_c, exactly as dscribe's G4 (which skips r_jk > r_c);
- f_c(r) = ½[cos(π r / r_c) + 1].

With ``prefactor=True, cutoff_function=True`` and η = 1/ξ², the result equals dscribe's
ACSF G4 (params [η, ζ, λ]).  Columns: pair blocks (X, Y) in lexicographic order of
species indices ((0,0), (0,1), …, (1,1), …); inside a block every (ξ, λ, ζ) of
``itertools.product(xi, lambdas, zetas)``.  Lengths in the simulation's unit (Å).

Spec block ``{"kind": "angular", "xi", "lambdas", "zetas", "cutoff", "prefactor",
"cutoff_function"}``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from softscope._jit import nb
from softscope.descriptors.registry import PointSet, register_block
from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.neighbors import (
    NeighborList,
    build_from_points,
    check_kernel_inputs,
    neighbor_list,
)

__all__ = [
    "angular",
    "angular_from_neighbors",
    "angular_names",
    "species_pairs",
    "default_angular_cutoff",
    "check_angular_params",
    "cosine_cutoff",
    "ANGULAR_TOL",
]

#: Default-cutoff tolerance: every triplet dropped by the default cutoff has
#: exp(−(r_ij² + r_ik² + r_jk²)/ξ²) < ANGULAR_TOL.
ANGULAR_TOL = 1e-8


def default_angular_cutoff(xi: Sequence[float] | np.ndarray) -> float:
    """r_c = max(ξ)·sqrt(ln(1/ANGULAR_TOL)/1.5) ≈ 3.50·max(ξ).

    A triplet with r_ij ≥ r_c has r_ij² + r_ik² + r_jk² ≥ 1.5 r_c² (since r_jk ≥ |r_ij − r_ik|),
    so its Gaussian weight is < ANGULAR_TOL.
    """
    return float(np.max(xi)) * math.sqrt(math.log(1.0 / ANGULAR_TOL) / 1.5)


def species_pairs(n_species: int) -> list[tuple[int, int]]:
    """Species-index pairs (X, Y), X ≤ Y, in column-block order."""
    return [(a, b) for a in range(n_species) for b in range(a, n_species)]


def check_angular_params(
    xi: Sequence[float] | np.ndarray,
    lambdas: Sequence[float] | np.ndarray,
    zetas: Sequence[float] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated ξ (length unit, > 0), λ (in [−1, 1]) and ζ (> 0) as 1-D float64 arrays;
    a :class:`SoftscopeError` says which is wrong."""
    out = []
    for name, v in (("xi", xi), ("lambdas", lambdas), ("zetas", zetas)):
        a = np.atleast_1d(np.asarray(v, dtype=np.float64))
        if a.ndim != 1 or a.size == 0:
            raise SoftscopeError(f"{name} must be a non-empty 1-D sequence, got shape {a.shape}")
        if not np.isfinite(a).all():
            raise SoftscopeError(f"{name} must be finite (no NaN or inf), got {a.tolist()}")
        out.append(a)
    x, lam, zet = out
    if (x <= 0).any():
        raise SoftscopeError(f"xi must be positive lengths, got {x.tolist()}")
    if (np.abs(lam) > 1).any():
        raise SoftscopeError(
            f"lambdas must lie in [-1, 1] (usually ±1) so that 1 + λ cos θ >= 0, got {lam.tolist()}"
        )
    if (zet <= 0).any():
        raise SoftscopeError(f"zetas must be positive, got {zet.tolist()}")
    return x, lam, zet


def angular_names(
    species: Sequence[str],
    xi: Sequence[float] | np.ndarray,
    lambdas: Sequence[float] | np.ndarray,
    zetas: Sequence[float] | np.ndarray,
) -> list[str]:
    """Feature names in column order, e.g. ``Psi_CuZr(xi=2,lambda=-1,zeta=1)``."""
    x, lam, zet = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (xi, lambdas, zetas))
    sp = list(species)
    return [
        f"Psi_{sp[a]}{sp[b]}(xi={p:g},lambda={q:g},zeta={z:g})"
        for a, b in species_pairs(len(sp))
        for p, q, z in itertools.product(x, lam, zet)
    ]


def angular(
    frame: Frame,
    xi: Sequence[float] | np.ndarray,
    lambdas: Sequence[float] | np.ndarray,
    zetas: Sequence[float] | np.ndarray,
    species: Sequence[str] | None = None,
    cutoff: float | None = None,
    prefactor: bool = False,
    cutoff_function: bool = False,
) -> np.ndarray:
    """Angular structure functions of every atom, (N, n_pairs·len(ξ)·len(λ)·len(ζ)) float64.

    Parameters
    ----------
    frame : the configuration (periodic images count as neighbours).
    xi : Gaussian lengths ξ (length unit), > 0.
    lambdas : λ values in [−1, 1].
    zetas : ζ exponents, > 0.
    species : species order (default: sorted names in the frame); n_pairs = n(n+1)/2.
    cutoff : r_c (length unit) for r_ij, r_ik; default :func:`default_angular_cutoff`.
    prefactor : multiply by 2^(1−ζ).
    cutoff_function : multiply by f_c(r_ij) f_c(r_ik) f_c(r_jk) (f_c = 0 beyond r_c).
    """
    x, lam, zet = check_angular_params(xi, lambdas, zetas)
    rc = default_angular_cutoff(x) if cutoff is None else float(cutoff)
    codes, names = frame.species_index(species)
    nl = neighbor_list(frame, rc)
    return angular_from_neighbors(
        nl, codes[nl.point_atom], len(names), x, lam, zet, rc, prefactor, cutoff_function
    )


def angular_from_neighbors(
    nl: NeighborList,
    point_species: np.ndarray,
    n_species: int,
    xi: Sequence[float] | np.ndarray,
    lambdas: Sequence[float] | np.ndarray,
    zetas: Sequence[float] | np.ndarray,
    cutoff: float,
    prefactor: bool = False,
    cutoff_function: bool = False,
) -> np.ndarray:
    """Kernel face: angular structure functions of the ``nl.n_query`` query points.

    ``point_species`` holds an int code in [0, n_species) per point of ``nl.points``.
    ``nl`` may have a larger cutoff than ``cutoff``; only r_ij, r_ik < cutoff count.
    """
    x, lam, zet = check_angular_params(xi, lambdas, zetas)
    rc, n_species, ps = check_kernel_inputs(nl, point_species, n_species, cutoff)
    pair_index = np.full((n_species, n_species), -1, dtype=np.int64)
    for k, (a, b) in enumerate(species_pairs(n_species)):
        pair_index[a, b] = pair_index[b, a] = k
    # integer ζ use repeated multiplication (exact, faster than pow)
    zint = np.where((zet == np.round(zet)) & (zet <= 64), np.round(zet), -1).astype(np.int64)
    pref = np.power(2.0, 1.0 - zet) if prefactor else np.ones_like(zet)
    return _angular_kernel(
        nl.points,
        nl.offsets,
        nl.neigh,
        nl.dist,
        ps,
        pair_index,
        1.0 / (x * x),
        lam,
        zet,
        zint,
        pref,
        rc,
        bool(cutoff_function),
    )


@nb.njit(cache=True, inline="always")
def cosine_cutoff(r: float, rc: float) -> float:
    """Kernel (numba, inlined): f_c(r) = ½[cos(π r / r_c) + 1] for r < r_c, else 0."""
    if r >= rc:
        return 0.0
    return 0.5 * (np.cos(np.pi * r / rc) + 1.0)


@nb.njit(parallel=True, cache=True)
def _angular_kernel(
    points, offsets, neigh, dist, ps, pair_index, inv_xi2, lam, zet, zint, pref, rc, use_fc
):
    n = offsets.shape[0] - 1
    nx = inv_xi2.shape[0]
    nl_ = lam.shape[0]
    nz = zet.shape[0]
    nf = nx * nl_ * nz
    npairs = pair_index.max() + 1
    out = np.zeros((n, npairs * nf), dtype=np.float64)
    maxn = 0
    for i in range(n):
        maxn = max(maxn, offsets[i + 1] - offsets[i])
    chunk = 64
    nchunk = (n + chunk - 1) // chunk
    for ch in nb.prange(nchunk):
        # per-atom neighbour data gathered once (vectors, r², species, f_c, e^{-r²/ξ²})
        vx = np.empty(maxn)
        vy = np.empty(maxn)
        vz = np.empty(maxn)
        r1 = np.empty(maxn)
        sp = np.empty(maxn, dtype=np.int64)
        fcv = np.empty(maxn)
        ex = np.empty((maxn, nx))
        gx = np.empty(nx)
        base_l = np.empty(nl_)
        acc = np.empty(npairs * nf)
        for i in range(ch * chunk, min((ch + 1) * chunk, n)):
            m = 0
            for p in range(offsets[i], offsets[i + 1]):
                r = dist[p]
                if r >= rc:
                    continue
                j = neigh[p]
                vx[m] = points[j, 0] - points[i, 0]
                vy[m] = points[j, 1] - points[i, 1]
                vz[m] = points[j, 2] - points[i, 2]
                r1[m] = r
                sp[m] = ps[j]
                fcv[m] = cosine_cutoff(r, rc) if use_fc else 1.0
                for a in range(nx):
                    ex[m, a] = np.exp(-r * r * inv_xi2[a])
                m += 1
            acc[:] = 0.0
            for u in range(m):
                ax = vx[u]
                ay = vy[u]
                az = vz[u]
                rij = r1[u]
                su = sp[u]
                for v in range(u + 1, m):
                    dx = ax - vx[v]
                    dy = ay - vy[v]
                    dz = az - vz[v]
                    rjk2 = dx * dx + dy * dy + dz * dz
                    w = 1.0
                    if use_fc:
                        rjk = np.sqrt(rjk2)
                        if rjk >= rc:
                            continue
                        w = fcv[u] * fcv[v] * cosine_cutoff(rjk, rc)
                    cos = (ax * vx[v] + ay * vy[v] + az * vz[v]) / (rij * r1[v])
                    for a in range(nx):
                        gx[a] = w * ex[u, a] * ex[v, a] * np.exp(-rjk2 * inv_xi2[a])
                    for b in range(nl_):
                        t = 1.0 + lam[b] * cos
                        base_l[b] = t if t > 0.0 else 0.0
                    col = pair_index[su, sp[v]] * nf
                    for a in range(nx):
                        for b in range(nl_):
                            tb = base_l[b]
                            for c in range(nz):
                                zi = zint[c]
                                if zi >= 0:
                                    val = 1.0
                                    for _ in range(zi):
                                        val *= tb
                                else:
                                    val = tb ** zet[c]
                                acc[col + (a * nl_ + b) * nz + c] += pref[c] * gx[a] * val
            for f in range(npairs * nf):
                out[i, f] = acc[f]
    return out


# --------------------------------------------------------------------------- spec block
def _normalise(b: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "xi": [float(x) for x in np.atleast_1d(b["xi"])],
        "lambdas": [float(x) for x in np.atleast_1d(b["lambdas"])],
        "zetas": [float(x) for x in np.atleast_1d(b["zetas"])],
        "cutoff": float(b["cutoff"]),
        "prefactor": bool(b.get("prefactor", False)),
        "cutoff_function": bool(b.get("cutoff_function", False)),
    }


def _compute(b, frame: Frame, species, extra) -> np.ndarray:
    return angular(
        frame,
        b["xi"],
        b["lambdas"],
        b["zetas"],
        species=list(species),
        cutoff=b["cutoff"],
        prefactor=b["prefactor"],
        cutoff_function=b["cutoff_function"],
    )


def _compute_points(b, p: PointSet) -> np.ndarray:
    nl = build_from_points(p.points, p.n_query, b["cutoff"])
    return angular_from_neighbors(
        nl,
        p.codes,
        len(p.species),
        b["xi"],
        b["lambdas"],
        b["zetas"],
        b["cutoff"],
        prefactor=b["prefactor"],
        cutoff_function=b["cutoff_function"],
    )


register_block(
    "angular",
    normalise=_normalise,
    cutoff=lambda b, species: b["cutoff"],
    names=lambda b, species: angular_names(list(species), b["xi"], b["lambdas"], b["zetas"]),
    compute=_compute,
    compute_points=_compute_points,
)
