"""Running per-atom windows of positions: time-averaged position and vibrational MSD.

A window collects samples r_1 .. r_n of each atom's **unwrapped** position (length unit;
in LAMMPS x + (ix, iy, iz)·H, as dump ``xu yu zu``) without storing them: it keeps running
sums relative to its first sample, the anchor a = r_1,

    D = Σ_s (r_s − a)          (3 per atom, length)
    Q = Σ_s |r_s − a|²         (1 per atom, length², only for the MSD)
    n = number of samples

from which

    ⟨r⟩ = a + D / n                                   (time-averaged position, length)
    msd = (1/n) Σ_s |r_s − ⟨r⟩|² = Q / n − |D / n|²   (length², about the window's own mean)

Sums relative to the anchor stay of the size of the thermal motion, so neither mean nor
variance loses digits to large absolute coordinates.  The msd is the population variance
(divided by n, not n − 1), the same estimator as a per-atom ``numpy.var`` of the samples
summed over x, y, z.

The window lives in float64 columns of an (n_atoms, k) array owned by the caller (for the
LAMMPS fix: per-atom columns that migrate with their atoms and go to restart files):
``anchor`` (3), ``D`` (3), ``Q`` (1, only with ``second_moment``), ``n`` (1), so k = 8
with and 7 without the second moment.  Pure numpy, no LAMMPS.

Averages longer than the evaluation interval (fix ``average K`` with K a multiple of N)
keep m = K / N such windows as a ring of **blocks** (:class:`BlockAverage`), one per
interval of N steps; the average over the last K steps is the count-weighted mean of the
m blocks.  The box is averaged over the same steps (:class:`CellAverage`), so the
averaged positions come with the cell they belong to (under ``fix deform`` the averaged
positions lag the current cell by half the window's strain).
"""

from __future__ import annotations

import numpy as np

from softscope.errors import SoftscopeError

__all__ = ["BlockAverage", "CellAverage", "PositionWindows", "continuous_cell"]


def _columns(block: np.ndarray, want: int, what: str) -> np.ndarray:
    """``block`` if it is an (n_atoms, want) float64 array, else a SoftscopeError."""
    if block.ndim != 2 or block.shape[1] != want or block.dtype != np.float64:
        raise SoftscopeError(
            f"{what} needs an (n_atoms, {want}) float64 array, got {block.shape} {block.dtype}"
        )
    return block


class PositionWindows:
    """Views of one running position window per atom in the columns of ``block``.

    ``block``: an (n_atoms, :meth:`width`) float64 array (or view), changed in place by
    :meth:`add` and :meth:`clear`.  ``second_moment``: also keep Q = Σ|r − a|² (needed by
    :meth:`msd`; without it the window gives only the mean position).
    """

    def __init__(self, block: np.ndarray, second_moment: bool = True) -> None:
        self.block = _columns(block, self.width(second_moment), "a position window")
        self.second_moment = bool(second_moment)

    @staticmethod
    def width(second_moment: bool = True) -> int:
        """Columns per atom: anchor 3, D 3, [Q 1], n 1."""
        return 8 if second_moment else 7

    # -- the stored sums (views into block)
    @property
    def anchor(self) -> np.ndarray:
        """(n_atoms, 3) first sample of each atom's window (length)."""
        return self.block[:, 0:3]

    @property
    def displacement_sum(self) -> np.ndarray:
        """(n_atoms, 3) D = Σ_s (r_s − anchor) (length)."""
        return self.block[:, 3:6]

    @property
    def square_sum(self) -> np.ndarray:
        """(n_atoms,) Q = Σ_s |r_s − anchor|² (length²)."""
        if not self.second_moment:
            raise SoftscopeError("this position window keeps no second moment")
        return self.block[:, 6]

    @property
    def count(self) -> np.ndarray:
        """(n_atoms,) number of samples n in each atom's window."""
        return self.block[:, -1]

    # -- changes
    def clear(self) -> None:
        """Empty every window (the next sample becomes the anchor)."""
        self.block[...] = 0.0

    def add(self, positions: np.ndarray) -> None:
        """Add one sample per atom: ``positions`` (n_atoms, 3) unwrapped (length unit).
        An empty window (n = 0) takes the sample as its anchor."""
        count = self.count
        new = count == 0
        if new.any():
            anchor = self.anchor
            anchor[new] = positions[new]
        d = positions - self.anchor
        self.displacement_sum[...] += d
        if self.second_moment:
            self.square_sum[...] += np.einsum("ij,ij->i", d, d)
        count += 1.0

    # -- results
    def mean(self) -> np.ndarray:
        """(n_atoms, 3) time-averaged position a + D / n (length; NaN for empty windows)."""
        return self.anchor + self.displacement_sum / self.count[:, None]

    def msd(self) -> np.ndarray:
        """(n_atoms,) mean-square displacement about the window's mean position,
        Q / n − |D / n|² (length²)."""
        n = self.count
        mean_d = self.displacement_sum / n[:, None]
        return self.square_sum / n - np.einsum("ij,ij->i", mean_d, mean_d)


class BlockAverage:
    """A ring of ``n_blocks`` position windows per atom (no second moment) in the columns
    of ``block`` ((n_atoms, :meth:`width`) float64): block b holds the samples of one
    interval; :meth:`mean` is each atom's position averaged over every sample of every
    block (count-weighted, relative to block 0's anchor, so large coordinates lose no
    digits)."""

    def __init__(self, block: np.ndarray, n_blocks: int) -> None:
        self.block = _columns(block, self.width(n_blocks), "a block average")
        self.n_blocks = int(n_blocks)

    @staticmethod
    def width(n_blocks: int) -> int:
        """Columns per atom: one window without second moment (7) per block."""
        return PositionWindows.width(False) * int(n_blocks)

    def window(self, b: int) -> PositionWindows:
        """Block ``b``'s window (a view)."""
        w = PositionWindows.width(False)
        return PositionWindows(self.block[:, b * w : (b + 1) * w], second_moment=False)

    def clear(self) -> None:
        """Empty every block."""
        self.block[...] = 0.0

    @property
    def count(self) -> np.ndarray:
        """(n_atoms,) samples over all blocks."""
        return sum(self.window(b).count for b in range(self.n_blocks))

    def mean(self) -> np.ndarray:
        """(n_atoms, 3) position averaged over all samples of all blocks (length)."""
        a0 = self.window(0).anchor
        total = np.zeros_like(a0)
        for b in range(self.n_blocks):
            w = self.window(b)
            n = w.count[:, None]
            total += np.where(n > 0, n * (w.anchor - a0) + w.displacement_sum, 0.0)
        return a0 + total / self.count[:, None]


def continuous_cell(cell: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """``cell`` (rows a, b, c of a LAMMPS box: a along x, b in the xy plane) re-expressed
    in the lattice basis closest to ``previous``: b + k·a and c + j·b + i·a with integers
    chosen so the tilts continue those of ``previous``.  A box flip (tilt changed by a box
    length, the same periodic lattice) is undone; without ``previous`` the cell itself."""
    h = np.array(cell, float)
    if previous is None:
        return h
    a, lx, ly = h[0], h[0, 0], h[1, 1]
    h[1] = h[1] + np.rint((previous[1, 0] - h[1, 0]) / lx) * a
    h[2] = h[2] + np.rint((previous[2, 1] - h[2, 1]) / ly) * h[1]
    h[2] = h[2] + np.rint((previous[2, 0] - h[2, 0]) / lx) * a
    return h


class CellAverage:
    """The box averaged over the same samples as a :class:`BlockAverage`: per block the
    sums of the cell (3 × 3, in the flip-free basis of :func:`continuous_cell`) and of the
    origin, and the sample count.  Global (every MPI rank holds the same), a few numbers;
    :meth:`state` / :meth:`from_state` for restart files."""

    def __init__(self, n_blocks: int) -> None:
        self.sums = np.zeros((int(n_blocks), 13))  # cell 9, origin 3, count 1
        self.last: np.ndarray | None = None  # last sampled cell, flip-free basis

    def clear(self, b: int | None = None) -> None:
        """Empty block ``b`` (all blocks and the basis memory when None)."""
        if b is None:
            self.sums[...] = 0.0
            self.last = None
        else:
            self.sums[b] = 0.0

    def add(self, b: int, cell: np.ndarray, origin: np.ndarray) -> None:
        """Add one sample of the box (cell rows, origin) to block ``b``."""
        h = continuous_cell(cell, self.last)
        self.last = h
        self.sums[b, :9] += h.ravel()
        self.sums[b, 9:12] += origin
        self.sums[b, 12] += 1.0

    def mean(self, cell_now: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cell, origin) averaged over every sample, the cell in the lattice basis of
        ``cell_now`` (the box at the last sample, as LAMMPS holds it now)."""
        n = self.sums[:, 12].sum()
        h = (self.sums[:, :9].sum(axis=0) / n).reshape(3, 3)
        o = self.sums[:, 9:12].sum(axis=0) / n
        if self.last is not None:  # to the basis of the box now: an integer change of basis
            h = np.rint(np.asarray(cell_now) @ np.linalg.inv(self.last)) @ h
        return h, o

    def state(self) -> dict:
        return {
            "sums": self.sums.tolist(),
            "last": None if self.last is None else self.last.tolist(),
        }

    @classmethod
    def from_state(cls, st: dict) -> CellAverage:
        sums = np.array(st["sums"], float)
        out = cls(sums.shape[0])
        out.sums[...] = sums
        out.last = None if st["last"] is None else np.array(st["last"], float)
        return out
