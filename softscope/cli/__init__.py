"""The ``softscope`` command line: one module per command group.

=============  ===============================================================
``data``       ``softscope data {glass,shear,sample,default}`` (LAMMPS recipes)
``render``     ``softscope render`` (OVITO picture of a window)
``train``      ``softscope train``, ``softscope evaluate``
``models``     ``softscope models`` (the pretrained zoo), ``models import`` (XGBoost/LightGBM)
``demo``       ``softscope demo`` (short LAMMPS shear with the fix)
``common``     argument checks shared by the groups, :func:`output_guard`
=============  ===============================================================

Each group has a ``register(subparsers)`` function that adds its parser(s) to the
top-level ``subparsers`` object and sets ``func`` on its leaf parsers (``func(args) ->
int`` exit status).  To add a group, write ``softscope/cli/<group>.py`` with such a
function and append it to :data:`REGISTRARS`.

Errors in the user's input (:class:`~softscope.errors.SoftscopeError`) print one line
``softscope: error: ...`` to stderr and exit with status 2, like argparse's own errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from softscope.cli import data, demo, models, render, train
from softscope.cli.common import PROG, output_guard
from softscope.errors import SoftscopeError

__all__ = ["main", "build_parser", "output_guard", "REGISTRARS", "PROG"]

#: Command-group registrars, in help order.
REGISTRARS: list[Callable] = [
    data.register,
    render.register,
    train.register_train,
    train.register_evaluate,
    models.register,
    demo.register,
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (all registered command groups)."""
    from softscope import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Machine-learned structural indicators for metallic glasses.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for register in REGISTRARS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``softscope`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = getattr(args, "out", None)
    try:
        with output_guard(out if isinstance(out, str) else None):
            return int(args.func(args) or 0)
    except SoftscopeError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
