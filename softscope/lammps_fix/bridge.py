"""Python side of the LAMMPS ``fix softscope`` plugin (``softscope/plugins/fix_softscope.cpp``).

The C++ fix owns the per-atom storage and forwards every hook here through
:func:`dispatch`; all logic lives in Python.  Protocol (what the C++ side relies on;
data types in :mod:`softscope.lammps_fix.protocol`):

- ``create(args, lmp_capsule, fix_address, rank, nprocs, fortran_comm, groupbit)``
  -> a fix object; :func:`dispatch` answers the C++ ``create`` call with the object
  followed by the fields of its :meth:`~softscope.lammps_fix.base.SoftscopeFix.plugin_layout`
  (:class:`~softscope.lammps_fix.protocol.PluginLayout`: ``nout`` output columns
  ``f_ID[1..nout]`` and ``nstate`` state columns, float64 per atom, migrating with atoms and
  saved in restarts, then ``nscratch`` scratch columns, valid within one hook only, never
  migrated or saved).  Column numbers (0-based) run over outputs, state, scratch; each
  fix names its columns in a :class:`~softscope.lammps_fix.columns.ColumnLayout`.
- Hooks ``init``, ``setup``, ``min_setup``, ``end_of_step`` (every ``nevery`` steps),
  ``sample`` (every ``sample_every`` steps, before ``end_of_step`` when both fall on one
  step; 0 = never), ``min_post_force`` get an :class:`AtomView` (zero-copy numpy views of
  LAMMPS memory, valid only during the call).  A hook may be a generator:
  ``yield ForwardComm(first, n)`` asks C++ to copy columns ``first..first+n-1`` of owned
  atoms to their ghosts and resumes the generator with a fresh view.  Every rank must make
  the same requests.
- ``compute_scalar()``, ``compute_vector(i)``: rank-local, no MPI.
- ``modify_param(args) -> int`` (``fix_modify``; every rank): words used, 0 = unknown.
- ``write_restart() -> bytes`` (global state; rank 0's copy is written) and
  ``restart(bytes)`` (every rank).
- Any exception -> ``(1, "message")``; C++ reports the lowest failing rank's message as
  ``ERROR: fix softscope: <message>`` on every rank.

Fix syntax: ``fix ID group softscope N keyword value ...`` with N >= 1 the evaluation
interval in steps.  The keyword that selects the computation picks the fix style from
:data:`FIX_STYLES`, which then parses its own keywords (its ``KEYWORDS`` table): ``model``
(:class:`~softscope.lammps_fix.model_fix.ModelFix`, ``docs/fix.md``) or ``debug_coord``
(:class:`~softscope.lammps_fix.debug_fix.DebugCoordFix`, ``docs/plugin.md``).  Every
style takes ``debug_raise RANK HOOK``: raise in HOOK (create, init, setup, end_of_step,
restart, write_restart) on rank RANK (-1 = every rank); tests error propagation.
"""

from __future__ import annotations

import traceback
import types

from softscope._jit import aot_kernels
from softscope.errors import SoftscopeError
from softscope.lammps_fix.base import SoftscopeFix
from softscope.lammps_fix.debug_fix import DebugCoordFix
from softscope.lammps_fix.keywords import Options, parse_head, parse_keywords
from softscope.lammps_fix.model_fix import ModelFix
from softscope.lammps_fix.protocol import AtomView, ForwardComm, make_view, unpack_image

__all__ = [
    "FIX_STYLES",
    "AtomView",
    "ForwardComm",
    "SoftscopeFix",
    "create",
    "dispatch",
    "parse_args",
    "unpack_image",
]

#: The fix styles, each chosen by its ``selector`` keyword.
FIX_STYLES: tuple[type[SoftscopeFix], ...] = (ModelFix, DebugCoordFix)

_HOOKS_WITH_VIEW = {
    "init",
    "setup",
    "min_setup",
    "end_of_step",
    "sample",
    "min_post_force",
    "resume",
}


# --------------------------------------------------------------------------- parsing
def _style(words: list[str]) -> type[SoftscopeFix]:
    chosen = [c for c in FIX_STYLES if c.selector in words]
    if len(chosen) != 1:
        alts = " or ".join(
            f"'{c.selector} {next(k.values for k in c.KEYWORDS if k.name == c.selector)}'"
            for c in FIX_STYLES
        )
        raise SoftscopeError(f"give exactly one computation: {alts}")
    return chosen[0]


def parse_args(args: list[str]) -> tuple[str, str, int, type[SoftscopeFix], Options]:
    """Parse ``ID group softscope N keyword value ...`` -> (ID, group, N, fix style,
    options of that style)."""
    fix_id, group, nevery, words = parse_head(args)
    cls = _style(words)
    own = {k.name for k in cls.KEYWORDS}
    foreign = {
        k.name: c.selector
        for c in FIX_STYLES
        if c is not cls
        for k in c.KEYWORDS
        if k.name not in own
    }
    return fix_id, group, nevery, cls, parse_keywords(cls.KEYWORDS, words, foreign)


def create(args, capsule, fix_address, rank, nprocs, fortran_comm, groupbit) -> SoftscopeFix:
    """Factory called by the C++ constructor with the raw fix arguments (strings)."""
    fix_id, group, nevery, cls, opts = parse_args(list(args))
    ctx = {
        "rank": int(rank),
        "nprocs": int(nprocs),
        "fortran_comm": int(fortran_comm),
        "groupbit": int(groupbit),
        "capsule": capsule,
        "fix_address": int(fix_address),
    }
    fix = cls(fix_id, group, nevery, opts, ctx)
    fix.maybe_raise("create")
    return fix


# --------------------------------------------------------------------------- dispatch
def error_message(exc: BaseException) -> str:
    """The one-line message LAMMPS prints for ``exc``: a :class:`SoftscopeError`'s own
    text, otherwise the exception type, text and the file:line where it was raised."""
    if isinstance(exc, SoftscopeError):
        return str(exc)
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" [{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}]" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _next_request(fix: SoftscopeFix, gen, value):
    """Advance a generator hook; (0, None) when finished, else (2, (first, n))."""
    try:
        req = gen.send(value)
    except StopIteration:
        fix._pending = None
        return (0, None)
    fix._pending = gen
    if not isinstance(req, ForwardComm):
        raise SoftscopeError(f"a hook may only yield ForwardComm requests, got {req!r}")
    return (2, (int(req.first), int(req.n)))


def dispatch(fix, method: str, args: tuple):
    """Entry point for every C++ call: returns (0, value), (1, message) or (2, (first, n)).

    Kernels run ahead-of-time compiled where possible (:func:`softscope._jit.aot_kernels`):
    no numba/LLVM in the MPI ranks."""
    with aot_kernels():
        return _dispatch(fix, method, args)


def _dispatch(fix, method: str, args: tuple):
    try:
        if method == "create":
            f = create(*args)
            return (0, (f, *f.plugin_layout()))
        if method in _HOOKS_WITH_VIEW:
            view = make_view(args)
            if method == "resume":
                if fix._pending is None:
                    raise SoftscopeError("resume without a pending hook")
                return _next_request(fix, fix._pending, view)
            fix._pending = None
            result = getattr(fix, method)(view)
            if isinstance(result, types.GeneratorType):
                return _next_request(fix, result, None)
            return (0, result)
        return (0, getattr(fix, method)(*args))
    except BaseException as exc:  # noqa: BLE001 - every error must reach LAMMPS, never unwind C++
        if fix is not None:
            fix._pending = None
        return (1, error_message(exc))
