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
"""

from __future__ import annotations

import numpy as np

from softscope.errors import SoftscopeError

__all__ = ["PositionWindows"]


class PositionWindows:
    """Views of one running position window per atom in the columns of ``block``.

    ``block``: an (n_atoms, :meth:`width`) float64 array (or view), changed in place by
    :meth:`add` and :meth:`clear`.  ``second_moment``: also keep Q = Σ|r − a|² (needed by
    :meth:`msd`; without it the window gives only the mean position).
    """

    def __init__(self, block: np.ndarray, second_moment: bool = True) -> None:
        want = self.width(second_moment)
        if block.ndim != 2 or block.shape[1] != want or block.dtype != np.float64:
            raise SoftscopeError(
                f"a position window needs an (n_atoms, {want}) float64 array, got "
                f"{block.shape} {block.dtype}"
            )
        self.block = block
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
