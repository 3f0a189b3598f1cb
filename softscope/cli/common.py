"""Shared by the command groups: checks of ``--model`` and ``--data`` that name the bad
flag, and :func:`output_guard`, which undoes the empty ``--out`` of a failed command."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from softscope.errors import SoftscopeError

if TYPE_CHECKING:
    from softscope.models.model import Model
    from softscope.training.dataset import Sample

__all__ = ["PROG", "output_guard", "check_data_args", "load_model_arg", "check_model_fits"]

PROG = "softscope"

DATA_HINT = (
    "give AQS shear dataset folders ('softscope data sample --out DIR' makes one), "
    "sample folders holding shear_aqs/, or a folder of such samples"
)
MODEL_HINT = "give a zoo name ('softscope models' lists them) or the path of a .ssm file"


@contextlib.contextmanager
def output_guard(out: str | Path | None) -> Iterator[None]:
    """Undo a failed command's empty output folders.

    Commands check their inputs before they create ``--out``; checks that can only run
    later (inside LAMMPS or OVITO) may still fail after that.  When the body raises, the
    folders on the way to ``out`` that did not exist before are removed again if they
    are still empty (a folder with a log or partial results is kept).
    """
    created: list[Path] = []
    if out is not None:
        p = Path(os.path.abspath(os.path.expanduser(out)))  # lexical: no '..' left
        while not p.exists() and not p.is_symlink() and p != p.parent:
            created.append(p)  # deepest first
            p = p.parent
    try:
        yield
    except BaseException:
        for d in created:
            if not d.exists():
                continue
            try:
                d.rmdir()  # only an empty folder; anything else stays
            except OSError:
                break
        raise


def check_data_args(data: Sequence[str]) -> tuple[list[Sample], str, tuple[str, ...]]:
    """The samples of ``--data`` as ``(samples, units, elements)``, else an error naming
    ``--data`` and the bad path."""
    from softscope.training.dataset import find_samples
    from softscope.training.pipeline import check_consistent

    for raw in data:
        p = Path(raw)
        if not p.exists():
            raise SoftscopeError(f"--data {raw}: no such folder; {DATA_HINT}")
        if not p.is_dir():
            raise SoftscopeError(f"--data {raw}: not a folder; {DATA_HINT}")
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
        hint = "" if Path(name).exists() or "softscope models" in text else f"; {MODEL_HINT}"
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
