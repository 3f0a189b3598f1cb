"""Linear projections of the raw structure functions, without the feature matrix.

A linear model (softness) needs, per atom i and coefficient row k, only

    p_k(i) = Σ_f C_kf raw_f(i) + c_k,      C_kf = w_kf / s_kf,  c_k = −Σ_f w_kf m_kf / s_kf

(w, m, s: weights, feature means and scales of block k of the model, see
:meth:`softscope.models.estimators.LinearEstimator.block_coefficients`).  For a spec
with coarse-graining radii r_1..r_n the model's decision function regroups as
S(i) = b + p_0(i) + Σ_k cg_{r_k}(p_k)(i), since coarse-graining is a mean.

The kernels here accumulate one atom's radial (G_X(μ)) and angular (Ψ_XY(ξ, λ, ζ))
functions in a per-thread row of ``n_raw`` numbers and contract it with C at the end of
the atom, so memory is O(n_query · K) (K = number of rows, 1 + n_cg) instead of
O(n_query · n_raw), and no neighbour list is stored: each kernel walks the neighbour
engine's cell bins (:func:`softscope.neighbors.cell_walk`) itself.  Same pairs and
triplets as :func:`~softscope.descriptors.radial.radial` and
:func:`~softscope.descriptors.angular.angular` (d² < r_c², j ≠ i), same conventions
(see those modules); the result equals ``raw @ C.T + c`` to rounding (~1e-14 relative).
Other block kinds (entropy, interstice, external) are computed as raw columns and
projected with numpy.

Faces: :func:`projection` (periodic frame), :func:`projection_from_neighbors`
(a prebuilt :class:`~softscope.neighbors.NeighborList`: its points and query count),
:func:`projection_from_points` (LAMMPS: local + ghost points, no periodicity added).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from softscope._jit import nb
from softscope.descriptors.angular import _fc
from softscope.descriptors.radial import _radial_atom
from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.neighbors import (
    CELL_STENCIL,
    NeighborList,
    _gather,
    cell_walk,
    periodic_images,
)

__all__ = ["projection", "projection_from_neighbors", "projection_from_points", "projection_names"]



def projection_names(n_rows: int, coarse_grain: tuple[float, ...] = ()) -> list[str]:
    """Names of the K projection columns: ``p_raw`` then ``p_cg(r)`` per coarse-graining
    radius (when ``n_rows == 1 + len(coarse_grain)``), else ``p_0 .. p_{K-1}``."""
    if n_rows == 1 + len(coarse_grain):
        return ["p_raw"] + [f"p_cg({r:g})" for r in coarse_grain]
    return [f"p_{k}" for k in range(n_rows)]


def projection(
    frame: Frame,
    spec,
    coef: np.ndarray,
    const: np.ndarray | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """(N, K) float64: p_k(i) = Σ_f coef[k, f] raw_f(i) + const[k] for every atom of a
    periodic ``frame``; ``raw`` = ``spec.compute_raw(frame)`` (periodic images count)."""
    codes, _ = frame.species_index(spec.species)
    cut = spec.cutoff
    if cut <= 0:  # external blocks only
        points, point_atom = frame.positions.astype(np.float64), np.arange(len(frame))
    else:
        points, point_atom = periodic_images(frame, cut)
    pe = None
    if extra is not None:
        pe = {k: np.asarray(v, dtype=np.float64).reshape(-1)[point_atom] for k, v in extra.items()}
    density = len(frame) / frame.volume if frame.volume > 0 else None
    return projection_from_points(
        spec, points, codes[point_atom], len(frame), coef, const, density=density, extra=pe
    )


def projection_from_neighbors(
    nl: NeighborList,
    point_species: np.ndarray,
    spec,
    coef: np.ndarray,
    const: np.ndarray | None = None,
    density: float | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Kernel face: projections of the ``nl.n_query`` query points among ``nl.points``
    (``point_species``: one code per point, ``codes[nl.point_atom]`` for a periodic frame).
    The fused kernels walk cell bins of ``nl.points`` themselves (no stored pairs are
    read); ``nl.cutoff`` must be >= ``spec.cutoff``."""
    if nl.cutoff < spec.cutoff * (1 - 1e-12):
        raise SoftscopeError(
            f"neighbour list cutoff {nl.cutoff} is below the spec's cutoff {spec.cutoff}; "
            "build it with a cutoff >= the spec's"
        )
    return projection_from_points(
        spec, nl.points, point_species, nl.n_query, coef, const, density=density, extra=extra
    )


def projection_from_points(
    spec,
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
    :meth:`~softscope.descriptors.spec.DescriptorSpec.compute_points` (other block kinds).
    """
    from softscope.descriptors.spec import _block_names, _points_block

    pts, codes, n_query = spec._check_points(points, point_species_codes, n_query)
    n_raw = len(spec.raw_names())
    c = np.asarray(coef, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != n_raw:
        raise SoftscopeError(f"coef must have shape (K, {n_raw}) for this spec, got {c.shape}")
    if not np.isfinite(c).all():
        raise SoftscopeError("coef contains NaN or inf")
    k = c.shape[0]
    out = np.zeros((n_query, k))
    if n_query == 0:
        return out
    ns = len(spec.species)
    f0 = 0
    for b in spec.blocks:
        nf = len(_block_names(b, spec.species))
        cb = np.ascontiguousarray(c[:, f0 : f0 + nf])
        f0 += nf
        if b["kind"] == "radial":
            out += _radial_projection(b, pts, codes, n_query, ns, cb)
        elif b["kind"] == "angular":
            out += _angular_projection(b, pts, codes, n_query, ns, cb)
        else:
            raw = _points_block(b, pts, codes, n_query, spec.species, density, extra)
            if not np.isfinite(raw).all():
                raise SoftscopeError(f"{b['kind']} features contain NaN or inf")
            out += raw @ cb.T
    if const is not None:
        cst = np.asarray(const, dtype=np.float64).reshape(-1)
        if cst.shape != (k,):
            raise SoftscopeError(f"const must have shape ({k},), got {cst.shape}")
        out += cst
    if not np.isfinite(out).all():
        raise SoftscopeError("projections contain NaN or inf")
    return out


# --------------------------------------------------------------------------- setup
def _radial_projection(b, points, codes, n_query, n_species, coef) -> np.ndarray:
    from softscope.descriptors.radial import WINDOW, _check_params, _grid

    mu, s = _check_params(b["centers"], b["sigma"])
    rc = float(b["cutoff"])
    ms, order, step = _grid(mu, s)
    nc = mu.shape[0]
    # kernel rows hold the centres sorted: permute the coefficient columns alike
    cs = np.ascontiguousarray(coef.reshape(-1, n_species, nc)[:, :, order].reshape(coef.shape))
    cell_start, cell_points, bin_of, nb3, xyz, slot, max_cand = cell_walk(points, rc)
    spc = np.ascontiguousarray(codes[cell_points])
    return _radial_proj_kernel(
        xyz, spc, points[:n_query], slot[:n_query], bin_of[:n_query], cell_start, nb3,
        CELL_STENCIL, max_cand, n_species, ms, float(step), s, rc, bool(b["cutoff_function"]),
        WINDOW, cs,
    )


def _angular_projection(b, points, codes, n_query, n_species, coef) -> np.ndarray:
    from softscope.descriptors.angular import _check_params, species_pairs

    x, lam, zet = _check_params(b["xi"], b["lambdas"], b["zetas"])
    rc = float(b["cutoff"])
    pair_index = np.full((n_species, n_species), -1, dtype=np.int64)
    for k, (p, q) in enumerate(species_pairs(n_species)):
        pair_index[p, q] = pair_index[q, p] = k
    zint = np.where((zet == np.round(zet)) & (zet <= 64), np.round(zet), -1).astype(np.int64)
    pref = np.power(2.0, 1.0 - zet) if b["prefactor"] else np.ones_like(zet)
    nmom = 0
    if (zint >= 0).all() and zint.max() <= _MAX_MOMENT_ZETA:
        nmom = int(zint.max()) + 1
        coef = _moment_coefficients(coef, len(x), lam, zint, pref, nmom)
    cell_start, cell_points, bin_of, nb3, xyz, slot, max_cand = cell_walk(points, rc)
    spc = np.ascontiguousarray(codes[cell_points])
    return _angular_proj_kernel(
        xyz, spc, points[:n_query], slot[:n_query], bin_of[:n_query], cell_start, nb3,
        CELL_STENCIL, max_cand, pair_index, 1.0 / (x * x), lam, zet, zint, pref, rc,
        bool(b["cutoff_function"]), nmom, coef,
    )


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
@nb.njit(
    parallel=True, cache=True,
    aot="f8[:,::1](f8[:,::1], i8[::1], f8[:,::1], i8[::1], i8[::1], i8[::1], i8[::1], i8, i8, i8, f8[::1], f8, f8, f8, b1, f8, f8[:,::1])",
)
def _radial_proj_kernel(
    xyz, spc, qpos, qslot, qbin, cell_start, nb3, st, max_cand, n_species, ms, step, sigma,
    rc, use_fc, window, coef,
):
    n = qpos.shape[0]
    nc = ms.shape[0]
    nf = n_species * nc
    nk = coef.shape[0]
    out = np.zeros((n, nk), dtype=np.float64)
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
        row = np.empty(nf)
        for i in range(ch * chunk, min((ch + 1) * chunk, n)):
            row[:] = 0.0
            _radial_atom(
                row, i, x, y, z, spc, qpos, qslot, qbin, cell_start, nb3, st, rc2, cand, cd2,
                nc, ms, step, inv2s2, half, c, rc, use_fc,
            )
            for k in range(nk):
                s = 0.0
                for f in range(nf):
                    s += coef[k, f] * row[f]
                out[i, k] = s
    return out


@nb.njit(
    parallel=True, cache=True,
    aot="f8[:,::1](f8[:,::1], i8[::1], f8[:,::1], i8[::1], i8[::1], i8[::1], i8[::1], i8, i8, i8[:,::1], f8[::1], f8[::1], f8[::1], i8[::1], f8[::1], f8, b1, i8, f8[:,::1])",
)
def _angular_proj_kernel(
    xyz, spc, qpos, qslot, qbin, cell_start, nb3, st, max_cand, pair_index, inv_xi2, lam,
    zet, zint, pref, rc, use_fc, nmom, coef,
):
    """Ψ of every query atom contracted with ``coef``.

    ``nmom > 0`` (every ζ an integer <= nmom - 1): per triplet only the moments
    Σ g_ξ cosⁿθ (n < nmom) are accumulated, and ``coef`` (K, n_pairs·n_ξ·nmom) already
    holds Σ_{λ,ζ} C · prefactor · binom(ζ, n) λⁿ, since (1 + λ cos θ)^ζ is a polynomial
    in cos θ (1 + λ cos θ >= 0 for |λ| <= 1).  ``nmom == 0``: the (λ, ζ) factors are
    evaluated per triplet and ``coef`` is (K, n_raw of the block)."""
    n = qpos.shape[0]
    nx = inv_xi2.shape[0]
    nl_ = lam.shape[0]
    nz = zet.shape[0]
    nlz = nl_ * nz
    per_pair = nx * nmom if nmom > 0 else nx * nlz
    npairs = pair_index.max() + 1
    nk = coef.shape[0]
    out = np.zeros((n, nk), dtype=np.float64)
    zmax = max(zint.max(), 0)
    rc2 = rc * rc
    x = xyz[0]
    y = xyz[1]
    z = xyz[2]
    chunk = 64
    nchunk = (n + chunk - 1) // chunk
    for ch in nb.prange(nchunk):
        cand = np.empty(max_cand + 1, dtype=np.int64)
        cd2 = np.empty(max_cand + 1, dtype=np.float64)
        vx = np.empty(max_cand)
        vy = np.empty(max_cand)
        vz = np.empty(max_cand)
        inv_r = np.empty(max_cand)
        sp = np.empty(max_cand, dtype=np.int64)
        fcv = np.empty(max_cand)
        ex = np.empty((max_cand, nx))
        pw = np.empty(max(zmax, nmom) + 1)
        vb = np.empty(nlz)
        acc = np.empty(npairs * per_pair)
        for i in range(ch * chunk, min((ch + 1) * chunk, n)):
            xi = qpos[i, 0]
            yi = qpos[i, 1]
            zi = qpos[i, 2]
            m = _gather(
                x, y, z, xi, yi, zi, qslot[i], qbin[i], cell_start, nb3, st, rc2, cand, cd2
            )
            # per-neighbour data gathered once: vector, 1/r, species, f_c, e^{-r²/ξ²}
            for u in range(m):
                q = cand[u]
                vx[u] = x[q] - xi
                vy[u] = y[q] - yi
                vz[u] = z[q] - zi
                r2 = cd2[u]
                r = np.sqrt(r2)
                inv_r[u] = 1.0 / r
                sp[u] = spc[q]
                fcv[u] = _fc(r, rc) if use_fc else 1.0
                for a in range(nx):
                    ex[u, a] = np.exp(-r2 * inv_xi2[a])
            acc[:] = 0.0
            for u in range(m):
                ax = vx[u]
                ay = vy[u]
                az = vz[u]
                iu = inv_r[u]
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
                        w = fcv[u] * fcv[v] * _fc(rjk, rc)
                    cos = (ax * vx[v] + ay * vy[v] + az * vz[v]) * iu * inv_r[v]
                    col = pair_index[su, sp[v]] * per_pair
                    if nmom > 0:
                        for a in range(nx):
                            g = w * ex[u, a] * ex[v, a] * np.exp(-rjk2 * inv_xi2[a])
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
                        g = w * ex[u, a] * ex[v, a] * np.exp(-rjk2 * inv_xi2[a])
                        base = col + a * nlz
                        for f in range(nlz):
                            acc[base + f] += g * vb[f]
            for k in range(nk):
                sk = 0.0
                for f in range(npairs * per_pair):
                    sk += coef[k, f] * acc[f]
                out[i, k] = sk
    return out
