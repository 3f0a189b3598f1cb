"""Simple shear (xy) of a glass: athermal quasistatic (AQS) and finite-temperature MD.

Both read a glass (a dataset folder of :func:`softscope.simulate.make_glass` or a LAMMPS
data file), make the box triclinic and write one LAMMPS dump per frame,
``frame_0000.dump ...`` with the columns :data:`DUMP_COLUMNS` (sorted by id, full
precision; ``c_pe`` = per-atom potential energy), listed with their strains in the
dataset's manifest.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from softscope.errors import SoftscopeError
from softscope.simulate.manifest import (
    LOG_FILE,
    MANIFEST,
    base_manifest,
    prepare_out,
    read_manifest,
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
    SYSTEMS,
    System,
    as_system,
    file_sha256,
    positive,
    rate_per_time,
    system_from_manifest,
)

__all__ = [
    "DUMP_COLUMNS",
    "MIN_STYLES",
    "frame_file",
    "resolve_glass",
    "setup_shear",
    "shear_aqs",
    "shear_md",
]

#: Columns of every dump frame a shear run writes.
DUMP_COLUMNS = ["id", "type", "x", "y", "z", "ix", "iy", "iz", "c_pe"]
_DUMP_COLS = " ".join(DUMP_COLUMNS)
_DUMP_MODIFY = "sort id format float %.17g"
#: Minimizers ``shear_aqs`` accepts (LAMMPS ``min_style``).
MIN_STYLES = ("cg", "sd", "fire", "hftn", "quickmin")


def frame_file(index: int) -> str:
    """File name of dump frame ``index`` of a shear dataset (``frame_0007.dump``)."""
    return f"frame_{index:04d}.dump"


def resolve_glass(
    glass: str | Path, system: str | System | None
) -> tuple[Path, System, dict | None]:
    """``(data file, system, glass manifest or None)`` of a glass dataset folder or a
    LAMMPS data file.

    A folder's system is rebuilt from its manifest (preset name or ``system_spec``); a
    given ``system`` must agree with it (same preset, or same units and elements for a
    :class:`System`, which then replaces the recorded potential).  For a bare data file
    without ``system`` the preset is read from the header's ``units =``.
    """
    p = Path(glass)
    if p.is_dir():
        man = read_manifest(p)
        if man.get("kind") != "glass":
            raise SoftscopeError(
                f"{p} is a {man.get('kind')!r} dataset; shear needs a glass dataset"
            )
        data = p / man["files"]["data"]
        if isinstance(system, System):
            if system.units != man["units"] or list(system.elements) != list(man["elements"]):
                raise SoftscopeError(
                    f"the given system ({system.units} units, elements "
                    f"{' '.join(system.elements)}) does not fit the glass in {p} "
                    f"({man['units']} units, elements {' '.join(man['elements'])})"
                )
            return data, system, man
        if system is not None and system != man["system"]:
            raise SoftscopeError(f"system={system!r} but the glass in {p} is {man['system']!r}")
        return data, system_from_manifest(man, f"the glass {p}"), man
    if not p.is_file():
        raise SoftscopeError(f"glass {p} is neither a dataset folder nor a LAMMPS data file")
    head = p.open("r", errors="replace").readline()
    m = re.search(r"units\s*=\s*(\w+)", head)
    units = m.group(1) if m else None
    if system is None:
        by_units = {spec["units"]: name for name, spec in SYSTEMS.items()}
        if units not in by_units:
            raise SoftscopeError(
                f"cannot tell the system of {p} from its header; "
                f"pass system= one of {sorted(SYSTEMS)} or a custom system (--potential)"
            )
        system = by_units[units]
    sys_ = as_system(system)
    if units is not None and units != sys_.units:
        raise SoftscopeError(f"{p} is in {units} units but system {sys_.name} uses {sys_.units}")
    return p, sys_, None


def setup_shear(lmp: Any, data: Path, system: str | System) -> list[int]:
    """Read the glass ``data`` into a fresh LAMMPS instance, make the box triclinic,
    define the system's potential, per-atom energy ``c_pe`` and its sum ``c_pesum``.

    Returns the atom counts per type (a file with more types than the system is an error).
    """
    sys_ = as_system(system)
    run_commands(
        lmp,
        f"""
units {sys_.units}
atom_style atomic
boundary p p p
atom_modify map array sort 0 0.0
read_data {data}
change_box all triclinic
{sys_.commands}
compute pe all pe/atom
compute pesum all reduce sum c_pe
""",
        sys_,
    )
    n = sys_.n_types
    types = np.asarray(lmp.numpy.extract_atom("type"))[: lmp.extract_global("nlocal")]
    if types.size and int(types.max()) > n:
        raise SoftscopeError(
            f"{data} has atom types up to {int(types.max())}; the system has {n} "
            f"({' '.join(sys_.elements)})"
        )
    return [int(c) for c in np.bincount(types, minlength=n + 1)[1 : n + 1]]


def _shear_manifest(
    kind: str,
    system: System,
    params: dict[str, Any],
    lmp: Any,
    parallel: dict[str, Any],
    data: Path,
    src: dict | None,
    counts: list[int],
) -> dict[str, Any]:
    man = base_manifest(kind, system, params, lmp, parallel)
    man.update(
        {
            "potential": dict(system.potential),
            "glass": {
                "file": str(Path(data).resolve()),
                "sha256": file_sha256(Path(data)),
                "recipe": src.get("parameters") if src else None,
            },
            "composition": dict(zip(system.elements, counts, strict=False)),
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
    system: str | System | None = None,
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
    :func:`~softscope.simulate.make_glass` (its system, preset or custom potential, comes
    from its manifest) or a LAMMPS data file (then ``system`` comes from the header's
    ``units =`` or must be given).  Returns the dataset folder.
    """
    t_start = time.perf_counter()
    data, system, src = resolve_glass(glass, system)
    strain_step = positive("strain_step", strain_step)
    if n_steps is None:
        n_steps = int(round(positive("max_strain", max_strain) / strain_step))
    if int(n_steps) < 1:
        raise SoftscopeError(f"need at least one strain step, got n_steps={n_steps}")
    n_steps = int(n_steps)
    ftol = positive("ftol", system.defaults["ftol"] if ftol is None else ftol)
    etol = positive("etol", etol, True)
    if min_style not in MIN_STYLES:
        raise SoftscopeError(
            f"min_style {min_style!r} not allowed; use cg, sd, fire, hftn or quickmin"
        )
    if not system.preset:
        check_potential(system)
    out = prepare_out(out_dir, overwrite)
    lmp, parallel = open_lammps(out / LOG_FILE, int(threads))
    frames: list[dict[str, Any]] = []
    try:
        counts = setup_shear(lmp, data, system)
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
                f"write_dump all custom {out / frame_file(i)} {_DUMP_COLS} modify {_DUMP_MODIFY}"
            )
            th = thermo_state(lmp)
            frames.append(
                {
                    "index": i,
                    "file": frame_file(i),
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
        man = _shear_manifest("shear_aqs", system, params, lmp, parallel, data, src, counts)
    finally:
        lmp.close()
    man["frames"] = frames
    man["timings"] = {
        "shear_s": t_shear,
        "per_step_s": t_shear / (n_steps + 1),
        "total_s": time.perf_counter() - t_start,
    }
    write_json(out / MANIFEST, man)
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
    system: str | System | None = None,
    threads: int = 1,
    progress: bool = True,
    overwrite: bool = False,
    duration: float | None = None,
) -> Path:
    """Finite-temperature simple shear (xy) at constant engineering strain rate.

    ``strain_rate=0`` runs the same protocol without deformation (Nosé-Hoover NVT) for
    ``duration`` (ps, fs or τ): a quiescent trajectory, e.g. of a supercooled liquid for
    p_hop labels.

    Standard homogeneous-shear NEMD: velocities drawn at ``T`` (seeded), Nosé-Hoover NVT
    for ``equil_time``, then ``fix deform xy erate`` (``remap v``, no box flip) with
    ``fix nvt/sllod`` (SLLOD equations; temperature from ``compute temp/deform``, i.e.
    relative to the streaming profile) at the glass's volume.  ``strain_rate`` is in 1/s
    in ``metal`` / ``real`` units and 1/τ in ``lj``; ``T`` in K or ε/k_B.  A frame (same dump format as
    :func:`shear_aqs`) is written every ``dump_every`` steps from strain 0.
    """
    t_start = time.perf_counter()
    data, system, src = resolve_glass(glass, system)
    spec = system.defaults
    T = positive("T", spec["shear_T"] if T is None else T)
    strain_rate = positive(
        "strain_rate", spec["strain_rate"] if strain_rate is None else strain_rate, True
    )
    quiescent = strain_rate == 0.0
    if quiescent and duration is None:
        raise SoftscopeError("strain_rate 0 (no shear) needs duration= (time of the MD run)")
    if not quiescent and duration is not None:
        raise SoftscopeError("duration applies to strain_rate 0; a shear ends at max_strain")
    max_strain = 0.0 if quiescent else positive("max_strain", max_strain)
    dt = positive("timestep", spec["timestep"] if timestep is None else timestep)
    equil_time = positive(
        "equil_time", spec["equil_time"] if equil_time is None else equil_time, True
    )
    tdamp = positive("tdamp", spec["tdamp"] if tdamp is None else tdamp)
    dump_every = int(dump_every)
    if dump_every < 1:
        raise SoftscopeError(f"dump_every must be >= 1 step, got {dump_every}")
    rate = rate_per_time(system, strain_rate)
    if quiescent:
        n_steps = int(round(positive("duration", duration) / dt))
    else:
        n_steps = int(round(max_strain / (rate * dt)))
    n_equil = int(round(equil_time / dt))
    if n_steps < 1:
        raise SoftscopeError("max_strain / (strain_rate * timestep) is below one step")
    (s_vel,) = lammps_seeds(seed, 1)
    if not system.preset:
        check_potential(system)
    out = prepare_out(out_dir, overwrite)
    lmp, parallel = open_lammps(out / LOG_FILE, int(threads))
    frames: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    try:
        counts = setup_shear(lmp, data, system)
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
        run = MDRunner(lmp, progress, chunk=max(dump_every, 1000))
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
                    "file": frame_file(len(frames)),
                    "strain": (float(lmp.get_thermo("xy")) - xy0) / ly,
                    "time": step * dt,
                    "temp": float(lmp.get_thermo("temp")),
                    "pe": float(lmp.get_thermo("pe")),
                    "pxy": float(lmp.get_thermo("pxy")),
                    "press": float(lmp.get_thermo("press")),
                }
            )

        record()
        if quiescent:
            lmp.command(f"fix md all nvt temp {T!r} {T!r} {tdamp!r}")
        else:
            lmp.commands_string(
                f"""
fix def all deform 1 xy erate {rate!r} remap v flip no
fix md all nvt/sllod temp {T!r} {T!r} {tdamp!r}
fix_modify md temp tdef
thermo_modify temp tdef
"""
            )
        lmp.commands_string(
            f"""
dump d all custom {dump_every} {out}/raw.*.dump {_DUMP_COLS}
dump_modify d {_DUMP_MODIFY}
"""
        )
        run.chunk = dump_every
        t0 = time.perf_counter()
        run.run(n_steps, "MD" if quiescent else "MD shear", after_chunk=record)
        lmp.command("undump d")
        timings["shear_s"] = time.perf_counter() - t0
        params = {
            "T": T,
            "strain_rate": strain_rate,
            "strain_rate_units": system.rate_units,
            "max_strain": n_steps * rate * dt,
            "timestep": dt,
            "steps": {"equilibrate": n_equil, "shear": n_steps},
            "dump_every": dump_every,
            "tdamp": tdamp,
            "thermostat": "nvt (Nose-Hoover)"
            if quiescent
            else "nvt (Nose-Hoover) equilibration, then fix nvt/sllod with temp/deform",
            "deform": "none (quiescent NVT)"
            if quiescent
            else "fix deform xy erate, remap v, flip no; volume fixed",
            "duration": n_steps * dt,
            "seed": int(seed),
            "lammps_seeds": {"velocity": s_vel},
            "threads": int(threads),
        }
        man = _shear_manifest("shear_md", system, params, lmp, parallel, data, src, counts)
    finally:
        lmp.close()
    for fr in frames:
        raw = out / f"raw.{fr['step']}.dump"
        if raw.exists():
            raw.rename(out / fr["file"])
    man["frames"] = frames
    timings["total_s"] = time.perf_counter() - t_start
    man["timings"] = timings
    write_json(out / MANIFEST, man)
    return out
