"""Melt-quench glasses: random start, melt, linear quench, relax, minimize.

``cuzr``: melt, quench and relax under NPT (Nosé-Hoover, isotropic pressure), then
minimize energy with the box relaxed to the target pressure (``fix box/relax iso``) and
once more at fixed box.  ``ka``: NVT (Nosé-Hoover) at fixed number density (default 1.2),
then minimized at fixed box.  Units, rates and temperatures follow the system
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
from softscope.simulate.session import MDRunner, lammps_seeds, open_lammps, thermo_state
from softscope.simulate.systems import (
    atom_counts,
    check_system,
    file_sha256,
    positive,
    potential_commands,
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

    system: str
    spec: dict[str, Any]
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
    seeds: tuple[int, int, int]  # positions of type 1, of type 2, velocities

    @property
    def is_cuzr(self) -> bool:
        return self.system == "cuzr"


def _plan(
    *,
    system: str,
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
    spec = check_system(system)
    composition = dict(composition if composition is not None else spec["composition"])
    if not isinstance(n_atoms, (int, np.integer)) or n_atoms < 2:
        raise SoftscopeError(f"n_atoms must be an integer >= 2, got {n_atoms!r}")
    counts = atom_counts(composition, spec["elements"], int(n_atoms))
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
    if system == "ka":
        if pressure:
            raise SoftscopeError(
                "pressure applies to system='cuzr' only; the KA glass is made at fixed density"
            )
        density = positive("density", spec["density"] if density is None else density)
    elif density is not None:
        density = positive("density", density)
    n_melt = int(melt_steps) if melt_steps is not None else int(round(melt_time / dt))
    n_relax = int(relax_steps) if relax_steps is not None else int(round(relax_time / dt))
    n_quench = int(round((melt_T - T_final) / rate_per_time(system, quench_rate) / dt))
    s_pos1, s_pos2, s_vel = lammps_seeds(seed, 3)
    return _GlassPlan(
        system=system,
        spec=spec,
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
        seeds=(s_pos1, s_pos2, s_vel),
    )


def _create_random_box(lmp: Any, plan: _GlassPlan, pot_cmds: str) -> None:
    """Cubic box at the starting density with atoms at random (minimum separation
    ``overlap`` of the system), exact counts per type; potential and thermo output."""
    spec, counts = plan.spec, plan.counts
    if plan.density is None:  # Cu-Zr: start near the liquid density
        vol = sum(c * spec["v_atom"][e] for c, e in zip(counts, spec["elements"], strict=False))
        vol *= 1.1
    else:
        vol = plan.n_atoms / plan.density
    L = vol ** (1.0 / 3.0)
    ov = spec["overlap"]
    s_pos1, s_pos2, _ = plan.seeds
    n_md = plan.n_melt + plan.n_quench + plan.n_relax
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
timestep {plan.dt!r}
thermo_style custom step temp pe press vol density
thermo {max(100, min(5000, n_md // 50 or 100))}
thermo_modify norm no flush yes
"""
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
        f"velocity all create {plan.melt_T!r} {plan.seeds[2]} mom yes rot yes dist gaussian"
    )
    tdamp = plan.spec["tdamp"]
    if plan.is_cuzr:
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
    if plan.is_cuzr:
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
    cuzr = plan.is_cuzr
    s_pos1, s_pos2, s_vel = plan.seeds
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
        "lammps_seeds": {"positions_type1": s_pos1, "positions_type2": s_pos2, "velocity": s_vel},
        "threads": plan.threads,
    }


def _final_record(plan: _GlassPlan, final: dict[str, float]) -> dict[str, Any]:
    """The ``final`` record of the manifest: thermo state plus per-atom and density values."""
    n, vol = plan.n_atoms, final["vol"]
    els = plan.spec["elements"]
    mass = sum(c * plan.spec["masses"][e] for c, e in zip(plan.counts, els, strict=False))
    return {
        **final,
        "pe_per_atom": final["pe"] / n,
        "volume_per_atom": vol / n,
        "number_density": n / vol,
        **({"mass_density_g_cm3": mass / 0.602214076 / vol} if plan.is_cuzr else {}),
    }


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
    out = prepare_out(out_dir, overwrite)
    lmp, parallel = open_lammps(out / LOG_FILE, plan.threads)
    timings: dict[str, float] = {}
    try:
        pot_cmds, pot_rec = potential_commands(system)
        _create_random_box(lmp, plan, pot_cmds)
        state_relaxed = _melt_quench_relax(lmp, plan, progress, timings)
        final = _minimize(lmp, plan, timings)
        lmp.command(f"write_data {out / GLASS_FILE} nocoeff")
        man = base_manifest("glass", system, _parameters(plan), lmp, parallel)
    finally:
        lmp.close()
    timings["total_s"] = time.perf_counter() - t_start
    n_md = plan.n_melt + plan.n_quench + plan.n_relax
    t_md = timings["melt_s"] + timings["quench_s"] + timings["relax_s"]
    man.update(
        {
            "potential": pot_rec,
            "composition": dict(zip(plan.spec["elements"], plan.counts, strict=False)),
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
