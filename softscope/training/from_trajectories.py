"""Training and evaluation on trajectories of any origin (``softscope train/evaluate
--trajectory``): the researcher's own dumps, any alloy, AQS or MD, D²min or p_hop labels.

Grids and the D²min cutoff follow the data: the total g(r) of the training trajectories'
first frames gives the first peak r₁ (descriptor lengths = the recipe's Cu-Zr Å grid ×
r₁ / :data:`~softscope.training.recipes.R_PEAK_REFERENCE`) and the first minimum (the
default D²min neighbour cutoff); both are recorded in the model card, and ``--spec`` takes
a user's own :class:`~softscope.descriptors.spec.DescriptorSpec` JSON instead.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from softscope.descriptors.spec import DescriptorSpec
from softscope.errors import SoftscopeError
from softscope.training.evaluate import Evaluation, evaluate_model
from softscope.training.trajectory import (
    Trajectory,
    d2min_windows,
    open_trajectory,
    parse_frames,
    phop_threshold,
    phop_windows,
)
from softscope.training.windows import Window

__all__ = [
    "LABELS",
    "INPUT_KINDS",
    "read_trajectories",
    "measure_shell",
    "trajectory_spec",
    "label_windows",
    "train_from_trajectories",
    "evaluate_on_trajectories",
]

LABELS = ("d2min", "phop")

#: what a trajectory's frames are (the card's ``input``; ``Model.expected_input``)
INPUT_KINDS = ("minimised", "thermal snapshot", "time-averaged", "unknown")


def read_trajectories(
    paths: Sequence[str | Path],
    elements: Sequence[str] | Mapping[int, str] | None = None,
    progress: bool = True,
) -> list[Trajectory]:
    """Every trajectory of ``paths`` (order kept); names must be unique, species alike."""
    if not paths:
        raise SoftscopeError("no trajectory given")
    trajs = [open_trajectory(p, elements=elements, progress=progress) for p in paths]
    names = [t.name for t in trajs]
    if len(set(names)) != len(names):
        # same file names in different folders: prefix the folder
        trajs = [
            Trajectory(
                f"{Path(t.source).parent.name}/{t.name}", t.source, t.frames, t.extra, t.timesteps
            )
            for t in trajs
        ]
        names = [t.name for t in trajs]
        if len(set(names)) != len(names):
            raise SoftscopeError(f"trajectory names must be unique, got {names}")
    return trajs


def species_order(
    trajs: Sequence[Trajectory], elements: Sequence[str] | Mapping[int, str] | None
) -> tuple[str, ...]:
    """Species of the model: the ``elements`` order (types 1, 2, ...), else sorted names."""
    present = sorted({s for t in trajs for s in t.species})
    if elements is None:
        return tuple(present)
    names = list(elements.values()) if isinstance(elements, Mapping) else list(elements)
    order = tuple(dict.fromkeys(str(n) for n in names))
    extra = sorted(set(present) - set(order))
    if extra:
        raise SoftscopeError(f"the trajectories hold species {extra} not in --elements {order}")
    return order


def measure_shell(trajs: Sequence[Trajectory], frames_per_trajectory: int = 1):
    """First shell (:class:`~softscope.pair_distribution.FirstShell`) of the total g(r)
    averaged over the first frames of ``trajs``."""
    from softscope.pair_distribution import first_shell, radial_distribution

    fs = [f for t in trajs for f in t.frames[:frames_per_trajectory]]
    r_max = 0.45 * min(float(f.perpendicular_widths().min()) for f in fs)
    r, g = radial_distribution(fs, r_max, r_max / 500.0)
    return first_shell(r, g)


def trajectory_spec(
    recipe: str,
    species: Sequence[str],
    units: str,
    r_peak: float | None,
    spec: str | Path | DescriptorSpec | None = None,
    smooth: bool = False,
) -> DescriptorSpec:
    """The descriptor spec: the user's ``spec`` (object or JSON file), else the recipe's
    grids scaled to ``r_peak`` (:func:`~softscope.training.recipes.grid_scale`; ``smooth``:
    its smooth variant)."""
    from softscope.training.recipes import grid_scale, recipe_spec

    if spec is None:
        scale = None if r_peak is None else grid_scale(r_peak)
        return recipe_spec(recipe, species, units, length_scale=scale, smooth=smooth)
    if not isinstance(spec, DescriptorSpec):
        p = Path(spec)
        if not p.is_file():
            raise SoftscopeError(f"--spec {p}: no such file (a DescriptorSpec JSON)")
        try:
            spec = DescriptorSpec.from_json(p.read_text())
        except (ValueError, KeyError, TypeError) as exc:
            raise SoftscopeError(f"--spec {p}: not a descriptor spec JSON ({exc})") from exc
    if tuple(spec.species) != tuple(species):
        raise SoftscopeError(
            f"--spec species {list(spec.species)} differ from the data's {list(species)}"
        )
    if spec.units != units:
        raise SoftscopeError(f"--spec is in units {spec.units!r}, the data in {units!r}")
    return spec


def label_windows(
    trajs: Sequence[Trajectory],
    label: str,
    window: int,
    frames: str | None = None,
    stride: int | None = None,
    centred: bool = False,
    threshold: float | None = None,
    stable_frames: int | None = None,
) -> list[Window]:
    """Labelled windows of every trajectory (``frames``: ``START:STOP[:STEP]`` per
    trajectory).  ``d2min``: windows (t, t + K).  ``phop``: future-only windows, or with
    ``centred`` the classic centred ones (``threshold`` adds training labels)."""
    if label not in LABELS:
        raise SoftscopeError(f"--label {label!r}: one of {', '.join(LABELS)}")
    out: list[Window] = []
    for t in trajs:
        fr = parse_frames(frames, t.n_frames)
        if label == "d2min":
            out.extend(d2min_windows(t, window, fr, stride))
        else:
            out.extend(phop_windows(t, window, fr, stride, centred, threshold, stable_frames))
    return out


def _check_extra(windows: Sequence[Window], spec: DescriptorSpec) -> None:
    need = list(spec.external)
    for w in windows:
        missing = [n for n in need if n not in w.extra]
        if missing:
            from softscope.training.trajectory import EXTRA_COLUMNS

            cols = {n: list(EXTRA_COLUMNS.get(n, (n,))) for n in missing}
            raise SoftscopeError(
                f"the model needs per-atom columns {missing}, which trajectory {w.sample!r} "
                f"lacks; dump them (any of {cols}) or choose a recipe without them"
            )


def _file_record(t: Trajectory) -> dict[str, Any]:
    from softscope.simulate.systems import file_sha256

    p = Path(t.source)
    rec: dict[str, Any] = {"name": t.name, "file": p.name, "n_frames": t.n_frames}
    rec["n_atoms"] = t.n_atoms
    if p.is_file():
        rec["sha256"] = file_sha256(p)
    return rec


def _cutoff(shell, cutoff: float | None) -> float:
    if cutoff is not None:
        if not cutoff > 0:
            raise SoftscopeError(f"--cutoff must be > 0, got {cutoff}")
        return float(cutoff)
    return round(float(shell.r_min), 4)


def train_from_trajectories(
    recipe: str,
    trajectories: Sequence[str | Path],
    elements: Sequence[str] | Mapping[int, str] | None = None,
    units: str = "metal",
    label: str = "d2min",
    window: int = 5,
    q: float = 0.05,
    stable_q: float = 0.5,
    cutoff: float | None = None,
    frames: str | None = None,
    stride: int | None = None,
    test_trajectories: int = 1,
    spec: str | Path | DescriptorSpec | None = None,
    threshold: float | None = None,
    stable_frames: int | None = None,
    name: str | None = None,
    input_kind: str | None = None,
    cs: Sequence[float] = (1e-4, 3e-4, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0),
    n_estimators: int = 300,
    max_depth: int = 3,
    n_jobs: int = 1,
    seed: int = 0,
    progress: bool = True,
    smooth: bool = False,
):
    """Train ``recipe`` on trajectories; the last ``test_trajectories`` are held out.

    Returns ``(model, held-out Evaluation or None)``.  ``window`` is K frames; labels as in
    :mod:`softscope.training.trajectory`.  ``input_kind`` says what the frames are
    (:data:`INPUT_KINDS`: ``minimised`` for AQS frames, ``thermal snapshot`` for MD,
    ``time-averaged``; default ``unknown``); the fix and the demo read it to advise on
    time-averaged input.  The card records the files (names, SHA-256),
    g(r) shell, grid scale, label convention, split and held-out metrics.
    """
    from softscope.models.model import Model
    from softscope.training.pipeline import (
        bounded_for,
        fit_recipe_on,
        rounded_summary,
        spec_summary,
    )
    from softscope.training.recipes import grid_scale, recipe_info
    from softscope.training.train import build_training_set

    t0 = time.perf_counter()
    info = recipe_info(recipe)
    if label not in LABELS:
        raise SoftscopeError(f"--label {label!r}: one of {', '.join(LABELS)}")
    input_kind = "unknown" if input_kind is None else input_kind
    if input_kind not in INPUT_KINDS:
        raise SoftscopeError(f"--input {input_kind!r}: one of {', '.join(INPUT_KINDS)}")
    trajs = read_trajectories(trajectories, elements, progress)
    k = int(test_trajectories)
    if not 0 <= k < len(trajs):
        raise SoftscopeError(
            f"--test-trajectories {k}: need 0 <= N < number of trajectories ({len(trajs)})"
        )
    train, test = trajs[: len(trajs) - k], trajs[len(trajs) - k :]
    species = species_order(trajs, elements)
    shell = measure_shell(train)
    cut = _cutoff(shell, cutoff)
    if smooth and spec is not None:
        raise SoftscopeError("--smooth shapes the recipe's grids; a --spec file sets its own")
    dspec = trajectory_spec(recipe, species, units, shell.r_peak, spec, smooth)
    if progress:
        print(
            f"[train] {recipe} on {len(train)} trajectorie(s), {len(test)} held out; "
            f"g(r): first peak {shell.r_peak:.3f}, first minimum {shell.r_min:.3f}; "
            f"D²min cutoff {cut:g}"
        )
    labels_rec: dict[str, Any] = {"label": label, "window_frames": int(window), "q": q}
    if label == "phop":
        rule = "given" if threshold is not None else f"(1 - q) quantile of p_hop, q = {q}"
        if threshold is None:
            threshold = phop_threshold(train, window, q)
        sf = int(window if stable_frames is None else stable_frames)
        tr_w = label_windows(train, label, window, frames, stride, True, threshold, sf)
        labels_rec.update(
            measure="p_hop (Candelier et al.), length^2",
            training="classic centred window: p_hop(t) > p_c rearranging; stable = "
            f"p_hop < p_c at every frame within {sf} frames of t",
            threshold_p_c=round(float(threshold), 6),
            threshold_rule=rule,
            stable_frames=sf,
            evaluation="future-only window (frames t..t+K, p_hop centred at t+K/2), top-q",
        )
    else:
        tr_w = label_windows(train, label, window, frames, stride)
        labels_rec.update(
            measure="D2min, OVITO AtomicStrainModifier convention (not divided by N)",
            d2min_cutoff=cut,
            d2min_cutoff_rule="given" if cutoff is not None else "first minimum of g(r)",
            stable_q=stable_q,
            balanced="all top-q atoms + as many random atoms of the bottom stable_q",
            prediction_at="window start (frame t)",
        )
    _check_extra(tr_w, dspec)
    own_bounds = dspec.raw_bounds is not None
    dspec = bounded_for(info, dspec, tr_w)
    ts = build_training_set(tr_w, dspec, cut, q, stable_q, seed, n_jobs, progress)
    est, fit_info = fit_recipe_on(info, ts, dspec, tr_w, units, cs, n_estimators, max_depth, seed)
    card: dict[str, Any] = {
        "recipe": recipe,
        "created": _dt.date.today().isoformat(),
        "data": {
            "kind": "trajectories",
            "units": units,
            "elements": list(species),
            "trajectories": [_file_record(t) for t in trajs],
            "frames": frames or ":",
            "g_r": {"r_peak": round(shell.r_peak, 4), "r_min": round(shell.r_min, 4)},
            "grid_scale": None if spec is not None else grid_scale(shell.r_peak),
            "spec": "user file" if spec is not None else f"recipe {recipe}, scaled to g(r)",
        },
        "input": input_kind,
        "split": {
            "by": "trajectory (glass sample; never by atom)",
            "train_samples": [t.name for t in train],
            "test_samples": [t.name for t in test],
            "n_train_windows": len(tr_w),
        },
        "labels": labels_rec,
        "training": fit_info,
        "spec_summary": spec_summary(dspec, own_bounds),
    }
    model = Model(name or recipe, info["output_name"], dspec, est, card)
    ev = None
    if test:
        te_w = label_windows(test, label, window, frames, None)
        _check_extra(te_w, dspec)
        seen: dict = {}  # predictions per reference frame, shared by both p_hop windows
        ev = evaluate_model(model, te_w, cut, q, n_jobs, progress, predictions=seen)
        card["metrics"] = {"held_out": rounded_summary(ev.summary)}
        if label == "phop":
            cw = label_windows(test, label, window, frames, None, centred=True)
            evc = evaluate_model(model, cw, cut, q, n_jobs, progress=False, predictions=seen)
            card["metrics"]["held_out_centred_window"] = rounded_summary(evc.summary)
    card["train_seconds"] = round(time.perf_counter() - t0, 1)
    return model, ev


def evaluate_on_trajectories(
    model,
    trajectories: Sequence[str | Path],
    out: str | Path,
    elements: Sequence[str] | Mapping[int, str] | None = None,
    label: str = "d2min",
    window: int = 5,
    q: float = 0.05,
    cutoff: float | None = None,
    frames: str | None = None,
    n_jobs: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Judge ``model`` (a :class:`~softscope.models.model.Model`) on trajectories: prediction
    at frame t, label over frames t … t + K (future only).  Writes ``metrics.json`` and PNG
    plots to ``out``; returns the report.  The D²min cutoff defaults to the model card's,
    else the first minimum of the data's g(r)."""
    from softscope.training.pipeline import json_default
    from softscope.training.report import (
        format_summary,
        plot_histograms,
        plot_pr_of_s,
        plot_roc,
    )

    trajs = read_trajectories(trajectories, elements, progress)
    species = species_order(trajs, elements)
    missing = sorted(set(species) - set(model.species))
    if missing:
        raise SoftscopeError(
            f"model {model.name!r} knows species {list(model.species)}; the trajectories "
            f"also hold {missing}"
        )
    card_cut = (model.card or {}).get("labels", {}).get("d2min_cutoff")
    if cutoff is None and card_cut is not None:
        cut = float(card_cut)
        rule = "model card"
    else:
        shell = measure_shell(trajs)
        cut = _cutoff(shell, cutoff)
        rule = "given" if cutoff is not None else "first minimum of the data's g(r)"
    wins = label_windows(trajs, label, window, frames, None)
    _check_extra(wins, model.spec)
    ev: Evaluation = evaluate_model(model, wins, cut, q, n_jobs, progress)
    used = set((model.card or {}).get("split", {}).get("train_samples", []))
    leak = sorted(used & {t.name for t in trajs})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "model": model.name,
        "trajectories": [t.name for t in trajs],
        "label": label,
        "window_frames": int(window),
        "q": q,
        "d2min_cutoff": cut if label == "d2min" else None,
        "d2min_cutoff_rule": rule if label == "d2min" else None,
        "prediction_at": "frame t; label over frames t..t+K (future only)",
        "trained_on_some_of_these": leak,
        **ev.summary,
        "per_window": ev.per_window,
    }
    (out / "metrics.json").write_text(json.dumps(report, indent=1, default=json_default))
    plot_roc({model.name: (ev.prediction, ev.label)}, out / "roc.png")
    plot_pr_of_s(ev.prediction, ev.label, out / "pr_of_s.png", model.output_name)
    plot_histograms(ev.prediction, ev.label, out / "hist.png", model.output_name)
    if progress:
        print(format_summary(model.name, ev.summary))
        if leak:
            print(f"warning: {model.name} was trained on {leak}; not held out")
    return report
