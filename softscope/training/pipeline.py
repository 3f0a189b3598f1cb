"""End-to-end training and evaluation behind ``softscope train`` / ``softscope evaluate``.

Split by glass sample, never by atom; labels = top-q D²min (OVITO convention) over a
``window`` of AQS strain; features and predictions at the window's reference frame.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from softscope.errors import SoftscopeError
from softscope.training.dataset import (
    Sample,
    find_samples,
    frame_of,
    previous_window_start,
    sample_windows,
    split_samples,
)
from softscope.training.evaluate import (
    Evaluation,
    evaluate_model,
    evaluate_scores,
    window_d2min,
)
from softscope.training.perturbation_guard import PerturbationGuard, guard_for
from softscope.training.recipes import D2MIN_CUTOFF, recipe_info, recipe_spec
from softscope.training.train import (
    build_training_set,
    feature_families,
    fit_linear,
    fit_mlp,
    fit_trees,
    thermal_shift,
)
from softscope.training.windows import Window

__all__ = [
    "train_recipe",
    "run_evaluation",
    "windows_of",
    "check_consistent",
    "rounded_summary",
    "fit_recipe",
    "spec_summary",
    "json_default",
]


def check_consistent(samples: Sequence[Sample]) -> tuple[str, tuple[str, ...]]:
    """(units, elements) shared by every sample, else an error."""
    if not samples:
        raise SoftscopeError("no samples")
    kinds = {(s.units, s.elements) for s in samples}
    if len(kinds) != 1:
        raise SoftscopeError(
            "samples mix unit styles or species: "
            + ", ".join(f"{s.name}: {s.units} {list(s.elements)}" for s in samples)
        )
    return samples[0].units, samples[0].elements


def windows_of(
    samples: Sequence[Sample], window: float, stride: float | None, require: Sequence[str] = ()
) -> list[Window]:
    """Windows of every sample in order (see :func:`~softscope.training.dataset.sample_windows`:
    ``window`` of AQS strain, a new one every ``stride``, default non-overlapping; windows
    whose reference frame lacks an ``extra`` column named in ``require`` are dropped)."""
    out = []
    for s in samples:
        out.extend(sample_windows(s, window, stride, require))
    return out


def _data_record(samples: Sequence[Sample], vibration: bool = True) -> dict[str, Any]:
    from softscope.simulate import read_manifest

    s0 = samples[0]
    man = read_manifest(s0.path)
    rec = {
        "system": s0.system,
        "units": s0.units,
        "elements": list(s0.elements),
        "n_atoms": sorted({s.n_atoms for s in samples}),
        "compositions": sorted({json.dumps(s.composition, sort_keys=True) for s in samples}),
        "glass_recipe": {k: v for k, v in (s0.glass_recipe or {}).items() if k != "seed"},
        "glass_seeds": [(s.glass_recipe or {}).get("seed") for s in samples],
        "shear": man.get("parameters"),
        "lammps_version": man.get("lammps_version"),
        "potential": man.get("potential"),
    }
    vib = s0.path / "vibration" / "manifest.json"
    if vibration and vib.exists():
        v = json.loads(vib.read_text())
        rec["vibration"] = {"method": v.get("method"), "parameters": v.get("parameters")}
    return rec


def train_recipe(
    recipe: str,
    data: Sequence[str | Path],
    test_samples: int | Sequence[str] = 1,
    name: str | None = None,
    q: float = 0.05,
    stable_q: float = 0.5,
    window: float = 0.01,
    stride: float | None = None,
    cs: Sequence[float] = (1e-4, 3e-4, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0),
    n_estimators: int = 300,
    max_depth: int = 3,
    n_jobs: int = 1,
    seed: int = 0,
    progress: bool = True,
    smooth: bool = False,
):
    """Train a recipe on the training samples and judge it on the held-out samples.

    Returns ``(model, held_out Evaluation or None)``; the model's card records the data
    recipe, split, label convention, estimator choice and held-out metrics.  ``smooth``:
    the recipe's smooth variant (:func:`~softscope.training.recipes.recipe_spec`).
    """
    from softscope.models.model import Model

    t0 = time.perf_counter()
    info = recipe_info(recipe)
    samples = find_samples(data)
    units, elements = check_consistent(samples)
    train, test = split_samples(samples, test_samples)
    cutoff = D2MIN_CUTOFF.get(units)
    if cutoff is None:
        raise SoftscopeError(f"no D²min cutoff defined for units {units!r}")
    spec = recipe_spec(recipe, elements, units, smooth=smooth)
    require = tuple(spec.external)
    if progress:
        print(
            f"[train] recipe {recipe}: {len(train)} training sample(s) "
            f"{[s.name for s in train]}, {len(test)} held out {[s.name for s in test]}"
        )
    tr_w = windows_of(train, window, stride, require)
    spec = bounded_for(info, spec, tr_w)
    ts = build_training_set(tr_w, spec, cutoff, q, stable_q, seed, n_jobs, progress)
    est, fit_info = fit_recipe_on(info, ts, spec, tr_w, units, cs, n_estimators, max_depth, seed)
    card: dict[str, Any] = {
        "recipe": recipe,
        "created": _dt.date.today().isoformat(),
        "data": _data_record(samples, vibration="msd" in require),
        # AQS frames are energy minima: evaluate the model on minimised (or time-averaged)
        # configurations, not on raw thermal snapshots
        "input": "minimised",
        "split": {
            "by": "glass sample (never by atom)",
            "train_samples": [s.name for s in train],
            "test_samples": [s.name for s in test],
            "n_train_windows": len(tr_w),
        },
        "labels": {
            "measure": "D2min, OVITO AtomicStrainModifier convention (not divided by N)",
            "d2min_cutoff": cutoff,
            "q": q,
            "stable_q": stable_q,
            "balanced": "all top-q atoms + as many random atoms of the bottom stable_q",
            "window_strain": window,
            "train_stride": stride if stride is not None else window,
            "prediction_at": "window start (reference frame)",
        },
        "training": fit_info,
        "spec_summary": spec_summary(spec),
    }
    model = Model(name or recipe, info["output_name"], spec, est, card)
    ev = None
    if test:
        te_w = windows_of(test, window, None, require)
        ev = evaluate_model(model, te_w, cutoff, q, n_jobs, progress)
        card["metrics"] = {"held_out": rounded_summary(ev.summary)}
    card["train_seconds"] = round(time.perf_counter() - t0, 1)
    return model, ev


def spec_summary(spec, own_bounds: bool = False) -> dict[str, Any]:
    """The card's short description of a descriptor spec: feature count, block kinds,
    coarse-graining radii, taper and where its ``raw_bounds`` came from (``own_bounds``:
    the user's spec file, else :func:`training_bounds`)."""
    out = {
        "n_features": spec.n_features,
        "blocks": [b["kind"] for b in spec.blocks],
        "coarse_grain": list(spec.coarse_grain),
    }
    if spec.coarse_grain_taper:
        out["coarse_grain_taper"] = spec.coarse_grain_taper
    if spec.raw_bounds is not None:
        out["raw_bounds"] = (
            "clamped to the spec file's own bounds"
            if own_bounds
            else "clamped to the training range (first and last training frames)"
        )
    return out


def first_windows(windows: Sequence[Window]) -> list[Window]:
    """The first window of each sample, in order of appearance."""
    first: dict[str, Window] = {}
    for w in windows:
        first.setdefault(w.sample, w)
    return list(first.values())


#: estimator kinds that extrapolate beyond their training range (their specs get
#: :func:`training_bounds`); trees are constant beyond their last split anyway
EXTRAPOLATING = ("linear", "mlp")


def training_bounds(spec, windows: Sequence[Window]):
    """``spec`` with ``raw_bounds`` = the range (min, max per raw column) of the raw features
    of every atom in the reference frames of each training sample's first and last window
    (the range the model is trained on: every feature it sees is clamped to it)."""
    free = spec.with_raw_bounds(None)
    ends = {id(w): w for w in first_windows(windows) + first_windows(windows[::-1])}
    raws = [free.compute_raw(w.reference, extra=w.extra or None) for w in ends.values()]
    lo = np.min([r.min(axis=0) for r in raws], axis=0)
    hi = np.max([r.max(axis=0) for r in raws], axis=0)
    return spec.with_raw_bounds(lo, hi)


def bounded_for(info: dict[str, Any], spec, windows: Sequence[Window]):
    """The spec a recipe (``info``: :func:`recipe_info`) trains with: with
    :func:`training_bounds` for :data:`EXTRAPOLATING` estimators unless ``spec`` already
    has ``raw_bounds``, else ``spec``."""
    if info["estimator"] in EXTRAPOLATING and spec.raw_bounds is None:
        return training_bounds(spec, windows)
    return spec


def thermal_invariance(
    spec, windows: Sequence[Window], units: str, first_features: Sequence[np.ndarray] | None = None
) -> np.ndarray:
    """(k, F) the mean feature change under thermal-scale noise
    (:data:`~softscope.models.stability.THERMAL_AMPLITUDE` of ``units``) on the reference
    frame of each training sample's first window, one row per composition of those frames
    (species fractions to 0.01): the directions a linear model is kept invariant along
    (``fit_linear(invariant=...)``).  Compositions shift differently (Cu36Zr64 and
    Cu64Zr36 in opposite senses), so one mean over all would leave each its own offset.
    ``first_features``: those frames' features when already computed
    (:func:`first_windows` order)."""
    from softscope.models.stability import THERMAL_AMPLITUDE

    ws = first_windows(windows)
    groups: dict[tuple, list[int]] = {}
    for k, w in enumerate(ws):
        groups.setdefault(_composition_of(w.reference), []).append(k)
    rows = []
    for idx in groups.values():
        rows.append(
            thermal_shift(
                spec,
                [ws[k].reference for k in idx],
                THERMAL_AMPLITUDE[units],
                [ws[k].extra or None for k in idx],
                features=None if first_features is None else [first_features[k] for k in idx],
            )
        )
    return np.array(rows)


def _composition_of(frame) -> tuple:
    """(species, fraction rounded to 0.01) pairs of a frame, sorted by species."""
    names, counts = np.unique(np.asarray(frame.species), return_counts=True)
    return tuple(
        (str(n), round(float(c) / counts.sum(), 2)) for n, c in zip(names, counts, strict=True)
    )


def perturbation_guard(
    spec,
    windows: Sequence[Window],
    units: str,
    first_features: Sequence[np.ndarray] | None = None,
) -> PerturbationGuard:
    """The :class:`~softscope.training.perturbation_guard.PerturbationGuard` of a linear
    model: its penalty from the reference frame of each training sample's first window, its
    criterion from that of each sample's last window (another configuration); targets half
    of :data:`~softscope.models.stability.STABILITY_TARGETS`' 1e-4 shear percentile and
    thermal-noise maximum (a margin for other glasses), thermal amplitude
    :data:`~softscope.models.stability.THERMAL_AMPLITUDE` of ``units``.
    ``first_features``: the first windows' features when already computed
    (:func:`first_windows` order)."""
    from softscope.models.stability import STABILITY_TARGETS, THERMAL_AMPLITUDE

    first = first_windows(windows)
    last = first_windows(windows[::-1])[::-1]
    return guard_for(
        spec,
        [w.reference for w in first],
        [w.reference for w in last],
        0.5 * STABILITY_TARGETS["shear_1e-4_p999"],
        [w.extra or None for w in first],
        [w.extra or None for w in last],
        penalty_features=first_features,
        thermal_amplitude=THERMAL_AMPLITUDE[units],
        thermal_target=0.5 * STABILITY_TARGETS["noise_thermal_max"],
    )


def fit_recipe_on(
    info: dict[str, Any],
    ts,
    spec,
    windows: Sequence[Window],
    units: str,
    cs: Sequence[float],
    n_estimators: int = 300,
    max_depth: int = 3,
    seed: int = 0,
):
    """:func:`fit_recipe` for a recipe (``info``: :func:`recipe_info`) on the training set
    ``ts`` of ``windows``: linear models invariant to thermal noise of the windows' glasses
    (:func:`thermal_invariance`) and kept smooth under tiny perturbations
    (:func:`perturbation_guard`), MLP recipes with their own hidden layers."""
    invariant = guard = None
    if info["estimator"] == "linear":
        # the first windows' features serve both (computed once)
        x0 = [spec.compute(w.reference, extra=w.extra or None) for w in first_windows(windows)]
        invariant = thermal_invariance(spec, windows, units, x0)
        guard = perturbation_guard(spec, windows, units, x0)
    return fit_recipe(
        info["estimator"],
        ts,
        spec,
        cs,
        n_estimators,
        max_depth,
        seed,
        invariant=invariant,
        guard=guard,
        hidden=info.get("hidden"),
    )


def fit_recipe(
    estimator: str,
    ts,
    spec,
    cs: Sequence[float],
    n_estimators: int = 300,
    max_depth: int = 3,
    seed: int = 0,
    invariant: np.ndarray | None = None,
    guard: PerturbationGuard | None = None,
    hidden: Sequence[int] | None = None,
):
    """``(estimator, fit info)`` of a recipe's estimator kind (``linear``: guarded linear SVM,
    C by sample-grouped CV, optionally invariant along ``invariant`` and with its
    response to tiny perturbations kept small by ``guard`` (:func:`fit_linear`);
    ``trees``: gradient boosting; ``mlp``: a small neural network, hidden layers
    ``hidden`` or :func:`fit_mlp`'s) on the training set ``ts``."""
    if estimator == "mlp":
        kw = {} if hidden is None else {"hidden": tuple(hidden)}
        return fit_mlp(ts, seed=seed, families=feature_families(spec.feature_names()), **kw)
    if estimator == "linear":
        names = spec.feature_names()
        est, fit_info = fit_linear(
            ts,
            cs=cs,
            seed=seed,
            families=feature_families(names),
            invariant=invariant,
            guard=guard,
        )
        fit_info["features_dropped"] = [names[i] for i in fit_info["features_dropped"]]
        return est, fit_info
    return fit_trees(ts, n_estimators=n_estimators, max_depth=max_depth, seed=seed)


def rounded_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """An :class:`~softscope.training.evaluate.Evaluation` summary as stored in model cards
    and reports: every float rounded to 4 decimals, other values unchanged."""
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in summary.items()}


def json_default(o):
    """``json.dumps`` default for numpy scalars and arrays."""
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def run_evaluation(
    models: Sequence[str],
    data: Sequence[str | Path],
    out: str | Path,
    indicators: bool = False,
    q: float = 0.05,
    window: float = 0.01,
    n_jobs: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate models (zoo names or files) and/or single indicators on the samples in
    ``data``; write ``evaluation.json`` and PNG plots to ``out``; return the report."""
    from softscope.models.model import load_model
    from softscope.training.indicators import indicator_table, window_indicators
    from softscope.training.report import (
        format_summary,
        format_table,
        plot_histograms,
        plot_indicator_bars,
        plot_pr_of_s,
        plot_roc,
    )

    if not models and not indicators:
        raise SoftscopeError("nothing to evaluate: give --model and/or --indicators")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    samples = find_samples(data)
    units, elements = check_consistent(samples)
    cutoff = D2MIN_CUTOFF[units]
    loaded = [load_model(m) for m in models]
    for m in loaded:
        m.check_units(units)
        missing = set(elements) - set(m.species)
        if missing:
            raise SoftscopeError(f"model {m.name!r} knows species {m.species}, data has {missing}")
        used = set(m.card.get("split", {}).get("train_samples", []))
        leak = sorted(used & {s.name for s in samples})
        if leak and progress:
            print(f"warning: {m.name} was trained on {leak}; those windows are not held out")
    require = tuple(dict.fromkeys(e for m in loaded for e in m.spec.external))
    wins = windows_of(samples, window, None, require)
    d2 = [window_d2min(w, cutoff) for w in wins]
    report: dict[str, Any] = {
        "samples": [s.name for s in samples],
        "n_windows": len(wins),
        "window_strain": window,
        "q": q,
        "d2min_cutoff": cutoff,
        "units": units,
        "models": {},
    }
    evals: dict[str, Evaluation] = {}
    for m in loaded:
        ev = evaluate_model(m, wins, cutoff, q, n_jobs, progress)
        ev.summary["kind"] = "model"
        evals[m.name] = ev
        report["models"][m.name] = {
            "summary": rounded_summary(ev.summary),
            "per_window": ev.per_window,
        }
        print(format_summary(m.name, ev.summary))
        stem = out / m.name.replace("/", "_")
        plot_roc({m.name: (ev.prediction, ev.label)}, f"{stem}_roc.png")
        plot_pr_of_s(ev.prediction, ev.label, f"{stem}_pr_of_s.png", m.output_name)
        plot_histograms(ev.prediction, ev.label, f"{stem}_hist.png", m.output_name)
    if indicators:
        s = 1.0 if units == "metal" else 1.0 / 2.5
        cg = (4.0 * s, 6.0 * s)
        by_sample = {x.name: x for x in samples}
        per_name: dict[str, list[np.ndarray]] = {}
        it = wins
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(wins, desc="indicators", unit="window")
        rows_w = []
        for w in it:
            smp = by_sample[w.sample]
            k = previous_window_start(smp, w, window)
            prev = frame_of(smp, k) if k is not None else None
            vals = window_indicators(w, units, cg, prev, cutoff)
            rows_w.append(vals)
            for name in vals:
                per_name.setdefault(name, [])
        ind_evals: dict[str, Evaluation] = {}
        for name in per_name:
            idx = [i for i, v in enumerate(rows_w) if name in v]
            ev = evaluate_scores(
                [wins[i] for i in idx],
                [rows_w[i][name] for i in idx],
                cutoff,
                q,
                [d2[i] for i in idx],
            )
            ev.summary["kind"] = "indicator"
            ind_evals[name] = ev
        table = indicator_table({**ind_evals, **evals})
        report["indicators"] = {n: rounded_summary(e.summary) for n, e in ind_evals.items()}
        report["table"] = table
        print(format_table(table))
        plot_indicator_bars(table, out / "indicators.png")
    if len(evals) > 1:
        plot_roc({n: (e.prediction, e.label) for n, e in evals.items()}, out / "roc_models.png")
    (out / "evaluation.json").write_text(json.dumps(report, indent=1, default=json_default))
    return report
