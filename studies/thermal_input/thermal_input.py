"""Which positions should a model trained on minimised glasses see in a running MD?

The demo's 300 K shear (shipped 4,000-atom Cu64Zr36 glass, xy erate 0.05/ps, evaluations
every 100 steps, windows of 1000; ``--steps`` long) is run with the fix on instantaneous
positions and on positions (and box) averaged over the last K steps (``average K``).

References, per window-start step t (1000, 2000, ...):
- the **quenched** configuration: the instantaneous frame at t minimised (FIRE, fixed
  box) and given to ``Model.predict`` — the inherent structure the model was trained on,
  of the same sheared glass;
- the shipped **minimised glass** (unsheared, ``Model.predict``).

Reported per setting: the fix's mean prediction and fraction above the model's threshold
at those steps, their shifts from each reference (mean in spreads of the minimised glass's
predictions; target: within 0.3 spread / 0.1), and ROC-AUC / AP of the prediction at each
window start against the window's top-5 % D²min (only windows that start where every
setting has a complete average, so every setting is judged on the same windows; the fix's dumped columns, judged with
``softscope.metrics.judge``).  The trajectories are the same for every setting (same seed,
the fix does not act on the atoms), so one quench serves all.

    python studies/thermal_input/thermal_input.py OUT [--models cuzr-softness ...]
        [--average 0 100 1000] [--steps 3000]

Writes OUT/thermal_input.json and prints a markdown table.  Public API plus the lammps
module (for the quench).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import softscope
from softscope.data import default_glass
from softscope.demo import DemoSettings, read_dump_columns, run_demo
from softscope.metrics import judge
from softscope.simulate import potential_path

ELEMENTS = ["Cu", "Zr"]


def run(out: Path, model: str, average: int, steps: int) -> Path:
    settings = DemoSettings(average=average, steps=steps)
    folder = out / f"{model}_avg{average}"
    if not (folder / "demo.dump").exists():
        run_demo(folder, model=model, settings=settings, render=False, echo=lambda s: None)
    return folder / "demo.dump"


def quench(dump: Path, step: int, out: Path) -> softscope.Frame:
    """The instantaneous frame of ``dump`` at ``step``, minimised in its box (FIRE)."""
    from lammps import lammps

    target = out / f"quenched_{step}.dump"
    if not target.exists():
        lmp = lammps(cmdargs=["-log", "none", "-screen", "none"])
        lmp.commands_string(
            f"""
units metal
atom_style atomic
region box prism 0 1 0 1 0 1 0 0 0
create_box 2 box
mass 1 63.546
mass 2 91.224
pair_style eam/fs
pair_coeff * * {potential_path()} Cu Zr
read_dump {dump} {step} x y z box yes add yes
min_style fire
minimize 0 1e-6 20000 200000
write_dump all custom {target} id type x y z modify sort id format float %.17g
"""
        )
        lmp.close()
    return softscope.Frame.from_file(target, elements=ELEMENTS).sorted_by_id()


def first_complete(dump: Path) -> int:
    """The first step whose predictions are all finite (``average K``: none before K)."""
    for step, _ids, cols in read_dump_columns(dump):
        if np.isfinite(cols[:, 0]).all():
            return step
    raise SystemExit(f"{dump}: no complete evaluation")


def measure(dump: Path, model, starts: list[int]) -> dict:
    """Mean and fraction above threshold at ``starts``; ROC-AUC / AP of the windows
    between consecutive ``starts``."""
    frames = {step: cols for step, _ids, cols in read_dump_columns(dump)}
    mean = {t: float(frames[t][:, 0].mean()) for t in starts}
    frac = {t: float(np.mean(frames[t][:, 0] > model.threshold)) for t in starts}
    windows = []
    for t in starts[1:]:
        j = judge(frames[t][:, 1], frames[t][:, 2], 0.05)
        windows.append({"end": t, "roc_auc": j["roc_auc"], "ap": j["average_precision"]})
    return {"mean": mean, "fraction": frac, "windows": windows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--models", nargs="+", default=["cuzr-softness", "cuzr-softness-radial"])
    ap.add_argument("--average", nargs="+", type=int, default=[0, 100, 500, 1000])
    ap.add_argument("--steps", type=int, default=3000)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    window = DemoSettings().window
    glass = default_glass()
    rows = []
    for name in args.models:
        m = softscope.load_model(name)
        p0 = m.predict(glass)
        spread = float(p0.std())
        glass_ref = {"mean": float(p0.mean()), "fraction": float(np.mean(p0 > m.threshold))}
        dumps = {k: run(args.out, name, k, args.steps) for k in args.average}
        # window starts where every setting has a complete average (the same windows)
        first = max(max(first_complete(d) for d in dumps.values()), window)
        starts = list(range(-(-first // window) * window, args.steps + 1, window))
        base = dumps[min(args.average)]
        q = {t: m.predict(quench(base, t, args.out)) for t in starts}
        q_mean = {t: float(q[t].mean()) for t in starts}
        q_frac = {t: float(np.mean(q[t] > m.threshold)) for t in starts}
        rows.append(
            {
                "model": name,
                "input": "quenched",
                "mean": q_mean,
                "fraction": q_frac,
                "glass": glass_ref,
                "spread": spread,
            }
        )
        for k in args.average:
            r = measure(dumps[k], m, starts)
            r.update(model=name, input=f"average {k}" if k else "instantaneous", spread=spread)
            r["shift_quenched"] = (
                float(np.mean([r["mean"][t] - q_mean[t] for t in starts])) / spread
            )
            r["fraction_shift_quenched"] = float(
                np.mean([r["fraction"][t] - q_frac[t] for t in starts])
            )
            r["shift_glass"] = (
                float(np.mean(list(r["mean"].values()))) - glass_ref["mean"]
            ) / spread
            r["fraction_shift_glass"] = (
                float(np.mean(list(r["fraction"].values()))) - glass_ref["fraction"]
            )
            r["roc_auc"] = float(np.mean([w["roc_auc"] for w in r["windows"]]))
            r["ap"] = float(np.mean([w["ap"] for w in r["windows"]]))
            rows.append(r)
            print(json.dumps(r), flush=True)
    (args.out / "thermal_input.json").write_text(json.dumps(rows, indent=1))
    print(
        "\n| model | input | mean S | shift vs quenched (spreads) | fraction > thr | "
        "vs quenched | shift vs minimised glass | ROC-AUC | AP |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        mean = np.mean(list(r["mean"].values()))
        frac = np.mean(list(r["fraction"].values()))
        if r["input"] == "quenched":
            g = r["glass"]
            print(
                f"| {r['model']} | quenched frames (minimised glass: {g['mean']:+.2f}, "
                f"{g['fraction']:.2f}) | {mean:+.2f} | – | {frac:.2f} | – | "
                f"{(mean - g['mean']) / r['spread']:+.2f} | – | – |"
            )
        else:
            print(
                f"| {r['model']} | 300 K, {r['input']} | {mean:+.2f} | "
                f"{r['shift_quenched']:+.2f} | {frac:.2f} | {r['fraction_shift_quenched']:+.2f} | "
                f"{r['shift_glass']:+.2f} | {r['roc_auc']:.3f} | {r['ap']:.3f} |"
            )


if __name__ == "__main__":
    main()
