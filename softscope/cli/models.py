"""``softscope models``: the pretrained zoo with the metrics of its model cards;
``softscope models import``: an XGBoost JSON or LightGBM text model as a ``.ssm`` file."""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
from pathlib import Path
from typing import Any

from softscope.errors import SoftscopeError

__all__ = ["register"]


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
        "metrics: held-out glass samples (mean over label windows: 1 % AQS strain, or "
        "p_hop over 10 τ for ka-softness-phop), xfer: ROC-AUC on another composition; "
        "details: softscope models --json, docs/model_cards.md"
    )
    return 0


def _spec_arg(args: argparse.Namespace):
    """The DescriptorSpec of ``--spec FILE`` or ``--recipe NAME --elements ...``."""
    from softscope.descriptors.spec import DescriptorSpec

    if args.spec is not None:
        if args.elements or args.units:
            raise SoftscopeError("--elements/--units go with --recipe; --spec holds both")
        p = Path(args.spec)
        if not p.is_file():
            raise SoftscopeError(f"--spec {p}: no such file (a DescriptorSpec JSON)")
        try:
            return DescriptorSpec.from_json(p.read_text())
        except (ValueError, KeyError, TypeError) as exc:
            raise SoftscopeError(f"--spec {p}: not a descriptor spec JSON ({exc})") from exc
    from softscope.training.recipes import recipe_spec

    if not args.elements:
        raise SoftscopeError(
            "--recipe needs --elements (element of type 1, 2, ..., as the training data)"
        )
    try:
        return recipe_spec(args.recipe, args.elements, args.units or "metal")
    except SoftscopeError as exc:
        raise SoftscopeError(f"--recipe {args.recipe}: {exc}") from exc


def _metrics_arg(text: str | None) -> dict[str, Any] | None:
    """``--metrics``: a JSON object, inline or in a file."""
    if text is None:
        return None
    p = Path(text)
    try:
        value = json.loads(p.read_text() if p.is_file() else text)
    except (ValueError, OSError) as exc:
        raise SoftscopeError(
            f"--metrics: neither a JSON object nor a JSON file ({exc}); e.g. "
            '--metrics \'{"held_out": {"roc_auc": 0.72}}\''
        ) from exc
    if not isinstance(value, dict):
        raise SoftscopeError(f"--metrics: a JSON object is needed, got {type(value).__name__}")
    return value


def _cmd_import(args: argparse.Namespace) -> int:
    from softscope.models.importers import from_lightgbm, from_onnx, from_xgboost

    # every input is checked before anything is written
    src = Path(args.file).expanduser()
    if not src.is_file():
        raise SoftscopeError(f"{args.file}: no such model file")
    spec = _spec_arg(args)
    metrics = _metrics_arg(args.metrics)
    out = Path(args.out).expanduser()
    if out.is_dir():
        raise SoftscopeError(f"--out {out}: is a folder; give the .ssm file to write")
    card: dict[str, Any] = {"created": datetime.date.today().isoformat()}
    if args.trained_by:
        card["trained_by"] = args.trained_by
    if args.data:
        card["data"] = {"description": args.data}
    if metrics is not None:
        card["metrics"] = metrics
    card["source"] = {
        "file": src.name,
        "sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
    }
    name = args.name or (out.name[: -len(".ssm")] if out.name.endswith(".ssm") else out.name)
    kw: dict[str, Any] = {}
    if args.library == "onnx":
        convert = from_onnx
        kw["output"] = args.output or "raw"
    elif args.output:
        raise SoftscopeError(
            f"--output is for ONNX networks; a {args.library} model's objective sets it"
        )
    else:
        convert = from_xgboost if args.library == "xgboost" else from_lightgbm
    try:
        model = convert(src, spec, name=name, output_name=args.output_name, card=card, **kw)
    except SoftscopeError as exc:
        raise SoftscopeError(f"{args.file}: {exc}") from exc
    path = model.save(out)
    imp = model.card["imported"]
    what = (
        f"ONNX graph, output {imp['output']['name']!r}"
        if args.library == "onnx"
        else f"{imp['library']} {imp['objective']}, {imp['n_trees']} trees"
    )
    print(
        f"model {model.name!r} ({what}, "
        f"output {model.estimator.output}, threshold {model.threshold:g}; "
        f"{model.spec.n_features} features of species {'/'.join(model.species)}, "
        f"units {model.units}) written to {path}"
    )
    return 0


IMPORT_HELP = (
    "Turn a tree model trained on a descriptor spec's features (columns in "
    "spec.feature_names() order) into a softscope model file (.ssm: plain arrays, no "
    "pickle) for the LAMMPS fix, the OVITO modifiers and Model.predict. Reads XGBoost's "
    "JSON model (booster.save_model('model.json'); gbtree, objectives binary:logistic, "
    "reg:logistic, binary:logitraw, reg:squarederror, reg:absoluteerror, "
    "reg:pseudohubererror) and LightGBM's text model (booster.save_model('model.txt'); "
    "objectives binary, cross_entropy, regression, regression_l1, huber, fair, quantile, "
    "mape). Reads ONNX networks (torch.onnx.export, skl2onnx with zipmap off; one (N, F) "
    "input; evaluated with onnxruntime, the extra softscope[onnx]). scikit-learn "
    "estimators have no safe file format: convert them in Python with "
    "softscope.models.from_sklearn."
)


def register(subparsers) -> None:
    """``softscope models``: list the pretrained zoo with its card metrics;
    ``softscope models import``: convert an XGBoost / LightGBM model to a .ssm file."""
    p = subparsers.add_parser(
        "models",
        help="list the pretrained model zoo and its metrics; 'models import': your own",
        description="List the pretrained model zoo and its card metrics. "
        "'softscope models import --help': turn your XGBoost or LightGBM model into a .ssm.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_models)
    sub = p.add_subparsers(dest="models_command", metavar="{import}")
    imp = sub.add_parser(
        "import",
        help="convert an XGBoost JSON or LightGBM text model into a .ssm model file",
        description=IMPORT_HELP,
    )
    imp.add_argument(
        "--from",
        dest="library",
        required=True,
        choices=["xgboost", "lightgbm", "onnx"],
        help="model format: xgboost (JSON), lightgbm (text) or onnx (a network's .onnx "
        "graph); no scikit-learn (no safe format: convert with skl2onnx or from_sklearn)",
    )
    imp.add_argument(
        "file", metavar="FILE", help="the XGBoost .json, LightGBM .txt or ONNX .onnx model"
    )
    imp.add_argument(
        "--output",
        choices=["probability", "raw"],
        help="onnx: what the network's output is (probability: threshold 0.5; raw, the "
        "default: threshold 0)",
    )
    spec = imp.add_mutually_exclusive_group(required=True)
    spec.add_argument("--spec", help="DescriptorSpec JSON the model was trained on (to_json())")
    spec.add_argument("--recipe", help="a training recipe's spec instead (softness, qs, ...)")
    imp.add_argument("--elements", nargs="+", metavar="EL", help="--recipe: species order")
    imp.add_argument("--units", choices=["metal", "real", "lj"], help="--recipe: default metal")
    imp.add_argument("--name", help="model name (default: the --out file name)")
    imp.add_argument("--output-name", default="Softness", help="per-atom property name")
    imp.add_argument("--trained-by", help="who trained the model (model card)")
    imp.add_argument("--data", help="what it was trained on (model card)")
    imp.add_argument("--metrics", help="metrics for the model card: JSON object or JSON file")
    imp.add_argument("--out", required=True, help="model file to write (.ssm)")
    imp.set_defaults(func=_cmd_import)
