"""``softscope train`` and ``softscope evaluate``: training recipes on trajectories of any
origin (``--trajectory``) or on softscope's AQS dataset folders (``--data``), and judging
models and single indicators on held-out windows (:mod:`softscope.training`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from softscope.cli.common import check_data_args, check_model_fits, load_model_arg
from softscope.errors import SoftscopeError

__all__ = ["register_train", "register_evaluate"]


def _check_source(args: argparse.Namespace) -> None:
    if bool(args.data) == bool(args.trajectory):
        raise SoftscopeError(
            "give either --trajectory FILE [FILE ...] (dumps of any origin) or --data "
            "FOLDER [...] (softscope AQS datasets)"
        )
    if args.trajectory:
        if args.window is None:
            raise SoftscopeError("--trajectory needs --window K: the label window in frames")
        if args.window != int(args.window) or args.window < 1:
            raise SoftscopeError(
                f"--window {args.window:g}: with --trajectory the window is a whole number "
                "of frames >= 1"
            )
        args.window = int(args.window)
    else:
        for flag in ("elements", "frames", "cutoff", "spec", "threshold", "stable_frames", "input"):
            if getattr(args, flag, None) is not None:
                raise SoftscopeError(f"--{flag.replace('_', '-')} applies to --trajectory only")
        if args.label != "d2min":
            raise SoftscopeError("--label phop needs --trajectory (frames at equal times)")
        if args.window is None:
            args.window = 0.01


def _print_model(model, path, ev) -> None:
    tr = model.card["training"]
    print(f"model {model.name!r} written to {path} ({path.stat().st_size / 1024:.0f} KiB)")
    if "C" in tr:
        print(f"C = {tr['C']} (grouped CV ROC-AUC by C: {json.dumps(tr['cv_auc_by_C'])})")
    if ev is not None:
        from softscope.training.report import format_summary

        print("held-out samples: " + format_summary(model.name, ev.summary))


def _train_trajectories(args: argparse.Namespace) -> int:
    from softscope.training.from_trajectories import train_from_trajectories

    model, ev = train_from_trajectories(
        args.recipe,
        args.trajectory,
        elements=args.elements,
        units=args.units,
        label=args.label,
        window=args.window,
        q=args.q,
        cutoff=args.cutoff,
        frames=args.frames,
        stride=None if args.stride is None else int(args.stride),
        test_trajectories=args.test_trajectories,
        spec=args.spec,
        threshold=args.threshold,
        stable_frames=args.stable_frames,
        name=args.name,
        input_kind=args.input,
        n_jobs=args.jobs,
        seed=args.seed,
        progress=not args.quiet,
        smooth=args.smooth,
    )
    _print_model(model, model.save(args.out), ev)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from softscope.training.pipeline import train_recipe

    _check_source(args)
    if args.trajectory:
        return _train_trajectories(args)
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
        smooth=args.smooth,
    )
    _print_model(model, model.save(args.out), ev)
    return 0


def _trajectory_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trajectory",
        nargs="+",
        help="trajectories OVITO reads (LAMMPS dump, .gz, extended XYZ, or a pattern "
        "'dir/frame_*.dump'); one trajectory = one glass sample",
    )
    p.add_argument("--elements", nargs="+", help="element of type 1, 2, ... (as pair_coeff)")
    p.add_argument("--label", choices=["d2min", "phop"], default="d2min")
    p.add_argument("--frames", help="START:STOP[:STEP] of each trajectory (default: all)")
    p.add_argument("--cutoff", type=float, help="D²min cutoff (default: from the data)")


def register_train(subparsers) -> None:
    """``softscope train``: train a recipe on dataset folders, split by glass sample."""
    from softscope.training.recipes import RECIPES

    p = subparsers.add_parser(
        "train",
        help="train a softness / igd / qs model on your trajectories or AQS datasets",
        description="Train a recipe on trajectories (--trajectory: dumps of any alloy, AQS "
        "or MD; --window K frames; d2min or phop labels; grids and D²min cutoff follow the "
        "data's g(r)) or on softscope AQS datasets (--data; --window in strain). Split by "
        "glass sample: the last N trajectories / K samples are held out and the model card "
        "records their metrics.",
    )
    p.add_argument("--recipe", required=True, choices=list(RECIPES))
    _trajectory_options(p)
    p.add_argument("--units", choices=["metal", "real", "lj"], default="metal")
    p.add_argument("--test-trajectories", type=int, default=1, help="hold out the last N")
    p.add_argument("--spec", help="descriptor spec JSON instead of the recipe's grids")
    p.add_argument(
        "--smooth",
        action="store_true",
        help="the recipe's smooth variant: smooth angular cutoff and coarse-graining weights "
        "tapered to 0 at each radius (features continuous in the positions; the zoo's models)",
    )
    p.add_argument("--threshold", type=float, help="phop: p_c (default: top-q quantile)")
    p.add_argument("--stable-frames", type=int, help="phop: frames either side below p_c")
    p.add_argument(
        "--input",
        choices=["minimised", "thermal snapshot", "time-averaged", "unknown"],
        help="what the frames are (AQS: minimised; MD: thermal snapshot); on the card",
    )
    p.add_argument("--data", nargs="+", help="softscope AQS sample folders or their parents")
    p.add_argument("--test-samples", type=int, default=1, help="hold out the last K samples")
    p.add_argument("--test", nargs="+", help="hold out these sample names instead")
    p.add_argument("--out", required=True, help="model file to write (.ssm)")
    p.add_argument("--name", help="model name (default: the recipe)")
    p.add_argument("--q", type=float, default=0.05, help="top fraction labelled rearranging")
    p.add_argument(
        "--window", type=float, help="label window: K frames (--trajectory) or strain (--data)"
    )
    p.add_argument("--stride", type=float, help="frames / strain between training windows")
    p.add_argument("--jobs", type=int, default=1, help="joblib workers over windows")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_train)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from softscope.training.pipeline import run_evaluation

    # every input is checked before run_evaluation creates --out
    if not args.model and not args.indicators:
        raise SoftscopeError("nothing to evaluate: give --model NAME_OR_FILE and/or --indicators")
    _check_source(args)
    if args.trajectory:
        return _evaluate_trajectories(args)
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


def _evaluate_trajectories(args: argparse.Namespace) -> int:
    from softscope.training.from_trajectories import evaluate_on_trajectories

    if args.indicators or not args.model or len(args.model) != 1:
        raise SoftscopeError("with --trajectory give exactly one --model (no --indicators)")
    model = load_model_arg(args.model[0])
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SoftscopeError(f"--out {out}: exists and is not a folder; give a folder path")
    evaluate_on_trajectories(
        model,
        args.trajectory,
        out,
        elements=args.elements,
        label=args.label,
        window=args.window,
        q=args.q,
        cutoff=args.cutoff,
        frames=args.frames,
        n_jobs=args.jobs,
        progress=not args.quiet,
    )
    print(f"metrics written to {out / 'metrics.json'} (+ PNG plots)")
    return 0


def register_evaluate(subparsers) -> None:
    """``softscope evaluate``: judge models and single indicators on held-out windows."""
    p = subparsers.add_parser(
        "evaluate",
        help="ROC-AUC, AP, precision@q, Pearson, Spearman, P_R(S) of models / indicators",
        description="Prediction at each window start vs the top-q of the rearrangement "
        "measure over the window that follows (D²min, OVITO convention, or p_hop). With "
        "--trajectory writes metrics.json and PNG plots to --out; with --data "
        "evaluation.json.",
    )
    p.add_argument("--model", nargs="+", help="zoo names or model files")
    _trajectory_options(p)
    p.add_argument("--data", nargs="+", help="softscope AQS sample folders or their parents")
    p.add_argument(
        "--indicators",
        action="store_true",
        help="also judge single indicators (Voronoi volume, f5, s2, MSD, PE, previous D²min "
        "and their coarse-grained versions)",
    )
    p.add_argument("--out", default="evaluation", help="output folder (default ./evaluation)")
    p.add_argument("--q", type=float, default=0.05)
    p.add_argument(
        "--window", type=float, help="label window: K frames (--trajectory) or strain (--data)"
    )
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_evaluate)
