"""The neighbour engine against brute-force enumeration of periodic images."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_triclinic_frame
from reference import brute_pairs

from softscope import Frame, SoftscopeError
from softscope.neighbors import neighbor_list


def _sorted_rows(vecs):
    v = np.round(np.asarray(vecs).reshape(-1, 3), 9)
    return v[np.lexsort(v.T[::-1])]


def _compare(frame, cutoff):
    nl = neighbor_list(frame, cutoff)
    ref = brute_pairs(frame.positions, frame.cell, frame.pbc, cutoff)
    vec = nl.vectors()
    for i in range(len(frame)):
        sl = slice(nl.offsets[i], nl.offsets[i + 1])
        js_ref, v_ref = ref[i]
        assert nl.offsets[i + 1] - nl.offsets[i] == len(js_ref), f"atom {i}"
        np.testing.assert_array_equal(np.sort(nl.point_atom[nl.neigh[sl]]), np.sort(js_ref))
        np.testing.assert_allclose(_sorted_rows(vec[sl]), _sorted_rows(v_ref), atol=1e-8)
        np.testing.assert_allclose(nl.dist[sl], np.linalg.norm(vec[sl], axis=1), rtol=1e-12)


def test_neighbors_match_brute_force_triclinic(rng):
    _compare(random_triclinic_frame(rng, n=150), 5.0)


def test_neighbors_cutoff_larger_than_half_box_counts_all_images(rng):
    f = random_triclinic_frame(rng, n=20, size=6.0)
    # cutoff exceeds every cell width: each atom sees several images of itself
    _compare(f, 9.0)
    nl = neighbor_list(f, 9.0)
    self_images = nl.point_atom[nl.neigh[nl.offsets[0] : nl.offsets[1]]] == 0
    assert self_images.sum() >= 2


def test_neighbors_mixed_pbc(rng):
    f = random_triclinic_frame(rng, n=120)
    f = f.replace(pbc=(True, False, True))
    _compare(f, 4.5)


@pytest.mark.parametrize("cutoff", [3.7, 6.0, 8.5])
def test_neighbors_on_glass(small_cuzr, cutoff):
    # 3.7 Å uses cutoff-sized bins (±1), 8.5 Å half-size bins (±2): both must be exact
    _compare(small_cuzr, cutoff)


def test_both_cell_list_stencils_are_exercised(small_cuzr):
    from softscope.neighbors import choose_stencil, periodic_images

    assert choose_stencil(periodic_images(small_cuzr, 3.7)[0], 3.7) == 1
    assert choose_stencil(periodic_images(small_cuzr, 8.5)[0], 8.5) == 2


def test_within_narrows(rng):
    f = random_triclinic_frame(rng, n=150)
    a = neighbor_list(f, 5.0).within(3.0)
    b = neighbor_list(f, 3.0)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    for i in range(len(f)):
        sa = np.sort(a.dist[a.offsets[i] : a.offsets[i + 1]])
        sb = np.sort(b.dist[b.offsets[i] : b.offsets[i + 1]])
        np.testing.assert_allclose(sa, sb)


@pytest.mark.parametrize("cutoff", [0.0, -1.0, np.nan, np.inf])
def test_bad_cutoff_is_an_error(rng, cutoff):
    with pytest.raises(SoftscopeError, match="cutoff"):
        neighbor_list(random_triclinic_frame(rng, n=10), cutoff)


def test_too_many_images_is_a_clear_error():
    f = Frame([[0, 0, 0]], ["Cu"], np.eye(3) * 0.5)
    with pytest.raises(SoftscopeError, match="periodic images"):
        neighbor_list(f, 20.0)
