"""Melt-quench glasses: random start, melt, linear quench, relax, minimize.

``metal`` / ``real`` units (``cuzr``, custom potentials): melt, quench and relax under NPT
(Nosé-Hoover, isotropic pressure), then minimize energy with the box relaxed to the target
pressure (``fix box/relax iso``) and once more at fixed box.  ``lj`` units (``ka``, LJ
snippets): NVT (Nosé-Hoover) at fixed number density (default 1.2), then minimized at
fixed box.  Units, rates and temperatures follow the system
(:mod:`softscope.simulate.systems`).  The same seed with ``threads=1`` reproduces the
same files bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from softscope.errors import SoftscopeError
from softscope.simulate.manifest import (
    GLASS_FILE,
    LOG_FILE,
    MANIFEST,
    base_manifest,
    prepare_out,
    write_json,
)
from softscope.simulate.session import (
    MDRunner,
    check_potential,
    lammps_seeds,
    open_lammps,
    run_commands,
    thermo_state,
)
from softscope.simulate.systems import (
    System,
    as_system,
    atom_counts,
    file_sha256,
    positive,
    rate_per_time,
)

__all__ = ["DEFAULT_GLASS_RECIPE", "make_glass"]

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


@dataclass(frozen=True)
class _GlassPlan:
    """Checked parameters of one glass (units of the system) and its step counts."""

    system: System
    composition: dict[str, float]
    n_atoms: int
    counts: list[int]
    melt_T: float
    T_final: float
    quench_rate: float
    dt: float
    etol: float
    ftol: float
    threads: int
    pressure: float
    density: float | None
    n_melt: int
    n_quench: int
    n_relax: int
    seed: int
    seeds: tuple[int, ...]  # positions of type 1, 2, ..., then velocities

    @property
    def npt(self) -> bool:
        return self.system.npt

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.system.defaults)


def _plan(
    *,
    system: str | System,
    composition: Mapping[str, float] | None,
    n_atoms: int,
    melt_T: float | None,
    quench_rate: float | None,
    T_final: float | None,
    melt_time: float | None,
    relax_time: float | None,
    seed: int,
    timestep: float | None,
    pressure: float,
    density: float | None,
    relax_steps: int | None,
    melt_steps: int | None,
    etol: float,
    ftol: float | None,
    threads: int,
) -> _GlassPlan:
    """Check every parameter (defaults from the system) before anything is written."""
    system = as_system(system)
    spec = system.defaults
    composition = dict(composition if composition is not None else system.composition)
    if not isinstance(n_atoms, (int, np.integer)) or n_atoms < 2:
        raise SoftscopeError(f"n_atoms must be an integer >= 2, got {n_atoms!r}")
    bad = [k for k in composition if k not in system.elements]
    if bad and not system.preset:
        raise SoftscopeError(
            f"composition has unknown element(s) {bad}: it names {len(composition)} "
            f"element(s) {list(composition)} but the types of {system.name} (elements, "
            f"--elements) are {list(system.elements)}; every composition element must be a type"
        )
    counts = atom_counts(composition, system.elements, int(n_atoms))
    melt_T = positive("melt_T", spec["melt_T"] if melt_T is None else melt_T)
    T_final = positive("T_final", spec["T_final"] if T_final is None else T_final)
    if T_final > melt_T:
        raise SoftscopeError(f"T_final ({T_final}) must not exceed melt_T ({melt_T})")
    quench_rate = positive(
        "quench_rate", spec["quench_rate"] if quench_rate is None else quench_rate
    )
    dt = positive("timestep", spec["timestep"] if timestep is None else timestep)
    melt_time = positive("melt_time", spec["melt_time"] if melt_time is None else melt_time, True)
    relax_time = positive(
        "relax_time", spec["relax_time"] if relax_time is None else relax_time, True
    )
    ftol = positive("ftol", spec["ftol"] if ftol is None else ftol)
    etol = positive("etol", etol, True)
    threads = int(threads)
    if threads < 1:
        raise SoftscopeError(f"threads must be >= 1, got {threads}")
    if not system.npt:
        if pressure:
            raise SoftscopeError(
                "pressure applies to metal and real units only; a glass in lj units "
                f"({system.name}) is made at fixed density"
            )
        density = positive("density", spec["density"] if density is None else density)
    elif density is not None:
        density = positive("density", density)
    n_melt = int(melt_steps) if melt_steps is not None else int(round(melt_time / dt))
    n_relax = int(relax_steps) if relax_steps is not None else int(round(relax_time / dt))
    n_quench = int(round((melt_T - T_final) / rate_per_time(system, quench_rate) / dt))
    seeds = lammps_seeds(seed, system.n_types + 1)
    return _GlassPlan(
        system=system,
        composition=composition,
        n_atoms=int(n_atoms),
        counts=counts,
        melt_T=melt_T,
        T_final=T_final,
        quench_rate=quench_rate,
        dt=dt,
        etol=etol,
        ftol=ftol,
        threads=threads,
        pressure=float(pressure),
        density=density,
        n_melt=n_melt,
        n_quench=n_quench,
        n_relax=n_relax,
        seed=int(seed),
        seeds=tuple(seeds),
    )


def _create_random_box(lmp: Any, plan: _GlassPlan, pot_cmds: str) -> None:
    """Cubic box at the starting density with atoms at random (minimum separation
    ``overlap`` of the system), exact counts per type; potential and thermo output."""
    sys_, counts = plan.system, plan.counts
    if plan.density is None:  # metal / real units: start near the liquid density
        v_atom = sys_.v_atom or (16.0,) * sys_.n_types
        vol = sum(c * v for c, v in zip(counts, v_atom, strict=False))
        vol *= 1.1
    else:
        vol = plan.n_atoms / plan.density
    L = vol ** (1.0 / 3.0)
    ov = sys_.defaults["overlap"]
    n_md = plan.n_melt + plan.n_quench + plan.n_relax
    create = "".join(
        f"create_atoms {t + 1} random {c} {s} NULL overlap {ov} maxtry 1000\n"
        for t, (c, s) in enumerate(zip(counts, plan.seeds, strict=False))
    )
    run_commands(
        lmp,
        f"""
units {sys_.units}
atom_style atomic
boundary p p p
atom_modify map array sort 0 0.0
region box block 0 {L!r} 0 {L!r} 0 {L!r}
create_box {sys_.n_types} box
{create}{pot_cmds}
timestep {plan.dt!r}
thermo_style custom step temp pe press vol density
thermo {max(100, min(5000, n_md // 50 or 100))}
thermo_modify norm no flush yes
""",
        sys_,
    )
    if int(lmp.get_natoms()) != plan.n_atoms:
        raise SoftscopeError(
            f"could only place {lmp.get_natoms()} of {plan.n_atoms} atoms at random with "
            f"minimum separation {ov}; lower the density or the overlap"
        )


def _melt_quench_relax(
    lmp: Any, plan: _GlassPlan, progress: bool, timings: dict[str, float]
) -> dict[str, float]:
    """Remove the worst overlaps, then melt at ``melt_T``, quench linearly to ``T_final``
    and relax there (NPT for ``cuzr``, NVT for ``ka``); records the wall time of each
    stage in ``timings`` and returns the thermo state after relaxing."""
    t0 = time.perf_counter()
    lmp.command("minimize 0 1e-4 500 5000")
    lmp.command("reset_timestep 0")
    lmp.command(
        f"velocity all create {plan.melt_T!r} {plan.seeds[-1]} mom yes rot yes dist gaussian"
    )
    tdamp = plan.spec["tdamp"]
    if plan.npt:
        baro = f"iso {plan.pressure!r} {plan.pressure!r} {plan.spec['pdamp']!r}"
        ens = "npt"
    else:
        baro = ""
        ens = "nvt"
    run = MDRunner(lmp, progress)
    stages = (
        ("melt", plan.melt_T, plan.melt_T, plan.n_melt),
        ("quench", plan.melt_T, plan.T_final, plan.n_quench),
        ("relax", plan.T_final, plan.T_final, plan.n_relax),
    )
    state: dict[str, float] = {}
    for name, t_start, t_stop, n in stages:
        if name != "melt":
            t0 = time.perf_counter()
        lmp.command(f"fix md all {ens} temp {t_start!r} {t_stop!r} {tdamp!r} {baro}")
        run.run(n, name)
        lmp.command("unfix md")
        if name == "relax":
            state = thermo_state(lmp)
        timings[f"{name}_s"] = time.perf_counter() - t0
    return state


def _minimize(lmp: Any, plan: _GlassPlan, timings: dict[str, float]) -> dict[str, float]:
    """Energy minimization (Cu-Zr: box relaxed to ``pressure`` first, then at fixed box);
    returns the final thermo state."""
    t0 = time.perf_counter()
    mini = f"minimize {plan.etol!r} {plan.ftol!r} 20000 200000"
    lmp.command("velocity all set 0.0 0.0 0.0")
    lmp.command("thermo_style custom step temp pe press vol fmax fnorm")
    lmp.command("thermo_modify norm no")
    if plan.npt:
        lmp.command(f"fix br all box/relax iso {plan.pressure!r} vmax 0.001")
        lmp.command(mini)
        lmp.command("unfix br")
    lmp.command(mini)
    lmp.command("run 0")
    final = thermo_state(lmp)
    timings["minimize_s"] = time.perf_counter() - t0
    return final


def _parameters(plan: _GlassPlan) -> dict[str, Any]:
    """The ``parameters`` record of the manifest."""
    cuzr = plan.npt
    seeds = {f"positions_type{t + 1}": s for t, s in enumerate(plan.seeds[:-1])}
    return {
        "n_atoms": plan.n_atoms,
        "composition": plan.composition,
        "melt_T": plan.melt_T,
        "melt_time": plan.n_melt * plan.dt,
        "quench_rate": plan.quench_rate,
        "quench_rate_units": "K/s" if cuzr else "1/tau",
        "T_final": plan.T_final,
        "relax_time": plan.n_relax * plan.dt,
        "timestep": plan.dt,
        "pressure": plan.pressure if cuzr else None,
        "density": plan.density,
        "ensemble": "npt (Nose-Hoover, iso)" if cuzr else "nvt (Nose-Hoover)",
        "tdamp": plan.spec["tdamp"],
        "pdamp": plan.spec.get("pdamp") if cuzr else None,
        "steps": {"melt": plan.n_melt, "quench": plan.n_quench, "relax": plan.n_relax},
        "initial": f"random positions, min separation {plan.spec['overlap']}, exact type counts",
        "minimize": {
            "etol": plan.etol,
            "ftol": plan.ftol,
            "box_relax": f"iso {plan.pressure}" if cuzr else None,
        },
        "seed": plan.seed,
        "lammps_seeds": {**seeds, "velocity": plan.seeds[-1]},
        "threads": plan.threads,
    }


def _final_record(plan: _GlassPlan, final: dict[str, float]) -> dict[str, Any]:
    """The ``final`` record of the manifest: thermo state plus per-atom and density values."""
    n, vol = plan.n_atoms, final["vol"]
    mass = sum(c * m for c, m in zip(plan.counts, plan.system.masses, strict=False))
    return {
        **final,
        "pe_per_atom": final["pe"] / n,
        "volume_per_atom": vol / n,
        "number_density": n / vol,
        **({"mass_density_g_cm3": mass / 0.602214076 / vol} if plan.npt else {}),
    }


def make_glass(
    out_dir: str | Path,
    system: str | System = "cuzr",
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

    ``system``: a preset name (``"cuzr"``, ``"ka"``) or a :class:`~softscope.simulate.System`
    (:func:`~softscope.simulate.custom_system`: any potential).  Parameters (units of the
    system: K, ps, bar for ``metal``; K, fs, atm for ``real``; ε/k_B, τ for ``lj``):
    ``melt_T`` melt temperature, held for ``melt_time`` (or ``melt_steps``);
    ``quench_rate`` linear cooling rate from ``melt_T`` to ``T_final`` (K/s in ``metal`` /
    ``real`` units, per τ in ``lj``); then ``relax_time`` (or ``relax_steps``) at
    ``T_final``; then energy minimization (``etol``, ``ftol``; ``metal`` / ``real``: box
    relaxed to ``pressure`` first).  ``pressure`` is the NPT target in ``metal`` / ``real``
    units; ``density`` (atoms/σ³) the fixed number density in ``lj`` units (default 1.2).
    Initial positions are random (minimum separation ``defaults["overlap"]`` of the
    system), types assigned by exact counts from ``composition`` (fractions per element;
    elements left out get 0).  Returns the dataset folder.
    """
    t_start = time.perf_counter()
    plan = _plan(
        system=system,
        composition=composition,
        n_atoms=n_atoms,
        melt_T=melt_T,
        quench_rate=quench_rate,
        T_final=T_final,
        melt_time=melt_time,
        relax_time=relax_time,
        seed=seed,
        timestep=timestep,
        pressure=pressure,
        density=density,
        relax_steps=relax_steps,
        melt_steps=melt_steps,
        etol=etol,
        ftol=ftol,
        threads=threads,
    )
    if not plan.system.preset:
        check_potential(plan.system)
    out = prepare_out(out_dir, overwrite)
    lmp, parallel = open_lammps(out / LOG_FILE, plan.threads)
    timings: dict[str, float] = {}
    try:
        pot_cmds, pot_rec = plan.system.commands, dict(plan.system.potential)
        _create_random_box(lmp, plan, pot_cmds)
        state_relaxed = _melt_quench_relax(lmp, plan, progress, timings)
        final = _minimize(lmp, plan, timings)
        lmp.command(f"write_data {out / GLASS_FILE} nocoeff")
        man = base_manifest("glass", plan.system, _parameters(plan), lmp, parallel)
    finally:
        lmp.close()
    timings["total_s"] = time.perf_counter() - t_start
    n_md = plan.n_melt + plan.n_quench + plan.n_relax
    t_md = timings["melt_s"] + timings["quench_s"] + timings["relax_s"]
    man.update(
        {
            "potential": pot_rec,
            "composition": dict(zip(plan.system.elements, plan.counts, strict=False)),
            "n_atoms": plan.n_atoms,
            "seed": plan.seed,
            "files": {"data": GLASS_FILE, "log": LOG_FILE},
            "frames": [{"index": 0, "file": GLASS_FILE, "format": "lammps-data"}],
            "sha256": {GLASS_FILE: file_sha256(out / GLASS_FILE)},
            "state_before_minimize": state_relaxed,
            "final": _final_record(plan, final),
            "timings": timings,
            "atom_steps_per_s": plan.n_atoms * n_md / max(1e-9, t_md),
        }
    )
    write_json(out / MANIFEST, man)
    return out
