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
