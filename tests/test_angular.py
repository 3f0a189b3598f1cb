"""Angular structure functions Ψ_XY(i; ξ, λ, ζ) against brute force and dscribe ACSF G4."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import random_triclinic_frame
from reference import brute_pairs

from softscope import Frame, SoftscopeError
from softscope.descriptors.angular import (
    ANGULAR_TOL,
    angular,
    angular_from_neighbors,
    angular_names,
    default_angular_cutoff,
)
from softscope.neighbors import neighbor_list

XI = [1.5, 2.5]
LAM = [-1.0, 1.0]
ZETA = [1.0, 2.0, 4.5]


def brute_angular(
    frame, xi, lambdas, zetas, cutoff, species, prefactor=False, cutoff_function=False
):
    """Explicit loops over atoms i and unordered pairs {j, k} of its brute-force neighbours."""
    lut = {s: k for k, s in enumerate(species)}
    codes = np.array([lut[s] for s in frame.species])
    blocks = [(a, b) for a in range(len(species)) for b in range(a, len(species))]
    combos = list(itertools.product(xi, lambdas, zetas))
    nf = len(combos)

    def fc(r):
        return 0.5 * (np.cos(np.pi * r / cutoff) + 1) if r < cutoff else 0.0

    out = np.zeros((len(frame), len(blocks) * nf))
    for i, (js, vecs) in enumerate(brute_pairs(frame.positions, frame.cell, frame.pbc, cutoff)):
        for a in range(len(js)):
            for b in range(a + 1, len(js)):
                u, v = vecs[a], vecs[b]
                rij, rik = np.linalg.norm(u), np.linalg.norm(v)
                rjk = np.linalg.norm(u - v)
                w = fc(rij) * fc(rik) * fc(rjk) if cutoff_function else 1.0
                if w == 0.0:
                    continue
                cos = u @ v / (rij * rik)
                x, y = sorted((codes[js[a]], codes[js[b]]))
                col = blocks.index((x, y)) * nf
                for c, (p, lam, z) in enumerate(combos):
                    pre = 2.0 ** (1 - z) if prefactor else 1.0
                    g = np.exp(-(rij**2 + rik**2 + rjk**2) / p**2)
                    out[i, col + c] += pre * w * g * max(1 + lam * cos, 0.0) ** z
    return out


def dscribe_g4(frame, xi, lambdas, zetas, cutoff, idx):
    """dscribe ACSF G4 with η = 1/ξ², params [η, ζ, λ] in softscope's (ξ, λ, ζ) product order.

    dscribe's G4 = 2^(1-ζ) Σ_{k<j} (1 + λ cos θ)^ζ exp(−η Σ r²) f_c f_c f_c, summed over
    every unordered neighbour pair once and skipping r_jk > r_c; its type-pair blocks for
    two species are (0,0), (1,0), (1,1) — the same as softscope's (0,0), (0,1), (1,1).
    The G1 columns (one per species) come first.
    """
    ase = pytest.importorskip("ase")
    acsf_mod = pytest.importorskip("dscribe.descriptors")
    atoms = ase.Atoms(
        symbols=list(frame.species), positions=frame.positions, cell=frame.cell, pbc=frame.pbc
    )
    params = [[1.0 / p**2, z, lam] for p, lam, z in itertools.product(xi, lambdas, zetas)]
    acsf = acsf_mod.ACSF(species=["Cu", "Zr"], r_cut=cutoff, g4_params=params, periodic=True)
    return acsf.create(atoms, centers=list(idx))[:, 2:]


def test_angular_matches_brute_force_triple_loop_triclinic(rng):
    f = random_triclinic_frame(rng, n=30, size=10.0)
    rc = 4.5
    got = angular(f, XI, LAM, ZETA, cutoff=rc)
    ref = brute_angular(f, XI, LAM, ZETA, rc, ["Cu", "Zr"])
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14 * ref.max())


def test_angular_with_prefactor_and_cutoff_function_matches_brute_force(rng):
    f = random_triclinic_frame(rng, n=30, size=10.0)
    rc = 4.5
    got = angular(f, XI, LAM, ZETA, cutoff=rc, prefactor=True, cutoff_function=True)
    ref = brute_angular(f, XI, LAM, ZETA, rc, ["Cu", "Zr"], prefactor=True, cutoff_function=True)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14 * ref.max())


def test_angular_matches_dscribe_g4_on_cuzr_glass(cuzr_glass):
    rc = 6.0
    idx = np.arange(0, len(cuzr_glass), 13)
    got = angular(cuzr_glass, XI, LAM, ZETA, cutoff=rc, prefactor=True, cutoff_function=True)
    ref = dscribe_g4(cuzr_glass, XI, LAM, ZETA, rc, idx)
    assert got.shape == (len(cuzr_glass), 3 * len(XI) * len(LAM) * len(ZETA))
    np.testing.assert_allclose(got[idx], ref, rtol=1e-10, atol=1e-13 * ref.max())


def test_angular_matches_dscribe_g4_with_cutoff_beyond_half_box(rng):
    f = random_triclinic_frame(rng, n=10, size=6.0, tilt=(1.0, -0.5, 0.7))
    rc = 7.0
    assert rc > f.perpendicular_widths().max()
    got = angular(f, [2.0], LAM, [1.0, 3.0], cutoff=rc, prefactor=True, cutoff_function=True)
    ref = dscribe_g4(f, [2.0], LAM, [1.0, 3.0], rc, np.arange(len(f)))
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-13 * ref.max())


def test_angular_counts_each_unordered_mixed_pair_once():
    # Cu at the origin with one Cu and one Zr neighbour at a right angle (no periodicity)
    f = Frame([[0, 0, 0], [2.0, 0, 0], [0, 2.5, 0]], ["Cu", "Cu", "Zr"], np.eye(3) * 40, pbc=False)
    xi = 2.0
    got = angular(f, [xi], [1.0], [1.0], cutoff=5.0)
    # columns: CuCu, CuZr, ZrZr
    g0 = np.exp(-(4.0 + 6.25 + 10.25) / xi**2) * (1 + 0.0)
    np.testing.assert_allclose(got[0], [0.0, g0, 0.0], rtol=1e-14)
    # atom 1 (Cu) sees Cu(0) at 2.0 and Zr(2) at sqrt(10.25): cos θ = 2/sqrt(10.25)
    r12 = np.sqrt(10.25)
    g1 = np.exp(-(4.0 + 10.25 + 6.25) / xi**2) * (1 + 2.0 / r12)
    np.testing.assert_allclose(got[1], [0.0, g1, 0.0], rtol=1e-14)
    assert angular_names(["Cu", "Zr"], [xi], [1.0], [1.0])[1] == "Psi_CuZr(xi=2,lambda=1,zeta=1)"


def test_angular_r_jk_unrestricted_without_cutoff_function():
    # j and k on opposite sides of i: r_ij = r_ik = 2.8 < r_c = 3 but r_jk = 5.6 > r_c
    f = Frame([[0, 0, 0], [-2.8, 0, 0], [2.8, 0, 0]], ["Cu"] * 3, np.eye(3) * 40, pbc=False)
    plain = angular(f, [3.0], [-1.0], [1.0], cutoff=3.0)
    np.testing.assert_allclose(plain[0, 0], np.exp(-(2 * 2.8**2 + 5.6**2) / 9.0) * 2.0, rtol=1e-14)
    smooth = angular(f, [3.0], [-1.0], [1.0], cutoff=3.0, cutoff_function=True)
    assert smooth[0, 0] == 0.0


def test_angular_default_cutoff_drops_only_negligible_triplets(small_cuzr):
    xi = [1.5]
    rc = default_angular_cutoff(xi)
    assert np.exp(-1.5 * rc**2 / 1.5**2) <= ANGULAR_TOL * (1 + 1e-9)
    short = angular(small_cuzr, xi, LAM, [1.0])
    wide = angular(small_cuzr, xi, LAM, [1.0], cutoff=rc + 2.5)
    # each dropped triplet adds < ANGULAR_TOL · (1 + λ cos θ) <= 2 ANGULAR_TOL
    n_s = neighbor_list(small_cuzr, rc).counts()
    n_w = neighbor_list(small_cuzr, rc + 2.5).counts()
    dropped = (n_w * (n_w - 1) - n_s * (n_s - 1)) // 2
    diff = np.abs(short - wide).sum(axis=1)
    assert (diff <= 2 * ANGULAR_TOL * dropped).all()
    assert diff.max() < 1e-5 * wide.max()


def test_angular_kernel_face_with_wider_shared_neighbour_list(small_cuzr):
    nl = neighbor_list(small_cuzr, 6.5)
    codes, _ = small_cuzr.species_index()
    got = angular_from_neighbors(nl, codes[nl.point_atom], 2, XI, LAM, ZETA, 5.0, True, True)
    ref = angular(small_cuzr, XI, LAM, ZETA, cutoff=5.0, prefactor=True, cutoff_function=True)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_angular_invariant_under_translation_rotation_permutation_and_wrapping(rng):
    f = random_triclinic_frame(rng, n=60, size=11.0)
    kw = dict(cutoff=5.0)
    g = angular(f, XI, LAM, ZETA, **kw)
    tol = dict(rtol=1e-9, atol=1e-12 * g.max())
    moved = f.replace(positions=f.positions + [3.3, -7.1, 0.4])
    np.testing.assert_allclose(angular(moved, XI, LAM, ZETA, **kw), g, **tol)
    rot = _rotation(rng)
    turned = Frame(f.positions @ rot.T, f.species, f.cell @ rot.T)
    np.testing.assert_allclose(angular(turned, XI, LAM, ZETA, **kw), g, **tol)
    perm = rng.permutation(len(f))
    shuffled = Frame(f.positions[perm], f.species[perm], f.cell)
    np.testing.assert_allclose(angular(shuffled, XI, LAM, ZETA, **kw), g[perm], **tol)
    shifts = rng.integers(-3, 4, size=(len(f), 3)) @ f.cell
    unwrapped = f.replace(positions=f.positions + shifts)
    np.testing.assert_allclose(angular(unwrapped, XI, LAM, ZETA, **kw), g, **tol)


def test_angular_three_species_blocks_in_lexicographic_pair_order(rng):
    f = random_triclinic_frame(rng, n=30, size=10.0, species=("Cu", "Zr", "Al"))
    order = ["Cu", "Zr", "Al"]
    got = angular(f, [2.0], [1.0], [1.0], species=order, cutoff=4.5)
    ref = brute_angular(f, [2.0], [1.0], [1.0], 4.5, order)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14 * ref.max())
    names = angular_names(order, [2.0], [1.0], [1.0])
    assert [n.split("(")[0] for n in names] == [
        "Psi_CuCu",
        "Psi_CuZr",
        "Psi_CuAl",
        "Psi_ZrZr",
        "Psi_ZrAl",
        "Psi_AlAl",
    ]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(xi=[-1.0], lambdas=[1.0], zetas=[1.0]), "xi"),
        (dict(xi=[], lambdas=[1.0], zetas=[1.0]), "xi"),
        (dict(xi=[2.0], lambdas=[2.0], zetas=[1.0]), "lambdas"),
        (dict(xi=[2.0], lambdas=[1.0], zetas=[0.0]), "zetas"),
        (dict(xi=[2.0], lambdas=[np.nan], zetas=[1.0]), "lambdas"),
        (dict(xi=[2.0], lambdas=[1.0], zetas=[1.0], species=["Zr"]), "Cu"),
        (dict(xi=[2.0], lambdas=[1.0], zetas=[1.0], cutoff=0.0), "cutoff"),
    ],
)
def test_angular_rejects_bad_input(small_cuzr, kwargs, match):
    with pytest.raises(SoftscopeError, match=match):
        angular(small_cuzr, **kwargs)


def test_angular_kernel_face_rejects_cutoff_beyond_list(small_cuzr):
    nl = neighbor_list(small_cuzr, 4.0)
    codes, _ = small_cuzr.species_index()
    with pytest.raises(SoftscopeError, match="exceeds"):
        angular_from_neighbors(nl, codes[nl.point_atom], 2, XI, LAM, ZETA, 5.0)
