"""Base class of the Python fix objects behind ``fix softscope``.

A fix style is a subclass of :class:`SoftscopeFix` that declares

- ``selector``: the keyword that chooses it (``model``, ``debug_coord``);
- ``KEYWORDS``: its keyword table (:class:`~softscope.lammps_fix.keywords.Keyword`),
  including the base's ``debug_raise``;
- ``self.layout``: its named per-atom columns (:class:`~softscope.lammps_fix.columns.ColumnLayout`),

and overrides the hooks it needs.  :mod:`softscope.lammps_fix.bridge` lists the styles and
forwards the C++ calls to them.
"""

from __future__ import annotations

import json

from softscope.errors import SoftscopeError
from softscope.lammps_fix.columns import ColumnLayout
from softscope.lammps_fix.keywords import Keyword, Options
from softscope.lammps_fix.protocol import AtomView, PluginLayout

__all__ = ["RAISE_HOOKS", "STATE_VERSION", "SoftscopeFix"]

#: Hooks in which ``debug_raise`` can fail on purpose.
RAISE_HOOKS = ("create", "init", "setup", "end_of_step", "restart", "write_restart")
#: Version of the global state the fix writes to restart files.
STATE_VERSION = 1


def _debug_raise(kw: str, vals: list[str]) -> tuple[int, str]:
    try:
        rank = int(vals[0])
    except ValueError:
        raise SoftscopeError(f"debug_raise RANK must be an integer, got {vals[0]!r}") from None
    if vals[1] not in RAISE_HOOKS:
        raise SoftscopeError(
            f"debug_raise HOOK must be one of {', '.join(RAISE_HOOKS)}, got {vals[1]!r}"
        )
    return (rank, vals[1])


class SoftscopeFix:
    """Base class: parsed options, MPI rank, access to the running LAMMPS instance."""

    #: keyword that selects this style (None: not a selectable style)
    selector: str | None = None
    mode = "base"
    KEYWORDS: tuple[Keyword, ...] = (
        Keyword(
            "debug_raise",
            2,
            _debug_raise,
            None,
            "RANK HOOK",
            "raise in HOOK on rank RANK (-1 = every rank); tests error propagation",
        ),
    )
    sample_every = 0

    def __init__(self, fix_id: str, group: str, nevery: int, opts: Options, ctx: dict):
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
        self.layout = ColumnLayout()

    # -- columns
    @property
    def nout(self) -> int:
        """Number of output columns ``f_ID[1..nout]``."""
        return self.layout.nout

    @property
    def nstate(self) -> int:
        """Number of state columns (migrate with atoms, saved in restart files)."""
        return self.layout.nstate

    @property
    def nscratch(self) -> int:
        """Number of scratch columns (valid within one hook)."""
        return self.layout.nscratch

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

    def plugin_layout(self) -> PluginLayout:
        """What the C++ fix needs to know at creation (columns, intervals, cutoff)."""
        return PluginLayout(self.nout, self.nstate, self.nevery, self.ghost_cutoff(), 1, 2, 0, 0, 0)

    def ghost_cutoff(self) -> float:
        """Reach the fix needs from ghost atoms (length unit)."""
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
