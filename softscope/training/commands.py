"""``softscope train``, ``softscope evaluate`` and ``softscope models`` (argparse groups)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from softscope.errors import SoftscopeError
from softscope.training.recipes import RECIPES

if TYPE_CHECKING:
    from softscope.models.model import Model
    from softscope.training.dataset import Sample

__all__ = [
    "register_train",
    "register_evaluate",
    "register_models",
    "check_data_args",
    "load_model_arg",
    "check_model_fits",
]


_DATA_HINT = (
    "give AQS shear dataset folders ('softscope data sample --out DIR' makes one), "
    "sample folders holding shear_aqs/, or a folder of such samples"
)
_MODEL_HINT = "give a zoo name ('softscope models' lists them) or the path of a .ssm file"


def check_data_args(data: Sequence[str]) -> tuple[list[Sample], str, tuple[str, ...]]:
    """The samples of ``--data`` as ``(samples, units, elements)``, else an error naming
    ``--data`` and the bad path."""
    from softscope.training.dataset import find_samples
    from softscope.training.pipeline import check_consistent

    for raw in data:
        p = Path(raw)
        if not p.exists():
            raise SoftscopeError(f"--data {raw}: no such folder; {_DATA_HINT}")
        if not p.is_dir():
            raise SoftscopeError(f"--data {raw}: not a folder; {_DATA_HINT}")
    try:
        samples = find_samples(data)
        units, elements = check_consistent(samples)
    except SoftscopeError as exc:
        raise SoftscopeError(f"--data: {exc}") from exc
    return samples, units, elements


def load_model_arg(name: str) -> Model:
    """The model of ``--model NAME`` (zoo name or file), else an error naming ``--model``."""
    from softscope.models.model import load_model

    try:
        return load_model(name)
    except SoftscopeError as exc:
        text = str(exc)
        hint = "" if Path(name).exists() or "softscope models" in text else f"; {_MODEL_HINT}"
        raise SoftscopeError(f"--model {name}: {text}{hint}") from exc


def check_model_fits(name: str, model: Model, units: str, elements: Sequence[str]) -> None:
    """``--model NAME`` suits ``--data`` of ``units`` and ``elements``, else an error."""
    try:
        model.check_units(units)
    except SoftscopeError as exc:
        raise SoftscopeError(f"--model {name}: {exc}") from exc
    missing = sorted(set(elements) - set(model.species))
    if missing:
        raise SoftscopeError(
            f"--model {name}: the model knows species {list(model.species)}, the --data "
            f"samples also have {missing}; use a model trained on {list(elements)}"
        )


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


def _cmd_models(args: argparse.Namespace) -> int:
    from softscope.models.model import load_model, zoo_names

    names = zoo_names()
    if not names:
        print("[]" if args.json else "the model zoo is empty")
        return 0
    rows = []
    for n in names:
        try:
            m = load_model(n)
        except SoftscopeError as exc:
            print(f"{n}: cannot load ({exc})")
            continue
        met = m.card.get("metrics", {}).get("held_out", {})
        tr = m.card.get("metrics", {}).get("transfer", {})
        tr_auc = next(iter(tr.values()), {}).get("roc_auc") if tr else None
        rows.append(
            (
                n,
                m.output_name,
                m.units,
                "/".join(m.species),
                m.spec.n_features,
                met.get("roc_auc"),
                met.get("average_precision"),
                met.get("precision_top_q"),
                met.get("spearman"),
                tr_auc,
            )
        )
    if args.json:
        keys = [
            "name",
            "output",
            "units",
            "species",
            "n_features",
            "roc_auc",
            "average_precision",
            "precision_top_q",
            "spearman",
            "transfer_roc_auc",
        ]
        print(json.dumps([dict(zip(keys, r, strict=True)) for r in rows], indent=1))
        return 0

    def f(x):
        return "   -  " if x is None else f"{x:6.3f}"

    print(
        f"{'name':16s} {'output':18s} {'units':5s} {'species':7s} {'feat':>4s} "
        f"{'AUC':>6s} {'AP':>6s} {'P@q':>6s} {'Spear':>6s} {'xfer':>6s}"
    )
    for r in rows:
        print(
            f"{r[0]:16s} {r[1]:18s} {r[2]:5s} {r[3]:7s} {r[4]:4d} "
            f"{f(r[5])} {f(r[6])} {f(r[7])} {f(r[8])} {f(r[9])}"
        )
    print(
        "metrics: held-out glass samples (mean over 1 % AQS windows), xfer: ROC-AUC on "
        "another composition; details: softscope models --json, docs/model_cards.md"
    )
    return 0


def register_models(subparsers) -> None:
    """``softscope models``: list the pretrained zoo with its card metrics."""
    p = subparsers.add_parser("models", help="list the pretrained model zoo and its metrics")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_models)
