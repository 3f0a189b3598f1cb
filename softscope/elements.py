"""Element facts used to catch a wrong type -> element mapping.

Standard atomic masses (g/mol, IUPAC abridged) of the elements common in metallic
glasses; LAMMPS ``units metal`` and ``units real`` give per-type masses in g/mol.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

STANDARD_MASSES: dict[str, float] = {
    "Al": 26.982,
    "B": 10.81,
    "Be": 9.0122,
    "C": 12.011,
    "Ce": 140.12,
    "Co": 58.933,
    "Cr": 51.996,
    "Cu": 63.546,
    "Fe": 55.845,
    "Gd": 157.25,
    "Hf": 178.49,
    "La": 138.91,
    "Mg": 24.305,
    "Mn": 54.938,
    "Mo": 95.95,
    "Nb": 92.906,
    "Nd": 144.24,
    "Ni": 58.693,
    "P": 30.974,
    "Pd": 106.42,
    "Pt": 195.08,
    "Si": 28.085,
    "Sm": 150.36,
    "Ta": 180.95,
    "Ti": 47.867,
    "V": 50.942,
    "W": 183.84,
    "Y": 88.906,
    "Zn": 65.38,
    "Zr": 91.224,
}

#: units whose masses are g/mol
MOLAR_MASS_UNITS = ("metal", "real")


def check_type_masses(
    elements: Sequence[str], masses: Sequence[float], units: str, tol: float = 1.0
) -> str | None:
    """A message if the per-type ``masses`` (type 1, 2, ...) contradict ``elements``.

    Only for molar-mass units and elements in :data:`STANDARD_MASSES`; ``NULL`` and
    unknown names are not checked. Returns None when consistent (or uncheckable). When
    the masses fit a permutation of the names, the message proposes it.
    """
    if units not in MOLAR_MASS_UNITS:
        return None
    m = np.asarray(masses, dtype=float)
    bad = [
        (t, e, m[t - 1])
        for t, e in enumerate(elements, start=1)
        if e in STANDARD_MASSES and abs(STANDARD_MASSES[e] - m[t - 1]) > tol
    ]
    if not bad:
        return None
    where = ", ".join(
        f"type {t} has mass {mt:g} but is mapped to {e} ({STANDARD_MASSES[e]:g})"
        for t, e, mt in bad
    )
    msg = f"the 'elements' list does not match the atom masses: {where}"
    names = [e for e in elements if e in STANDARD_MASSES]
    guess = []
    for mt in m[: len(elements)]:
        best = min(names, key=lambda e: abs(STANDARD_MASSES[e] - mt), default=None)
        guess.append(best if best is not None and abs(STANDARD_MASSES[best] - mt) <= tol else None)
    if None not in guess and sorted(guess) == sorted(names) and guess != list(elements):
        msg += f"; did you mean 'elements {' '.join(guess)}'?"
    else:
        msg += "; list one element per atom type in type order, like pair_coeff"
    return msg


#: metallic radii (Å, 12-fold coordination; Teatum, Gschneidner & Waber) of the metals
#: of :data:`STANDARD_MASSES`; metalloids (B, C, P, Si) have none
METALLIC_RADII: dict[str, float] = {
    "Al": 1.432,
    "Be": 1.128,
    "Ce": 1.825,
    "Co": 1.252,
    "Cr": 1.282,
    "Cu": 1.278,
    "Fe": 1.274,
    "Gd": 1.802,
    "Hf": 1.580,
    "La": 1.877,
    "Mg": 1.602,
    "Mn": 1.264,
    "Mo": 1.400,
    "Nb": 1.468,
    "Nd": 1.821,
    "Ni": 1.246,
    "Pd": 1.376,
    "Pt": 1.387,
    "Sm": 1.804,
    "Ta": 1.467,
    "Ti": 1.462,
    "V": 1.346,
    "W": 1.408,
    "Y": 1.801,
    "Zn": 1.394,
    "Zr": 1.602,
}

#: below this largest per-type mass, masses are reduced (LJ) units, not g/mol
_MIN_MOLAR_MASS = 5.0


def _as_type_map(elements: Sequence[str] | Mapping[int, str]) -> dict[int, str]:
    if isinstance(elements, Mapping):
        return {int(k): str(v) for k, v in elements.items()}
    return {k + 1: str(v) for k, v in enumerate(elements)}


def check_type_elements(
    elements: Sequence[str] | Mapping[int, str],
    type_ids: Iterable[int],
    type_names: Mapping[int, str] | None = None,
    type_masses: Mapping[int, float] | None = None,
) -> str | None:
    """A message if a type -> element mapping cannot be right for the data, else None.

    ``elements``: names in type order (type 1 first, like ``pair_coeff``) or an explicit
    ``{type_id: name}`` mapping; ``type_ids``: the particle types of the data.
    ``type_names``/``type_masses``: what the file records per type (unnamed types:
    ``""`` or digits; unknown masses: 0 or NaN; masses are read as g/mol unless all
    are below 5, i.e. reduced units). A list must give one distinct name per type; a
    mapping is explicit, so it may repeat a name or name types the data lack.
    """
    types = sorted({int(t) for t in type_ids})
    n_types = max(types, default=0)
    listed = not isinstance(elements, Mapping)
    lut = _as_type_map(elements)
    if listed:
        names = list(lut.values())
        if len(names) != n_types:
            have = ", ".join(map(str, types))
            example = ", ".join(f"{t}=..." for t in types)
            s = "" if len(names) == 1 else "s"
            return (
                f"'elements' lists {len(names)} name{s} ({' '.join(names)}) but the input has "
                f"{n_types} particle types ({have}): give one element per type in type order "
                f"(type 1 first, like LAMMPS pair_coeff), or map the types explicitly "
                f"('{example}')"
            )
        seen: dict[str, list[int]] = {}
        for t, e in lut.items():
            seen.setdefault(e, []).append(t)
        dup = {e: ts for e, ts in seen.items() if len(ts) > 1 and e != "NULL"}
        if dup:
            e, ts = next(iter(dup.items()))
            where = " and ".join(map(str, ts))
            explicit = ", ".join(f"{t}={lut[t]}" for t in ts)
            return (
                f"'elements' names {e} for types {where}: give each atom type its own "
                "element in type order (type 1 first, like LAMMPS pair_coeff); if several "
                f"types really are {e}, map them explicitly ('{explicit}')"
            )
    msg = _names_problem(lut, types, type_names or {})
    if msg:
        return msg
    masses = {t: float(m) for t, m in (type_masses or {}).items() if np.isfinite(m) and m > 0}
    if masses and max(masses.values()) >= _MIN_MOLAR_MASS:
        order = [lut.get(t, "NULL") for t in range(1, n_types + 1)]
        m = [masses.get(t, np.nan) for t in range(1, n_types + 1)]
        return check_type_masses(order, m, "metal")
    return None


def _names_problem(lut: dict[int, str], types: list[int], names: Mapping[int, str]) -> str | None:
    """Type names of the file that are element names (or the mapping's names) must agree."""
    given = set(lut.values())
    bad = [
        (t, nm, lut[t])
        for t in types
        if t in lut
        and (nm := (names.get(t) or "").strip())
        and not nm.isdigit()
        and (nm in STANDARD_MASSES or nm in given)
        and nm != lut[t]
    ]
    if not bad:
        return None
    where = ", ".join(
        f"type {t} is named '{nm}' in the input but is mapped to {e}" for t, nm, e in bad
    )
    order = [(names.get(t) or "").strip() for t in types]
    hint = (
        f"; did you mean '{' '.join(order)}'? (or leave 'elements' empty to use the input's "
        "type names)"
        if types == list(range(1, len(types) + 1)) and all(order)
        else "; leave 'elements' empty to use the input's type names"
    )
    return f"the 'elements' list does not match the particle type names: {where}{hint}"


#: measured size differences are smaller than radius differences (shared neighbours)
_SIZE_ATTENUATION = 0.7
#: rms misfit (Å) above which a permutation that fits twice as well is reported
_SIZE_MISFIT = 0.08


def check_species_sizes(nn_distance: Mapping[str, float]) -> str | None:
    """A message if atoms' sizes say their element names are permuted, else None.

    ``nn_distance``: per species, the typical (median) nearest-neighbour distance of its
    atoms, in Å. Only species of :data:`METALLIC_RADII` are compared; the larger atom has
    the larger neighbour distances. Reported only when a permutation of the names fits
    the measured sizes clearly better (elements of similar size never are).
    """
    sp = [s for s in nn_distance if s in METALLIC_RADII and np.isfinite(nn_distance[s])]
    if len(sp) < 2 or len(sp) > 6:
        return None
    d = np.array([nn_distance[s] for s in sp])
    d = d - d.mean()

    def misfit(names: Sequence[str]) -> float:
        r = np.array([METALLIC_RADII[s] for s in names])
        return float(np.sqrt(np.mean((d - _SIZE_ATTENUATION * (r - r.mean())) ** 2)))

    now = misfit(sp)
    best = min(itertools.permutations(sp), key=misfit)
    if list(best) == sp or now <= _SIZE_MISFIT or misfit(best) > 0.5 * now:
        return None
    moved = [(a, b) for a, b in zip(sp, best, strict=True) if a != b]
    sizes = ", ".join(f"{s} {nn_distance[s]:.2f} Å (radius {METALLIC_RADII[s]:.2f})" for s in sp)
    looks = ", ".join(f"the atoms named {a} look like {b}" for a, b in moved)
    return (
        f"the atom sizes do not fit the element names: {looks} (typical nearest-neighbour "
        f"distance vs metallic radius: {sizes}); the type -> element mapping looks "
        "permuted: swap these names in the mapping ('elements', type 1 first)"
    )
