"""Does a more stable Cu64Zr36 glass make AQS rearrangements more predictable?

Takes the zoo's 2000-atom Cu64Zr36 glasses (quenched at 2e13 K/s), anneals each below Tg
with NPT MD (P = 0) + Cu<->Zr swap Monte Carlo (``fix atom/swap ... ke yes``), cools it
to 300 K, minimizes it like the glass recipe (``box/relax iso 0``, then fixed box), shears
it AQS with the zoo's parameters (:data:`softscope.simulate.TRAINING_SHEAR`) and trains /
judges the ``softness`` recipe exactly like the zoo's ``cuzr-softness`` (train on 4
samples, held-out ROC-AUC on 2, mean ± std over non-overlapping 1 % windows)::

    S=studies/annealing/annealing.py; A="--zoo ZOO_DATA --out OUT"
    python $S pilot $A [--jobs 2]                   # timing + T check, one glass
    python $S anneal $A --schedule S [--jobs 2]
    python $S train $A --schedule S [--jobs 2]
    python $S control $A [--jobs 2]                 # the unannealed zoo samples
    python $S control-reuse $A                      # ... or the shipped model
    python $S folds $A [--jobs 2]                   # 3 by-sample folds, paired
    python $S report --out OUT                      # markdown tables

``ZOO_DATA`` is the zoo's data folder (``scripts/make_zoo.sh DATA_DIR``: the samples
``cuzr64_sNN``).  Everything goes to ``--out`` (never the repository); progress is
appended to ``<out>/swap_study.log``.  Energies in eV/atom, temperatures in K, times in
ps; CPU seconds are ``time.process_time()`` of the (single-threaded) worker process.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

SAMPLES = [f"cuzr64_s{s}" for s in (41, 42, 43, 44, 45, 47)]
TEST = ["cuzr64_s45", "cuzr64_s47"]

#: name -> annealing schedule.  T in K, times in ps; a swap event every ``swap_every``
#: MD steps makes ``swap_attempts`` Cu<->Zr attempts (each one a full energy evaluation,
#: about 1.1 MD steps of CPU).  ``cool_rate`` in K/s (the zoo's quench rate).
SCHEDULES: dict[str, dict[str, Any]] = {
    "swap650": {
        "T": 650.0,
        "anneal_ps": 40.0,
        "swap_every": 100,
        "swap_attempts": 100,
        "cool_rate": 2e13,
    },
    "md700_50": {
        "T": 700.0,
        "anneal_ps": 50.0,
        "swap_every": 100,
        "swap_attempts": 10,
        "cool_rate": 2e13,
    },
    # no swaps: hold 5 ps at 750 K, then 750 -> 550 K at 4e12 K/s (5x slower than the zoo's
    # quench through the glass transition), then 550 -> 300 K at 2e13 K/s
    "cool750_4e12": {
        "T": 750.0,
        "anneal_ps": 5.0,
        "swap_every": 100,
        "swap_attempts": 0,
        "ramp_to": 550.0,
        "ramp_rate": 4e12,
        "cool_rate": 2e13,
    },
}


def log(out: Path, msg: str) -> None:
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    print(line, flush=True)
    with open(out / "swap_study.log", "a") as fh:
        fh.write(line + "\n")


def _setup(lmp, data: Path) -> None:
    from softscope.simulate import potential_commands

    pot, _ = potential_commands("cuzr")
    lmp.commands_string(
        f"""
units metal
atom_style atomic
boundary p p p
atom_modify map array sort 0 0.0
read_data {data}
{pot}
timestep 0.002
thermo_style custom step temp pe press vol
thermo 1000
thermo_modify norm no flush yes
"""
    )


def _minimize(lmp) -> dict[str, float]:
    """The glass recipe's final minimization: box/relax iso 0, then at fixed box."""
    lmp.command("velocity all set 0.0 0.0 0.0")
    lmp.command("fix br all box/relax iso 0.0 vmax 0.001")
    lmp.command("minimize 0.0 1e-6 20000 200000")
    lmp.command("unfix br")
    lmp.command("minimize 0.0 1e-6 20000 200000")
    lmp.command("run 0")
    n = lmp.get_natoms()
    return {
        "pe_per_atom": lmp.get_thermo("pe") / n,
        "volume_per_atom": lmp.get_thermo("vol") / n,
        "press": lmp.get_thermo("press"),
    }


def anneal(
    src: Path,
    out: Path,
    sched: dict[str, Any],
    seed: int,
    shear: bool = True,
    log_root: Path | None = None,
) -> dict[str, Any]:
    """Anneal the glass ``src/glass/glass.data`` into ``out/glass`` and shear it AQS into
    ``out/shear_aqs``; returns energies, swap statistics and CPU seconds."""
    import numpy as np

    import softscope  # noqa: F401  (preloads libmpi)
    from softscope.simulate import TRAINING_SHEAR, open_lammps, read_manifest, shear_aqs

    gdir = out / "glass"
    gdir.mkdir(parents=True, exist_ok=True)
    src_man = read_manifest(src / "glass")
    dt = 0.002
    T = float(sched["T"])
    n_anneal = int(round(sched["anneal_ps"] / dt))
    # optional slow ramp T -> ramp_to at ramp_rate (K/s) before the final cool to 300 K
    T_end = float(sched.get("ramp_to", T))
    n_ramp = int(round((T - T_end) / (sched["ramp_rate"] * 1e-12) / dt)) if T_end != T else 0
    n_cool = int(round((T_end - 300.0) / (sched["cool_rate"] * 1e-12) / dt))
    s_vel, s_swap = (int(x) for x in np.random.default_rng(seed).integers(1, 2**30, 2))
    rec: dict[str, Any] = {
        "sample": out.name,
        "schedule": sched,
        "seed": seed,
        "e_before": src_man["final"]["pe_per_atom"],
    }
    t0 = time.process_time()
    w0 = time.perf_counter()
    lmp, _ = open_lammps(gdir / "log.lammps", 1)
    try:
        _setup(lmp, src / "glass" / "glass.data")
        lmp.command("run 0")
        rec["e_before_check"] = lmp.get_thermo("pe") / lmp.get_natoms()
        lmp.command(f"velocity all create {T!r} {s_vel} mom yes rot yes dist gaussian")
        lmp.command(f"fix md all npt temp {T!r} {T!r} 0.1 iso 0.0 0.0 1.0")
        use_swap = int(sched["swap_attempts"]) > 0
        if use_swap:
            lmp.command(
                f"fix sw all atom/swap {int(sched['swap_every'])} "
                f"{int(sched['swap_attempts'])} {s_swap} {T!r} ke yes types 1 2"
            )
        chunk = 5000
        done = 0
        trace = []
        while done < n_anneal:
            n = min(chunk, n_anneal - done)
            lmp.command(f"run {n} pre {'yes' if done == 0 else 'no'} post no")
            done += n
            att = acc = 0.0
            if use_swap:
                att, acc = lmp.extract_fix("sw", 0, 1, 0), lmp.extract_fix("sw", 0, 1, 1)
            trace.append(
                {
                    "ps": done * dt,
                    "pe_per_atom": lmp.get_thermo("pe") / lmp.get_natoms(),
                    "temp": lmp.get_thermo("temp"),
                    "attempts": att,
                    "accepted": acc,
                }
            )
            if log_root is not None:
                log(
                    log_root,
                    f"  {out.parent.name}/{out.name}: {done * dt:.0f}/"
                    f"{n_anneal * dt:.0f} ps, E {trace[-1]['pe_per_atom']:.4f} eV/atom (at T), "
                    f"swaps {acc:.0f}/{att:.0f}, {time.process_time() - t0:.0f} CPU-s",
                )
        rec["swap_attempts"], rec["swap_accepted"] = (trace[-1]["attempts"], trace[-1]["accepted"])
        rec["acceptance"] = rec["swap_accepted"] / max(1.0, rec["swap_attempts"])
        if use_swap:
            lmp.command("unfix sw")
        rec["cpu_anneal_md_swap_s"] = time.process_time() - t0
        lmp.command("unfix md")
        if n_ramp:
            lmp.command(f"fix md all npt temp {T!r} {T_end!r} 0.1 iso 0.0 0.0 1.0")
            lmp.command(f"run {n_ramp}")
            lmp.command("unfix md")
        rec["cpu_ramp_end_s"] = time.process_time() - t0
        lmp.command(f"fix md all npt temp {T_end!r} 300.0 0.1 iso 0.0 0.0 1.0")
        lmp.command(f"run {n_cool}")
        lmp.command("unfix md")
        rec["final"] = _minimize(lmp)
        lmp.command(f"write_data {gdir / 'glass.data'} nocoeff")
    finally:
        lmp.close()
    rec["e_after"] = rec["final"]["pe_per_atom"]
    rec["cpu_anneal_s"] = time.process_time() - t0
    rec["wall_anneal_s"] = time.perf_counter() - w0
    rec["trace"] = trace
    params = {
        **src_man["parameters"],
        "anneal": {
            **sched,
            "steps": {"anneal": n_anneal, "ramp": n_ramp, "cool": n_cool},
            "ensemble": "npt (Nose-Hoover, iso 0) + fix atom/swap types 1 2 ke yes",
            "source": str(src / "glass" / "glass.data"),
            "lammps_seeds": {"velocity": s_vel, "swap": s_swap},
        },
    }
    man = {
        k: v
        for k, v in src_man.items()
        if k not in ("parameters", "final", "timings", "sha256", "state_before_minimize")
    }
    man.update(
        {
            "parameters": params,
            "final": rec["final"],
            "sha256": {
                "glass.data": hashlib.sha256((gdir / "glass.data").read_bytes()).hexdigest()
            },
            "timings": {"cpu_anneal_s": rec["cpu_anneal_s"]},
        }
    )
    (gdir / "manifest.json").write_text(json.dumps(man, indent=1))
    if shear:
        t1 = time.process_time()
        shear_aqs(gdir, out / "shear_aqs", progress=False, overwrite=True, **TRAINING_SHEAR)
        rec["cpu_shear_s"] = time.process_time() - t1
    (out / "anneal_record.json").write_text(json.dumps(rec, indent=1))
    return rec


def _zoo(args) -> Path:
    """The zoo's data folder of ``--zoo`` (needed by every stage but ``report``)."""
    if not args.zoo:
        raise SystemExit(f"stage {args.stage!r} needs --zoo ZOO_DATA (the zoo's data folder)")
    return Path(args.zoo)


def _seed(name: str, schedule: str) -> int:
    return int(name.rsplit("_s", 1)[1]) * 1000 + sum(map(ord, schedule)) % 1000


def cmd_anneal(args) -> None:
    from joblib import Parallel, delayed

    root = Path(args.out)
    zoo = _zoo(args)
    sched = SCHEDULES[args.schedule]
    dest = root / args.schedule
    dest.mkdir(parents=True, exist_ok=True)
    todo = [n for n in SAMPLES if not (dest / n / "anneal_record.json").exists()]
    log(root, f"anneal {args.schedule} {sched}: {todo}")
    w = time.perf_counter()
    Parallel(n_jobs=args.jobs)(
        delayed(anneal)(zoo / n, dest / n, sched, _seed(n, args.schedule), True, root) for n in todo
    )
    recs = [json.loads((dest / n / "anneal_record.json").read_text()) for n in SAMPLES]
    for r in recs:
        log(
            root,
            f"{args.schedule} {r['sample']}: E {r['e_before']:.5f} -> {r['e_after']:.5f} "
            f"eV/atom (dE {1e3 * (r['e_after'] - r['e_before']):+.2f} meV), acceptance "
            f"{r['acceptance']:.2e} ({r['swap_accepted']:.0f}/{r['swap_attempts']:.0f}), "
            f"CPU anneal {r['cpu_anneal_s']:.0f} s, shear {r['cpu_shear_s']:.0f} s",
        )
    log(root, f"anneal {args.schedule} done in {time.perf_counter() - w:.0f} s wall")


def _train_eval(data: list[Path], name: str, root: Path, jobs: int) -> dict[str, Any]:
    import softscope  # noqa: F401
    from softscope.training.pipeline import rounded_summary, train_recipe

    t = time.process_time()
    model, ev = train_recipe(
        "softness", data, test_samples=TEST, name=name, stride=0.002, n_jobs=jobs, progress=False
    )
    model.save(root / f"{name}.ssm")
    return {
        "held_out": rounded_summary(ev.summary),
        "training": model.card["training"],
        "per_window_auc": [round(w["roc_auc"], 4) for w in ev.per_window],
        "windows": [(w["sample"], w.get("strain")) for w in ev.per_window],
        "train_cpu_s": time.process_time() - t,
    }


def _cross(model_path: Path, data: list[Path], jobs: int) -> dict[str, Any]:
    """A trained model judged on other held-out samples (same windows/labels protocol)."""
    from softscope.models.model import load_model
    from softscope.training.dataset import find_samples
    from softscope.training.evaluate import evaluate_model
    from softscope.training.pipeline import rounded_summary, windows_of
    from softscope.training.recipes import D2MIN_CUTOFF

    smp = [s for s in find_samples(data) if s.name in TEST]
    ev = evaluate_model(
        load_model(str(model_path)),
        windows_of(smp, 0.01, None),
        D2MIN_CUTOFF["metal"],
        0.05,
        jobs,
        False,
    )
    return {
        **rounded_summary(ev.summary),
        "per_window_auc": [round(w["roc_auc"], 4) for w in ev.per_window],
    }


def _indicators(data: list[Path], out: Path, jobs: int) -> dict[str, float]:
    from softscope.training.pipeline import run_evaluation

    rep = run_evaluation(
        [], [d for d in data if d.name in TEST], out, indicators=True, n_jobs=jobs, progress=False
    )
    return {r["name"]: round(r["roc_auc"], 4) for r in rep["table"]}


def cmd_control_reuse(args) -> None:
    """Control without retraining: the shipped ``cuzr-softness`` (same recipe, spec, split
    and C selection on the unannealed zoo samples), re-judged here with the same code."""
    import shutil

    from softscope.models import load_model, zoo_path
    from softscope.training.recipes import recipe_spec

    root = Path(args.out)
    zoo = _zoo(args)
    res_dir = root / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    m = load_model("cuzr-softness")
    same = m.spec.to_dict() == recipe_spec("softness", ("Cu", "Zr"), "metal").to_dict()
    split = m.card["split"]
    if not same or split["test_samples"] != TEST:
        raise SystemExit("the shipped cuzr-softness does not match the recipe/split; retrain")
    shutil.copy(zoo_path("cuzr-softness"), res_dir / "softness_control.ssm")
    ev = _cross(res_dir / "softness_control.ssm", [zoo / n for n in SAMPLES], args.jobs)
    zoo_ev = json.loads((zoo / "evaluation_cuzr64" / "evaluation.json").read_text())
    res = {
        "held_out": {k: v for k, v in ev.items() if k != "per_window_auc"},
        "per_window_auc": ev["per_window_auc"],
        "training": m.card["training"],
        "reused": "shipped cuzr-softness model (card: train "
        + str(split["train_samples"])
        + f"), re-evaluated; indicators from {zoo / 'evaluation_cuzr64'}",
        "card_held_out": m.card["metrics"]["held_out"],
        "indicators": {r["name"]: round(r["roc_auc"], 4) for r in zoo_ev["table"]},
    }
    h = res["held_out"]
    log(
        root,
        f"control (reused zoo model): held-out ROC-AUC {h['roc_auc']:.4f} ± "
        f"{h['roc_auc_std']:.4f} (card: {res['card_held_out']['roc_auc']}), AP "
        f"{h['average_precision']:.3f}, prec@5% {h['precision_top_q']:.3f}, per window "
        f"{res['per_window_auc']}",
    )
    (res_dir / "control.json").write_text(json.dumps(res, indent=1))


def cmd_train(args, control: bool = False) -> None:
    root = Path(args.out)
    zoo = _zoo(args)
    name = "control" if control else args.schedule
    base = zoo if control else root / name
    data = [base / n for n in SAMPLES]
    res_dir = root / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    log(root, f"train softness on {name} ({base})")
    res = _train_eval(data, f"softness_{name}", res_dir, args.jobs)
    h = res["held_out"]
    log(
        root,
        f"{name}: held-out ROC-AUC {h['roc_auc']:.4f} ± {h['roc_auc_std']:.4f} "
        f"(AP {h['average_precision']:.3f}, prec@5% {h['precision_top_q']:.3f}, "
        f"Spearman {h['spearman']:.3f}), C = {res['training']['C']}, "
        f"per window {res['per_window_auc']}, train CPU {res['train_cpu_s']:.0f} s",
    )
    other = zoo if not control else None
    if other is not None:
        ctl = res_dir / "softness_control.ssm"
        if ctl.exists():
            res["control_model_on_these"] = _cross(ctl, data, args.jobs)
            res["this_model_on_control"] = _cross(
                res_dir / f"softness_{name}.ssm", [zoo / n for n in SAMPLES], args.jobs
            )
            log(
                root,
                f"{name}: control model on these held-out samples "
                f"{res['control_model_on_these']['roc_auc']:.4f}; this model on the control "
                f"held-out samples {res['this_model_on_control']['roc_auc']:.4f}",
            )
    if not args.no_indicators:
        t = time.process_time()
        res["indicators"] = _indicators(data, res_dir / f"indicators_{name}", args.jobs)
        res["indicators_cpu_s"] = time.process_time() - t
        log(root, f"{name}: indicators {res['indicators']}")
    (res_dir / f"{name}.json").write_text(json.dumps(res, indent=1))


def cmd_pilot(args) -> None:
    """MD(+swap) anneal of one glass for a few ps at several T: E/atom and cost."""
    from joblib import Parallel, delayed

    root = Path(args.out)
    zoo = _zoo(args)
    dest = root / "pilot"
    runs = {
        f"T{int(T)}": {
            "T": T,
            "anneal_ps": args.pilot_ps,
            "swap_every": 100,
            "swap_attempts": 100,
            "cool_rate": 2e13,
        }
        for T in args.pilot_T
    }
    log(root, f"pilot on cuzr64_s41: {runs}")
    recs = Parallel(n_jobs=args.jobs)(
        delayed(anneal)(zoo / "cuzr64_s41", dest / k, s, 7, False, None) for k, s in runs.items()
    )
    for k, r in zip(runs, recs, strict=True):
        log(
            root,
            f"pilot {k}: E {r['e_before']:.5f} -> {r['e_after']:.5f} "
            f"(dE {1e3 * (r['e_after'] - r['e_before']):+.2f} meV/atom), swaps "
            f"{r['swap_accepted']:.0f}/{r['swap_attempts']:.0f}, CPU MD+swap "
            f"{r['cpu_anneal_md_swap_s']:.0f} s, total anneal {r['cpu_anneal_s']:.0f} s",
        )


FOLDS = [("cuzr64_s41", "cuzr64_s42"), ("cuzr64_s43", "cuzr64_s44"), ("cuzr64_s45", "cuzr64_s47")]


def _fold(base: Path, test: tuple[str, str]) -> dict[str, Any]:
    import softscope  # noqa: F401
    from softscope.training.pipeline import train_recipe

    t = time.process_time()
    model, ev = train_recipe(
        "softness",
        [base / n for n in SAMPLES],
        test_samples=list(test),
        stride=0.002,
        n_jobs=1,
        progress=False,
    )
    return {
        "test": list(test),
        "C": model.card["training"]["C"],
        "roc_auc": ev.summary["roc_auc"],
        "roc_auc_std": ev.summary["roc_auc_std"],
        "per_window_auc": [w["roc_auc"] for w in ev.per_window],
        "cpu_s": time.process_time() - t,
    }


def cmd_folds(args) -> None:
    """Three-fold by-sample rotation (train 4, test 2) per condition: 30 held-out windows
    instead of 10, with the same folds for every condition (paired)."""
    import numpy as np
    from joblib import Parallel, delayed

    root = Path(args.out)
    conds = {
        "control": _zoo(args),
        **{
            k: root / k
            for k in SCHEDULES
            if (root / k / SAMPLES[-1] / "anneal_record.json").exists()
        },
    }
    old_path = root / "results" / "folds.json"
    old = json.loads(old_path.read_text())["folds"] if old_path.exists() else {}
    conds = {c: p for c, p in conds.items() if c not in old}
    log(root, f"folds: {list(conds)} x {FOLDS}")
    jobs = [(c, f) for c in conds for f in FOLDS]
    res = Parallel(n_jobs=args.jobs)(delayed(_fold)(conds[c], f) for c, f in jobs)
    out: dict[str, Any] = dict(old)
    for (c, _), r in zip(jobs, res, strict=True):
        out.setdefault(c, []).append(r)
    summ = {}
    for c, rs in out.items():
        allw = np.concatenate([r["per_window_auc"] for r in rs])
        summ[c] = {
            "roc_auc": float(allw.mean()),
            "roc_auc_std": float(allw.std()),
            "sem": float(allw.std() / np.sqrt(allw.size)),
            "n_windows": int(allw.size),
            "per_fold": [round(r["roc_auc"], 4) for r in rs],
            "C": [r["C"] for r in rs],
        }
        if c != "control":
            d = [r["roc_auc"] - q["roc_auc"] for r, q in zip(rs, out["control"], strict=True)]
            summ[c]["paired_fold_diff_vs_control"] = [round(x, 4) for x in d]
        log(
            root,
            f"folds {c}: ROC-AUC {summ[c]['roc_auc']:.4f} ± {summ[c]['roc_auc_std']:.4f}"
            f" (sem {summ[c]['sem']:.4f}, {allw.size} windows), per fold {summ[c]['per_fold']}, "
            f"C {summ[c]['C']}"
            + (f", paired diff {summ[c]['paired_fold_diff_vs_control']}" if c != "control" else ""),
        )
    (root / "results").mkdir(exist_ok=True)
    (root / "results" / "folds.json").write_text(
        json.dumps({"summary": summ, "folds": out}, indent=1)
    )


def cmd_report(args) -> None:
    """Markdown tables of every finished schedule (energies, swaps, CPU, held-out AUC)."""
    import numpy as np

    root = Path(args.out)
    lines = [
        "| schedule | sample | E/atom before (eV) | after (eV) | dE (meV/atom) | swaps "
        "accepted/attempted | acceptance | CPU anneal (s) | CPU shear (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for name in SCHEDULES:
        recs = [root / name / n / "anneal_record.json" for n in SAMPLES]
        recs = [json.loads(p.read_text()) for p in recs if p.exists()]
        for r in recs:
            lines.append(
                f"| {name} | {r['sample']} | {r['e_before']:.5f} | {r['e_after']:.5f} | "
                f"{1e3 * (r['e_after'] - r['e_before']):+.2f} | {r['swap_accepted']:.0f}/"
                f"{r['swap_attempts']:.0f} | {r['acceptance']:.1e} | {r['cpu_anneal_s']:.0f} | "
                f"{r.get('cpu_shear_s', float('nan')):.0f} |"
            )
        if recs:
            de = [1e3 * (r["e_after"] - r["e_before"]) for r in recs]
            summary[name] = {
                "dE_meV": (float(np.mean(de)), float(np.std(de))),
                "cpu_anneal_s": float(np.mean([r["cpu_anneal_s"] for r in recs])),
                "acceptance": float(np.mean([r["acceptance"] for r in recs])),
            }
    lines += [
        "",
        "| data | held-out ROC-AUC | AP | precision@5 % | Spearman | C |",
        "|---|---|---|---|---|---|",
    ]
    for name in ["control", *SCHEDULES]:
        p = root / "results" / f"{name}.json"
        if not p.exists():
            continue
        r = json.loads(p.read_text())
        h = r["held_out"]
        lines.append(
            f"| {name} | {h['roc_auc']:.3f} ± {h['roc_auc_std']:.3f} | "
            f"{h['average_precision']:.3f} | {h['precision_top_q']:.3f} | "
            f"{h['spearman']:.3f} | {r['training']['C']} |"
        )
        summary.setdefault(name, {})["held_out"] = h
    text = "\n".join(lines)
    print(text)
    print(json.dumps(summary, indent=1))
    (root / "report.md").write_text(text + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "stage", choices=["pilot", "anneal", "train", "control", "control-reuse", "report", "folds"]
    )
    ap.add_argument("--schedule", choices=list(SCHEDULES), default="swap650")
    ap.add_argument("--zoo", help="the zoo's data folder (cuzr64_sNN samples); all but report")
    ap.add_argument("--out", required=True, help="output folder (outside the repository)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-indicators", action="store_true")
    ap.add_argument("--pilot-T", type=float, nargs="+", default=[650.0, 700.0])
    ap.add_argument("--pilot-ps", type=float, default=10.0)
    args = ap.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.stage == "pilot":
        cmd_pilot(args)
    elif args.stage == "anneal":
        cmd_anneal(args)
    elif args.stage == "train":
        cmd_train(args)
    elif args.stage == "folds":
        cmd_folds(args)
    elif args.stage == "report":
        cmd_report(args)
    elif args.stage == "control-reuse":
        cmd_control_reuse(args)
    else:
        cmd_train(args, control=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
