"""The total pair distribution function g(r) of frames, and its first coordination shell.

    g(r) = V / (N (N − 1)) · Σ_i Σ_{j≠i} δ(r − r_ij) / (4π r²)

averaged over frames (histogram of every pair distance below ``r_max`` including periodic
images; bins of width ``bin_width``, length unit of the frames).  Species are pooled: the
*total* g(r), as OVITO's ``CoordinationAnalysisModifier`` reports it.

:func:`first_shell` locates the first peak and the first minimum after it; training uses
them to size descriptor grids and the D²min cutoff of a system it was not written for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.neighbors import neighbor_list

__all__ = ["radial_distribution", "first_shell", "FirstShell"]


def radial_distribution(
    frames: Frame | Sequence[Frame], r_max: float, bin_width: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(r, g)``: bin centres (length unit) and the total g(r) averaged over ``frames``."""
    if isinstance(frames, Frame):
        frames = [frames]
    if not frames:
        raise SoftscopeError("g(r) needs at least one frame")
    if not (r_max > 0 and bin_width > 0 and bin_width < r_max):
        raise SoftscopeError(f"need 0 < bin_width < r_max, got {bin_width}, {r_max}")
    n_bins = int(np.floor(r_max / bin_width + 1e-9))
    edges = np.arange(n_bins + 1) * bin_width
    g = np.zeros(n_bins)
    for f in frames:
        n = len(f)
        if n < 2:
            raise SoftscopeError("g(r) needs at least two atoms")
        nl = neighbor_list(f, float(edges[-1]))
        hist = np.histogram(nl.dist, bins=edges)[0].astype(np.float64)
        shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
        g += hist * f.volume / (n * (n - 1) * shell)
    return 0.5 * (edges[1:] + edges[:-1]), g / len(frames)


@dataclass(frozen=True)
class FirstShell:
    """First peak ``r_peak`` and first minimum ``r_min`` of g(r) (length unit)."""

    r_peak: float
    r_min: float
    g_peak: float
    g_min: float


def first_shell(r: np.ndarray, g: np.ndarray, smooth: float | None = None) -> FirstShell:
    """First peak and first minimum of a g(r) sampled at increasing ``r``.

    g is smoothed by a Gaussian of width ``smooth`` (default: 2 bins) to keep single-bin
    noise from posing as an extremum.  The peak is the global maximum; the minimum is the
    lowest smoothed value between the peak and the next point where g rises above 1
    again after falling below it (the second shell), or 2 r_peak, whichever comes first.
    Both are refined by a parabola through the extremal bin and its two neighbours.
    """
    r = np.asarray(r, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if r.ndim != 1 or r.shape != g.shape or r.size < 5:
        raise SoftscopeError("first_shell needs matching 1-D r and g with at least 5 points")
    dr = float(np.mean(np.diff(r)))
    w = (2.0 * dr if smooth is None else float(smooth)) / dr
    k = np.arange(-int(np.ceil(3 * w)), int(np.ceil(3 * w)) + 1)
    ker = np.exp(-0.5 * (k / w) ** 2) if w > 0 else np.array([1.0])
    gs = np.convolve(np.pad(g, k.size // 2, mode="edge"), ker / ker.sum(), mode="valid")
    ip = int(np.argmax(gs))
    if gs[ip] <= 1.0 or ip == 0 or ip == r.size - 1:
        raise SoftscopeError(
            "g(r) has no first peak above 1 inside the range; is this a condensed system, "
            "and is r_max beyond the first coordination shell?"
        )
    end = int(np.searchsorted(r, 2.0 * r[ip]))
    below = np.flatnonzero(gs[ip:end] < 1.0)
    if below.size:
        back = np.flatnonzero(gs[ip + below[0] : end] > 1.0)
        if back.size:
            end = ip + below[0] + back[0] + 1
    end = min(end, r.size - 1)
    if end <= ip + 1:
        raise SoftscopeError("g(r) range ends before its first minimum; raise r_max")
    im = ip + 1 + int(np.argmin(gs[ip + 1 : end]))
    return FirstShell(_vertex(r, gs, ip), _vertex(r, gs, im), float(gs[ip]), float(gs[im]))


def _vertex(r: np.ndarray, g: np.ndarray, i: int) -> float:
    if i <= 0 or i >= r.size - 1:
        return float(r[i])
    a, b, c = g[i - 1], g[i], g[i + 1]
    den = a - 2.0 * b + c
    shift = 0.0 if den == 0 else 0.5 * (a - c) / den
    return float(r[i] + np.clip(shift, -0.5, 0.5) * (r[i + 1] - r[i]))
