"""Judging predictions on held-out windows (CONVENTIONS.md, last section).

For every window the prediction is made at the reference frame and compared with the
window's D²min (OVITO convention, :data:`~softscope.training.recipes.D2MIN_CUTOFF`);
:func:`softscope.metrics.judge` gives the per-window metrics.  Summaries are the mean
(and standard deviation) over windows; ``pooled_roc_auc`` ranks all atoms of all windows
together (labels still per window).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from joblib import Parallel, delayed

from softscope.errors import SoftscopeError
from softscope.metrics import judge, roc_auc
from softscope.training.windows import Window

__all__ = [
    "Evaluation",
    "evaluate_scores",
    "evaluate_model",
    "summarise",
    "window_d2min",
    "METRICS",
]

METRICS = ("roc_auc", "average_precision", "precision_top_q", "pearson", "spearman")


@dataclass
class Evaluation:
    """Per-window metrics, their summary, and pooled arrays for plots."""

    summary: dict[str, Any]
    per_window: list[dict[str, Any]]
    prediction: np.ndarray  # pooled prediction (valid atoms of every window)
    label: np.ndarray  # pooled top-q labels (bool)
    extra: dict[str, Any] = field(default_factory=dict)


def summarise(per_window: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and std over windows of every metric, plus counts."""
    out: dict[str, Any] = {"n_windows": len(per_window)}
    for k in METRICS:
        v = np.array([w[k] for w in per_window], dtype=np.float64)
        v = v[np.isfinite(v)]
        out[k] = float(v.mean()) if v.size else float("nan")
        out[f"{k}_std"] = float(v.std()) if v.size else float("nan")
    out["n_samples"] = len({w["sample"] for w in per_window})
    out["n_atoms"] = int(sum(w["n_atoms"] for w in per_window))
    return out


def window_d2min(w: Window, cutoff: float) -> np.ndarray:
    """The rearrangement measure of window ``w``: its given ``measure`` (e.g. p_hop), else
    D²min of every atom (OVITO convention, neighbours within ``cutoff`` in the reference
    frame, length²); atoms without a valid fit are NaN, silently."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid atoms are NaN and left out
        return w.rearrangement(cutoff)


def evaluate_scores(
    windows: Sequence[Window],
    scores: Sequence[np.ndarray],
    cutoff: float,
    q: float = 0.05,
    d2: Sequence[np.ndarray] | None = None,
) -> Evaluation:
    """Judge given per-window predictions (``scores[k]`` for ``windows[k]``).  Windows in
    which nothing moved (:func:`~softscope.rearrangement.nothing_moved`: their "top q"
    would be tie order) are left out with a warning and counted in ``n_windows_quiet``;
    when every window is quiet, a SoftscopeError."""
    import warnings

    from softscope.rearrangement import nothing_moved, top_fraction

    if len(windows) != len(scores):
        raise SoftscopeError(f"{len(windows)} windows but {len(scores)} score arrays")
    if not windows:
        raise SoftscopeError("no windows to evaluate")
    per: list[dict[str, Any]] = []
    preds, labs = [], []
    quiet = []
    for k, (w, s) in enumerate(zip(windows, scores, strict=True)):
        m = d2[k] if d2 is not None else window_d2min(w, cutoff)
        if nothing_moved(m, cutoff):
            quiet.append(f"{w.sample} {list(w.strain)}")
            continue
        r = judge(s, m, q=q)
        r.pop("pr_of_s", None)
        r.update({"sample": w.sample, "strain": list(w.strain)})
        per.append(r)
        ok = np.isfinite(m)
        preds.append(np.asarray(s, dtype=np.float64)[ok])
        labs.append(top_fraction(m[ok], q))
    if not per:
        raise SoftscopeError(
            f"nothing moved in any of the {len(windows)} windows (the frames of each window "
            "are identical to rounding): no atom rearranged, so there is nothing to judge; "
            "use windows over a strain or time in which the glass deforms"
        )
    if quiet:
        warnings.warn(
            f"{len(quiet)} window(s) in which nothing moved left out of the evaluation: "
            f"{', '.join(quiet[:5])}{' ...' if len(quiet) > 5 else ''}",
            RuntimeWarning,
            stacklevel=2,
        )
    p = np.concatenate(preds)
    y = np.concatenate(labs).astype(bool)
    summ = summarise(per)
    summ["n_windows_quiet"] = len(quiet)
    summ["pooled_roc_auc"] = roc_auc(p, y)
    summ["q"] = float(q)
    summ["d2min_cutoff"] = float(cutoff)
    return Evaluation(summ, per, p, y)


def _predict(predict: Callable, w: Window) -> np.ndarray:
    return np.asarray(predict(w), dtype=np.float64)


def evaluate_model(
    model,
    windows: Sequence[Window],
    cutoff: float,
    q: float = 0.05,
    n_jobs: int = 1,
    progress: bool = True,
    predictions: dict | None = None,
) -> Evaluation:
    """Predict at every window's reference frame with ``model`` and judge it.

    ``predictions``: a dict shared between calls on windows of the same trajectories,
    keyed by (sample, reference frame index); a reference frame already in it is not
    predicted again, new ones are added (windows without an index are always predicted).
    """

    def predict(w: Window):
        return model.predict(w.reference, extra=w.extra or None)

    cache = {} if predictions is None else predictions
    keys = [None if w.index is None else (w.sample, int(w.index[0])) for w in windows]
    todo = [i for i, k in enumerate(keys) if k is None or k not in cache]
    it = [windows[i] for i in todo]
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=f"evaluate {model.name}", unit="window")
    got = Parallel(n_jobs=n_jobs)(delayed(_predict)(predict, w) for w in it)
    new = dict(zip(todo, got, strict=True))
    for i, s in new.items():
        if keys[i] is not None:
            cache[keys[i]] = s
    scores = [new[i] if i in new else cache[k] for i, k in enumerate(keys)]
    ev = evaluate_scores(windows, scores, cutoff, q)
    ev.summary["model"] = model.name
    # the field's reading of a softness: how many rearranging atoms were predicted soft
    above = ev.prediction > model.threshold
    ev.summary["rearranging_above_threshold"] = float(above[ev.label].mean())
    ev.summary["all_above_threshold"] = float(above.mean())
    return ev
