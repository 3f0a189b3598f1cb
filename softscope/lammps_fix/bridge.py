"""Python side of the LAMMPS ``fix softscope`` plugin (``softscope/plugins/fix_softscope.cpp``).

The C++ fix owns the per-atom storage and forwards every hook here through
:func:`dispatch`; all logic lives in Python.  Protocol (what the C++ side relies on):

- ``create(args, lmp_capsule, fix_address, rank, nprocs, fortran_comm, groupbit)``
  -> a fix object with ``spec()`` = ``(nout, nstate, nevery, ghost_cutoff, scalar,
  size_vector, want_min, nscratch, sample_every)``: ``nout`` output columns
  (``f_ID[1..nout]``) and ``nstate`` state columns, float64 per atom, migrating with atoms
  and saved in restarts, then ``nscratch`` scratch columns (valid within one hook only,
  never migrated or saved; e.g. raw features sent to ghosts).  Column numbers (0-based)
  run over outputs, state, scratch.
- Hooks ``init``, ``setup``, ``min_setup``, ``end_of_step`` (every ``nevery`` steps),
  ``sample`` (every ``sample_every`` steps, before ``end_of_step`` when both fall on one
  step; 0 = never), ``min_post_force`` get an :class:`AtomView` (zero-copy numpy views of LAMMPS memory,
  valid only during the call).  A hook may be a generator: ``yield ForwardComm(first, n)``
  asks C++ to copy columns ``first..first+n-1`` of owned atoms to their ghosts and
  resumes the generator with a fresh view.  Every rank must make the same requests.
- ``compute_scalar()``, ``compute_vector(i)``: rank-local, no MPI.
- ``modify_param(args) -> int`` (``fix_modify``; every rank): words used, 0 = unknown.
- ``write_restart() -> bytes`` (global state; rank 0's copy is written) and
  ``restart(bytes)`` (every rank).
- Any exception -> ``(1, "message")``; C++ reports the lowest failing rank's message as
  ``ERROR: fix softscope: <message>`` on every rank.

Fix syntax: ``fix ID group softscope N keyword value ...`` with N >= 1 the evaluation
interval in steps.  Model evaluation (``model``, ``elements``, ``d2min``, ``reference``,
``q``, ``margin``, ``sample``, ``average``): see :mod:`softscope.lammps_fix.model_fix` and ``docs/fix.md``.
Debug keywords:

- ``debug_coord R`` — proof computation.  Columns: 1 = number of atoms within R
  (any type, ``0 < r < R``, same as ``compute coord/atom cutoff R``), 2 = the atom's x
  coordinate (wrapped, length unit) at its first evaluation (state that migrates with the
  atom and survives restarts), 3 = sum of column 2 over the atom's current neighbours
  within R (needs column 2 of ghost atoms: exercises forward communication).  Atoms
  outside the fix group get 0.  Scalar: number of evaluations; vector: (evaluations, R).
- ``debug_raise RANK HOOK`` — raise in HOOK (create, init, setup, end_of_step, restart,
  write_restart) on rank RANK (-1 = every rank); tests error propagation.
"""

from __future__ import annotations

import ctypes
import json
import traceback
import types
from dataclasses import dataclass
from typing import Any

import numpy as np

from softscope._jit import aot_kernels
from softscope.errors import SoftscopeError

__all__ = ["AtomView", "ForwardComm", "SoftscopeFix", "create", "dispatch", "unpack_image"]

_HOOKS_WITH_VIEW = {
    "init",
    "setup",
    "min_setup",
    "end_of_step",
    "sample",
    "min_post_force",
    "resume",
}
_RAISE_HOOKS = ("create", "init", "setup", "end_of_step", "restart", "write_restart")
STATE_VERSION = 1


@dataclass(frozen=True)
class ForwardComm:
    """Request: copy store columns ``first .. first + n - 1`` (0-based) to ghost atoms."""

    first: int
    n: int = 1


@dataclass(frozen=True, eq=False)
class AtomView:
    """Zero-copy views of LAMMPS per-atom memory, valid during one hook call only.

    ``x`` (nlocal + nghost, 3) positions (length unit, ghosts are periodic images),
    ``type`` / ``tag`` / ``mask`` (nlocal + nghost,) int32; ``out`` (nlocal + nghost, nout),
    ``state`` (nlocal + nghost, nstate) and ``scratch`` (nlocal + nghost, nscratch) float64:
    this fix's columns (ghost rows hold what the last forward communication put there);
    ``image`` (nlocal,) int32 LAMMPS image flags (``LAMMPS_SMALLBIG`` packing, see
    :func:`unpack_image`).
    """

    step: int
    nlocal: int
    nghost: int
    x: np.ndarray
    type: np.ndarray
    tag: np.ndarray
    mask: np.ndarray
    out: np.ndarray
    state: np.ndarray
    scratch: np.ndarray | None = None
    image: np.ndarray | None = None

    @property
    def ntotal(self) -> int:
        return self.nlocal + self.nghost


def make_view(ctx: tuple) -> AtomView:
    """Build an :class:`AtomView` from the C++ context tuple."""
    step, nlocal, nghost, nmax, nout, nstate, px, ptype, ptag, pmask, pout, pstate = ctx[:12]
    nscratch, pscratch, pimage = ctx[12:15] if len(ctx) >= 15 else (0, 0, 0)
    n = nlocal + nghost
    if n > nmax:
        raise SoftscopeError(f"inconsistent atom counts: nlocal+nghost={n} > nmax={nmax}")

    def arr(addr, ctype, shape, dtype):
        if addr == 0 or int(np.prod(shape)) == 0:
            return np.zeros(shape, dtype=dtype)
        return np.ctypeslib.as_array((ctype * int(np.prod(shape))).from_address(addr)).reshape(
            shape
        )

    return AtomView(
        step=int(step),
        nlocal=int(nlocal),
        nghost=int(nghost),
        x=arr(px, ctypes.c_double, (n, 3), np.float64),
        type=arr(ptype, ctypes.c_int32, (n,), np.int32),
        tag=arr(ptag, ctypes.c_int32, (n,), np.int32),  # tagint is int32 (LAMMPS_SMALLBIG)
        mask=arr(pmask, ctypes.c_int32, (n,), np.int32),
        out=arr(pout, ctypes.c_double, (n, nout), np.float64),
        state=arr(pstate, ctypes.c_double, (n, nstate), np.float64),
        scratch=arr(pscratch, ctypes.c_double, (n, nscratch), np.float64),
        image=arr(pimage, ctypes.c_int32, (nlocal,), np.int32),  # imageint = int32
    )


def unpack_image(image: np.ndarray) -> np.ndarray:
    """(n, 3) int64 image counts (ix, iy, iz) from packed LAMMPS image flags.

    ``LAMMPS_SMALLBIG``: 10 bits per direction, offset 512.  The unwrapped position is
    ``x + (ix, iy, iz) @ H`` with H's rows the box vectors a, b, c (``Domain::unmap``).
    """
    img = np.asarray(image).astype(np.int64)
    return np.stack([(img & 1023) - 512, ((img >> 10) & 1023) - 512, (img >> 20) - 512], axis=1)


# --------------------------------------------------------------------------- fix objects
class SoftscopeFix:
    """Base class: parsed options, MPI rank, access to the running LAMMPS instance."""

    nout = 0
    nstate = 0
    nscratch = 0
    sample_every = 0
    mode = "base"

    def __init__(self, fix_id: str, group: str, nevery: int, opts: dict, ctx: dict):
        self.fix_id = fix_id
        self.group = group
        self.nevery = nevery
        self.opts = opts
        self.rank = ctx["rank"]
        self.nprocs = ctx["nprocs"]
        self.groupbit = ctx["groupbit"]
        self.fortran_comm = ctx["fortran_comm"]
        self._capsule = ctx["capsule"]
        self._lmp = None
        self._capi = None
        self._pending = None  # generator of a hook waiting for a forward communication
        self.raise_at = opts.get("debug_raise")

    # -- LAMMPS access
    def capi(self):
        """The running LAMMPS instance through its C library interface
        (:class:`~softscope.lammps_fix.capi.LammpsAPI`; no ``lammps`` Python module)."""
        if self._capi is None:
            from softscope.lammps_fix.capi import LammpsAPI

            if self._lmp is not None:  # fix external fallback: a lammps() object
                self._capi = LammpsAPI(self._lmp.lmp.value)
            else:
                self._capi = LammpsAPI.from_capsule(self._capsule)
        return self._capi

    def spec(self) -> tuple:
        return (self.nout, self.nstate, self.nevery, self.ghost_cutoff(), 1, 2, 0, 0, 0)

    def ghost_cutoff(self) -> float:
        return 0.0

    def maybe_raise(self, hook: str) -> None:
        if self.raise_at is not None:
            rank, where = self.raise_at
            if where == hook and rank in (-1, self.rank):
                raise RuntimeError(f"debug_raise: deliberate failure in {hook} on rank {self.rank}")

    # -- hooks (overridden)
    def init(self, v: AtomView):
        self.maybe_raise("init")

    def setup(self, v: AtomView):
        self.maybe_raise("setup")

    def min_setup(self, v: AtomView):
        return None

    def end_of_step(self, v: AtomView):
        self.maybe_raise("end_of_step")

    def min_post_force(self, v: AtomView):
        return None

    def sample(self, v: AtomView):
        return None

    def compute_scalar(self) -> float:
        return 0.0

    def compute_vector(self, i: int) -> float:
        return 0.0

    def modify_param(self, args) -> int:
        """``fix_modify ID keyword ...``: number of words used (0 = unknown keyword)."""
        return 0

    def state(self) -> dict:
        return {}

    def set_state(self, st: dict) -> None:
        return None

    def write_restart(self) -> bytes:
        self.maybe_raise("write_restart")
        st = {
            "version": STATE_VERSION,
            "mode": self.mode,
            "nout": self.nout,
            "nstate": self.nstate,
            "state": self.state(),
        }
        return json.dumps(st).encode()

    def restart(self, blob: bytes) -> None:
        self.maybe_raise("restart")
        try:
            st = json.loads(blob.decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SoftscopeError(f"restart state of fix {self.fix_id} is unreadable: {e}") from e
        if st.get("version") != STATE_VERSION:
            raise SoftscopeError(
                f"restart state version {st.get('version')} is not supported "
                f"(this softscope reads version {STATE_VERSION})"
            )
        if (st.get("mode"), st.get("nout"), st.get("nstate")) != (
            self.mode,
            self.nout,
            self.nstate,
        ):
            raise SoftscopeError(
                f"restart file holds fix {self.fix_id} in mode {st.get('mode')!r} with "
                f"{st.get('nout')}+{st.get('nstate')} columns, but the fix now is "
                f"{self.mode!r} with {self.nout}+{self.nstate}; use the same fix options "
                "or another fix ID"
            )
        self.set_state(st.get("state", {}))


class DebugCoordFix(SoftscopeFix):
    """Proof computation: coordination number within R plus migrating per-atom state."""

    mode = "debug_coord"
    nout = 3
    nstate = 1  # 1.0 once the atom's reference x is stored

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.R = float(self.opts["debug_coord"])
        self.n_evals = 0
        self.units = None

    def ghost_cutoff(self) -> float:
        return self.R

    def init(self, v: AtomView):
        super().init(v)
        # proves the LAMMPS handle works from inside the fix (models will check units)
        self.units = self.capi().units()

    def setup(self, v: AtomView):
        super().setup(v)
        return self.evaluate(v)

    def end_of_step(self, v: AtomView):
        super().end_of_step(v)
        return self.evaluate(v)

    def evaluate(self, v: AtomView):
        from softscope.neighbors import build_from_points

        nloc = v.nlocal
        out, has_ref = v.out, v.state[:, 0]
        nl = build_from_points(v.x[: v.ntotal], nloc, self.R)
        ing = (v.mask[:nloc] & self.groupbit) != 0
        out[:nloc, 0] = np.where(ing, nl.counts(), 0.0)
        new = ing & (has_ref[:nloc] == 0.0)
        out[:nloc, 1][new] = v.x[:nloc, 0][new]
        has_ref[:nloc][new] = 1.0
        out[:nloc, 1][~ing] = 0.0
        v = yield ForwardComm(1, 1)  # ghosts need their atoms' reference x
        out = v.out
        owner = np.repeat(np.arange(nloc), nl.counts())
        tot = np.bincount(owner, weights=out[nl.neigh, 1], minlength=nloc)
        out[:nloc, 2] = np.where(ing, tot, 0.0)
        self.n_evals += 1

    def compute_scalar(self) -> float:
        return float(self.n_evals)

    def compute_vector(self, i: int) -> float:
        return float((self.n_evals, self.R)[i])

    def state(self) -> dict:
        return {"n_evals": self.n_evals, "R": self.R}

    def set_state(self, st: dict) -> None:
        if float(st.get("R", self.R)) != self.R:
            raise SoftscopeError(
                f"restart state has debug_coord R={st['R']}, fix now has R={self.R}"
            )
        self.n_evals = int(st.get("n_evals", 0))


# --------------------------------------------------------------------------- parsing
_KEYWORDS = {
    # keyword: number of values (-1: one per atom type, up to the next keyword)
    "debug_coord": 1,
    "debug_raise": 2,
    "model": 1,
    "elements": -1,
    "d2min": 1,
    "reference": 1,
    "q": 1,
    "margin": 1,
    "sample": 1,
    "average": 1,
}


def _positive_float(kw: str, s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise SoftscopeError(f"{kw} needs a number, got {s!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise SoftscopeError(f"{kw} must be a positive length, got {s}")
    return v


_STEP_COUNTS = {
    "average": "steps of the position average before each evaluation",
    "sample": "msd sampling interval in steps",
}


def _positive_int(kw: str, s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        v = 0
    if v < 1:
        raise SoftscopeError(f"{kw} K ({_STEP_COUNTS[kw]}) must be an integer >= 1, got {s!r}")
    return v


def parse_args(args: list[str]) -> tuple[str, str, int, dict]:
    """Parse ``ID group softscope N keyword value ...`` -> (id, group, nevery, options)."""
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
    opts: dict[str, Any] = {}
    rest = args[4:]
    i = 0
    while i < len(rest):
        kw = rest[i]
        if kw not in _KEYWORDS:
            raise SoftscopeError(f"unknown keyword {kw!r}; allowed: {', '.join(_KEYWORDS)}")
        nv = _KEYWORDS[kw]
        if nv < 0:
            j = i + 1
            while j < len(rest) and rest[j] not in _KEYWORDS:
                j += 1
            if j == i + 1:
                raise SoftscopeError(f"keyword {kw} needs one element name (or NULL) per atom type")
            opts[kw] = list(rest[i + 1 : j])
            i = j
            continue
        vals = rest[i + 1 : i + 1 + nv]
        if len(vals) < nv:
            raise SoftscopeError(f"keyword {kw} needs {nv} value(s), got {len(vals)}")
        if kw == "debug_coord":
            opts[kw] = _positive_float(kw, vals[0])
        elif kw == "debug_raise":
            try:
                rank = int(vals[0])
            except ValueError:
                raise SoftscopeError(
                    f"debug_raise RANK must be an integer, got {vals[0]!r}"
                ) from None
            if vals[1] not in _RAISE_HOOKS:
                raise SoftscopeError(
                    f"debug_raise HOOK must be one of {', '.join(_RAISE_HOOKS)}, got {vals[1]!r}"
                )
            opts[kw] = (rank, vals[1])
        elif kw == "model":
            opts[kw] = vals[0]
        elif kw in ("d2min", "margin"):
            opts[kw] = _positive_float(kw, vals[0]) if kw == "d2min" or vals[0] != "0" else 0.0
        elif kw == "reference":
            try:
                opts[kw] = int(vals[0])
            except ValueError:
                raise SoftscopeError(
                    f"reference M needs an integer number of steps (0 = only once), got {vals[0]!r}"
                ) from None
            if opts[kw] < 0:
                raise SoftscopeError(f"reference M must be >= 0, got {opts[kw]}")
        elif kw in ("average", "sample"):
            opts[kw] = _positive_int(kw, vals[0])
        elif kw == "q":
            try:
                qv = float(vals[0])
            except ValueError:
                qv = -1.0
            if not 0 < qv < 1:
                raise SoftscopeError(f"q must be a fraction in (0, 1), got {vals[0]!r}")
            opts[kw] = qv
        i += 1 + nv
    if ("debug_coord" in opts) == ("model" in opts):
        raise SoftscopeError(
            "give exactly one computation: 'model NAME_OR_PATH' or 'debug_coord R'"
        )
    if "debug_coord" in opts:
        extra = sorted(
            set(opts) & {"elements", "d2min", "reference", "q", "margin", "sample", "average"}
        )
        if extra:
            raise SoftscopeError(f"keywords {extra} need 'model'")
    elif ("reference" in opts or "q" in opts or "margin" in opts) and "d2min" not in opts:
        raise SoftscopeError("keywords reference, q and margin need 'd2min R'")
    return fix_id, group, nevery, opts


def create(args, capsule, fix_address, rank, nprocs, fortran_comm, groupbit) -> SoftscopeFix:
    """Factory called by the C++ constructor with the raw fix arguments (strings)."""
    fix_id, group, nevery, opts = parse_args(list(args))
    ctx = {
        "rank": int(rank),
        "nprocs": int(nprocs),
        "fortran_comm": int(fortran_comm),
        "groupbit": int(groupbit),
        "capsule": capsule,
        "fix_address": int(fix_address),
    }
    if "model" in opts:
        from softscope.lammps_fix.model_fix import ModelFix

        fix = ModelFix(fix_id, group, nevery, opts, ctx)
    else:
        fix = DebugCoordFix(fix_id, group, nevery, opts, ctx)
    fix.maybe_raise("create")
    return fix


# --------------------------------------------------------------------------- dispatch
def _error_message(exc: BaseException) -> str:
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
            return (0, (f, *f.spec()))
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
        return (1, _error_message(exc))
