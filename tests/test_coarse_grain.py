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
