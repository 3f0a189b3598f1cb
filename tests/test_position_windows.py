"""Running position windows (softscope.position_windows) against numpy on stored samples."""

from __future__ import annotations

import numpy as np
import pytest

from softscope.errors import SoftscopeError
from softscope.position_windows import PositionWindows


def _samples(rng, n_samples=37, n_atoms=50):
    """Thermal motion (~0.1 Å) plus a slow drift, far from the origin (~1e3 Å, as
    unwrapped positions after many box crossings)."""
    base = rng.uniform(-1e3, 1e3, size=(1, n_atoms, 3))
    drift = np.linspace(0.0, 0.3, n_samples)[:, None, None] * rng.normal(size=(1, n_atoms, 3))
    return base + drift + rng.normal(scale=0.1, size=(n_samples, n_atoms, 3))


def test_running_window_mean_and_msd_equal_numpy_mean_and_variance_of_the_samples(rng):
    r = _samples(rng)
    win = PositionWindows(np.zeros((r.shape[1], PositionWindows.width(True))))
    for sample in r:
        win.add(sample)
    np.testing.assert_array_equal(win.count, r.shape[0])
    np.testing.assert_array_equal(win.anchor, r[0])
    np.testing.assert_allclose(win.mean(), r.mean(axis=0), rtol=0, atol=1e-10)
    # msd about the window's own mean: the population variance summed over x, y, z
    want = np.var(r, axis=0).sum(axis=1)
    np.testing.assert_allclose(win.msd(), want, rtol=1e-12, atol=1e-14)


def test_window_without_second_moment_gives_the_mean_only(rng):
    r = _samples(rng, n_samples=5)
    block = np.zeros((r.shape[1], PositionWindows.width(False)))
    assert block.shape[1] == 7
    win = PositionWindows(block, second_moment=False)
    for sample in r:
        win.add(sample)
    np.testing.assert_allclose(win.mean(), r.mean(axis=0), rtol=0, atol=1e-10)
    with pytest.raises(SoftscopeError, match="no second moment"):
        win.msd()


def test_cleared_or_empty_window_takes_its_next_sample_as_anchor(rng):
    r = _samples(rng, n_samples=8, n_atoms=6)
    block = np.zeros((6, 8))
    win = PositionWindows(block)
    for sample in r[:3]:
        win.add(sample)
    win.clear()
    assert not block.any()
    block[4:] = 0.0  # atoms 4, 5 would also start empty after migrating in
    for sample in r[3:]:
        win.add(sample)
    np.testing.assert_array_equal(win.anchor, r[3])
    np.testing.assert_allclose(win.mean(), r[3:].mean(axis=0), rtol=0, atol=1e-10)
    np.testing.assert_allclose(win.msd(), np.var(r[3:], axis=0).sum(axis=1), rtol=1e-12)
    # one atom whose window starts later (count 0 at the first sample of the others)
    block[:] = 0.0
    win.add(r[0])
    block[2] = 0.0
    for sample in r[1:]:
        win.add(sample)
    assert win.count[2] == len(r) - 1 and win.count[0] == len(r)
    np.testing.assert_array_equal(win.anchor[2], r[1, 2])
    np.testing.assert_allclose(win.mean()[2], r[1:, 2].mean(axis=0), rtol=0, atol=1e-10)


def test_window_refuses_a_block_of_the_wrong_shape():
    with pytest.raises(SoftscopeError, match=r"\(n_atoms, 8\) float64"):
        PositionWindows(np.zeros((4, 7)))
    with pytest.raises(SoftscopeError, match=r"\(n_atoms, 7\) float64"):
        PositionWindows(np.zeros((4, 7), dtype=np.float32), second_moment=False)


def test_block_average_is_the_mean_of_every_sample_of_every_block():
    from softscope.position_windows import BlockAverage

    rng = np.random.default_rng(4)
    n_atoms, blocks = 5, 3
    store = np.zeros((n_atoms, BlockAverage.width(blocks)))
    avg = BlockAverage(store, blocks)
    samples = []
    for b in range(blocks):
        for _ in range(4 + b):
            r = 1e3 * (b + 1) + rng.normal(size=(n_atoms, 3))  # large, different anchors
            avg.window(b).add(r)
            samples.append(r)
    np.testing.assert_allclose(avg.mean(), np.mean(samples, axis=0), rtol=0, atol=1e-9)
    assert np.all(avg.count == len(samples))
    avg.window(1).clear()  # one block restarts: the rest stay
    rest = samples[:4] + samples[4 + 5 :]
    np.testing.assert_allclose(avg.mean(), np.mean(rest, axis=0), rtol=0, atol=1e-9)


def test_cell_average_continues_tilts_across_a_box_flip():
    """A shear whose tilt passes Lx/2 and flips to -Lx/2 (LAMMPS fix deform): the average
    is the mean of the continued tilts, put back in the basis of the box now."""
    from softscope.position_windows import CellAverage, continuous_cell

    lx, ly = 10.0, 12.0
    tilts = np.linspace(3.0, 8.0, 11)  # continued tilt; the box flips at 5
    avg = CellAverage(2)
    for k, xy in enumerate(tilts):
        shown = xy - lx if xy > lx / 2 else xy
        cell = np.array([[lx, 0, 0], [shown, ly, 0], [0.0, 0.0, 9.0]])
        avg.add(k % 2, cell, np.array([0.0, 0.0, 0.0]))
    now = cell
    h, o = avg.mean(now)
    assert h[1, 0] == pytest.approx(tilts.mean() - lx)  # current basis: flipped
    assert h[0, 0] == lx and h[1, 1] == ly and not o.any()
    prev = np.array([[lx, 0, 0], [4.9, ly, 0], [0.0, 0.0, 9.0]])
    flipped = np.array([[lx, 0, 0], [-5.0, ly, 0], [0.0, 0.0, 9.0]])
    assert continuous_cell(flipped, prev)[1, 0] == pytest.approx(5.0)
    back = CellAverage.from_state(avg.state())
    np.testing.assert_array_equal(back.mean(now)[0], h)
