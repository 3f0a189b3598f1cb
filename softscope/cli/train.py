"""``softscope train`` and ``softscope evaluate``: training recipes on AQS datasets and
judging models and single indicators on held-out windows (:mod:`softscope.training`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from softscope.cli.common import check_data_args, check_model_fits, load_model_arg
from softscope.errors import SoftscopeError

__all__ = ["register_train", "register_evaluate"]


def _cmd_train(args: argparse.Namespace) -> int:
    from softscope.training.pipeline import train_recipe

    check_data_args(args.data)
    test = args.test if args.test else args.test_samples
    model, ev = train_recipe(
        args.recipe,
        args.data,
        test_samples=test,
        name=args.name,
        q=args.q,
        window=args.window,
        stride=args.stride,
        n_jobs=args.jobs,
        seed=args.seed,
        progress=not args.quiet,
    )
    path = model.save(args.out)
    tr = model.card["training"]
    print(f"model {model.name!r} written to {path} ({path.stat().st_size / 1024:.0f} KiB)")
    if "C" in tr:
        print(f"C = {tr['C']} (grouped CV ROC-AUC by C: {json.dumps(tr['cv_auc_by_C'])})")
    if ev is not None:
        from softscope.training.report import format_summary

        print("held-out samples: " + format_summary(model.name, ev.summary))
    return 0


def register_train(subparsers) -> None:
    """``softscope train``: train a recipe on dataset folders, split by glass sample."""
    from softscope.training.recipes import RECIPES

    p = subparsers.add_parser(
        "train",
        help="train a softness / igd / qs model on AQS datasets",
        description="Train a recipe on AQS shear datasets (softscope data sample). "
        "Split by glass sample: the last K samples by name (or --test NAMES) are held out "
        "and the model card records their metrics.",
    )
    p.add_argument("--recipe", required=True, choices=list(RECIPES))
    p.add_argument("--data", required=True, nargs="+", help="sample folders or their parents")
    p.add_argument("--test-samples", type=int, default=1, help="hold out the last K samples")
    p.add_argument("--test", nargs="+", help="hold out these sample names instead")
    p.add_argument("--out", required=True, help="model file to write (.ssm)")
    p.add_argument("--name", help="model name (default: the recipe)")
    p.add_argument("--q", type=float, default=0.05, help="top fraction labelled rearranging")
    p.add_argument("--window", type=float, default=0.01, help="strain window of a label")
    p.add_argument("--stride", type=float, help="strain between training windows")
    p.add_argument("--jobs", type=int, default=1, help="joblib workers over windows")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_train)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from softscope.training.pipeline import run_evaluation

    # every input is checked before run_evaluation creates --out
    if not args.model and not args.indicators:
        raise SoftscopeError("nothing to evaluate: give --model NAME_OR_FILE and/or --indicators")
    models = {name: load_model_arg(name) for name in args.model or []}
    _, units, elements = check_data_args(args.data)
    for name, m in models.items():
        check_model_fits(name, m, units, elements)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SoftscopeError(f"--out {out}: exists and is not a folder; give a folder path")
    run_evaluation(
        args.model or [],
        args.data,
        args.out,
        indicators=args.indicators,
        q=args.q,
        window=args.window,
        n_jobs=args.jobs,
        progress=not args.quiet,
    )
    print(f"report written to {Path(args.out) / 'evaluation.json'} (+ PNG plots)")
    return 0


def register_evaluate(subparsers) -> None:
    """``softscope evaluate``: judge models and single indicators on held-out windows."""
    p = subparsers.add_parser(
        "evaluate",
        help="ROC-AUC, AP, precision@q, Pearson, Spearman, P_R(S) of models / indicators",
        description="Prediction at each window start vs top-q D²min of the window "
        "(OVITO convention). Writes evaluation.json and PNG plots to --out.",
    )
    p.add_argument("--model", nargs="+", help="zoo names or model files")
    p.add_argument("--data", required=True, nargs="+", help="sample folders or their parents")
    p.add_argument(
        "--indicators",
        action="store_true",
        help="also judge single indicators (Voronoi volume, f5, s2, MSD, PE, previous D²min "
        "and their coarse-grained versions)",
    )
    p.add_argument("--out", default="evaluation", help="output folder (default ./evaluation)")
    p.add_argument("--q", type=float, default=0.05)
    p.add_argument("--window", type=float, default=0.01)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_evaluate)
