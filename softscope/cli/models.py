"""``softscope models``: the pretrained zoo with the metrics of its model cards."""

from __future__ import annotations

import argparse
import json

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
        "metrics: held-out glass samples (mean over 1 % AQS windows), xfer: ROC-AUC on "
        "another composition; details: softscope models --json, docs/model_cards.md"
    )
    return 0


def register(subparsers) -> None:
    """``softscope models``: list the pretrained zoo with its card metrics."""
    p = subparsers.add_parser("models", help="list the pretrained model zoo and its metrics")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_models)
