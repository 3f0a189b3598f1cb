"""Brute-force numpy references, independent of softscope's neighbour engine.

They enumerate every periodic image explicitly (no cell list, no wrapping tricks),
so they are slow but obviously right; tests use them on small frames.
"""

from __future__ import annotations

import itertools

import numpy as np


def brute_pairs(positions, cell, pbc, cutoff):
    """All (i, j, vector) with 0 < |r_j + shift - r_i| < cutoff, over explicit image shifts.

    Returns a list per atom i of (j, vector) tuples as arrays: (js, vecs).
    """
    positions = np.asarray(positions, float)
    cell = np.asarray(cell, float)
    vol = abs(np.linalg.det(cell))
    widths = np.array(
        [vol / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3])) for k in range(3)]
    )
    n_img = [int(np.ceil(cutoff / widths[k])) + 1 if pbc[k] else 0 for k in range(3)]
    shifts = np.array(list(itertools.product(*[range(-m, m + 1) for m in n_img])), float)
    shift_vecs = shifts @ cell
    out = []
    for i in range(len(positions)):
        d = positions[None, :, :] + shift_vecs[:, None, :] - positions[i]
        r = np.linalg.norm(d, axis=2)
        mask = (r < cutoff) & (r > 0)
        js = np.nonzero(mask)[1]
        out.append((js, d[mask]))
    return out


# ------------------------------------------------------------ DescriptorSpec references
def compute_points(spec, points, point_species_codes, n_query, density=None, extra=None):
    """Features (n_query, n_features) of ``points[:n_query]`` from local + ghost points in
    one pass: every block's raw columns for **all** M points (ghosts must reach
    ``spec.ghost_cutoff``; rows near the outer edge are incomplete but unused), then the
    means over a CSR neighbour list.  The reference for the LAMMPS fix's split face
    (``compute_raw_points`` of the owners, communicated rows, ``coarse_grain_points``)."""
    from softscope.descriptors.coarse_grain import coarse_grain_from_neighbors
    from softscope.descriptors.registry import PointSet, block_kind
    from softscope.neighbors import build_from_points

    pts, codes, n_query = spec.check_points(points, point_species_codes, n_query)
    n_raw = pts.shape[0] if spec.coarse_grain else n_query
    ps = PointSet(pts, codes, n_raw, spec.species, density, extra)
    raw = np.concatenate([block_kind(b["kind"]).compute_points(b, ps) for b in spec.blocks], 1)
    if not spec.coarse_grain:
        return raw
    nl = build_from_points(pts, n_query, max(spec.coarse_grain))
    t = spec.coarse_grain_taper
    parts = [raw[:n_query]] + [
        coarse_grain_from_neighbors(nl, raw, r, t) for r in spec.coarse_grain
    ]
    return np.concatenate(parts, axis=1)


def coarse_grain_columns(spec, points, point_values, n_query):
    """``point_values`` (M, k) coarse-grained for the query points over each radius of
    ``spec.coarse_grain``: a list of (n_query, k) arrays, from the fused cell-walk kernel
    (:func:`softscope.descriptors.coarse_grain.coarse_grain_points`), so that its diagonal
    is ``spec.coarse_grain_diagonal`` bit for bit."""
    from softscope.descriptors.coarse_grain import coarse_grain_points

    vals = np.asarray(point_values, dtype=np.float64)
    k = vals.shape[1]
    out = coarse_grain_points(
        points, vals, n_query, spec.coarse_grain, with_raw=False, taper=spec.coarse_grain_taper
    )
    return [out[:, k * i : k * (i + 1)] for i in range(len(spec.coarse_grain))]
