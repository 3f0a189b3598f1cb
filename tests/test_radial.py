"""Radial structure functions G_X(i; μ, σ) against dscribe ACSF G2 and brute force."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_triclinic_frame
from reference import brute_pairs

from softscope import Frame, SoftscopeError
from softscope.descriptors.radial import (
    WINDOW,
    radial,
    radial_from_neighbors,
    radial_names,
)
from softscope.neighbors import neighbor_list

MU = np.arange(1.0, 8.0001, 0.2)
SIGMA = 0.2


def brute_radial(frame, centers, sigma, cutoff, species, cutoff_function=False):
    """Every Gaussian of every pair (no window), pairs from explicit periodic images."""
    centers = np.asarray(centers, float)
    lut = {s: k for k, s in enumerate(species)}
    codes = np.array([lut[s] for s in frame.species])
    out = np.zeros((len(frame), len(species) * len(centers)))
    for i, (js, vecs) in enumerate(brute_pairs(frame.positions, frame.cell, frame.pbc, cutoff)):
        r = np.linalg.norm(vecs, axis=1)
        w = 0.5 * (np.cos(np.pi * r / cutoff) + 1) if cutoff_function else np.ones_like(r)
        g = np.exp(-((r[:, None] - centers[None, :]) ** 2) / (2 * sigma**2)) * w[:, None]
        for s in range(len(species)):
            out[i, s * len(centers) : (s + 1) * len(centers)] = g[codes[js] == s].sum(axis=0)
    return out


def dscribe_g2(frame, centers, sigma, cutoff, species, idx):
    """dscribe ACSF G2 (= G_X · f_c), reordered into softscope's column layout.

    dscribe's layout per neighbour species block (species sorted by atomic number) is
    [G1, G2(params[0]), G2(params[1]), ...]; we drop G1 and keep the G2 columns.
    """
    ase = pytest.importorskip("ase")
    acsf_mod = pytest.importorskip("dscribe.descriptors")
    atoms = ase.Atoms(
        symbols=list(frame.species), positions=frame.positions, cell=frame.cell, pbc=frame.pbc
    )
    eta = 1.0 / (2.0 * sigma**2)
    acsf = acsf_mod.ACSF(
        species=list(species), r_cut=cutoff, g2_params=[[eta, m] for m in centers], periodic=True
    )
    d = acsf.create(atoms, centers=list(idx))
    nz = [ase.data.atomic_numbers[s] for s in species]
    assert nz == sorted(nz), "dscribe orders blocks by atomic number; pick species accordingly"
    nc = len(centers)
    cols = [d[:, b * (nc + 1) + 1 : (b + 1) * (nc + 1)] for b in range(len(species))]
    return np.concatenate(cols, axis=1)


def test_radial_matches_dscribe_g2_on_cuzr_glass(cuzr_glass):
    rc = MU.max() + 4 * SIGMA
    idx = np.arange(0, len(cuzr_glass), 5)
    got = radial(cuzr_glass, MU, SIGMA, cutoff_function=True)
    ref = dscribe_g2(cuzr_glass, MU, SIGMA, rc, ["Cu", "Zr"], idx)
    assert got.shape == (len(cuzr_glass), 2 * len(MU))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got[idx], ref, rtol=1e-11, atol=1e-12 * ref.max())


def test_radial_matches_dscribe_g2_on_triclinic_box(rng):
    f = random_triclinic_frame(rng, n=150)
    mu = np.linspace(0.5, 5.0, 19)
    got = radial(f, mu, 0.3, cutoff=6.0, cutoff_function=True)
    ref = dscribe_g2(f, mu, 0.3, 6.0, ["Cu", "Zr"], np.arange(len(f)))
    np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-12 * ref.max())


def test_radial_cutoff_beyond_half_box_counts_every_periodic_image(rng):
    # cell widths ~6-7 Å, cutoff 9 Å: each atom sees several images of itself and others
    f = random_triclinic_frame(rng, n=12, size=7.0, tilt=(1.0, -0.5, 0.7))
    mu = np.arange(1.0, 8.0, 0.25)
    rc = 9.0
    assert rc > f.perpendicular_widths().max()
    got = radial(f, mu, 0.25, cutoff=rc, cutoff_function=True)
    ref_dscribe = dscribe_g2(f, mu, 0.25, rc, ["Cu", "Zr"], np.arange(len(f)))
    ref_brute = brute_radial(f, mu, 0.25, rc, ["Cu", "Zr"], cutoff_function=True)
    np.testing.assert_allclose(got, ref_brute, rtol=1e-11, atol=1e-12 * ref_brute.max())
    np.testing.assert_allclose(got, ref_dscribe, rtol=1e-11, atol=1e-12 * ref_brute.max())


def test_radial_without_cutoff_function_matches_brute_force_sum(small_cuzr):
    got = radial(small_cuzr, MU, SIGMA)
    ref = brute_radial(small_cuzr, MU, SIGMA, MU.max() + 4 * SIGMA, ["Cu", "Zr"])
    # the ±WINDOW·σ window drops terms < exp(-WINDOW²/2) ≈ 2e-16 each
    assert np.exp(-(WINDOW**2) / 2) < 1e-15
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)


def test_radial_nonuniform_unsorted_centers_match_brute_force(rng):
    f = random_triclinic_frame(rng, n=80)
    mu = np.array([3.1, 0.9, 2.0, 2.05, 4.7, 1.2, 5.5])
    got = radial(f, mu, 0.15, cutoff=6.5)
    ref = brute_radial(f, mu, 0.15, 6.5, ["Cu", "Zr"])
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)


def test_radial_coarse_uniform_grid_wider_than_sigma(rng):
    # grid step 1.0 with σ = 0.2: few centres per window (no recurrence path)
    f = random_triclinic_frame(rng, n=60)
    mu = np.arange(1.0, 6.01, 1.0)
    np.testing.assert_allclose(
        radial(f, mu, 0.2, cutoff=6.5),
        brute_radial(f, mu, 0.2, 6.5, ["Cu", "Zr"]),
        rtol=1e-12,
        atol=1e-13,
    )


def test_radial_counts_the_single_neighbour_of_a_dimer():
    # two atoms 2.5 Å apart in a big non-periodic box: G_Zr(Cu) is one Gaussian
    f = Frame([[0, 0, 0], [2.5, 0, 0]], ["Cu", "Zr"], np.eye(3) * 50, pbc=False)
    mu = np.array([2.0, 2.5, 3.1])
    g = radial(f, mu, 0.3, cutoff=5.0)
    expect = np.exp(-((2.5 - mu) ** 2) / (2 * 0.3**2))
    np.testing.assert_allclose(g[0], np.r_[0, 0, 0, expect], rtol=1e-14)
    np.testing.assert_allclose(g[1], np.r_[expect, 0, 0, 0], rtol=1e-14)


def test_radial_blocks_follow_species_order_and_absent_species_are_zero(small_cuzr):
    a = radial(small_cuzr, MU, SIGMA)
    b = radial(small_cuzr, MU, SIGMA, species=["Zr", "Al", "Cu"])
    n = len(MU)
    np.testing.assert_array_equal(b[:, :n], a[:, n:])
    np.testing.assert_array_equal(b[:, n : 2 * n], 0.0)
    np.testing.assert_array_equal(b[:, 2 * n :], a[:, :n])
    assert radial_names(["Zr", "Al", "Cu"], MU)[n] == "G_Al(1)"
    assert len(radial_names(["Cu", "Zr"], MU)) == a.shape[1]


def test_radial_kernel_face_with_wider_shared_neighbour_list(small_cuzr):
    rc = MU.max() + 4 * SIGMA
    nl = neighbor_list(small_cuzr, rc + 1.5)
    codes, _ = small_cuzr.species_index()
    got = radial_from_neighbors(nl, codes[nl.point_atom], 2, MU, SIGMA, rc, True)
    np.testing.assert_allclose(got, radial(small_cuzr, MU, SIGMA, cutoff_function=True), rtol=1e-13)


def test_radial_standalone_walk_equals_shared_neighbour_list_path(cuzr_glass, rng):
    # radial() walks the cell list itself; it must give the list-based kernel's numbers
    for frame, mu, sigma, rc in [
        (cuzr_glass, MU, SIGMA, MU.max() + 4 * SIGMA),
        (random_triclinic_frame(rng, n=12, size=7.0), np.array([4.0, 1.0, 2.5]), 0.3, 9.0),
    ]:
        nl = neighbor_list(frame, rc)
        codes, _ = frame.species_index()
        for fc in (False, True):
            a = radial(frame, mu, sigma, cutoff=rc, cutoff_function=fc)
            b = radial_from_neighbors(nl, codes[nl.point_atom], 2, mu, sigma, rc, fc)
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-300)


def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_radial_invariant_under_translation_rotation_permutation_and_wrapping(rng):
    f = random_triclinic_frame(rng, n=100)
    mu = np.arange(1.0, 6.0, 0.2)
    kw = dict(cutoff=6.5)
    g = radial(f, mu, 0.2, **kw)
    tol = dict(rtol=1e-10, atol=1e-12)
    # translation
    moved = f.replace(positions=f.positions + [3.3, -7.1, 0.4])
    np.testing.assert_allclose(radial(moved, mu, 0.2, **kw), g, **tol)
    # rotation of positions and cell together
    rot = _rotation(rng)
    turned = Frame(f.positions @ rot.T, f.species, f.cell @ rot.T)
    np.testing.assert_allclose(radial(turned, mu, 0.2, **kw), g, **tol)
    # permutation of atoms permutes rows
    perm = rng.permutation(len(f))
    shuffled = Frame(f.positions[perm], f.species[perm], f.cell)
    np.testing.assert_allclose(radial(shuffled, mu, 0.2, **kw), g[perm], **tol)
    # shifting atoms by lattice vectors (unwrapped positions)
    shifts = rng.integers(-3, 4, size=(len(f), 3)) @ f.cell
    unwrapped = f.replace(positions=f.positions + shifts)
    np.testing.assert_allclose(radial(unwrapped, mu, 0.2, **kw), g, **tol)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(centers=MU, sigma=-0.2), "sigma"),
        (dict(centers=MU, sigma=0.0), "sigma"),
        (dict(centers=[], sigma=0.2), "centers"),
        (dict(centers=[1.0, np.nan], sigma=0.2), "centers"),
        (dict(centers=[-1.0, 2.0], sigma=0.2), "centers"),
        (dict(centers=MU, sigma=0.2, species=["Cu"]), "Zr"),
        (dict(centers=MU, sigma=0.2, species=["Cu", "Cu", "Zr"]), "duplicates"),
        (dict(centers=MU, sigma=0.2, cutoff=-1.0), "cutoff"),
    ],
)
def test_radial_rejects_bad_input(small_cuzr, kwargs, match):
    with pytest.raises(SoftscopeError, match=match):
        radial(small_cuzr, **kwargs)


def test_radial_kernel_face_rejects_inconsistent_inputs(small_cuzr):
    nl = neighbor_list(small_cuzr, 5.0)
    codes, _ = small_cuzr.species_index()
    ps = codes[nl.point_atom]
    with pytest.raises(SoftscopeError, match="exceeds"):
        radial_from_neighbors(nl, ps, 2, MU, SIGMA, 6.0)
    with pytest.raises(SoftscopeError, match="one code per"):
        radial_from_neighbors(nl, codes, 2, MU, SIGMA, 5.0)
    with pytest.raises(SoftscopeError, match="codes"):
        radial_from_neighbors(nl, ps, 1, MU, SIGMA, 5.0)
