from __future__ import annotations

import numpy as np
import pytest

import softscope
from softscope import Frame


@pytest.fixture(scope="session")
def cuzr_glass() -> Frame:
    """The shipped Cu64Zr36 glass (a real EAM glass, periodic, orthogonal)."""
    from softscope.data import default_glass

    return default_glass()


@pytest.fixture(scope="session")
def small_cuzr(cuzr_glass) -> Frame:
    """A ~300-atom cube cut out of the glass, made periodic (for brute-force references)."""
    f = cuzr_glass
    L = 17.0
    lo = f.positions.min(axis=0)
    keep = np.all((f.positions - lo) < L, axis=1)
    return Frame(f.positions[keep] - lo, f.species[keep], np.eye(3) * L)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def random_triclinic_frame(rng, n=200, species=("Cu", "Zr"), tilt=(3.0, -2.0, 1.5), size=14.0):
    """Random atoms (with a minimum separation) in a triclinic cell."""
    cell = np.array([[size, 0, 0], [tilt[0], size * 0.9, 0], [tilt[1], tilt[2], size * 1.1]])
    s = rng.random((n, 3))
    pos = s @ cell
    sp = rng.choice(np.array(species), size=n)
    return Frame(pos, sp, cell)


assert softscope  # imported for the libmpi preload side effect
