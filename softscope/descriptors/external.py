"""External per-atom columns: features a single frame cannot give, supplied by the caller.

Spec block ``{"kind": "external", "names": [...], "cutoff": 0.0}``: one column per name,
taken from ``extra[name]`` (e.g. the vibrational mean-square displacement ``msd`` of a
thermal window, length unit²).  On a frame ``extra[name]`` holds one value per atom; on
local + ghost points one value per point.  The LAMMPS fix accumulates the columns it
knows in-run; the OVITO modifiers read particle properties of the same names.
``cutoff`` (length unit, default 0) is the neighbour reach the column's producer needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from softscope.descriptors.registry import PointSet, register_block
from softscope.errors import SoftscopeError
from softscope.frame import Frame

__all__: list[str] = []


def _normalise(b: Mapping[str, Any]) -> dict[str, Any]:
    return {"names": [str(n) for n in b["names"]], "cutoff": float(b.get("cutoff", 0.0))}


def _compute(b, frame: Frame, species, extra) -> np.ndarray:
    cols = []
    for name in b["names"]:
        if extra is None or name not in extra:
            raise SoftscopeError(
                f"feature {name!r} is not computed from one frame and must be supplied "
                f"(extra={{'{name}': per-atom array}}); the LAMMPS fix accumulates it in-run"
            )
        v = np.asarray(extra[name], dtype=np.float64).reshape(-1)
        if v.shape[0] != len(frame):
            raise SoftscopeError(
                f"extra feature {name!r} has {v.shape[0]} values for {len(frame)} atoms"
            )
        cols.append(v[:, None])
    return np.concatenate(cols, axis=1)


def _compute_points(b, p: PointSet) -> np.ndarray:
    m = p.points.shape[0]
    cols = []
    for name in b["names"]:
        if p.extra is None or name not in p.extra:
            raise SoftscopeError(
                f"feature {name!r} is not computed from one frame and must be supplied "
                f"per point (extra={{'{name}': array of {m} values}})"
            )
        v = np.asarray(p.extra[name], dtype=np.float64).reshape(-1)
        if v.shape[0] != m:
            raise SoftscopeError(f"extra feature {name!r} has {v.shape[0]} values for {m} points")
        cols.append(v[: p.n_query, None])
    return np.concatenate(cols, axis=1)


register_block(
    "external",
    normalise=_normalise,
    cutoff=lambda b, species: b.get("cutoff", 0.0),
    names=lambda b, species: list(b["names"]),
    compute=_compute,
    compute_points=_compute_points,
    inputs=lambda b: tuple(b["names"]),
)
