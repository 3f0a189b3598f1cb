"""Which structural indicator predicts AQS rearrangements in the shipped Cu64Zr36 glass?

A tour of the softscope core on the shipped data, and the project's main job until
``softscope demo`` exists:

1. athermal quasistatic simple shear of the shipped glass with LAMMPS (Mendelev EAM),
2. D²min (OVITO's convention, 3.7 Å) over the window, top 5 % = rearranging,
3. single physical indicators at the window start and their coarse-grained versions,
4. ROC-AUC of each (AUC < 0.5: the indicator anti-correlates; we report max(AUC, 1-AUC)
   with the sign), written as JSON and a bar chart.

Run:  python examples/indicator_tour.py --out out/tour  [--steps 5 --strain-step 0.002]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import softscope
from softscope.data import default_glass_path
from softscope.descriptors import coarse_grain, entropy, interstice, radial
from softscope.metrics import judge
from softscope.rearrangement import d2min
from softscope.simulate import read_manifest, shear_aqs


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/tour", help="output folder")
    ap.add_argument("--steps", type=int, default=5, help="AQS strain steps in the window")
    ap.add_argument("--strain-step", type=float, default=0.002)
    ap.add_argument("--q", type=float, default=0.05, help="top fraction labelled rearranging")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    print(f"[1/4] AQS shear of {default_glass_path().name}: {args.steps} x {args.strain_step:g}")
    ds = shear_aqs(
        default_glass_path(),
        out / "shear_aqs",
        strain_step=args.strain_step,
        n_steps=args.steps,
        overwrite=True,
    )
    man = read_manifest(ds)
    elements = man.get("elements") or ["Cu", "Zr"]
    files = [ds / f["file"] for f in man["frames"]]
    ref = softscope.Frame.from_file(files[0], elements=elements)
    cur = softscope.Frame.from_file(files[-1], elements=elements)

    print("[2/4] D²min over the window (OVITO convention, cutoff 3.7 Å)")
    d2 = d2min(ref, cur, 3.7)

    print("[3/4] indicators at the window start")
    s2 = entropy(ref, sigma=0.2, r_max=5.0)
    g = radial(ref, centers=np.arange(2.0, 3.61, 0.2), sigma=0.2)  # first shell, Cu and Zr
    first_shell = g.sum(axis=1)
    inter = interstice(ref, medium_range=False)
    vol_mean = inter[:, 9]  # vol_int_mean (see interstice_names)
    indicators = {
        "two-body excess entropy s2": s2,
        "first-shell neighbour density": first_shell,
        "mean volume interstice": vol_mean,
    }
    for name, v in list(indicators.items()):
        indicators[f"{name} (cg 4 Å)"] = coarse_grain(ref, v, 4.0)

    print("[4/4] ROC-AUC vs top-5 % D²min")
    results = {}
    for name, v in indicators.items():
        r = judge(v, d2, q=args.q)
        sign = 1 if r["roc_auc"] >= 0.5 else -1
        results[name] = {
            "roc_auc": r["roc_auc"],
            "best_sign": sign,
            "auc_best_sign": max(r["roc_auc"], 1 - r["roc_auc"]),
            "spearman": r["spearman"],
        }
        print(
            f"  {name:45s} AUC {r['roc_auc']:.3f}  (best sign {sign:+d}: "
            f"{results[name]['auc_best_sign']:.3f})"
        )
    report = {
        "glass": str(default_glass_path().name),
        "n_atoms": len(ref),
        "strain_window": args.steps * args.strain_step,
        "q": args.q,
        "n_invalid_d2min": int(np.isnan(d2).sum()),
        "indicators": results,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "indicators.json").write_text(json.dumps(report, indent=2))
    _plot(results, out / "indicators.png")
    print(f"done in {report['seconds']} s: {out / 'indicators.json'}, {out / 'indicators.png'}")
    return report


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    auc = [results[n]["auc_best_sign"] for n in names]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
    ax.barh(names, auc, color=["C0" if "cg" not in n else "C1" for n in names])
    ax.axvline(0.5, color="k", lw=0.8, ls="--")
    ax.set_xlim(0.4, 1.0)
    ax.set_xlabel("ROC-AUC (best sign) vs top-5 % D²min")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
