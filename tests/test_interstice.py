"""Interstice distribution features against an explicit 3x3x3-replica reference and geometry.

The reference below shares nothing with softscope's code but scipy's Delaunay: it
replicates the periodic cell explicitly, checks the empty-circumsphere property of
every tetrahedron it uses (so the tessellation itself is verified by brute force),
and computes the interstices with other formulas (Van Oosterom-Strackee solid
angles, arccos sector angles, Heron areas, determinant volumes) and plain loops.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.spatial import Delaunay

from softscope import Frame, SoftscopeError
from softscope.descriptors.interstice import (
    MIRACLE_RADII,
    interstice,
    interstice_from_neighbors,
    interstice_from_points,
    interstice_ghost_cutoff,
    interstice_names,
    max_circumradius,
    radii_by_code,
)
from softscope.neighbors import neighbor_list, periodic_images

AREA_EQUILATERAL = 1.0 - math.pi / (2.0 * math.sqrt(3.0))  # 0.0931
VOL_REGULAR_TET = 0.2203  # 1 - packing fraction 0.7797 of touching spheres on a regular tet


# --------------------------------------------------------------------------- reference
class ReplicaReference:
    """Interstice features by brute force on an explicit reps^3 replica of the cell."""

    def __init__(self, frame: Frame, radii: dict[str, float], reps: int = 3):
        n = len(frame)
        half = reps // 2 if any(frame.pbc) else 0
        shifts = [s for s in itertools.product(range(-half, half + 1), repeat=3)]
        shifts.sort(key=lambda s: s != (0, 0, 0))  # central copy first: points 0..n-1
        self.points = np.concatenate([frame.positions + np.array(s) @ frame.cell for s in shifts])
        self.radius = np.tile([radii[s] for s in frame.species], len(shifts))
        self.n = n
        self.min_width = reps * min(frame.perpendicular_widths()) if half else np.inf
        tri = Delaunay(self.points)
        self.tets_of: dict[int, list[tuple[int, ...]]] = {}
        for simplex in tri.simplices:
            for v in simplex:
                self.tets_of.setdefault(int(v), []).append(tuple(int(x) for x in simplex))
        self._cache: dict[int, list[float]] = {}

    def _check_empty_circumsphere(self, tet):
        p = self.points[list(tet)]
        a = 2.0 * (p[1:] - p[0])
        b = (p[1:] ** 2).sum(axis=1) - (p[0] ** 2).sum()
        centre = np.linalg.solve(a, b)
        r = np.linalg.norm(p[0] - centre)
        d = np.linalg.norm(self.points - centre, axis=1)
        assert not (d < r * (1 - 1e-9)).any(), "not a Delaunay tetrahedron"
        return r

    def short_range(self, p: int) -> list[float]:
        if p in self._cache:
            return self._cache[p]
        x, rad = self.points, self.radius
        tets = self.tets_of[p]
        nbrs = sorted({v for t in tets for v in t if v != p})
        dist = [float(np.linalg.norm(x[j] - x[p])) / (rad[p] + rad[j]) - 1.0 for j in nbrs]
        faces = sorted(
            {tuple(sorted(f)) for t in tets for f in itertools.combinations(t, 3) if p in f}
        )
        area = []
        for f in faces:
            sides = [float(np.linalg.norm(x[f[(k + 1) % 3]] - x[f[(k + 2) % 3]])) for k in range(3)]
            s = sum(sides) / 2.0
            heron = math.sqrt(s * (s - sides[0]) * (s - sides[1]) * (s - sides[2]))
            covered = 0.0
            for k in range(3):
                u = x[f[(k + 1) % 3]] - x[f[k]]
                w = x[f[(k + 2) % 3]] - x[f[k]]
                ang = math.acos(float(u @ w) / (np.linalg.norm(u) * np.linalg.norm(w)))
                covered += ang * rad[f[k]] ** 2 / 2.0
            area.append(1.0 - covered / heron)
        vol = []
        for t in tets:
            rc = self._check_empty_circumsphere(t)
            assert 4 * rc < self.min_width / 3, "replica too small for an exact reference"
            v6 = abs(
                np.linalg.det(np.array([x[t[1]] - x[t[0]], x[t[2]] - x[t[0]], x[t[3]] - x[t[0]]]))
            )
            covered = 0.0
            for k in range(4):
                a, b, c = (x[t[m]] - x[t[k]] for m in range(4) if m != k)
                la, lb, lc = (float(np.linalg.norm(q)) for q in (a, b, c))
                num = abs(float(a @ np.cross(b, c)))
                den = la * lb * lc + float(a @ b) * lc + float(a @ c) * lb + float(b @ c) * la
                omega = 2.0 * math.atan2(num, den)  # Van Oosterom & Strackee (1983)
                covered += omega * rad[t[k]] ** 3 / 3.0
            vol.append(1.0 - covered / (v6 / 6.0))
        out = []
        for vals in (dist, area, vol):
            mean = sum(vals) / len(vals)
            std = math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals))
            out += [min(vals), max(vals), mean, std]
        self._cache[p] = out
        return out

    def features(self, i: int) -> list[float]:
        """36 features of central-copy atom i; neighbours' rows computed at their own points."""
        sr = self.short_range(i)
        nbrs = sorted({v for t in self.tets_of[i] for v in t if v != i})
        rows = [self.short_range(j) for j in nbrs]
        mean = [sum(r[f] for r in rows) / len(rows) for f in range(12)]
        std = [math.sqrt(sum((r[f] - mean[f]) ** 2 for r in rows) / len(rows)) for f in range(12)]
        return sr + mean + std


def _probe_atoms(frame: Frame, k: int = 6) -> list[int]:
    """Atoms at the cell's faces (images matter most there) plus a few inner ones."""
    s = frame.reduced_positions()
    picks = {int(np.argmin(s[:, 0])), int(np.argmax(s[:, 1])), int(np.argmax(s[:, 2]))}
    picks.update(range(0, len(frame), max(1, len(frame) // k)))
    return sorted(picks)[: k + 3]


def _sheared(frame: Frame) -> Frame:
    m = np.array([[1.0, 0.0, 0.0], [0.25, 1.0, 0.0], [-0.2, 0.15, 1.0]])
    return Frame(frame.positions @ m, frame.species, frame.cell @ m)


# --------------------------------------------------------------------------- reference tests
@pytest.mark.parametrize("shape", ["cubic", "triclinic"])
def test_interstice_matches_replica_reference(small_cuzr, shape):
    frame = small_cuzr if shape == "cubic" else _sheared(small_cuzr)
    got = interstice(frame)
    assert got.shape == (len(frame), 36) and got.dtype == np.float64
    ref = ReplicaReference(frame, MIRACLE_RADII)
    atoms = _probe_atoms(frame)
    want = np.array([ref.features(i) for i in atoms])
    np.testing.assert_allclose(got[atoms], want, rtol=0, atol=1e-10)


def test_interstice_short_range_is_first_block_and_radii_override(small_cuzr):
    radii = {"Cu": 1.3, "Zr": 1.6}
    got = interstice(small_cuzr, radii=radii, medium_range=False)
    assert got.shape == (len(small_cuzr), 12)
    ref = ReplicaReference(small_cuzr, radii)
    atoms = _probe_atoms(small_cuzr, 3)
    want = np.array([ref.short_range(i) for i in atoms])
    np.testing.assert_allclose(got[atoms], want, rtol=0, atol=1e-10)


def test_free_cluster_interstices_match_reference(cuzr_glass):
    """Non-periodic: the hull is real, and faces shared by two tetrahedra count once."""
    f = cuzr_glass
    centre = f.positions[0]
    keep = np.linalg.norm(f.positions - centre, axis=1) < 6.0
    cluster = Frame(f.positions[keep], f.species[keep], f.cell, pbc=False)
    got = interstice(cluster)
    ref = ReplicaReference(cluster, MIRACLE_RADII)
    want = np.array([ref.features(i) for i in range(len(cluster))])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


# --------------------------------------------------------------------------- physics
def test_regular_tetrahedron_of_touching_spheres_gives_known_packing():
    e = 2.5
    pos = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float) * e / math.sqrt(8)
    frame = Frame(pos + 5.0, ["Cu"] * 4, np.eye(3) * 10, pbc=False)
    got = interstice(frame, radii={"Cu": e / 2})
    omega = 3 * math.acos(1 / 3) - math.pi  # solid angle at a regular tetrahedron's vertex
    vol = 1 - 4 * omega * (e / 2) ** 3 / 3 / (e**3 / (6 * math.sqrt(2)))
    assert abs(vol - VOL_REGULAR_TET) < 1e-4
    names = interstice_names()
    want = dict.fromkeys(names, 0.0)
    for s in ("min", "max", "mean"):
        want[f"area_int_{s}"] = AREA_EQUILATERAL
        want[f"vol_int_{s}"] = vol
        want[f"nbr_mean(area_int_{s})"] = AREA_EQUILATERAL
        want[f"nbr_mean(vol_int_{s})"] = vol
    np.testing.assert_allclose(got, np.tile([want[n] for n in names], (4, 1)), atol=1e-12)


def test_fcc_touching_spheres_interstices(rng):
    a, nc = 3.6, 4
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cells = np.array(list(itertools.product(range(nc), repeat=3)), float)
    pos = ((cells[:, None, :] + basis[None]).reshape(-1, 3)) * a
    pos += rng.normal(scale=1e-6, size=pos.shape)  # FCC Delaunay is degenerate (octahedra)
    frame = Frame(pos, ["Ni"] * len(pos), np.eye(3) * a * nc)
    r = a / (2 * math.sqrt(2))
    f = dict(
        zip(
            interstice_names(False),
            interstice(frame, radii={"Ni": r}, medium_range=False).T,
            strict=True,
        )
    )
    tol = 1e-5
    # 12 touching nearest neighbours; an octahedron's diagonal (d = a) is a Delaunay edge
    np.testing.assert_allclose(f["dist_int_min"], 0.0, atol=tol)
    dmax = f["dist_int_max"]
    assert np.all((abs(dmax) < tol) | (abs(dmax - (math.sqrt(2) - 1)) < tol))
    assert (abs(dmax - (math.sqrt(2) - 1)) < tol).mean() > 0.5
    # equilateral faces everywhere; right isosceles faces inside the split octahedra
    np.testing.assert_allclose(f["area_int_min"], AREA_EQUILATERAL, atol=tol)
    np.testing.assert_allclose(f["area_int_max"], 1 - math.pi / 4, atol=tol)
    # regular tetrahedra and the four congruent quarters of a regular octahedron
    e = a / math.sqrt(2)
    octa = 1 - 6 * (4 * math.asin(1 / 3)) * (e / 2) ** 3 / 3 / (math.sqrt(2) / 3 * e**3)
    np.testing.assert_allclose(f["vol_int_min"], VOL_REGULAR_TET, atol=1e-4)
    np.testing.assert_allclose(f["vol_int_max"], octa, atol=tol)


def test_glass_interstices_invariant_under_translation_permutation_rotation(cuzr_glass, rng):
    f = cuzr_glass
    base = interstice(f)
    moved = f.replace(positions=f.positions + np.array([7.3, -12.1, 40.7]))
    np.testing.assert_allclose(interstice(moved), base, rtol=0, atol=1e-9)
    perm = rng.permutation(len(f))
    permuted = Frame(f.positions[perm], f.species[perm], f.cell, origin=f.origin)
    np.testing.assert_allclose(interstice(permuted), base[perm], rtol=0, atol=1e-9)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotated = Frame(f.positions @ q.T, f.species, f.cell @ q.T, origin=f.origin @ q.T)
    np.testing.assert_allclose(interstice(rotated), base, rtol=0, atol=1e-9)


def test_glass_interstices_are_physical(cuzr_glass):
    x = dict(zip(interstice_names(), interstice(cuzr_glass).T, strict=True))
    assert np.isfinite(np.array(list(x.values()))).all()
    # dense EAM glass: spheres nearly touch; every tetrahedron leaves some empty space
    assert -0.3 < x["dist_int_min"].min() and x["dist_int_min"].max() < 0.1
    assert 0.0 < x["vol_int_min"].min() and x["vol_int_max"].max() < 1.0
    assert 0.28 < x["vol_int_mean"].mean() < 0.33
    # the largest empty sphere sets the ghost reach recorded in the module docstring
    rc = max_circumradius(cuzr_glass)
    assert 2.0 < rc < 2.6
    assert interstice_ghost_cutoff(rc) == pytest.approx(4 * rc)


# --------------------------------------------------------------------------- kernel faces
def test_lammps_style_local_plus_ghost_points_reproduce_periodic_features(cuzr_glass):
    f = cuzr_glass
    codes, order = f.species_index()
    rbc = radii_by_code(order)
    want = interstice(f)
    reach = interstice_ghost_cutoff(max_circumradius(f)) + 0.5
    points, point_atom = periodic_images(f, reach)
    got = interstice_from_points(points, codes[point_atom], len(f), rbc, ghost_cutoff=reach)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # too few ghosts: short range is still exact, medium range is refused
    short = interstice_ghost_cutoff(max_circumradius(f), medium_range=False) + 0.2
    points, point_atom = periodic_images(f, short)
    got = interstice_from_points(
        points, codes[point_atom], len(f), rbc, medium_range=False, ghost_cutoff=short
    )
    np.testing.assert_allclose(got, want[:, :12], rtol=0, atol=1e-12)
    with pytest.raises(SoftscopeError, match="ghost"):
        interstice_from_points(points, codes[point_atom], len(f), rbc, ghost_cutoff=short)


def test_shared_neighbor_list_face_matches_and_checks_reach(small_cuzr):
    codes, order = small_cuzr.species_index()
    rbc = radii_by_code(order)
    nl = neighbor_list(small_cuzr, 6.0)
    got = interstice_from_neighbors(nl, codes[nl.point_atom], rbc)
    np.testing.assert_allclose(got, interstice(small_cuzr), rtol=0, atol=1e-12)
    nl = neighbor_list(small_cuzr, 2.0)
    with pytest.raises(SoftscopeError, match="cutoff >="):
        interstice_from_neighbors(nl, codes[nl.point_atom], rbc)


# --------------------------------------------------------------------------- bad input
def test_unknown_element_radius_is_named(small_cuzr):
    f = small_cuzr.replace(species=np.where(small_cuzr.species == "Zr", "Xx", "Cu"))
    with pytest.raises(SoftscopeError, match="Xx"):
        interstice(f)
    assert interstice(f, radii={"Xx": 1.5}, medium_range=False).shape == (len(f), 12)
    with pytest.raises(SoftscopeError, match="positive"):
        interstice(small_cuzr, radii={"Cu": -1.0})


def test_too_few_or_coplanar_atoms_are_rejected():
    cell = np.eye(3) * 10
    with pytest.raises(SoftscopeError, match="at least 4"):
        interstice(Frame([[0, 0, 0], [1, 0, 0], [0, 1, 0]], ["Cu"] * 3, cell, pbc=False))
    flat = [[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0], [2.5, 2.5, 0], [1, 3, 0]]
    with pytest.raises(SoftscopeError, match="coplanar"):
        interstice(Frame(flat, ["Cu"] * 5, cell, pbc=False))


def test_slab_with_free_surface_is_refused(small_cuzr):
    with pytest.raises(SoftscopeError, match="fully periodic"):
        interstice(small_cuzr.replace(pbc=(True, True, False)))
