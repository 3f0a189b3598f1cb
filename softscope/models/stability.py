"""How a model's prediction responds to small perturbations of the structure.

A structural indicator must not explode because two atoms came 0.1 Å closer.  Measured on a
frame, in units of the spread (standard deviation) of the frame's predictions:

- ``noise_1e-4`` / ``noise_thermal``: every atom displaced by Gaussian noise of standard
  deviation 1e-4 (length unit) / :data:`THERMAL_AMPLITUDE` per axis (0.1 Å, about the
  thermal amplitude of a metallic glass at 300 K and ≈ 4 % of its nearest-neighbour
  distance; the same fraction, 0.04 σ, in LJ units): the 99.9th percentile and the maximum
  of |ΔP|, and the mean ΔP;
- ``shear_1e-4``: an affine xy shear of 1e-4 of the cell and the positions;
- ``max_raw_coefficient`` (linear models): the largest |w_f / scale_f|, the coefficient on a
  raw feature: 1e11-1e12 for z-scored near-empty features.

The maximum over atoms includes neighbours that cross a coarse-graining radius (a hard
cutoff by convention): a jump of ~1/n of the neighbours' difference, not an amplification;
the 99.9th percentile excludes those few atoms.  Where crossings affect more than 0.1 % of
the atoms per draw (liquids, dense shells at a hard radius) the 99.9th percentile of one
frame and one draw is the size of the second or third crossing jump, and varies several-fold
between frames: :func:`pooled_stability` pools atoms over several frames and draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from softscope.frame import Frame

__all__ = [
    "stability",
    "pooled_stability",
    "meets_targets",
    "STABILITY_TARGETS",
    "THERMAL_AMPLITUDE",
]

#: Thermal-scale noise per axis by unit style (length unit): 0.1 Å for metals (Cu-Zr near
#: 300 K, ≈ 4 % of the nearest-neighbour distance), the same fraction of σ in LJ units.
THERMAL_AMPLITUDE = {"metal": 0.1, "real": 0.1, "lj": 0.04}

#: Targets of a well-conditioned model (spreads of the prediction).
STABILITY_TARGETS = {
    "noise_1e-4_p999": 0.02,
    "noise_thermal_max": 10.0,
    "noise_thermal_abs_mean": 2.0,
    "shear_1e-4_p999": 0.02,
}


def stability(model, frame: Frame, seed: int = 0, extra=None) -> dict[str, Any]:
    """Response of ``model.predict`` to noise and a small shear of ``frame`` (see the
    module docstring); JSON-serialisable, in spreads of the frame's predictions.
    ``extra``: per-atom inputs of external blocks (e.g. ``msd``), held fixed."""
    return pooled_stability(model, [frame], [extra], draws=1, seed=seed)


def pooled_stability(
    model,
    frames: Sequence[Frame],
    extras: Sequence[Any] | None = None,
    draws: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """:func:`stability` pooled over ``frames`` and ``draws`` noise draws per frame: |ΔP|
    of every atom, frame and draw in spreads of its own frame's predictions, then the
    99.9th percentile, maximum and mean over all of them (the xy shear: once per frame),
    and ``max_median``, the median over frames and draws of each one's maximum.
    ``spread`` is the mean spread of the frames."""
    if not frames:
        raise ValueError("pooled_stability needs at least one frame")
    extras = [None] * len(frames) if extras is None else list(extras)
    rng = np.random.default_rng(seed)
    thermal = THERMAL_AMPLITUDE.get(model.units, 0.1)
    kinds = ("noise_1e-4", "noise_thermal", "shear_1e-4")
    deltas: dict[str, list[np.ndarray]] = {k: [] for k in kinds}
    spreads = []
    for frame, extra in zip(frames, extras, strict=True):

        def predict(fr: Frame, extra=extra) -> np.ndarray:
            return model.predict(fr, extra=extra, check=False)

        p0 = predict(frame)
        spread = float(np.std(p0))
        spreads.append(spread)
        for _ in range(int(draws)):
            for name, amp in (("noise_1e-4", 1e-4), ("noise_thermal", thermal)):
                pos = frame.positions + rng.normal(scale=amp, size=frame.positions.shape)
                deltas[name].append((predict(frame.replace(positions=pos)) - p0) / spread)
        deltas["shear_1e-4"].append((predict(frame.sheared(1, 0, 1e-4)) - p0) / spread)
    out: dict[str, Any] = {"spread": float(np.mean(spreads)), "n_atoms": len(frames[0])}
    if len(frames) > 1 or draws != 1:
        out["n_frames"], out["draws"] = len(frames), int(draws)
    out["thermal_amplitude"] = thermal
    for name in kinds:
        d = np.concatenate(deltas[name])
        a = np.abs(d)
        out[name] = {
            "p999": float(np.percentile(a, 99.9)),
            "max": float(a.max()),
            "mean": float(d.mean()),
        }
        if len(deltas[name]) > 1:  # the typical frame's maximum beside the worst one
            out[name]["max_median"] = float(np.median([np.abs(x).max() for x in deltas[name]]))
    est = model.estimator
    if getattr(est, "kind", "") == "linear":
        out["max_raw_coefficient"] = float(np.max(np.abs(est.weights / est.scale)))
    return out


def meets_targets(figures: dict[str, Any]) -> bool:
    """Whether :func:`stability` figures meet :data:`STABILITY_TARGETS`."""
    t = STABILITY_TARGETS
    return (
        figures["noise_1e-4"]["p999"] <= t["noise_1e-4_p999"]
        and figures["noise_thermal"]["max"] <= t["noise_thermal_max"]
        and abs(figures["noise_thermal"]["mean"]) <= t["noise_thermal_abs_mean"]
        and figures["shear_1e-4"]["p999"] <= t["shear_1e-4_p999"]
    )
