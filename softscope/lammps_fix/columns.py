"""Named per-atom columns of the ``softscope`` fix.

The C++ plugin owns three float64 blocks per atom (local + ghost rows): ``out`` (the
outputs ``f_ID[1..nout]``), ``state`` (migrates with atoms and goes to restart files) and
``scratch`` (valid within one hook only).  It knows them only as column counts and, for
forward communication, as column numbers running over out, state, scratch.  A
:class:`ColumnLayout` gives the columns names once, so the fix reads
``layout.of(v, "ref_position")`` and asks ``layout.forward("positions", "ref_position")``
instead of computing column numbers.

:func:`model_columns` is the layout of ``fix softscope ... model``:

- out: ``prediction``, ``prediction_ref``, ``d2min`` (+ ``msd`` for msd models), the
  names of :mod:`softscope.lammps_fix.outputs`;
- state: ``ref_position`` (3: reduced coordinates in the reference cell),
  ``ref_prediction``, ``ref_neighbours`` (number of reference neighbours within R); for
  msd models ``msd_window`` (8: a :class:`~softscope.position_windows.PositionWindows`
  with second moment) and ``msd_last`` (length²); with ``average K`` ``average_window``
  (a :class:`~softscope.position_windows.BlockAverage`: 7 per block, one block for
  K <= N and K / N blocks for longer averages);
- transit (columns valid within one evaluation): ``positions`` (3: current reduced
  positions on their way to the ghosts), then, on the same columns once the positions
  are used, ``features`` (raw features, or for linear models one projection per
  coarse-graining radius, on their way to the ghosts).  Within an evaluation the old
  outputs are dead until the evaluation writes the new ones at its end, so the transit
  columns are the output columns when those are enough; else scratch columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from softscope.errors import SoftscopeError
from softscope.lammps_fix.outputs import per_atom_names
from softscope.lammps_fix.protocol import AtomView, ForwardComm
from softscope.position_windows import BlockAverage, PositionWindows

__all__ = ["BLOCKS", "ColumnLayout", "Columns", "model_columns"]

#: The per-atom blocks in the order of the plugin's column numbers.
BLOCKS = ("out", "state", "scratch")


@dataclass(frozen=True)
class Columns:
    """A named range of columns ``start .. start + width - 1`` of one block.  ``width``
    None: a single column, read as a 1-D array."""

    name: str
    block: str
    start: int
    width: int | None
    doc: str = ""

    @property
    def stop(self) -> int:
        return self.start + (1 if self.width is None else self.width)

    def of(self, v: AtomView) -> np.ndarray:
        """The columns in the view ``v`` (local + ghost rows; a view, writable)."""
        arr = getattr(v, self.block)
        return arr[:, self.start] if self.width is None else arr[:, self.start : self.stop]


class ColumnLayout:
    """Named columns in the three per-atom blocks; blocks grow as columns are added."""

    #: Ranges at most this many columns apart travel as one forward communication: a few
    #: extra doubles per ghost cost less than a second message.
    MERGE_GAP = 2

    def __init__(self) -> None:
        self._columns: dict[str, Columns] = {}
        self._size = dict.fromkeys(BLOCKS, 0)

    def add(
        self, block: str, name: str, width: int | None = None, *, at: int | None = None, doc=""
    ) -> Columns:
        """Declare ``name``: ``width`` columns of ``block`` (None: one column, read 1-D),
        appended, or from column ``at`` (may share columns with others: storage reused
        within an evaluation)."""
        if block not in BLOCKS:
            raise SoftscopeError(f"unknown column block {block!r}; blocks: {', '.join(BLOCKS)}")
        if name in self._columns:
            raise SoftscopeError(f"column {name!r} is declared twice")
        start = self._size[block] if at is None else int(at)
        col = Columns(name, block, start, width, doc)
        self._columns[name] = col
        self._size[block] = max(self._size[block], col.stop)
        return col

    def __getitem__(self, name: str) -> Columns:
        try:
            return self._columns[name]
        except KeyError:
            raise SoftscopeError(
                f"no per-atom column {name!r}; the layout has {', '.join(self._columns)}"
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self._columns

    def __iter__(self):
        return iter(self._columns.values())

    @property
    def nout(self) -> int:
        return self._size["out"]

    @property
    def nstate(self) -> int:
        return self._size["state"]

    @property
    def nscratch(self) -> int:
        return self._size["scratch"]

    def of(self, v: AtomView, name: str) -> np.ndarray:
        """Columns ``name`` of the view ``v`` (see :meth:`Columns.of`)."""
        return self[name].of(v)

    def offset(self, block: str) -> int:
        """Plugin column number of ``block``'s first column."""
        return sum(self._size[b] for b in BLOCKS[: BLOCKS.index(block)])

    def locate(self, k: int) -> tuple[str, int]:
        """(block, column in block) of plugin column number ``k``."""
        for b in BLOCKS:
            if k < self._size[b]:
                return b, k
            k -= self._size[b]
        raise SoftscopeError(f"column number {k} is beyond the fix's columns")

    def forward(self, *names: str) -> tuple[ForwardComm, ...]:
        """Forward-communication requests that send the named columns of owned atoms to
        their ghosts: one per run of columns, ranges at most :attr:`MERGE_GAP` apart
        joined, in column order."""
        ranges = sorted(
            (self.offset(c.block) + c.start, self.offset(c.block) + c.stop)
            for c in (self[n] for n in names)
        )
        runs: list[list[int]] = []
        for a, b in ranges:
            if runs and a - runs[-1][1] <= self.MERGE_GAP:
                runs[-1][1] = max(runs[-1][1], b)
            else:
                runs.append([a, b])
        return tuple(ForwardComm(a, b - a) for a, b in runs)


def model_columns(n_features: int, msd: bool, average: int) -> ColumnLayout:
    """The layout of ``fix softscope ... model`` (see the module docstring).

    ``n_features``: columns of per-atom features sent to the ghosts (0: none, no
    coarse-graining); ``msd``: the model has an in-run msd feature; ``average``: blocks of the
    fix's time average of the positions (``average K``: 1 for K <= N, K / N for longer
    averages; 0: instantaneous positions).
    """
    lay = ColumnLayout()
    docs = {
        "prediction": "prediction now",
        "prediction_ref": "prediction frozen at the reference",
        "d2min": "D²min since the reference (length²)",
        "msd": "vibrational MSD used by the last evaluation (length²)",
    }
    for name in per_atom_names(msd):
        lay.add("out", name, doc=docs[name])
    lay.add("state", "ref_position", 3, doc="reference position, reduced coordinates of H0")
    lay.add("state", "ref_prediction", doc="prediction at the reference")
    lay.add("state", "ref_neighbours", doc="number of reference neighbours within R")
    if msd:
        lay.add("state", "msd_window", PositionWindows.width(True), doc="msd sample window")
        lay.add("state", "msd_last", doc="msd of the last complete window (length²)")
    if average:
        lay.add("state", "average_window", BlockAverage.width(average), doc="averaging blocks")
    block = "out" if max(n_features, 3) <= lay.nout else "scratch"
    lay.add(block, "positions", 3, at=0, doc="current reduced positions, to the ghosts")
    if n_features:
        lay.add(block, "features", n_features, at=0, doc="features, to the ghosts")
    return lay
