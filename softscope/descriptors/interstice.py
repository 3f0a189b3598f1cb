"""Interstice distribution (Wang & Jain 2019; Wang, Ding & Ma 2020 "quench-in softness").

Every atom is a sphere of its element's radius R (Å, Miracle radii by default,
:data:`MIRACLE_RADII`).  Around atom i the empty space left between the spheres
is measured on the **Delaunay tessellation** of the atoms (the dual of the Voronoi
tessellation, so the Delaunay neighbours are the Voronoi neighbours *including*
those sharing only a tiny face; no face-area threshold is applied):

- **distance interstice** of each Delaunay edge (i, j):
  ``d_ij / (R_i + R_j) - 1`` (0 for touching spheres, < 0 for overlapping ones);
- **area interstice** of each Delaunay triangle (i, j, k) that has i as a vertex:
  ``1 - Σ_v θ_v R_v² / 2 / A``, θ_v the triangle's interior angle at vertex v and A its
  area (the three circle sectors inside the triangle; overlaps between the sectors
  are *not* subtracted, so strongly overlapping spheres can give values < 0);
- **volume interstice** of each Delaunay tetrahedron that has i as a vertex:
  ``1 - Σ_v Ω_v R_v³ / 3 / V``, Ω_v the tetrahedron's solid angle at vertex v and V its
  volume (the four sphere sectors inside the tetrahedron; overlaps not subtracted).

"A triangle/tetrahedron of i" always means one having i as a vertex.  Each Delaunay
triangle is counted once, even though it is a face of two tetrahedra.

Features (F = 12, or 36 with ``medium_range=True``), in this order:

1. short range (12): ``min, max, mean, std`` of the distance, area and volume
   interstices of atom i (``std`` is the population standard deviation, ddof = 0);
2. medium range (24): ``nbr_mean(f)`` for each of the 12 short-range features f,
   then ``nbr_std(f)`` for each: the mean and population std of f over the Delaunay
   neighbours j of i (i itself excluded; every neighbour point counts once, so in a
   cell so small that two periodic images of the same atom are both neighbours, both
   count, as everywhere in softscope).

See :func:`interstice_names`.  Units: the distance interstice is dimensionless and
so are the others (ratios of lengths, areas, volumes).

Conventions and limits
----------------------
- Periodic frames: the Delaunay tessellation is computed on the wrapped atoms plus the
  periodic images within a padding ``pad`` of the cell
  (:func:`softscope.neighbors.periodic_images`).  A tetrahedron of a cell atom is exact
  when its circumsphere lies inside the padded region, i.e. when ``2 R_circ <= pad``;
  the padding starts at 2.2 mean atomic spacings and is enlarged until that holds
  for every tetrahedron of every atom, so the result is exact (not a heuristic).
- Tetrahedra of zero volume (exactly degenerate input such as a perfect lattice, for
  which Qhull's triangulated output may contain flat simplices) are dropped, with
  their faces and edges unless other tetrahedra share them.  Perturb perfect lattices
  slightly: with co-spherical points the Delaunay tessellation is not unique.
- Non-periodic frames (clusters) are treated as they are: surface atoms get the convex
  hull's flat tetrahedra, which have large interstices.  Mixed periodicity (a slab with
  free surfaces) is refused: the padding that would make it exact is unbounded.
- LAMMPS (local + ghost atoms, no periodicity): see :func:`interstice_from_points` and
  :func:`interstice_ghost_cutoff`.  In the Cu64Zr36 glass the largest Delaunay
  circumradius is 2.37 Å (0.94 mean spacings), so the ghost cutoff must be
  >= 4.8 Å (short range) and >= 9.5 Å (medium range).

Spec block ``{"kind": "interstice", "radii", "medium_range"}`` (``radii``: overrides of
:data:`MIRACLE_RADII` or None).  Its cutoff assumes Delaunay circumradii below 1.6× the
largest atomic radius (dense metallic glasses: 2.37 Å in Cu64Zr36); the LAMMPS fix
verifies exactness at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from softscope._jit import nb
from softscope.descriptors.registry import PointSet, register_block
from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.neighbors import NeighborList, periodic_images

__all__ = [
    "MIRACLE_RADII",
    "interstice",
    "interstice_from_points",
    "interstice_from_neighbors",
    "interstice_names",
    "interstice_ghost_cutoff",
    "max_circumradius",
    "radii_by_code",
]

#: Miracle radii (Å) used by default, as in CONVENTIONS.md.
MIRACLE_RADII: dict[str, float] = {
    "Cu": 1.26,
    "Zr": 1.58,
    "Al": 1.41,
    "Sm": 1.85,
    "Ni": 1.26,
    "Nb": 1.43,
    "Fe": 1.25,
    "P": 1.02,
}

_KINDS = ("dist", "area", "vol")
_STATS = ("min", "max", "mean", "std")
_PAD_START = 2.2  # initial padding in mean atomic spacings (exactness is checked after)
_FLAT = 1e-12  # relative volume below which a tetrahedron counts as flat


def interstice_names(medium_range: bool = True) -> list[str]:
    """Feature names, e.g. ``dist_int_min`` ... ``vol_int_std``, ``nbr_mean(dist_int_min)``."""
    sr = [f"{k}_int_{s}" for k in _KINDS for s in _STATS]
    if not medium_range:
        return sr
    return sr + [f"nbr_mean({n})" for n in sr] + [f"nbr_std({n})" for n in sr]


def radii_by_code(species_order: list[str], radii: Mapping[str, float] | None = None) -> np.ndarray:
    """Radii (K,) float64 for species codes 0..K-1 in ``species_order``.

    ``radii`` overrides / extends :data:`MIRACLE_RADII` ({element: radius in Å}).
    """
    table = dict(MIRACLE_RADII)
    if radii is not None:
        if not isinstance(radii, Mapping):
            raise SoftscopeError(
                f"radii must be a mapping {{element: radius}}, got {type(radii).__name__}"
            )
        table.update({str(k): v for k, v in radii.items()})
    missing = [s for s in species_order if s not in table]
    if missing:
        raise SoftscopeError(
            f"no interstice radius for species {missing}; known: {sorted(table)}; "
            "pass radii={'X': R, ...} (Å) for the missing ones"
        )
    out = np.array([table[s] for s in species_order], dtype=np.float64)
    bad = [s for s, r in zip(species_order, out, strict=True) if not (np.isfinite(r) and r > 0)]
    if bad:
        raise SoftscopeError(f"interstice radii must be positive finite lengths; bad for {bad}")
    return out


def interstice_ghost_cutoff(max_circ_radius: float, medium_range: bool = True) -> float:
    """Ghost-atom reach (length unit) needed for exact interstice features of local atoms.

    A Delaunay tetrahedron of atom i is exact when its circumsphere (radius R_c, through
    i) holds all atoms that exist: the sphere lies within ``2 R_c`` of i.  Medium-range
    features also need every neighbour j's tetrahedra (``d_ij <= 2 R_c``), hence
    ``4 R_c``.  ``max_circ_radius`` is the largest Delaunay circumradius of the
    material (:func:`max_circumradius` of a representative frame; 2.37 Å in the
    shipped Cu64Zr36 glass); add a margin for structures that change during the run.
    """
    if not np.isfinite(max_circ_radius) or max_circ_radius <= 0:
        raise SoftscopeError(
            f"max_circ_radius must be a positive finite length, got {max_circ_radius}"
        )
    return float((4.0 if medium_range else 2.0) * max_circ_radius)


def max_circumradius(frame: Frame) -> float:
    """Largest circumradius of the Delaunay tetrahedra of the frame's atoms (length unit)."""
    points, point_atom, tets, _ = _periodic_tessellation(frame)
    keep = tets[(tets < len(frame)).any(axis=1)]
    _, rc = _tet_kernel(points, np.ones(points.shape[0]), np.ascontiguousarray(keep))
    rc = rc[np.isfinite(rc)]
    return float(rc.max())


# --------------------------------------------------------------------------- public faces
def interstice(
    frame: Frame, radii: Mapping[str, float] | None = None, medium_range: bool = True
) -> np.ndarray:
    """Interstice features (N, 12) or (N, 36) float64 of every atom (see module docstring).

    ``radii``: {element: radius (Å)} overriding :data:`MIRACLE_RADII`.
    """
    codes, order = frame.species_index()
    rbc = radii_by_code(order, radii)
    points, point_atom, tets, _ = _periodic_tessellation(frame)
    return _features(points, codes[point_atom], point_atom, len(frame), rbc, tets, medium_range)[0]


def interstice_from_points(
    points: np.ndarray,
    point_species_codes: np.ndarray,
    n_query: int,
    radii_by_code: np.ndarray,
    medium_range: bool = True,
    ghost_cutoff: float | None = None,
) -> np.ndarray:
    """Kernel face for LAMMPS: features (n_query, F) of ``points[:n_query]``.

    ``points`` (M, 3) are local then ghost atoms (no periodicity is added);
    ``point_species_codes`` (M,) int species codes; ``radii_by_code`` (K,) radii per code.
    Ghosts must reach :func:`interstice_ghost_cutoff` beyond the local atoms.  If
    ``ghost_cutoff`` (how far ghosts reach) is given, exactness is verified (every
    circumsphere a query atom's features depend on must lie within ``ghost_cutoff`` of
    it) and a SoftscopeError names the reach that would be needed.  The check assumes
    ghosts on every side (periodic box): atoms at a free surface have hull tetrahedra
    with huge circumspheres, so leave ``ghost_cutoff=None`` for boxes with ``f`` boundaries.
    """
    points = _check_points(points, n_query)
    m = points.shape[0]
    codes = _check_codes(point_species_codes, m, radii_by_code)
    tets = _tessellate(points)
    out, need = _features(
        points,
        codes,
        np.arange(m, dtype=np.int64),
        n_query,
        np.asarray(radii_by_code, float),
        tets,
        medium_range,
    )
    if ghost_cutoff is not None and need > ghost_cutoff:
        raise SoftscopeError(
            f"ghost atoms reach {ghost_cutoff}, but exact interstice features of these atoms "
            f"need {need:.4g} (ghost cutoff >= 2 x largest Delaunay circumradius, x4 with "
            "medium range); raise the ghost (comm) cutoff"
        )
    return out


def interstice_from_neighbors(
    nl: NeighborList,
    point_species: np.ndarray,
    radii_by_code: np.ndarray,
    medium_range: bool = True,
) -> np.ndarray:
    """Kernel face on a shared neighbour list: only ``nl.points``/``point_atom`` are used.

    The tessellation is recomputed from the points (pairs are not Delaunay edges);
    ``nl.cutoff`` is taken as the reach of the images/ghosts and checked against
    what exactness needs (SoftscopeError otherwise).  Points that are images of query
    atoms (``point_atom < n_query``) reuse those atoms' short-range values.
    """
    points = _check_points(nl.points, nl.n_query)
    codes = _check_codes(point_species, points.shape[0], radii_by_code)
    tets = _tessellate(points)
    out, need = _features(
        points,
        codes,
        np.asarray(nl.point_atom, np.int64),
        nl.n_query,
        np.asarray(radii_by_code, float),
        tets,
        medium_range,
    )
    if need > nl.cutoff:
        raise SoftscopeError(
            f"the neighbour list's points reach {nl.cutoff}, but exact interstice features "
            f"need {need:.4g}; build it with cutoff >= {need:.4g}"
        )
    return out


# --------------------------------------------------------------------------- tessellation
def _tessellate(points: np.ndarray) -> np.ndarray:
    # scipy is imported here, not at module level: importing softscope.descriptors (e.g.
    # in the LAMMPS fix's embedded interpreter) must not load scipy (~30 MB) for models
    # without interstice blocks
    from scipy.spatial import Delaunay, QhullError

    try:
        tri = Delaunay(points)
    except QhullError as exc:
        raise SoftscopeError(
            "Delaunay tessellation failed: interstice features need at least 4 atoms that "
            f"are not coplanar ({points.shape[0]} points given): {str(exc).splitlines()[0]}"
        ) from None
    if tri.coplanar.shape[0]:
        raise SoftscopeError(
            f"{tri.coplanar.shape[0]} atom(s) coincide with others (e.g. point "
            f"{int(tri.coplanar[0, 0])}); interstice features need distinct positions"
        )
    return np.ascontiguousarray(tri.simplices, dtype=np.int64)


def _periodic_tessellation(frame: Frame):
    n = len(frame)
    if any(frame.pbc) and not all(frame.pbc):
        raise SoftscopeError(
            f"interstice features need a fully periodic or a fully non-periodic frame, got "
            f"pbc={frame.pbc}: with a free surface along a periodic slab the padding that makes "
            "the tessellation exact is unbounded (cut a cluster or make the cell periodic)"
        )
    if not any(frame.pbc):
        pts = np.ascontiguousarray(frame.positions)
        return pts, np.arange(n, dtype=np.int64), _tessellate(_check_points(pts, n)), 0.0
    spacing = (frame.volume / n) ** (1.0 / 3.0)
    pad = _PAD_START * spacing
    for _ in range(20):
        points, point_atom = periodic_images(frame, pad)
        tets = _tessellate(points)
        # reach of the circumspheres of the cell atoms' tetrahedra (2 R_c)
        keep = tets[(tets < n).any(axis=1)]
        _, rc = _tet_kernel(points, np.ones(points.shape[0]), np.ascontiguousarray(keep))
        rc = rc[np.isfinite(rc)]
        need = 2.0 * float(rc.max()) if rc.size else 0.0
        if need <= pad:
            return points, point_atom, tets, pad
        pad = 1.1 * need
    raise SoftscopeError("could not find a periodic padding that makes the tessellation exact")


def _check_points(points, n_query) -> np.ndarray:
    pts = np.ascontiguousarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise SoftscopeError(f"points must have shape (M, 3), got {pts.shape}")
    if not np.isfinite(pts).all():
        raise SoftscopeError("points contain NaN or inf")
    if not (0 <= int(n_query) <= pts.shape[0]):
        raise SoftscopeError(f"n_query={n_query} must lie in [0, {pts.shape[0]}]")
    if pts.shape[0] < 4:
        raise SoftscopeError(
            f"interstice features need at least 4 non-coplanar atoms (after periodic images), "
            f"got {pts.shape[0]}"
        )
    return pts


def _check_codes(codes, m, rbc) -> np.ndarray:
    c = np.asarray(codes)
    if c.shape != (m,) or c.dtype.kind not in "iu":
        raise SoftscopeError(f"species codes must be ({m},) integers, got {c.shape} {c.dtype}")
    k = np.asarray(rbc).shape[0]
    if m and (c.min() < 0 or c.max() >= k):
        raise SoftscopeError(f"species codes must lie in [0, {k}) (one radius per code)")
    return c.astype(np.int64)


# --------------------------------------------------------------------------- features
def _features(points, codes, point_atom, n_query, rbc, tets, medium_range):
    """Features of points[:n_query]; returns (out, reach needed for exactness)."""
    m = points.shape[0]
    if n_query == 0:
        return np.zeros((0, 36 if medium_range else 12)), 0.0
    rad = rbc[codes]
    # a point's short-range row comes from the query atom it is an image of, if any
    own = (point_atom >= 0) & (point_atom < n_query)
    own &= np.arange(m) >= n_query  # images only
    row_src = np.where(own, point_atom, np.arange(m))

    is_query = np.zeros(m, dtype=bool)
    is_query[:n_query] = True
    tq = tets[is_query[tets].any(axis=1)]
    if medium_range:
        # neighbours of query atoms that are not images of query atoms need their own rows
        nbr = np.unique(tq.ravel())
        need = is_query.copy()
        need[nbr[row_src[nbr] == nbr]] = True
    else:
        need = is_query
    sel = np.flatnonzero(need)
    loc = np.full(m, -1, dtype=np.int64)
    loc[sel] = np.arange(sel.size)

    tn = np.ascontiguousarray(tets[need[tets].any(axis=1)])
    vol_int, rc = _tet_kernel(points, rad, tn)
    flat = ~np.isfinite(vol_int)
    if flat.any():
        tn, vol_int, rc = tn[~flat], vol_int[~flat], rc[~flat]
    tri_idx = [0, 1, 2, 0, 1, 3, 0, 2, 3, 1, 2, 3]
    faces = _unique_rows(np.sort(tn[:, tri_idx].reshape(-1, 3), axis=1))
    faces = faces[need[faces].any(axis=1)]
    edges = _unique_rows(np.sort(faces[:, [0, 1, 0, 2, 1, 2]].reshape(-1, 2), axis=1))
    edges = edges[need[edges].any(axis=1)]
    area_int = _face_kernel(points, rad, faces)
    d = np.linalg.norm(points[edges[:, 1]] - points[edges[:, 0]], axis=1)
    dist_int = d / (rad[edges[:, 0]] + rad[edges[:, 1]]) - 1.0

    sr = np.full((sel.size, 12), np.nan)
    cnt = _group_stats(edges, dist_int, loc, sel.size, sr, 0)
    _group_stats(faces, area_int, loc, sel.size, sr, 4)
    _group_stats(tn, vol_int, loc, sel.size, sr, 8)
    if (cnt[:n_query] == 0).any():
        bad = int(np.flatnonzero(cnt[:n_query] == 0)[0])
        raise SoftscopeError(f"atom {bad} is in no Delaunay tetrahedron (coincident atoms?)")
    reach = _reach(tn, rc, loc, sel.size)

    if not medium_range:
        return sr[:n_query].copy(), float(reach[:n_query].max())
    q_edges = edges[is_query[edges].any(axis=1)]
    a = np.concatenate([q_edges[:, 0], q_edges[:, 1]])
    b = np.concatenate([q_edges[:, 1], q_edges[:, 0]])
    keep = a < n_query
    a, b = a[keep], b[keep]
    order = np.argsort(a, kind="stable")
    a, b = a[order], b[order]
    offsets = np.zeros(n_query + 1, dtype=np.int64)
    np.cumsum(np.bincount(a, minlength=n_query), out=offsets[1:])
    nbr_row = loc[row_src[b]]  # an image of a query atom takes that atom's row
    dist_ab = np.linalg.norm(points[b] - points[a], axis=1)
    # a neighbour computed on its own (a ghost) needs its own tetrahedra exact too
    ghost = row_src[b] == b
    extra = np.where(ghost & (b >= n_query), dist_ab + reach[loc[b]], 0.0)
    mr = _medium_kernel(offsets, nbr_row, sr)
    out = np.concatenate([sr[:n_query], mr], axis=1)
    need_reach = max(float(reach[:n_query].max()), float(extra.max()) if extra.size else 0.0)
    return out, need_reach


def _unique_rows(rows: np.ndarray) -> np.ndarray:
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if rows.shape[0] == 0:
        return rows
    k = rows.shape[1]
    bits = 63 // k
    if int(rows.max()) < (1 << bits):
        key = np.zeros(rows.shape[0], dtype=np.int64)
        for c in range(k):
            key = (key << bits) | rows[:, c]
        _, idx = np.unique(key, return_index=True)
        return rows[np.sort(idx)]
    return np.unique(rows, axis=0)


@nb.njit(cache=True, inline="always")
def _cross(ax, ay, az, bx, by, bz):
    return ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx


@nb.njit(cache=True)
def _dihedral(points, a, b, c, d):
    """Interior dihedral angle of a tetrahedron along edge (a, b)."""
    ex = points[b, 0] - points[a, 0]
    ey = points[b, 1] - points[a, 1]
    ez = points[b, 2] - points[a, 2]
    ux = points[c, 0] - points[a, 0]
    uy = points[c, 1] - points[a, 1]
    uz = points[c, 2] - points[a, 2]
    wx = points[d, 0] - points[a, 0]
    wy = points[d, 1] - points[a, 1]
    wz = points[d, 2] - points[a, 2]
    # normals of faces (a,b,c) and (a,b,d); the angle between the half-planes
    n1x, n1y, n1z = _cross(ex, ey, ez, ux, uy, uz)
    n2x, n2y, n2z = _cross(ex, ey, ez, wx, wy, wz)
    cx, cy, cz = _cross(n1x, n1y, n1z, n2x, n2y, n2z)
    s = np.sqrt(cx * cx + cy * cy + cz * cz)
    co = n1x * n2x + n1y * n2y + n1z * n2z
    return np.arctan2(s, co)


@nb.njit(parallel=True, cache=True)
def _tet_kernel(points, rad, tets):
    """Volume interstice and circumradius per tetrahedron (NaN for flat ones).

    Solid angles from Girard's theorem: Ω_v = (sum of the 3 dihedral angles at v) - π.
    """
    nt = tets.shape[0]
    val = np.empty(nt, dtype=np.float64)
    rc = np.empty(nt, dtype=np.float64)
    for t in nb.prange(nt):
        p0 = tets[t, 0]
        p1 = tets[t, 1]
        p2 = tets[t, 2]
        p3 = tets[t, 3]
        ax = points[p1, 0] - points[p0, 0]
        ay = points[p1, 1] - points[p0, 1]
        az = points[p1, 2] - points[p0, 2]
        bx = points[p2, 0] - points[p0, 0]
        by = points[p2, 1] - points[p0, 1]
        bz = points[p2, 2] - points[p0, 2]
        cx = points[p3, 0] - points[p0, 0]
        cy = points[p3, 1] - points[p0, 1]
        cz = points[p3, 2] - points[p0, 2]
        bcx, bcy, bcz = _cross(bx, by, bz, cx, cy, cz)
        cax, cay, caz = _cross(cx, cy, cz, ax, ay, az)
        abx, aby, abz = _cross(ax, ay, az, bx, by, bz)
        det = ax * bcx + ay * bcy + az * bcz
        la = ax * ax + ay * ay + az * az
        lb = bx * bx + by * by + bz * bz
        lc = cx * cx + cy * cy + cz * cz
        scale = max(la, lb, lc) ** 1.5
        if abs(det) <= _FLAT * scale:
            val[t] = np.nan
            rc[t] = np.nan
            continue
        vol = abs(det) / 6.0
        ox = (la * bcx + lb * cax + lc * abx) / (2.0 * det)
        oy = (la * bcy + lb * cay + lc * aby) / (2.0 * det)
        oz = (la * bcz + lb * caz + lc * abz) / (2.0 * det)
        rc[t] = np.sqrt(ox * ox + oy * oy + oz * oz)
        d01 = _dihedral(points, p0, p1, p2, p3)
        d02 = _dihedral(points, p0, p2, p1, p3)
        d03 = _dihedral(points, p0, p3, p1, p2)
        d12 = _dihedral(points, p1, p2, p0, p3)
        d13 = _dihedral(points, p1, p3, p0, p2)
        d23 = _dihedral(points, p2, p3, p0, p1)
        om0 = d01 + d02 + d03 - np.pi
        om1 = d01 + d12 + d13 - np.pi
        om2 = d02 + d12 + d23 - np.pi
        om3 = d03 + d13 + d23 - np.pi
        cover = (
            om0 * rad[p0] ** 3 + om1 * rad[p1] ** 3 + om2 * rad[p2] ** 3 + om3 * rad[p3] ** 3
        ) / 3.0
        val[t] = 1.0 - cover / vol
    return val, rc


@nb.njit(parallel=True, cache=True)
def _face_kernel(points, rad, faces):
    """Area interstice per triangle: 1 - Σ θ_v R_v² / 2 / area (angles via atan2)."""
    nf = faces.shape[0]
    val = np.empty(nf, dtype=np.float64)
    for f in nb.prange(nf):
        cover = 0.0
        area = 0.0
        for v in range(3):
            p = faces[f, v]
            q = faces[f, (v + 1) % 3]
            r = faces[f, (v + 2) % 3]
            ux = points[q, 0] - points[p, 0]
            uy = points[q, 1] - points[p, 1]
            uz = points[q, 2] - points[p, 2]
            wx = points[r, 0] - points[p, 0]
            wy = points[r, 1] - points[p, 1]
            wz = points[r, 2] - points[p, 2]
            cx, cy, cz = _cross(ux, uy, uz, wx, wy, wz)
            s = np.sqrt(cx * cx + cy * cy + cz * cz)
            theta = np.arctan2(s, ux * wx + uy * wy + uz * wz)
            cover += 0.5 * theta * rad[p] ** 2
            if v == 0:
                area = 0.5 * s
        val[f] = 1.0 - cover / area
    return val


@nb.njit(cache=True)
def _group_stats(items, values, loc, nsel, out, col):
    """min, max, mean, population std of ``values`` grouped by each needed vertex."""
    cnt = np.zeros(nsel, dtype=np.int64)
    s = np.zeros(nsel)
    mn = np.full(nsel, np.inf)
    mx = np.full(nsel, -np.inf)
    k = items.shape[1]
    for t in range(items.shape[0]):
        x = values[t]
        for a in range(k):
            g = loc[items[t, a]]
            if g >= 0:
                cnt[g] += 1
                s[g] += x
                if x < mn[g]:
                    mn[g] = x
                if x > mx[g]:
                    mx[g] = x
    mean = s / np.maximum(cnt, 1)
    ss = np.zeros(nsel)
    for t in range(items.shape[0]):
        x = values[t]
        for a in range(k):
            g = loc[items[t, a]]
            if g >= 0:
                ss[g] += (x - mean[g]) ** 2
    for g in range(nsel):
        if cnt[g] > 0:
            out[g, col] = mn[g]
            out[g, col + 1] = mx[g]
            out[g, col + 2] = mean[g]
            out[g, col + 3] = np.sqrt(ss[g] / cnt[g])
    return cnt


@nb.njit(cache=True)
def _reach(tets, rc, loc, nsel):
    """Per needed point: the farthest reach of its tetrahedra's circumspheres (2 R_c)."""
    out = np.zeros(nsel)
    for t in range(tets.shape[0]):
        r2 = 2.0 * rc[t]
        for a in range(4):
            g = loc[tets[t, a]]
            if g >= 0 and r2 > out[g]:
                out[g] = r2
    return out


@nb.njit(parallel=True, cache=True)
def _medium_kernel(offsets, nbr_row, sr):
    n = offsets.shape[0] - 1
    nf = sr.shape[1]
    out = np.zeros((n, 2 * nf))
    for i in nb.prange(n):
        lo = offsets[i]
        hi = offsets[i + 1]
        cnt = hi - lo
        if cnt == 0:
            for f in range(2 * nf):
                out[i, f] = np.nan
            continue
        for f in range(nf):
            s = 0.0
            for p in range(lo, hi):
                s += sr[nbr_row[p], f]
            mean = s / cnt
            ss = 0.0
            for p in range(lo, hi):
                ss += (sr[nbr_row[p], f] - mean) ** 2
            out[i, f] = mean
            out[i, nf + f] = np.sqrt(ss / cnt)
    return out


# --------------------------------------------------------------------------- spec block
def _normalise(b: Mapping[str, Any]) -> dict[str, Any]:
    radii = b.get("radii")
    return {
        "radii": None if radii is None else {str(k): float(v) for k, v in radii.items()},
        "medium_range": bool(b.get("medium_range", True)),
    }


def _cutoff(b, species) -> float:
    # Delaunay circumradii of dense metallic glasses stay below ~1.6x the largest
    # atomic radius (2.37 Å in Cu64Zr36); the LAMMPS path verifies exactness at run time.
    radii = dict(MIRACLE_RADII, **(b["radii"] or {}))
    r_big = max(radii.get(s, 0.0) for s in species) if species else 0.0
    return interstice_ghost_cutoff(1.6 * r_big, b["medium_range"])


def _compute(b, frame: Frame, species, extra) -> np.ndarray:
    return interstice(frame, radii=b["radii"], medium_range=b["medium_range"])


def _compute_points(b, p: PointSet) -> np.ndarray:
    """Features of the query points from the fewest neighbours that keep them exact: the
    points within a padding of the query points (starting at 2.2 mean spacings, enlarged
    until every circumsphere the features depend on lies inside it), not every point
    within the block's cutoff (which the cutoff must allow for the worst glass)."""
    rbc = radii_by_code(list(p.species), b["radii"])
    points = _check_points(p.points, p.n_query)
    nq = p.n_query
    codes = _check_codes(p.codes, points.shape[0], rbc)
    owner = np.arange(points.shape[0], dtype=np.int64) if p.owner is None else p.owner
    if points.shape[0] == nq:
        return interstice_from_points(points, codes, nq, rbc, b["medium_range"])
    from scipy.spatial import cKDTree

    dist = cKDTree(points[:nq]).query(points[nq:])[0]
    if p.density:
        spacing = float(p.density) ** (-1.0 / 3.0)
    else:
        span = np.ptp(points[:nq], axis=0)
        spacing = float(np.prod(np.maximum(span, 1e-12)) / nq) ** (1.0 / 3.0)
    pad = _PAD_START * spacing
    while True:
        if pad >= dist.max():
            keep = np.arange(points.shape[0])
        else:
            keep = np.concatenate([np.arange(nq), nq + np.flatnonzero(dist <= pad)])
        sub = np.ascontiguousarray(points[keep])
        # images of query atoms reuse the query's short-range values (owner < n_query)
        own = owner[keep]
        own = np.where(own < nq, own, np.arange(keep.size))
        out, need = _features(
            sub,
            codes[keep],
            np.ascontiguousarray(own, dtype=np.int64),
            nq,
            np.asarray(rbc, float),
            _tessellate(sub),
            b["medium_range"],
        )
        if need <= pad or keep.size == points.shape[0]:
            return out
        pad = 1.1 * need


register_block(
    "interstice",
    normalise=_normalise,
    cutoff=_cutoff,
    names=lambda b, species: interstice_names(b["medium_range"]),
    compute=_compute,
    compute_points=_compute_points,
)
