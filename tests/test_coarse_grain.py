"""Coarse-graining against a brute-force mean over explicit periodic images."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_triclinic_frame
from reference import brute_pairs

from softscope import SoftscopeError
from softscope.descriptors import coarse_grain


def test_coarse_grain_matches_brute_force_mean(rng):
    f = random_triclinic_frame(rng, n=120)
    v = rng.normal(size=(len(f), 3))
    got = coarse_grain(f, v, 4.0)
    pairs = brute_pairs(f.positions, f.cell, f.pbc, 4.0)
    ref = np.array([(v[i] + v[js].sum(axis=0)) / (1 + len(js)) for i, (js, _) in enumerate(pairs)])
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_coarse_grain_of_constant_is_constant(small_cuzr):
    got = coarse_grain(small_cuzr, np.full(len(small_cuzr), 2.5), 6.0)
    np.testing.assert_allclose(got, 2.5, rtol=1e-14)


def test_coarse_grain_rejects_wrong_length(small_cuzr):
    with pytest.raises(SoftscopeError, match="rows"):
        coarse_grain(small_cuzr, np.ones(3), 4.0)


def _brute_tapered(f, v, r_cg, taper):
    """The weighted mean of the module docstring over explicit periodic images."""
    out = []
    for i, (js, vecs) in enumerate(brute_pairs(f.positions, f.cell, f.pbc, r_cg)):
        d = np.linalg.norm(vecs, axis=1)
        x = d - (r_cg - taper)
        w = np.where(x <= 0, 1.0, 0.5 * (1 + np.cos(np.pi * x / taper)))
        out.append((v[i] + w @ v[js]) / (1 + w.sum()))
    return np.array(out)


def test_tapered_coarse_grain_matches_brute_force_on_every_path(rng):
    """The neighbour-list, fused cell-walk and diagonal kernels all give the weighted mean
    (triclinic cell, images counted separately)."""
    from softscope.descriptors.coarse_grain import coarse_grain_diagonal, coarse_grain_points
    from softscope.neighbors import periodic_images

    f = random_triclinic_frame(rng, n=120)
    v = rng.normal(size=(len(f), 2))
    want = {r: _brute_tapered(f, v, r, 0.7) for r in (4.0, 3.0)}
    np.testing.assert_allclose(coarse_grain(f, v, 4.0, taper=0.7), want[4.0], rtol=1e-12)
    pts, owner = periodic_images(f, 4.0)
    got = coarse_grain_points(pts, v[owner], len(f), (4.0, 3.0), with_raw=False, taper=0.7)
    np.testing.assert_allclose(got[:, :2], want[4.0], rtol=1e-12)
    np.testing.assert_allclose(got[:, 2:], want[3.0], rtol=1e-12)
    diag = coarse_grain_diagonal(pts, v[owner], len(f), (4.0, 3.0), taper=0.7)
    np.testing.assert_allclose(diag, want[4.0][:, 0] + want[3.0][:, 1], rtol=1e-12)
    np.testing.assert_array_equal(coarse_grain(f, v, 4.0, taper=0.0), coarse_grain(f, v, 4.0))


def test_tapered_coarse_grain_is_continuous_where_the_plain_mean_jumps(rng):
    """Moving one neighbour across r_cg by 2e-6: the plain mean jumps by ~(v_j - mean)/n,
    the tapered one does not move (its weight is flat at r_cg)."""
    from softscope.frame import Frame

    pos = np.array([[5.0, 5.0, 5.0], [5.0 + 4.0 - 1e-6, 5.0, 5.0], [6.0, 5.0, 5.0]])
    v = np.array([0.0, 10.0, 1.0])
    cell = np.eye(3) * 20.0
    out = {}
    for dx in (0.0, 2e-6):
        p = pos.copy()
        p[1, 0] += dx
        f = Frame(p, np.array(["Cu"] * 3), cell)
        out[dx] = (coarse_grain(f, v, 4.0)[0], coarse_grain(f, v, 4.0, taper=0.5)[0])
    assert out[0.0][0] - out[2e-6][0] == pytest.approx(11 / 3 - 1 / 2)
    assert abs(out[0.0][1] - out[2e-6][1]) < 1e-9


def test_a_taper_wider_than_a_radius_is_refused(small_cuzr):
    from softscope.descriptors.spec import DescriptorSpec

    with pytest.raises(SoftscopeError, match="taper"):
        coarse_grain(small_cuzr, np.ones(len(small_cuzr)), 4.0, taper=4.0)
    block = {"kind": "radial", "centers": [2.5], "sigma": 0.2}
    with pytest.raises(SoftscopeError, match="coarse_grain_taper"):
        DescriptorSpec(("Cu", "Zr"), blocks=(block,), coarse_grain=(4.0,), coarse_grain_taper=-1)
    with pytest.raises(SoftscopeError, match="coarse_grain_taper"):
        DescriptorSpec(("Cu", "Zr"), blocks=(block,), coarse_grain=(), coarse_grain_taper=0.5)
