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
the 99.9th percentile excludes those few atoms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from softscope.frame import Frame

__all__ = ["stability", "meets_targets", "STABILITY_TARGETS", "THERMAL_AMPLITUDE"]

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
    rng = np.random.default_rng(seed)

    def predict(fr: Frame) -> np.ndarray:
        return model.predict(fr, extra=extra, check=False)

    p0 = predict(frame)
    spread = float(np.std(p0))

    def summary(p1: np.ndarray) -> dict[str, float]:
        d = (p1 - p0) / spread
        a = np.abs(d)
        return {
            "p999": float(np.percentile(a, 99.9)),
            "max": float(a.max()),
            "mean": float(d.mean()),
        }

    out: dict[str, Any] = {"spread": spread, "n_atoms": len(frame)}
    thermal = THERMAL_AMPLITUDE.get(model.units, 0.1)
    out["thermal_amplitude"] = thermal
    for name, amp in (("noise_1e-4", 1e-4), ("noise_thermal", thermal)):
        pos = frame.positions + rng.normal(scale=amp, size=frame.positions.shape)
        out[name] = summary(predict(frame.replace(positions=pos)))
    out["shear_1e-4"] = summary(predict(frame.sheared(1, 0, 1e-4)))
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
