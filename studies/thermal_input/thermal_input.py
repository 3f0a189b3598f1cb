"""Which positions should a model trained on minimised glasses see in a running MD?

The demo's 300 K shear (shipped 4,000-atom Cu64Zr36 glass, ``softscope demo`` defaults:
2000 steps, xy erate 0.05/ps, evaluations every 100 steps, windows of 1000) is run with
the fix on instantaneous positions and on positions averaged over the last K steps
(``average K``).  Reported per setting: the mean prediction and the fraction predicted
positive over the evaluations (in spreads of the minimised glass's predictions: the target
is within 0.3 spread / 0.1 of the minimised glass), and ROC-AUC / average precision of the
prediction at each window start against the top-5 % D²min of the window (the fix's own
dumped columns, judged with ``softscope.metrics.judge``).  The minimised glass itself
(``Model.predict`` of the shipped glass) is the reference row.

    python studies/thermal_input/thermal_input.py OUT [--models cuzr-softness ...]
        [--average 0 50 100]

Writes OUT/thermal_input.json and prints a markdown table.  Public API only.
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


def measure(out: Path, model: str, average: int) -> dict:
    settings = DemoSettings(average=average)
    folder = out / f"{model}_avg{average}"
    run_demo(folder, model=model, settings=settings, render=False, echo=lambda s: None)
    frames = read_dump_columns(folder / "demo.dump")
    m = softscope.load_model(model)
    means, fracs = [], []
    for step, _ids, cols in frames:
        p = cols[:, 0]
        if step == 0 or not np.isfinite(p).all():
            continue
        means.append(float(p.mean()))
        fracs.append(float(np.mean(p > m.threshold)))
    windows = []
    for step, _ids, cols in frames:
        if step and step % settings.window == 0:
            j = judge(cols[:, 1], cols[:, 2], 0.05)
            windows.append({"end": step, "roc_auc": j["roc_auc"], "ap": j["average_precision"]})
    return {
        "model": model,
        "average": average,
        "mean_prediction": float(np.mean(means)),
        "fraction_positive": float(np.mean(fracs)),
        "windows": windows,
        "roc_auc": float(np.mean([w["roc_auc"] for w in windows])),
        "ap": float(np.mean([w["ap"] for w in windows])),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--models", nargs="+", default=["cuzr-softness", "cuzr-softness-radial"])
    ap.add_argument("--average", nargs="+", type=int, default=[0, 50, 100])
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    glass = default_glass()
    rows = []
    for model in args.models:
        m = softscope.load_model(model)
        p0 = m.predict(glass)
        ref = {
            "model": model,
            "average": "minimised glass",
            "mean_prediction": float(p0.mean()),
            "fraction_positive": float(np.mean(p0 > m.threshold)),
            "spread": float(p0.std()),
        }
        rows.append(ref)
        for k in args.average:
            r = measure(args.out, model, k)
            r["mean_shift_spreads"] = (r["mean_prediction"] - ref["mean_prediction"]) / ref[
                "spread"
            ]
            r["fraction_shift"] = r["fraction_positive"] - ref["fraction_positive"]
            rows.append(r)
            print(json.dumps(r), flush=True)
    (args.out / "thermal_input.json").write_text(json.dumps(rows, indent=1))
    print("\n| model | input | mean S (shift, spreads) | fraction > threshold | ROC-AUC | AP |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if r["average"] == "minimised glass":
            print(
                f"| {r['model']} | minimised glass | {r['mean_prediction']:+.2f} | "
                f"{r['fraction_positive']:.2f} | – | – |"
            )
        else:
            what = "instantaneous" if r["average"] == 0 else f"average {r['average']} steps"
            print(
                f"| {r['model']} | 300 K shear, {what} | {r['mean_prediction']:+.2f} "
                f"({r['mean_shift_spreads']:+.2f}) | {r['fraction_positive']:.2f} | "
                f"{r['roc_auc']:.3f} | {r['ap']:.3f} |"
            )


if __name__ == "__main__":
    main()
