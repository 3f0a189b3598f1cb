"""Does a frame fit what a model expects? Length scale vs unit system, atom sizes vs names.

A LAMMPS run records its unit style (``Model.check_units``); dumps and data files do
not, and neither does a :class:`~softscope.frame.Frame`. So the frame's geometry is
checked: its typical nearest-neighbour distance against the range condensed matter has
in the model's unit system (atoms 2.0-3.6 Å apart, LJ particles 0.75-1.25 σ), and, in
units with lengths in Å, each species' neighbour distance against its element's size
(:func:`softscope.elements.check_species_sizes`: a permuted type -> element mapping).
A clear contradiction is a :class:`~softscope.errors.ConventionMismatch`; an unusual
but possible scale, or one that cannot be measured, is a warning saying what was assumed.
"""

from __future__ import annotations

import warnings

import numpy as np

from softscope.elements import check_species_sizes
from softscope.errors import ConventionMismatch, SoftscopeError
from softscope.frame import Frame

__all__ = ["check_frame", "nearest_neighbour_distances", "typical_nn_range"]

#: Å per length unit of the LAMMPS unit styles with fixed lengths (lj has none: σ)
ANGSTROM_PER_UNIT: dict[str, float] = {
    "metal": 1.0,
    "real": 1.0,
    "si": 1e10,
    "cgs": 1e8,
    "electron": 0.52917721,
    "micro": 1e4,
    "nano": 10.0,
}
LENGTH_LABEL = {
    "metal": "Å",
    "real": "Å",
    "si": "m",
    "cgs": "cm",
    "electron": "Bohr",
    "micro": "µm",
    "nano": "nm",
    "lj": "σ",
}
#: typical nearest-neighbour distance of condensed atoms (Å) and LJ particles (σ)
NN_ANGSTROM = (2.0, 3.6)
NN_LJ = (0.75, 1.25)
#: a factor beyond the typical range that no condensed frame of that unit system reaches
IMPLAUSIBLE = 1.5
#: atoms whose neighbours are measured (a deterministic sample of larger frames)
MAX_SAMPLE = 2000
_MIN_PER_SPECIES = 5


def typical_nn_range(units: str) -> tuple[float, float, str]:
    """(low, high, length label) of the nearest-neighbour distance in ``units``."""
    if units == "lj":
        return (*NN_LJ, LENGTH_LABEL["lj"])
    f = ANGSTROM_PER_UNIT[units]
    return NN_ANGSTROM[0] / f, NN_ANGSTROM[1] / f, LENGTH_LABEL[units]


def nearest_neighbour_distances(
    frame: Frame, max_atoms: int = MAX_SAMPLE
) -> tuple[np.ndarray, np.ndarray]:
    """(distance (k,), atom index (k,)) to the nearest other atom or image, for up to
    ``max_atoms`` atoms (all atoms of smaller frames); atoms with no neighbour are left
    out. Empty arrays when nothing can be measured (a single atom, no neighbours)."""
    from softscope.neighbors import build_from_points, periodic_images

    n = len(frame)
    if n < 2:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    idx = np.arange(n)
    if n > max_atoms:
        idx = np.sort(np.random.default_rng(0).choice(n, max_atoms, replace=False))
    # an atom's nearest neighbour is within 1.35 (V/N)^(1/3) unless the cell has empty space
    rc = 1.35 * (frame.volume / n) ** (1.0 / 3.0)
    for _ in range(3):
        try:
            pts, pa = periodic_images(frame, rc)
        except SoftscopeError:  # a tiny cell needing too many images
            break
        rest = np.ones(len(pts), dtype=bool)
        rest[idx] = False
        order = np.concatenate([idx, np.flatnonzero(rest)])
        nl = build_from_points(pts[order], len(idx), rc, point_atom=pa[order])
        has = np.diff(nl.offsets) > 0
        if has.mean() >= 0.5:
            d = np.minimum.reduceat(nl.dist, nl.offsets[:-1][has]) if has.any() else np.zeros(0)
            return d, idx[has]
        rc *= 2.0
    return np.zeros(0), np.zeros(0, dtype=np.int64)


def check_frame(frame: Frame, units: str, source: str = "the model") -> None:
    """Raise :class:`ConventionMismatch` if ``frame`` cannot be in ``units`` (or its type
    -> element mapping is permuted); warn when the scale is unusual or unmeasurable.

    ``source`` names what expects ``units`` in the messages (e.g. "model 'cuzr-softness'").
    """
    lo, hi, label = typical_nn_range(units)
    assumed = f"assumed its positions are in {label} (units {units}), as {source} expects"
    d, atoms = nearest_neighbour_distances(frame)
    if d.size == 0:
        warnings.warn(
            f"could not measure the nearest-neighbour distances of the frame ({len(frame)} "
            f"atom(s)): {assumed}",
            UserWarning,
            stacklevel=3,
        )
        return
    typical = float(np.median(d))
    if typical < lo / IMPLAUSIBLE or typical > hi * IMPLAUSIBLE:
        looks = ""
        if _within(typical, "lj"):
            looks = "; that is typical of units lj (σ)"
        elif _within(typical, "metal"):
            looks = "; that is typical of units metal or real (Å)"
        raise ConventionMismatch(
            f"{source} is for 'units {units}', where nearest neighbours are {lo:.3g}-{hi:.3g} "
            f"{label} apart, but the frame's typical nearest-neighbour distance is "
            f"{typical:.3g}{looks}. A frame (like a dump or data file) does not record its "
            f"units: use a model trained in the frame's units, or convert the positions to "
            f"{label}"
        )
    if not lo <= typical <= hi:
        warnings.warn(
            f"the frame's typical nearest-neighbour distance {typical:.3g} is unusual for "
            f"units {units} ({lo:.3g}-{hi:.3g} {label}): {assumed}; if they are not, the "
            "predictions are meaningless",
            UserWarning,
            stacklevel=3,
        )
    if units in ANGSTROM_PER_UNIT:
        sp = frame.species[atoms]
        per = {
            s: float(np.median(d[sp == s])) * ANGSTROM_PER_UNIT[units]
            for s in np.unique(sp).tolist()
            if np.count_nonzero(sp == s) >= _MIN_PER_SPECIES
        }
        msg = check_species_sizes(per)
        if msg:
            raise ConventionMismatch(f"{source}: {msg}")


def _within(d: float, units: str) -> bool:
    lo, hi, _ = typical_nn_range(units)
    return lo <= d <= hi
