"""Windows (reference frame -> later frame) of sheared trajectories and their labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from softscope.errors import SoftscopeError
from softscope.frame import Frame

__all__ = ["Window", "windows_by_strain"]


@dataclass(frozen=True, eq=False)
class Window:
    """One labelled window of one glass sample.

    ``sample`` names the glass sample: train/test splits are made by sample, never by
    atom, because atoms (and windows) of one sample are correlated.
    """

    sample: str
    reference: Frame
    current: Frame
    strain: tuple[float, float]
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    #: frame indices (reference, current) in the sample's trajectory, when known
    index: tuple[int, int] | None = None
    #: path of the reference frame's file, when the window was read from a dataset
    reference_file: str | None = None
    #: per-atom rearrangement measure given with the window (e.g. p_hop, length²); None:
    #: the window's D²min
    measure: np.ndarray | None = None
    #: per-atom training labels (+1 rearranging, 0 stable, −1 ignored) given with the
    #: window (e.g. the classic p_hop protocol); None: top-q of the measure
    train_labels: np.ndarray | None = None

    def d2min(self, cutoff: float) -> np.ndarray:
        """D²min of the window (OVITO convention), in the reference frame's atom order."""
        from softscope.rearrangement import d2min

        return d2min(self.reference, self.current, cutoff)

    def rearrangement(self, cutoff: float) -> np.ndarray:
        """The window's rearrangement measure: ``measure`` if given, else its D²min with
        neighbours within ``cutoff`` (reference frame's atom order)."""
        return self.d2min(cutoff) if self.measure is None else self.measure


def windows_by_strain(
    sample: str,
    frames: Sequence[Frame],
    strains: Sequence[float],
    window: float = 0.01,
    stride: float | None = None,
) -> list[Window]:
    """Windows spanning ``window`` strain, starting every ``stride`` (default: ``window``,
    i.e. non-overlapping), from frames at the given (increasing) strains."""
    s = np.asarray(strains, dtype=np.float64)
    if len(frames) != s.size:
        raise SoftscopeError(f"{len(frames)} frames but {s.size} strains")
    if s.size < 2 or np.any(np.diff(s) <= 0):
        raise SoftscopeError("strains must be increasing with at least two frames")
    if window <= 0:
        raise SoftscopeError(f"window must be a positive strain, got {window}")
    stride = window if stride is None else stride
    if stride <= 0:
        raise SoftscopeError(f"stride must be a positive strain, got {stride}")
    tol = 1e-9 + 1e-6 * window
    out: list[Window] = []
    start = s[0]
    while True:
        i = int(np.argmin(np.abs(s - start)))
        j = int(np.argmin(np.abs(s - (s[i] + window))))
        if abs(s[j] - s[i] - window) > tol + 0.5 * np.min(np.diff(s)) or j <= i:
            break
        out.append(Window(sample, frames[i], frames[j], (float(s[i]), float(s[j])), index=(i, j)))
        start = s[i] + stride
        if start > s[-1]:
            break
    if not out:
        raise SoftscopeError(
            f"no window of strain {window} fits in sample {sample!r} (strains {s[0]:g}..{s[-1]:g})"
        )
    return out
