"""Linear projections of the raw structure functions, without the feature matrix.

A linear model (softness) needs, per atom i and coefficient row k, only

    p_k(i) = Σ_f C_kf raw_f(i) + c_k,      C_kf = w_kf / s_kf,  c_k = −Σ_f w_kf m_kf / s_kf

(w, m, s: weights, feature means and scales of block k of the model, see
:meth:`softscope.models.estimators.LinearEstimator.block_coefficients`).  For a spec
with coarse-graining radii r_1..r_n the model's decision function regroups as
S(i) = b + p_0(i) + Σ_k cg_{r_k}(p_k)(i), since coarse-graining is a mean
(:meth:`softscope.models.model.Model.linear_blocks`).

One kernel (:func:`_projection_kernel`) evaluates a radial and an angular block from one
gather per atom, so memory is O(n_query · K) (K = number of rows, 1 + n_cg) instead of
O(n_query · n_raw), and no neighbour list is stored: it walks the neighbour engine's cell
bins (:func:`softscope.neighbors.cell_walk`) itself.  The radial block's part is a pair
sum, Σ_j h_k,X_j(r_ij), over the tabulated pair functions of :func:`radial_table` (exact
to :data:`TABLE_ATOL` per pair); the angular functions of one atom are accumulated (as
cos θ moments for integer ζ) and contracted with C at the end of the atom.  Same pairs and
triplets as :func:`~softscope.descriptors.radial.radial` and
:func:`~softscope.descriptors.angular.angular` (d² < r_c², j ≠ i), same conventions
(see those modules); the result equals ``raw @ C.T + c`` to ~1e-12 (tests/test_fix_fused.py).
Blocks of every other kind (entropy, interstice, external, any registered kind) are
computed as raw columns by their block kind and projected with numpy.  With the spec's
``raw_bounds`` every raw column is clamped before the contraction: the kernel then keeps
every radial centre exact (per-atom Gaussian sums) and forms each atom's Ψ from its
moments, clamps them and contracts with the raw coefficients; other blocks are clipped in
numpy.

Faces: :func:`projection` (periodic frame) and :func:`projection_from_points` (LAMMPS:
local + ghost points, no periodicity added).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from softscope._jit import nb
from softscope.descriptors.angular import check_angular_params, cosine_cutoff, species_pairs
from softscope.descriptors.radial import WINDOW, add_gaussians, check_radial_params
from softscope.descriptors.registry import PointSet, block_kind, frame_points
from softscope.descriptors.spec import DescriptorSpec
from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.neighbors import cell_walk, gather

__all__ = [
    "projection",
    "projection_from_points",
    "projection_names",
    "radial_table",
    "RadialTable",
    "TABLE_ATOL",
    "common_unit",
]


def projection_names(n_rows: int, coarse_grain: tuple[float, ...] = ()) -> list[str]:
    """Names of the K projection columns: ``p_raw`` then ``p_cg(r)`` per coarse-graining
    radius (when ``n_rows == 1 + len(coarse_grain)``), else ``p_0 .. p_{K-1}``."""
    if n_rows == 1 + len(coarse_grain):
        return ["p_raw"] + [f"p_cg({r:g})" for r in coarse_grain]
    return [f"p_{k}" for k in range(n_rows)]


def projection(
    frame: Frame,
    spec: DescriptorSpec,
    coef: np.ndarray,
    const: np.ndarray | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """(N, K) float64: p_k(i) = Σ_f coef[k, f] raw_f(i) + const[k] for every atom of a
    periodic ``frame``; ``raw`` = ``spec.compute_raw(frame)`` (periodic images count)."""
    ps, _ = frame_points(frame, spec.cutoff, spec.species, extra)
    return projection_from_points(
        spec, ps.points, ps.codes, ps.n_query, coef, const, density=ps.density, extra=ps.extra
    )


def projection_from_points(
    spec: DescriptorSpec,
    points: np.ndarray,
    point_species_codes: np.ndarray,
    n_query: int,
    coef: np.ndarray,
    const: np.ndarray | None = None,
    density: float | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """(n_query, K) float64 projections of ``points[:n_query]`` (LAMMPS face).

    ``points`` (M, 3): local then ghost atoms (ghosts must reach ``spec.cutoff`` beyond
    every query point); ``point_species_codes`` (M,) codes in the spec's species order;
    ``coef`` (K, n_raw) in the column order of ``spec.raw_names()``; ``const`` (K,)
    (default 0); ``density``/``extra`` as in
    :meth:`~softscope.descriptors.spec.DescriptorSpec.compute_raw_points` (other block
    kinds).
    """
    pts, codes, n_query = spec.check_points(points, point_species_codes, n_query)
    n_raw = len(spec.raw_names())
    c = np.asarray(coef, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != n_raw:
        raise SoftscopeError(f"coef must have shape (K, {n_raw}) for this spec, got {c.shape}")
    if not np.isfinite(c).all():
        raise SoftscopeError("coef contains NaN or inf")
    k = c.shape[0]
    if n_query == 0:
        return np.zeros((0, k))
    out = _fused_projection(spec, pts, codes, n_query, c, density, extra)
    if const is not None:
        cst = np.asarray(const, dtype=np.float64).reshape(-1)
        if cst.shape != (k,):
            raise SoftscopeError(f"const must have shape ({k},), got {cst.shape}")
        out += cst
    if not np.isfinite(out).all():
        raise SoftscopeError("projections contain NaN or inf")
    return out


def _fused_projection(spec, pts, codes, n_query, c, density, extra) -> np.ndarray:
    """(n_query, K) Σ_f c[k, f] raw_f of every block (raw_f clamped to the spec's
    ``raw_bounds`` if any), radial and angular ones by the fused kernel (no raw matrix)."""
    k = c.shape[0]
    lo_all = hi_all = None
    if spec.raw_bounds is not None:
        lo_all, hi_all = (np.asarray(v, dtype=np.float64) for v in spec.raw_bounds)
    out = None  # the first block's projections become the sum (no zeros + copy)
    ns = len(spec.species)
    f0 = 0
    pair_blocks = {"radial": [], "angular": []}
    ps = PointSet(pts, codes, n_query, spec.species, density, extra)
    for b in spec.blocks:
        kind = block_kind(b["kind"])
        nf = len(kind.names(b, spec.species))
        cb = np.ascontiguousarray(c[:, f0 : f0 + nf])
        bounds = None if lo_all is None else (lo_all[f0 : f0 + nf], hi_all[f0 : f0 + nf])
        f0 += nf
        if b["kind"] in pair_blocks:
            pair_blocks[b["kind"]].append((b, cb, bounds))
        else:
            raw = kind.compute_points(b, ps)
            if not np.isfinite(raw).all():
                raise SoftscopeError(f"{b['kind']} features contain NaN or inf")
            if bounds is not None:
                np.clip(raw, bounds[0], bounds[1], out=raw)
            out = _add(out, raw @ cb.T)
    # radial and angular blocks: one cell walk and one gather per atom for a radial block
    # and an angular block together (the angular neighbours are a subset)
    rad, ang = pair_blocks["radial"], pair_blocks["angular"]
    while rad or ang:
        rb, ab = rad.pop(0) if rad else None, ang.pop(0) if ang else None
        reach = max(float(blk[0]["cutoff"]) for blk in (rb, ab) if blk is not None)
        r = _radial_args(rb[0], rb[1], ns, rb[2]) if rb is not None else _no_radial(k)
        a = _angular_args(ab[0], ab[1], ns, ab[2]) if ab is not None else _no_angular(k)
        out = _add(out, _pair_projection(pts, codes, n_query, reach, r, a))
    if out is None:
        out = np.zeros((n_query, k))
    return out


def _add(total: np.ndarray | None, term: np.ndarray) -> np.ndarray:
    """total + term, in place; the first term (a fresh array) becomes the total."""
    if total is None:
        return term
    total += term
    return total


# --------------------------------------------------------------------------- setup
def _pair_projection(points, codes, n_query, reach: float, rad: tuple, ang: tuple) -> np.ndarray:
    """One :func:`_projection_kernel` call: a radial and/or an angular block, gathering the
    points within ``reach`` (the larger cutoff)."""
    cell_start, cell_points, bin_of, nb3, xyz, slot, max_cand, st = cell_walk(
        points, reach, n_query=n_query
    )
    spc = np.ascontiguousarray(codes[cell_points])
    return _projection_kernel(
        xyz,
        spc,
        points[:n_query],
        slot[:n_query],
        bin_of[:n_query],
        cell_start,
        nb3,
        st,
        max_cand,
        reach,
        *rad,
        *ang,
    )


def _radial_args(b, coef, n_species, bounds=None) -> tuple:
    """The kernel's radial arguments: tabulated pair functions, or with ``bounds`` (lower,
    upper) of the block's raw columns every centre exact and its per-atom sums clamped."""
    mu, s = check_radial_params(b["centers"], b["sigma"])
    rc = float(b["cutoff"])
    fc = bool(b["cutoff_function"])
    nk = coef.shape[0]
    if bounds is None:
        tab = radial_table(mu, s, rc, fc, coef, n_species)
        table, inv_dr, emu, estep = tab.table, tab.inv_dr, tab.exact_mu, tab.exact_step
        ecoef = tab.exact_coef.reshape(nk, -1)
        lo = hi = np.zeros(0)
    else:
        order = np.argsort(mu, kind="stable")
        emu, estep = _exact_grid(mu[order])
        table, inv_dr = np.zeros((1, 1, nk, 6)), 0.0
        ecoef = coef.reshape(nk, n_species, mu.size)[:, :, order].reshape(nk, -1)
        lo, hi = (np.asarray(v).reshape(n_species, mu.size)[:, order].ravel() for v in bounds)
    return (
        True,
        np.ascontiguousarray(table),
        inv_dr,
        np.ascontiguousarray(emu),
        np.ascontiguousarray(ecoef),
        estep,
        1.0 / (2.0 * s * s),
        WINDOW * s,
        rc,
        fc,
        bounds is not None,
        np.ascontiguousarray(lo, dtype=np.float64),
        np.ascontiguousarray(hi, dtype=np.float64),
    )


def _no_radial(nk: int) -> tuple:
    return (
        False,
        np.zeros((1, 1, nk, 6)),
        1.0,
        np.zeros(0),
        np.zeros((nk, 0)),
        0.0,
        1.0,
        0.0,
        0.0,
        False,
        False,
        np.zeros(0),
        np.zeros(0),
    )


#: Absolute error bound per pair of the tabulated radial pair functions, in units of the
#: projection (e.g. softness).  A centre whose coefficients are so large that the table
#: cannot reach it is evaluated exactly instead (z-scored near-empty features such as
#: G(μ = 1 Å) get coefficients up to ~1e11).
TABLE_ATOL = 1e-12
_QUINTIC_BOUND = 15.0 / 46080.0  # max|g⁽⁶⁾|·σ⁶ / (6!·2⁶): quintic Hermite error per unit Δ⁶/σ⁶
_TABLES: dict = {}


class RadialTable(NamedTuple):
    """Radial pair functions of a projection, split into a table and an exact remainder.

    ``table`` (n_species, n_intervals, K, 6): per interval of width Δ = 1/``inv_dr`` the
    quintic Hermite polynomial Σ_e a_e t^e (t = r/Δ − n) of the tabulated part of h_kX(r);
    ``exact_mu`` (E,) sorted and ``exact_coef`` (K, n_species, E): the centres evaluated
    exactly, ``exact_step`` their spacing when uniform (else 0);
    ``error``: the largest midpoint error of the table found when it was built."""

    table: np.ndarray
    inv_dr: float
    exact_mu: np.ndarray
    exact_coef: np.ndarray
    exact_step: float
    error: float


def radial_table(
    centers: np.ndarray,
    sigma: float,
    cutoff: float,
    cutoff_function: bool,
    coef: np.ndarray,
    n_species: int,
) -> RadialTable:
    """The radial block's pair functions for neighbour species X and row k,

        h_kX(r) = Σ_μ C_k,Xμ exp(−(r − μ)²/(2σ²)) [· f_c(r)],   0 <= r < r_c,

    so that the block's part of p_k(i) is Σ_j h_k,X_j(r_ij).  Centres whose quintic-Hermite
    error bound (|C|·15/46080·(Δ/σ)⁶) exceeds :data:`TABLE_ATOL` stay exact; the others are
    tabulated with exact values and first and second derivatives at the nodes, Δ = σ/32
    (halved until every midpoint, where the error peaks, is within TABLE_ATOL).  Cached
    per (coefficients, block parameters)."""
    coef = np.ascontiguousarray(coef, dtype=np.float64)
    key = (
        coef.tobytes(),
        coef.shape,
        centers.tobytes(),
        float(sigma),
        float(cutoff),
        bool(cutoff_function),
        int(n_species),
    )
    hit = _TABLES.get(key)
    if hit is not None:
        return hit
    nk = coef.shape[0]
    nc = centers.shape[0]
    c = coef.reshape(nk, n_species, nc)
    cmax = np.abs(c).max(axis=(0, 1))
    s2 = sigma * sigma
    dr_over_sigma = 1.0 / 32.0
    for _ in range(4):
        exact = cmax * _QUINTIC_BOUND * dr_over_sigma**6 > TABLE_ATOL
        ct = np.where(exact[None, None, :], 0.0, c)
        n_int = max(int(np.ceil(cutoff / (sigma * dr_over_sigma))), 1)
        dr = cutoff / n_int

        def h012(r, ct=ct):
            d = r[:, None] - centers[None, :]
            g = np.exp(-d * d / (2.0 * s2))
            g1 = -d / s2 * g
            g2 = (d * d / s2 - 1.0) / s2 * g
            hs = [np.einsum("rm,kxm->xrk", gg, ct) for gg in (g, g1, g2)]
            if cutoff_function:
                a = np.pi / cutoff
                fc = (0.5 * (np.cos(a * r) + 1.0))[None, :, None]
                f1 = (-0.5 * a * np.sin(a * r))[None, :, None]
                f2 = (-0.5 * a * a * np.cos(a * r))[None, :, None]
                h, h1, h2 = hs
                hs = [h * fc, h1 * fc + h * f1, h2 * fc + 2.0 * h1 * f1 + h * f2]
            return hs

        h, h1, h2 = h012(np.arange(n_int + 1) * dr)
        f0, f1 = h[:, :-1], h[:, 1:]
        d0, d1 = h1[:, :-1] * dr, h1[:, 1:] * dr
        q0, q1 = h2[:, :-1] * dr * dr, h2[:, 1:] * dr * dr
        df = f1 - f0
        table = np.empty((n_species, n_int, nk, 6))
        table[..., 0] = f0
        table[..., 1] = d0
        table[..., 2] = 0.5 * q0
        table[..., 3] = 10.0 * df - 6.0 * d0 - 4.0 * d1 - 0.5 * (3.0 * q0 - q1)
        table[..., 4] = -15.0 * df + 8.0 * d0 + 7.0 * d1 + 0.5 * (3.0 * q0 - 2.0 * q1)
        table[..., 5] = 6.0 * df - 3.0 * d0 - 3.0 * d1 - 0.5 * (q0 - q1)
        mid = h012((np.arange(n_int) + 0.5) * dr)[0]
        interp = table[..., 5]
        for e in range(4, -1, -1):
            interp = table[..., e] + 0.5 * interp
        err = float(np.abs(interp - mid).max())
        if err <= TABLE_ATOL:
            break
        dr_over_sigma /= 2.0
    else:
        raise SoftscopeError(
            f"radial pair table: interpolation error {err:.2e} > {TABLE_ATOL:g} even with "
            f"{n_int} intervals (sigma {sigma:g}, cutoff {cutoff:g})"
        )
    ex = np.flatnonzero(exact)
    ex = ex[np.argsort(centers[ex], kind="stable")]
    emu, step = _exact_grid(centers[ex])
    out = RadialTable(
        np.ascontiguousarray(table),
        float(n_int / cutoff),
        np.ascontiguousarray(emu),
        np.ascontiguousarray(c[:, :, ex]),
        step,
        err,
    )
    if len(_TABLES) >= 8:
        _TABLES.pop(next(iter(_TABLES)))
    _TABLES[key] = out
    return out


def _exact_grid(centers: np.ndarray) -> tuple[np.ndarray, float]:
    """(centres, spacing) of sorted exact centres: a uniform grid (the recurrence of
    ``add_gaussians`` walks it) when they are one to 1e-12, else (centres, 0)."""
    emu = np.ascontiguousarray(centers, dtype=np.float64)
    if emu.size >= 2:
        diffs = np.diff(emu)
        if diffs.min() > 0 and np.ptp(diffs) <= 1e-9 * diffs.mean():
            step = float(diffs.mean())
            grid = emu[0] + step * np.arange(emu.size)
            if np.abs(grid - emu).max() <= 1e-12 * max(1.0, grid.max()):
                return grid, step
    return emu, 0.0


def _angular_args(b, coef, n_species, bounds=None) -> tuple:
    x, lam, zet = check_angular_params(b["xi"], b["lambdas"], b["zetas"])
    pair_index = np.full((n_species, n_species), -1, dtype=np.int64)
    for k, (p, q) in enumerate(species_pairs(n_species)):
        pair_index[p, q] = pair_index[q, p] = k
    zint = np.where((zet == np.round(zet)) & (zet <= 64), np.round(zet), -1).astype(np.int64)
    pref = np.power(2.0, 1.0 - zet) if b["prefactor"] else np.ones_like(zet)
    nmom = 0
    momw = np.zeros((1, 1))
    if (zint >= 0).all() and zint.max() <= _MAX_MOMENT_ZETA:
        nmom = int(zint.max()) + 1
        if bounds is None:
            coef = _moment_coefficients(coef, len(x), lam, zint, pref, nmom)
        else:  # Ψ per atom from its moments, clamped, then the raw coefficients
            momw = _moment_coefficients(np.eye(lam.size * zet.size), 1, lam, zint, pref, nmom)
    lo, hi = (np.zeros(0), np.zeros(0)) if bounds is None else bounds
    unit, xpow = common_unit(1.0 / (x * x))
    return (
        True,
        pair_index,
        1.0 / (x * x),
        unit,
        xpow,
        lam,
        zet,
        zint,
        pref,
        float(b["cutoff"]),
        bool(b["cutoff_function"]),
        nmom,
        np.ascontiguousarray(coef),
        bounds is not None,
        np.ascontiguousarray(momw),
        np.ascontiguousarray(lo, dtype=np.float64),
        np.ascontiguousarray(hi, dtype=np.float64),
    )


def _no_angular(nk: int) -> tuple:
    one = np.ones(1)
    return (
        False,
        np.zeros((1, 1), dtype=np.int64),
        np.zeros(0),
        0.0,
        np.zeros(0, dtype=np.int64),
        one,
        one,
        np.ones(1, dtype=np.int64),
        one,
        0.0,
        False,
        0,
        np.zeros((nk, 0)),
        False,
        np.zeros((1, 1)),
        np.zeros(0),
        np.zeros(0),
    )


def common_unit(
    inv_xi2: np.ndarray, max_den: int = 16, max_power: int = 32
) -> tuple[float, np.ndarray]:
    """(u, n) with 1/ξ_a² = n_a·u (length unit⁻²) for small integers n_a <= ``max_power``
    (e.g. ξ = 2, 3 Å: u = 1/36 Å⁻², n = 9, 4), so that every exp(−s/ξ_a²) is a power of
    one exp(−s·u); else (0, empty int64 array)."""
    lo = float(inv_xi2.min())
    ratios = inv_xi2 / lo
    for den in range(1, max_den + 1):
        n = np.rint(ratios * den)
        if n.max() <= max_power and np.all(np.abs(ratios * den - n) <= 1e-12 * n):
            return lo / den, n.astype(np.int64)
    return 0.0, np.zeros(0, dtype=np.int64)


@nb.njit(cache=True, inline="always")
def _ipow(x, n):
    """x**n for an integer n >= 0 by squaring (relative error ~log2(n) ulp)."""
    r = 1.0
    while n > 0:
        if n & 1:
            r *= x
        x *= x
        n >>= 1
    return r


# integer ζ up to this use cos θ moments (the binomial sums stay well conditioned)
_MAX_MOMENT_ZETA = 8


def _moment_coefficients(coef, nx, lam, zint, pref, nmom) -> np.ndarray:
    """Coefficients of the moments Σ g_ξ cosⁿθ: Σ_{λ,ζ} C · pref_ζ · binom(ζ, n) · λⁿ."""
    from math import comb

    nk = coef.shape[0]
    nl_, nz = lam.shape[0], zint.shape[0]
    c = coef.reshape(nk, -1, nx, nl_, nz)
    out = np.zeros((nk, c.shape[1], nx, nmom))
    for bl in range(nl_):
        for cz in range(nz):
            for e in range(int(zint[cz]) + 1):
                f = pref[cz] * comb(int(zint[cz]), e) * lam[bl] ** e
                out[:, :, :, e] += c[:, :, :, bl, cz] * f
    return np.ascontiguousarray(out.reshape(nk, -1))


# --------------------------------------------------------------------------- kernels
@nb.njit(cache=True, inline="always")
def _clamp_contract(total, coef, vals, lo, hi, clamp):
    """total[k] += Σ_f coef[k, f] · vals[f], with ``vals`` first clamped in place to
    [lo, hi] when ``clamp``."""
    if clamp:
        for f in range(vals.shape[0]):
            vals[f] = min(max(vals[f], lo[f]), hi[f])
    for k in range(total.shape[0]):
        sk = total[k]
        for f in range(vals.shape[0]):
            sk += coef[k, f] * vals[f]
        total[k] = sk


_RAD_SIG = "b1, f8[:,:,:,::1], f8, f8[::1], f8[:,::1], f8, f8, f8, f8, b1, b1, f8[::1], f8[::1]"
_ANG_SIG = (
    "b1, i8[:,::1], f8[::1], f8, i8[::1], f8[::1], f8[::1], i8[::1], f8[::1], f8, b1, i8, f8[:,::1], "
    "b1, f8[:,::1], f8[::1], f8[::1]"
)


@nb.njit(
    parallel=True,
    cache=True,
    aot="f8[:,::1](f8[:,::1], i8[::1], f8[:,::1], i8[::1], i8[::1], i8[::1], i8[::1], i8, i8, f8, "
    + _RAD_SIG
    + ", "
    + _ANG_SIG
    + ")",
)
def _projection_kernel(
    xyz,
    spc,
    qpos,
    qslot,
    qbin,
    cell_start,
    nb3,
    st,
    max_cand,
    reach,
    do_rad,
    table,
    inv_dr,
    exact_mu,
    exact_coef,
    estep,
    inv2s2,
    half,
    rc_rad,
    rad_fc,
    rclamp,
    elo,
    ehi,
    do_ang,
    pair_index,
    inv_xi2,
    unit,
    xpow,
    lam,
    zet,
    zint,
    pref,
    rc_ang,
    ang_fc,
    nmom,
    acoef,
    aclamp,
    momw,
    alo,
    ahi,
):
    """A radial block's and an angular block's projections of every query atom, from one
    gather of the points within ``reach`` (>= both cutoffs).

    Radial (``do_rad``): p_k(i) += Σ_{j: r_ij < r_c} h_k,X_j(r_ij), the quintic pieces of
    :func:`radial_table` plus its exactly evaluated centres: their windowed Gaussians are
    summed per atom by :func:`~softscope.descriptors.radial.add_gaussians` (sorted centres;
    ``estep`` > 0: a uniform grid, walked by recurrence) and contracted with
    ``exact_coef`` (K, n_species·E).

    Angular (``do_ang``): Ψ contracted with ``acoef``.  ``nmom > 0`` (every ζ an integer
    <= nmom − 1): per triplet only the moments Σ g_ξ cosⁿθ (n < nmom) are accumulated, and
    ``acoef`` (K, n_pairs·n_ξ·nmom) already holds Σ_{λ,ζ} C · prefactor · binom(ζ, n) λⁿ,
    since (1 + λ cos θ)^ζ is a polynomial in cos θ (1 + λ cos θ >= 0 for |λ| <= 1).
    ``nmom == 0``: the (λ, ζ) factors are evaluated per triplet and ``acoef`` is
    (K, n_raw of the block).  ``xpow`` non-empty: 1/ξ_a² = xpow[a]·``unit``, and
    exp(−s/ξ_a²) = exp(−s·unit)^xpow[a] (one exp per distance instead of one per ξ).

    Clamped raw columns (``DescriptorSpec.raw_bounds``): ``rclamp`` — every centre is
    exact (no table), and the atom's Gaussian sums are clamped to [``elo``, ``ehi``]
    (``erow`` layout) before the contraction; ``aclamp`` — the atom's Ψ are formed (from
    the moments with ``momw`` (n_λ·n_ζ, nmom) when ``nmom > 0``), clamped to [``alo``,
    ``ahi``] and contracted with ``acoef`` = the block's raw coefficients (K, n_raw)."""
    n = qpos.shape[0]
    nk = acoef.shape[0]
    out = np.zeros((n, nk), dtype=np.float64)
    # radial
    n_int = table.shape[1]
    ne = exact_mu.shape[0]
    nerow = exact_coef.shape[1]  # n_species · ne: the exact Gaussians of one atom
    cq = np.exp(-2.0 * estep * estep * inv2s2)
    rr2 = rc_rad * rc_rad
    # angular
    nx = inv_xi2.shape[0]
    npw = xpow.shape[0]
    nl_ = lam.shape[0]
    nz = zet.shape[0]
    nlz = nl_ * nz
    per_pair = nx * nmom if nmom > 0 else nx * nlz
    nacc = (pair_index.max() + 1) * per_pair
    npsi = (pair_index.max() + 1) * nx * nlz if aclamp else 0
    zmax = max(zint.max(), 0)
    ra2 = rc_ang * rc_ang
    reach2 = reach * reach
    x = xyz[0]
    y = xyz[1]
    z = xyz[2]
    chunk = 64
    nchunk = (n + chunk - 1) // chunk
    for ch in nb.prange(nchunk):
        cand = np.empty(max_cand + 1, dtype=np.int64)
        cd2 = np.empty(max_cand + 1, dtype=np.float64)
        racc = np.empty(nk)
        erow = np.empty(nerow)
        vx = np.empty(max_cand)
        vy = np.empty(max_cand)
        vz = np.empty(max_cand)
        inv_r = np.empty(max_cand)
        sp = np.empty(max_cand, dtype=np.int64)
        fcv = np.empty(max_cand)
        ex = np.empty((max_cand, nx))
        pw = np.empty(max(zmax, nmom) + 1)
        vb = np.empty(nlz)
        acc = np.empty(nacc)
        psi = np.empty(npsi)
        ejk = np.empty(nx)
        for i in range(ch * chunk, min((ch + 1) * chunk, n)):
            xi = qpos[i, 0]
            yi = qpos[i, 1]
            zi = qpos[i, 2]
            m = gather(
                x, y, z, xi, yi, zi, qslot[i], qbin[i], cell_start, nb3, st, reach2, cand, cd2
            )
            racc[:] = 0.0
            if do_rad:
                erow[:] = 0.0
                for u in range(m):
                    if cd2[u] >= rr2:
                        continue
                    r = np.sqrt(cd2[u])
                    su = spc[cand[u]]
                    if not rclamp:  # clamped: every centre is exact, no table
                        xr = r * inv_dr
                        j = int(xr)
                        if j >= n_int:
                            j = n_int - 1
                        t = xr - j
                        for k in range(nk):
                            # its own name: numba cannot type a name reused for an array
                            # and an int (the ξ loops below use `a`)
                            h = table[su, j, k]  # quintic piece of h_k,X(r) on interval j
                            racc[k] += h[0] + t * (
                                h[1] + t * (h[2] + t * (h[3] + t * (h[4] + t * h[5])))
                            )
                    if ne == 0 or r - exact_mu[ne - 1] > half:
                        continue
                    w = 0.5 * (np.cos(np.pi * r / rc_rad) + 1.0) if rad_fc else 1.0
                    add_gaussians(erow, su * ne, r, w, exact_mu, estep, inv2s2, half, cq)
                if ne:
                    _clamp_contract(racc, exact_coef, erow, elo, ehi, rclamp)
            if do_ang:
                # angular neighbours (d < rc_ang), data gathered once: vector, 1/r, species,
                # f_c, e^{-r²/ξ²}
                na = 0
                for u in range(m):
                    r2 = cd2[u]
                    if r2 >= ra2:
                        continue
                    q = cand[u]
                    vx[na] = x[q] - xi
                    vy[na] = y[q] - yi
                    vz[na] = z[q] - zi
                    r = np.sqrt(r2)
                    inv_r[na] = 1.0 / r
                    sp[na] = spc[q]
                    fcv[na] = cosine_cutoff(r, rc_ang) if ang_fc else 1.0
                    if npw > 0:
                        e1 = np.exp(-r2 * unit)
                        for a in range(nx):
                            ex[na, a] = _ipow(e1, xpow[a])
                    else:
                        for a in range(nx):
                            ex[na, a] = np.exp(-r2 * inv_xi2[a])
                    na += 1
                acc[:] = 0.0
                for u in range(na):
                    ax = vx[u]
                    ay = vy[u]
                    az = vz[u]
                    iu = inv_r[u]
                    su = sp[u]
                    for v in range(u + 1, na):
                        dx = ax - vx[v]
                        dy = ay - vy[v]
                        dz = az - vz[v]
                        rjk2 = dx * dx + dy * dy + dz * dz
                        w = 1.0
                        if ang_fc:
                            rjk = np.sqrt(rjk2)
                            if rjk >= rc_ang:
                                continue
                            w = fcv[u] * fcv[v] * cosine_cutoff(rjk, rc_ang)
                        cos = (ax * vx[v] + ay * vy[v] + az * vz[v]) * iu * inv_r[v]
                        col = pair_index[su, sp[v]] * per_pair
                        if npw > 0:
                            e1 = np.exp(-rjk2 * unit)
                            for a in range(nx):
                                ejk[a] = _ipow(e1, xpow[a])
                        else:
                            for a in range(nx):
                                ejk[a] = np.exp(-rjk2 * inv_xi2[a])
                        if nmom > 0:
                            for a in range(nx):
                                g = w * ex[u, a] * ex[v, a] * ejk[a]
                                base = col + a * nmom
                                for e in range(nmom):
                                    acc[base + e] += g
                                    g *= cos
                            continue
                        # general ζ: (1 + λ cos θ)^ζ · prefactor for every (λ, ζ)
                        for bl in range(nl_):
                            t = 1.0 + lam[bl] * cos
                            if t < 0.0:
                                t = 0.0
                            pw[0] = 1.0
                            for e in range(1, zmax + 1):
                                pw[e] = pw[e - 1] * t
                            for cz in range(nz):
                                zc = zint[cz]
                                val = pw[zc] if zc >= 0 else t ** zet[cz]
                                vb[bl * nz + cz] = pref[cz] * val
                        for a in range(nx):
                            g = w * ex[u, a] * ex[v, a] * ejk[a]
                            base = col + a * nlz
                            for f in range(nlz):
                                acc[base + f] += g * vb[f]
                if aclamp:
                    if nmom > 0:  # Ψ from the moments: per (pair, ξ) row, Σ_e momw · M_e
                        for g_ in range(nacc // nmom):
                            for f in range(nlz):
                                sv = 0.0
                                for e in range(nmom):
                                    sv += momw[f, e] * acc[g_ * nmom + e]
                                psi[g_ * nlz + f] = sv
                    else:
                        psi[:] = acc
                    _clamp_contract(racc, acoef, psi, alo, ahi, True)
                else:
                    _clamp_contract(racc, acoef, acc, alo, ahi, False)
            for k in range(nk):
                out[i, k] = racc[k]
    return out
