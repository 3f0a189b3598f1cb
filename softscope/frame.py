"""One configuration of atoms: positions, species, triclinic cell, periodicity, ids.

Conventions
-----------
- ``positions``: (N, 3) float64, Cartesian, in the simulation's length unit
  (Å for ``units metal``, σ for ``units lj``).
- ``cell``: (3, 3) float64 whose **rows** are the cell vectors a, b, c (ASE
  convention; OVITO stores them as columns, LAMMPS as lo/hi + tilts — the readers
  convert).  ``origin`` is the corner of the cell.
- ``species``: (N,) array of names (element symbols, or LJ type names such as "A").
- ``pbc``: three booleans.  Non-periodic directions get no images.

The core never imports LAMMPS or OVITO at module level: readers import them lazily.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from softscope.errors import SoftscopeError

__all__ = ["Frame", "cell_widths"]


def _as_species(species: Sequence[str] | np.ndarray, n: int) -> np.ndarray:
    arr = np.asarray(species)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise SoftscopeError(f"species must be a sequence of {n} names, got shape {arr.shape}")
    if arr.dtype.kind not in ("U", "S", "O"):
        raise SoftscopeError(
            "species must be element (or type) names such as 'Cu', 'Zr', not "
            f"{arr.dtype} numbers; map LAMMPS types to names with elements=[...]"
        )
    return arr.astype(str)


@dataclass(frozen=True, eq=False)
class Frame:
    """Positions, species and a (possibly triclinic, possibly periodic) cell.

    Parameters
    ----------
    positions : (N, 3) array_like, length unit of the simulation.
    species : (N,) names of the atoms' species.
    cell : (3, 3) array_like, rows are the cell vectors a, b, c.
    origin : (3,) corner of the cell.
    pbc : three booleans, periodicity along a, b, c.
    ids : (N,) integer atom identifiers (default 1..N).
    """

    positions: np.ndarray
    species: np.ndarray
    cell: np.ndarray
    origin: np.ndarray = field(default_factory=lambda: np.zeros(3))
    pbc: tuple[bool, bool, bool] = (True, True, True)
    ids: np.ndarray | None = None

    def __init__(
        self,
        positions,
        species,
        cell,
        origin=(0.0, 0.0, 0.0),
        pbc=(True, True, True),
        ids=None,
    ) -> None:
        pos = np.array(positions, dtype=np.float64, copy=True)
        if pos.ndim != 2 or pos.shape[1] != 3:
            raise SoftscopeError(f"positions must have shape (N, 3), got {pos.shape}")
        n = pos.shape[0]
        if n == 0:
            raise SoftscopeError("empty frame: positions has no atoms")
        bad = ~np.isfinite(pos).all(axis=1)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise SoftscopeError(
                f"positions contain NaN or inf for {int(bad.sum())} atom(s), first at index "
                f"{first}: {pos[first].tolist()}"
            )
        cel = np.array(cell, dtype=np.float64, copy=True)
        if cel.shape != (3, 3):
            raise SoftscopeError(
                f"cell must be a 3x3 matrix (rows = cell vectors), got {cel.shape}"
            )
        if not np.isfinite(cel).all():
            raise SoftscopeError("cell contains NaN or inf")
        vol = abs(np.linalg.det(cel))
        scale = np.prod(np.linalg.norm(cel, axis=1))
        if scale == 0.0 or vol < 1e-10 * scale:
            raise SoftscopeError(
                f"degenerate cell (volume {vol:.3g}): the three cell vectors must be "
                "linearly independent"
            )
        org = np.array(origin, dtype=np.float64).reshape(3)
        if not np.isfinite(org).all():
            raise SoftscopeError("origin contains NaN or inf")
        pb = tuple(bool(x) for x in np.broadcast_to(np.asarray(pbc, dtype=bool), (3,)))
        sp = _as_species(species, n)
        if ids is None:
            idv = np.arange(1, n + 1, dtype=np.int64)
        else:
            idv = np.array(ids, dtype=np.int64).reshape(-1)
            if idv.shape[0] != n:
                raise SoftscopeError(f"ids must have {n} entries, got {idv.shape[0]}")
            if np.unique(idv).shape[0] != n:
                raise SoftscopeError("ids must be unique")
        for a in (pos, cel, org, idv):
            a.setflags(write=False)
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "species", sp)
        object.__setattr__(self, "cell", cel)
        object.__setattr__(self, "origin", org)
        object.__setattr__(self, "pbc", pb)
        object.__setattr__(self, "ids", idv)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return self.positions.shape[0]

    @property
    def n_atoms(self) -> int:
        return self.positions.shape[0]

    @property
    def volume(self) -> float:
        """Cell volume (length unit cubed)."""
        return float(abs(np.linalg.det(self.cell)))

    @property
    def species_names(self) -> list[str]:
        """Sorted unique species names present in the frame."""
        return sorted(set(self.species.tolist()))

    def species_index(self, order: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
        """Integer species codes (N,) int64 in the given species order.

        Raises SoftscopeError if the frame contains a species absent from ``order``.
        Species of ``order`` absent from the frame are allowed (their blocks are 0).
        """
        names = list(order) if order is not None else self.species_names
        if len(set(names)) != len(names):
            raise SoftscopeError(f"species order has duplicates: {names}")
        lut = {s: k for k, s in enumerate(names)}
        unknown = sorted(set(self.species.tolist()) - set(lut))
        if unknown:
            raise SoftscopeError(
                f"frame contains species {unknown} that are not in the expected species "
                f"{names}; check the type -> element mapping (elements=...)"
            )
        codes = np.fromiter(
            (lut[s] for s in self.species.tolist()), dtype=np.int64, count=len(self)
        )
        return codes, names

    def perpendicular_widths(self) -> np.ndarray:
        """Distances between opposite faces of the cell along a, b, c (length unit)."""
        return cell_widths(self.cell)

    def reduced_positions(self) -> np.ndarray:
        """Positions in cell coordinates: r = origin + s @ cell."""
        return np.linalg.solve(self.cell.T, (self.positions - self.origin).T).T

    def wrapped(self) -> Frame:
        """A copy with positions wrapped into the cell along periodic directions."""
        s = self.reduced_positions()
        for k in range(3):
            if self.pbc[k]:
                s[:, k] -= np.floor(s[:, k])
        return self.replace(positions=self.origin + s @ self.cell)

    def sheared(self, row: int, col: int, strain: float) -> Frame:
        """A copy under an affine shear: cell vector ``row`` gains ``strain`` times its own
        length along axis ``col`` (``cell[row, col] += strain * cell[row, row]``; e.g. 1, 0:
        xy), the atoms carried along (same reduced coordinates)."""
        cell = self.cell.copy()
        cell[row, col] += strain * cell[row, row]
        return self.replace(positions=self.origin + self.reduced_positions() @ cell, cell=cell)

    def replace(self, **changes) -> Frame:
        """A copy with some fields replaced (positions, species, cell, origin, pbc, ids)."""
        kw = dict(
            positions=self.positions,
            species=self.species,
            cell=self.cell,
            origin=self.origin,
            pbc=self.pbc,
            ids=self.ids,
        )
        kw.update(changes)
        return Frame(**kw)

    def sorted_by_id(self) -> Frame:
        order = np.argsort(self.ids, kind="stable")
        return self.replace(
            positions=self.positions[order], species=self.species[order], ids=self.ids[order]
        )

    def __repr__(self) -> str:
        counts = {s: int((self.species == s).sum()) for s in self.species_names}
        return f"Frame(n_atoms={len(self)}, species={counts}, volume={self.volume:.6g}, pbc={self.pbc})"

    # ----------------------------------------------------------------- readers
    @classmethod
    def from_ovito(cls, data, elements: Sequence[str] | Mapping[int, str] | None = None) -> Frame:
        """Build a Frame from an ``ovito.data.DataCollection``.

        Species come from OVITO's particle type names; where a type has no name
        (plain LAMMPS dumps give "", or numeric names), ``elements`` maps type ids
        to names: a sequence indexed by type id - 1 (like LAMMPS ``pair_coeff``),
        or a mapping {type_id: name}. ``elements`` is checked against what the data
        record (:func:`softscope.elements.check_type_elements`): the number of types,
        type names, and masses (per type, or a per-particle ``Mass`` property).
        """
        particles = data.particles
        if particles is None or particles.count == 0:
            raise SoftscopeError("empty frame: the OVITO data collection has no particles")
        pos = np.asarray(particles.positions, dtype=np.float64)
        ptypes = particles.particle_types
        tid = np.asarray(ptypes, dtype=np.int64)
        names = {t.id: t.name for t in ptypes.types}
        if elements is not None:
            from softscope.elements import check_type_elements

            msg = check_type_elements(
                elements, set(names) | set(np.unique(tid).tolist()), names, _type_masses(data, tid)
            )
            if msg:
                raise SoftscopeError(msg)
        species = _names_for_types(tid, names, elements)
        m = np.asarray(data.cell, dtype=np.float64)
        cell = m[:, :3].T.copy()
        origin = m[:, 3].copy()
        pbc = tuple(bool(x) for x in data.cell.pbc)
        ids = None
        if "Particle Identifier" in particles:
            ids = np.asarray(particles.identifiers, dtype=np.int64)
        return cls(pos, species, cell, origin=origin, pbc=pbc, ids=ids)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        frame: int = 0,
        elements: Sequence[str] | Mapping[int, str] | None = None,
    ) -> Frame:
        """Read one frame of any file format OVITO reads (LAMMPS data/dump, XYZ, POSCAR, ...).

        For LAMMPS files whose types carry no names, ``elements`` maps types to names
        (``["Cu", "Zr"]`` means type 1 is Cu and type 2 is Zr).
        """
        path = Path(path)
        if not path.exists():
            raise SoftscopeError(f"no such file: {path}")
        from ovito.io import import_file

        # explicit: scan the whole file for frames before asking for their number
        kw = {"multiple_frames": True}
        if path.suffix == ".data" or path.name.endswith(".lmp") or "data" in path.name.split("."):
            kw["atom_style"] = "atomic"
        try:
            pipeline = import_file(str(path), **kw)
        except Exception:
            pipeline = import_file(str(path), multiple_frames=True)
        nframes = pipeline.source.num_frames
        if not (-nframes <= frame < nframes):
            raise SoftscopeError(f"{path} has {nframes} frame(s); frame={frame} is out of range")
        data = pipeline.compute(frame % nframes)
        return cls.from_ovito(data, elements=elements)


def cell_widths(cell: np.ndarray) -> np.ndarray:
    """(3,) distances between opposite faces of the cell with rows a, b, c (length unit)."""
    h = np.asarray(cell, dtype=np.float64)
    return abs(np.linalg.det(h)) / np.linalg.norm(np.cross(h[[1, 2, 0]], h[[2, 0, 1]]), axis=1)


def _type_masses(data, tid: np.ndarray) -> dict[int, float]:
    """Mass of each particle type: OVITO's per-type mass (0 = unknown), else the
    per-particle ``Mass`` property where it is uniform within the type."""
    particles = data.particles
    out = {t.id: float(t.mass) for t in particles.particle_types.types if t.mass > 0}
    if "Mass" in particles:
        m = np.asarray(particles["Mass"], dtype=np.float64)
        for t in np.unique(tid).tolist():
            if t not in out:
                mt = m[tid == t]
                if mt.size and np.ptp(mt) <= 1e-9 * abs(mt[0]):
                    out[t] = float(mt[0])
    return out


def _names_for_types(
    tid: np.ndarray, names: Mapping[int, str], elements: Sequence[str] | Mapping[int, str] | None
) -> np.ndarray:
    if elements is not None:
        if isinstance(elements, Mapping):
            lut = {int(k): str(v) for k, v in elements.items()}
        else:
            lut = {k + 1: str(v) for k, v in enumerate(elements)}
    else:
        lut = {}
        for t, nm in names.items():
            if not nm or nm.isdigit():
                continue
            lut[t] = nm
    present = np.unique(tid)
    missing = [int(t) for t in present if int(t) not in lut]
    if missing:
        raise SoftscopeError(
            f"particle types {missing} have no element name; pass elements=[...] mapping "
            "type 1, 2, ... to names (like LAMMPS pair_coeff), e.g. elements=['Cu', 'Zr']"
        )
    table = np.array([lut.get(int(t), "") for t in range(int(present.max()) + 1)], dtype=object)
    return table[tid].astype(str)
