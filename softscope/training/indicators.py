"""Single physical indicators of rearrangement, judged like the trained models.

For the reference frame of each window (all lengths in the unit style's length; ``s`` =
1 for metal/Å, 1/2.5 for lj/σ):

- ``voronoi_volume``: Voronoi cell volume (OVITO ``VoronoiAnalysisModifier``, plain
  Voronoi, no radii), expected sign + (loose atoms rearrange);
- ``f5``: fraction of pentagonal Voronoi faces n5 / Σ n_k (same modifier,
  ``compute_indices=True``), expected sign − (icosahedral order is stable);
- ``s2``: two-body excess entropy (σ = 0.2 s, r_m = 5 s; k_B), expected sign +;
- ``msd``: vibrational mean-square displacement (if the dataset has it), sign +;
- ``pe``: potential energy per atom (dump column ``c_pe``, if present), sign +;
- ``prev_d2min``: D²min of the previous window (persistence baseline), sign +;

and the coarse-grained version of each (mean over the atom and its neighbours within
r_cg, :func:`softscope.descriptors.coarse_grain`) at every radius given.
``auc`` uses the expected sign; ``auc_best_sign`` = max(AUC, 1 − AUC).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.training.windows import Window

__all__ = ["INDICATOR_SIGNS", "voronoi_indicators", "window_indicators"]

INDICATOR_SIGNS = {
    "voronoi_volume": 1.0,
    "f5": -1.0,
    "s2": 1.0,
    "msd": 1.0,
    "pe": 1.0,
    "prev_d2min": 1.0,
}


def voronoi_indicators(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(Voronoi volume, f5) per atom of a one-frame file, in order of atom id (OVITO)."""
    from ovito.io import import_file
    from ovito.modifiers import VoronoiAnalysisModifier

    pipe = import_file(str(path))
    pipe.modifiers.append(VoronoiAnalysisModifier(compute_indices=True, use_radii=False))
    data = pipe.compute()
    order = np.argsort(np.asarray(data.particles["Particle Identifier"]), kind="stable")
    vol = np.asarray(data.particles["Atomic Volume"], dtype=np.float64)[order]
    idx = np.asarray(data.particles["Voronoi Index"], dtype=np.float64)[order]
    nf = idx.sum(axis=1)
    f5 = np.where(nf > 0, idx[:, 5] / np.maximum(nf, 1), 0.0) if idx.shape[1] > 5 else 0 * nf
    return vol, f5


def window_indicators(
    w: Window,
    units: str,
    cg_radii: Sequence[float],
    previous: Frame | None = None,
    d2min_cutoff: float = 3.7,
) -> dict[str, np.ndarray]:
    """Every available indicator (raw and coarse-grained) at ``w``'s reference frame,
    each (N,) float64 oriented so that larger = more likely to rearrange."""
    from softscope.descriptors import coarse_grain, entropy
    from softscope.rearrangement import d2min

    s = 1.0 if units == "metal" else 1.0 / 2.5
    ref = w.reference
    raw: dict[str, np.ndarray] = {}
    if w.reference_file is not None:
        vol, f5 = voronoi_indicators(w.reference_file)
        if vol.shape[0] != len(ref):
            raise SoftscopeError(f"{w.reference_file}: Voronoi gave {vol.shape[0]} atoms")
        raw["voronoi_volume"], raw["f5"] = vol, f5
    raw["s2"] = entropy(ref, sigma=0.2 * s, r_max=5.0 * s)
    for k in ("msd", "pe"):
        if k in w.extra:
            raw[k] = np.asarray(w.extra[k], dtype=np.float64)
    if previous is not None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prev = d2min(previous, ref, d2min_cutoff)
        raw["prev_d2min"] = np.nan_to_num(prev, nan=float(np.nanmedian(prev)))
    out: dict[str, np.ndarray] = {}
    for name, v in raw.items():
        sign = INDICATOR_SIGNS[name]
        out[name] = sign * v
        for r in cg_radii:
            out[f"{name} (cg {r:g})"] = sign * coarse_grain(ref, v, r)
    return out


def indicator_table(evals: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows (name, AUC, best-sign AUC, AP, precision@q, Spearman) sorted by best-sign AUC."""
    rows = []
    for name, ev in evals.items():
        s = ev.summary
        rows.append(
            {
                "name": name,
                "roc_auc": s["roc_auc"],
                "auc_best_sign": max(s["roc_auc"], 1 - s["roc_auc"]),
                "average_precision": s["average_precision"],
                "precision_top_q": s["precision_top_q"],
                "spearman": s["spearman"],
                "n_windows": s["n_windows"],
                "kind": s.get("kind", "indicator"),
            }
        )
    return sorted(rows, key=lambda r: -r["auc_best_sign"])
