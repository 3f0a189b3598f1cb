"""Element facts used to catch a wrong type -> element mapping.

Standard atomic masses (g/mol, IUPAC abridged) of the elements common in metallic
glasses; LAMMPS ``units metal`` and ``units real`` give per-type masses in g/mol.
"""

from __future__ import annotations

from collections.abc import Sequence

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
