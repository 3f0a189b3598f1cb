"""``fix softscope N debug_coord R``: the plugin's proof computation.

Columns: 1 = number of atoms within R (any type, ``0 < r < R``, same as ``compute
coord/atom cutoff R``), 2 = the atom's x coordinate (wrapped, length unit) at its first
evaluation (state that migrates with the atom and survives restarts), 3 = sum of column 2
over the atom's current neighbours within R (needs column 2 of ghost atoms: exercises
forward communication).  Atoms outside the fix group get 0.  Scalar: number of
evaluations; vector: (evaluations, R).
"""

from __future__ import annotations

import numpy as np

from softscope.errors import SoftscopeError
from softscope.lammps_fix.base import SoftscopeFix
from softscope.lammps_fix.keywords import Keyword, positive_float
from softscope.lammps_fix.protocol import AtomView

__all__ = ["DebugCoordFix"]


class DebugCoordFix(SoftscopeFix):
    """Proof computation: coordination number within R plus migrating per-atom state."""

    selector = "debug_coord"
    mode = "debug_coord"
    KEYWORDS = (
        Keyword(
            "debug_coord",
            1,
            positive_float,
            None,
            "R",
            "proof computation: coordination within R (length unit), see docs/plugin.md",
        ),
        *SoftscopeFix.KEYWORDS,
    )

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.R = float(self.opts["debug_coord"])
        self.n_evals = 0
        self.units = None
        lay = self.layout
        lay.add("out", "coordination", doc="atoms within R")
        lay.add("out", "ref_x", doc="x at the atom's first evaluation (length)")
        lay.add("out", "ref_x_sum", doc="sum of ref_x over the neighbours within R")
        lay.add("state", "has_ref", doc="1.0 once the atom's ref_x is stored")

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
        lay = self.layout
        coord, ref_x = lay.of(v, "coordination"), lay.of(v, "ref_x")
        has_ref = lay.of(v, "has_ref")
        nl = build_from_points(v.x[: v.ntotal], nloc, self.R)
        ing = (v.mask[:nloc] & self.groupbit) != 0
        coord[:nloc] = np.where(ing, nl.counts(), 0.0)
        new = ing & (has_ref[:nloc] == 0.0)
        ref_x[:nloc][new] = v.x[:nloc, 0][new]
        has_ref[:nloc][new] = 1.0
        ref_x[:nloc][~ing] = 0.0
        for req in lay.forward("ref_x"):  # ghosts need their atoms' reference x
            v = yield req
        owner = np.repeat(np.arange(nloc), nl.counts())
        tot = np.bincount(owner, weights=lay.of(v, "ref_x")[nl.neigh], minlength=nloc)
        lay.of(v, "ref_x_sum")[:nloc] = np.where(ing, tot, 0.0)
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
