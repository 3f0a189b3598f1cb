"""Keyword tables of the ``softscope`` fix styles and the parser that reads them.

``fix ID group softscope N keyword value ...``: :func:`parse_head` reads ``ID group
softscope N``; each fix class declares its keywords as a tuple of :class:`Keyword`
(``KEYWORDS``: name, number of values, parser, default, help) and :func:`parse_keywords`
reads the rest against that table.  The parsers raise :class:`SoftscopeError` with a
message that names the keyword and what it allows; LAMMPS prints it as
``ERROR: fix softscope: <message>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from softscope.errors import SoftscopeError

__all__ = [
    "PER_TYPE",
    "Keyword",
    "Options",
    "feature_refs",
    "fraction",
    "parse_head",
    "parse_keywords",
    "positive_float",
    "positive_int",
    "positive_or_zero_float",
    "syntax",
]

#: ``Keyword.nvalues`` of a keyword with one value per atom type (up to the next keyword).
PER_TYPE = -1


@dataclass(frozen=True)
class Keyword:
    """One keyword of a fix style.

    ``nvalues``: number of values that follow (:data:`PER_TYPE`: one per atom type, up to
    the next keyword; the parser gets them all, possibly none, and checks their number);
    ``parse(keyword, values) -> value`` (raises SoftscopeError on bad
    input); ``default``: the value when the keyword is absent; ``values``: the values'
    syntax (``"R"``, ``"E1 E2 ..."``); ``doc``: what it does, with units; ``requires``:
    another keyword of the table this one needs.
    """

    name: str
    nvalues: int
    parse: Callable[[str, list[str]], Any]
    default: Any = None
    values: str = ""
    doc: str = ""
    requires: str | None = None


class Options(dict):
    """Parsed keyword values by name, the table's default for every absent keyword;
    ``given``: the keywords that were on the command line."""

    def __init__(self, values: Mapping[str, Any], given) -> None:
        super().__init__(values)
        self.given = frozenset(given)


# --------------------------------------------------------------------------- value parsers
def positive_float(kw: str, vals: list[str]) -> float:
    """A positive finite length."""
    s = vals[0]
    try:
        v = float(s)
    except ValueError:
        raise SoftscopeError(f"{kw} needs a number, got {s!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise SoftscopeError(f"{kw} must be a positive length, got {s}")
    return v


def positive_or_zero_float(kw: str, vals: list[str]) -> float:
    """A positive finite length, or the word ``0``."""
    return 0.0 if vals[0] == "0" else positive_float(kw, vals)


def positive_int(what: str) -> Callable[[str, list[str]], int]:
    """Parser of a step count K >= 1; ``what`` says in the error what K counts."""

    def parse(kw: str, vals: list[str]) -> int:
        s = vals[0]
        try:
            v = int(s)
        except ValueError:
            v = 0
        if v < 1:
            raise SoftscopeError(f"{kw} K ({what}) must be an integer >= 1, got {s!r}")
        return v

    return parse


def feature_refs(kw: str, vals: list[str]) -> dict[str, str]:
    """``NAME REF [NAME REF ...]`` -> {feature name: LAMMPS per-atom reference}."""
    from softscope.lammps_fix.capi import parse_reference

    if not vals or len(vals) % 2:
        raise SoftscopeError(
            f"{kw} needs pairs 'NAME REF' (a model's external feature and c_ID, c_ID[k], "
            f"f_ID, f_ID[k] or v_name), got {' '.join(vals) or 'nothing'}"
        )
    out: dict[str, str] = {}
    for name, ref in zip(vals[::2], vals[1::2], strict=True):
        parse_reference(ref)  # raises with the forms allowed
        if name in out:
            raise SoftscopeError(f"{kw}: feature {name!r} is given twice")
        out[name] = ref
    return out


def fraction(kw: str, vals: list[str]) -> float:
    """A number in the open interval (0, 1)."""
    try:
        v = float(vals[0])
    except ValueError:
        v = -1.0
    if not 0 < v < 1:
        raise SoftscopeError(f"{kw} must be a fraction in (0, 1), got {vals[0]!r}")
    return v


# --------------------------------------------------------------------------- parsing
def parse_head(args: Sequence[str]) -> tuple[str, str, int, list[str]]:
    """``ID group softscope N keyword value ...`` -> (ID, group, N, keyword words)."""
    if len(args) < 4:
        raise SoftscopeError("expected 'fix ID group softscope N keyword value ...'")
    fix_id, group, _style, n = args[:4]
    try:
        nevery = int(n)
    except ValueError:
        raise SoftscopeError(
            f"N (evaluation interval in steps) must be an integer, got {n!r}"
        ) from None
    if nevery < 1:
        raise SoftscopeError(f"N (evaluation interval in steps) must be >= 1, got {nevery}")
    return fix_id, group, nevery, list(args[4:])


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def parse_keywords(
    table: Sequence[Keyword], words: Sequence[str], foreign: Mapping[str, str] | None = None
) -> Options:
    """Read ``keyword value ...`` words against ``table``.

    ``foreign``: keywords of other fix styles -> the keyword that selects that style, so
    that using one in the wrong style says which style it belongs to.
    """
    known = {k.name: k for k in table}
    foreign = foreign or {}
    got: dict[str, Any] = {}
    i = 0
    while i < len(words):
        kw = words[i]
        if kw not in known:
            if kw in foreign:
                extra = sorted({w for w in words if foreign.get(w) == foreign[kw]})
                raise SoftscopeError(f"keywords {extra} need '{foreign[kw]}'")
            raise SoftscopeError(f"unknown keyword {kw!r}; allowed: {', '.join(known)}")
        k = known[kw]
        if k.nvalues == PER_TYPE:
            j = i + 1
            while j < len(words) and words[j] not in known:
                j += 1
            got[kw] = k.parse(kw, list(words[i + 1 : j]))  # the parser checks the count
            i = j
            continue
        vals = list(words[i + 1 : i + 1 + k.nvalues])
        if len(vals) < k.nvalues:
            raise SoftscopeError(f"keyword {kw} needs {k.nvalues} value(s), got {len(vals)}")
        got[kw] = k.parse(kw, vals)
        i += 1 + k.nvalues
    for need in dict.fromkeys(k.requires for k in table if k.requires):
        users = [k.name for k in table if k.requires == need]
        if any(u in got for u in users) and need not in got:
            raise SoftscopeError(f"keywords {_and(users)} need '{need} {known[need].values}'")
    return Options({k.name: got.get(k.name, k.default) for k in table}, got)


def syntax(table: Sequence[Keyword]) -> str:
    """The table as the Syntax section of a LAMMPS fix page: ``keyword values = doc``."""
    return "\n".join(f"{k.name} {k.values} = {k.doc}" for k in table)
