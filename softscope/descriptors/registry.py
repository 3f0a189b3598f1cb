"""The registry of descriptor block kinds: what a :class:`DescriptorSpec` block can be.

A block is a JSON mapping ``{"kind": NAME, **parameters}``.  Each kind is registered
once, by the module that computes it, with :func:`register_block`; a
:class:`~softscope.descriptors.spec.DescriptorSpec` only loops over its blocks and asks
the registry.  A kind tells

- ``normalise(block) -> dict``: the canonical parameters (plain JSON values, defaults
  filled in, without ``"kind"``); raises :class:`SoftscopeError` on a bad value (a
  missing parameter may raise ``KeyError``, reported as a missing field);
- ``cutoff(block, species) -> float``: the neighbour reach the block needs around an
  atom (length unit; 0 for none);
- ``names(block, species) -> list[str]``: its column names, in column order;
- ``compute(block, frame, species, extra) -> (N, F) float64``: its columns for every
  atom of a :class:`~softscope.frame.Frame` (periodic images count as neighbours);
- ``compute_points(block, points) -> (points.n_query, F) float64``: its columns for the
  query points of a :class:`PointSet` (local + ghost atoms, no periodicity added);
- ``inputs(block) -> tuple[str, ...]`` (optional): names of per-atom columns the caller
  must supply in ``extra`` (the LAMMPS fix and the OVITO modifiers provide them).

``species`` is the spec's species order (a tuple of names); species codes are indices
into it.  Adding a descriptor: write its module, call :func:`register_block` at its end,
and import the module in :mod:`softscope.descriptors` (which imports every built-in kind).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from softscope.errors import SoftscopeError
from softscope.frame import Frame

__all__ = [
    "BlockKind",
    "PointSet",
    "register_block",
    "block_kind",
    "block_kinds",
    "normalise_block",
    "frame_points",
]


class PointSet(NamedTuple):
    """Points a block computes on without periodicity (the LAMMPS face).

    ``points`` (M, 3) float64, length unit: local atoms first, then ghost atoms (or a
    frame's atoms and their periodic images); ``codes`` (M,) int64 species codes in the
    spec's order; the first ``n_query`` points are those whose columns are wanted (the
    others are their neighbours and must reach the block's cutoff beyond them);
    ``species``: the spec's species names; ``density``: number density N/V of the whole
    system (length unit⁻³) or None; ``extra``: per-point columns (M values each) for the
    kinds with :attr:`BlockKind.inputs`; ``owner`` (M,) int64: the query point each point
    is a periodic image of (a frame's points: a block may reuse the query's values for its
    images), or None (LAMMPS ghosts: every point is its own atom).
    """

    points: np.ndarray
    codes: np.ndarray
    n_query: int
    species: tuple[str, ...]
    density: float | None = None
    extra: Mapping[str, np.ndarray] | None = None
    owner: np.ndarray | None = None


def frame_points(
    frame: Frame,
    reach: float,
    species: tuple[str, ...],
    extra: Mapping[str, np.ndarray] | None = None,
) -> tuple[PointSet, np.ndarray]:
    """A periodic ``frame`` as a :class:`PointSet` and ``owner`` (M,), the atom each point
    stands for: the wrapped atoms (the queries) followed by their periodic images within
    ``reach`` (length unit) of the cell; ``reach <= 0`` (no neighbours needed): the atoms
    as given.  Species codes in the order ``species``; ``extra`` per-atom columns (N rows)
    are given to every image; density = N / V."""
    from softscope.neighbors import periodic_images

    n = len(frame)
    codes, _ = frame.species_index(species)
    if reach > 0:
        points, owner = periodic_images(frame, reach)
    else:
        points, owner = np.asarray(frame.positions, dtype=np.float64), np.arange(n)
    pe = None
    if extra is not None:
        pe = {k: np.asarray(v, dtype=np.float64).reshape(-1)[owner] for k, v in extra.items()}
    density = n / frame.volume if frame.volume > 0 else None
    return PointSet(points, codes[owner], n, tuple(species), density, pe, owner), owner


Block = Mapping[str, Any]


def _no_inputs(block: Block) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class BlockKind:
    """One registered block kind (see the module docstring for each function's contract)."""

    name: str
    normalise: Callable[[Block], dict[str, Any]]
    cutoff: Callable[[Block, tuple[str, ...]], float]
    names: Callable[[Block, tuple[str, ...]], list[str]]
    compute: Callable[[Block, Frame, tuple[str, ...], Mapping[str, np.ndarray] | None], np.ndarray]
    compute_points: Callable[[Block, PointSet], np.ndarray]
    inputs: Callable[[Block], tuple[str, ...]] = _no_inputs


_KINDS: dict[str, BlockKind] = {}


def register_block(
    name: str,
    *,
    normalise: Callable[[Block], dict[str, Any]],
    cutoff: Callable[[Block, tuple[str, ...]], float],
    names: Callable[[Block, tuple[str, ...]], list[str]],
    compute: Callable[[Block, Frame, tuple[str, ...], Mapping[str, np.ndarray] | None], np.ndarray],
    compute_points: Callable[[Block, PointSet], np.ndarray],
    inputs: Callable[[Block], tuple[str, ...]] | None = None,
    replace: bool = False,
) -> BlockKind:
    """Register the block kind ``name`` (the value of a block's ``"kind"``); returns it.

    Registering a name twice is an error unless ``replace`` is true."""
    if not isinstance(name, str) or not name:
        raise SoftscopeError(f"a block kind needs a non-empty name, got {name!r}")
    if name in _KINDS and not replace:
        raise SoftscopeError(f"descriptor block kind {name!r} is already registered")
    kind = BlockKind(name, normalise, cutoff, names, compute, compute_points, inputs or _no_inputs)
    _KINDS[name] = kind
    return kind


def block_kinds() -> tuple[str, ...]:
    """Names of the registered block kinds, in registration order."""
    return tuple(_KINDS)


def block_kind(name: str) -> BlockKind:
    """The registered kind ``name``; a :class:`SoftscopeError` lists the known ones."""
    try:
        return _KINDS[name]
    except (KeyError, TypeError):
        raise SoftscopeError(
            f"unknown descriptor block kind {name!r}; known: {tuple(sorted(_KINDS))}"
        ) from None


def normalise_block(block: Block) -> dict[str, Any]:
    """``{"kind": ..., **canonical parameters}`` of a block mapping."""
    name = dict(block).get("kind")
    return {"kind": name, **block_kind(name).normalise(block)}
