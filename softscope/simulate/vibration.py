"""Vibrational mean-square displacement per atom from a short thermal window (LAMMPS).

The IGD-style recipe (CONVENTIONS.md, "Models") uses a dynamical per-atom quantity that
a single frame cannot give: the vibrational MSD ⟨|r_i − ⟨r_i⟩|²⟩ of atom i about its own
mean position during a short NVT run at a low temperature, started from an AQS frame
(an energy minimum).  Recipe, per frame:

1. read the glass of the shear run, make the box triclinic, replace positions, image
   flags and box by the frame (``read_dump … box yes``), same potential as the shear;
2. velocities drawn at ``T`` (Gaussian, zero total momentum), ``fix nvt`` (Nosé-Hoover,
   ``tdamp``) for ``equil_time`` (discarded);
3. ``sample_time`` more, unwrapped positions every ``sample_every`` steps;
   MSD_i = mean over samples of |r_i(t) − ⟨r_i⟩|² (length², about the mean position,
   so a slow drift of the whole atom is *included* as it would be in-run; total momentum
   is zero so there is no centre-of-mass drift).

Defaults: ``cuzr`` T = 50 K, timestep 2 fs, 0.5 ps + 1.5 ps, a sample every 20 fs;
``ka`` T = 0.05 ε/k_B, timestep 0.005 τ, 5 τ + 10 τ, a sample every 0.05 τ; custom
systems those of their unit style (:data:`UNIT_VIBRATION_DEFAULTS`).
Results go to ``<shear dataset>/vibration/msd_<index>.npy`` ((N,) float64 in the order of
atom ids, as the dump frames) with a ``manifest.json`` recording every parameter.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from softscope.errors import SoftscopeError
from softscope.position_windows import PositionWindows
from softscope.simulate.manifest import MANIFEST, read_manifest, write_json
from softscope.simulate.session import lammps_seeds, open_lammps
from softscope.simulate.systems import System, file_sha256, positive, system_from_manifest

__all__ = [
    "VIBRATION_DEFAULTS",
    "UNIT_VIBRATION_DEFAULTS",
    "vibration_defaults",
    "vibrational_msd",
    "read_vibrational_msd",
    "VIBRATION_DIR",
]

VIBRATION_DIR = "vibration"

#: Default thermal window per system (units of the system: K/ps or ε/k_B/τ).
VIBRATION_DEFAULTS: dict[str, dict[str, float]] = {
    "cuzr": {
        "T": 50.0,
        "timestep": 0.002,
        "equil_time": 0.5,
        "sample_time": 1.5,
        "sample_every": 10,
        "tdamp": 0.1,
    },
    "ka": {
        "T": 0.05,
        "timestep": 0.005,
        "equil_time": 5.0,
        "sample_time": 10.0,
        "sample_every": 10,
        "tdamp": 0.5,
    },
}


#: Default thermal window of a custom system per unit style (``real``: K, fs).
UNIT_VIBRATION_DEFAULTS: dict[str, dict[str, float]] = {
    "metal": VIBRATION_DEFAULTS["cuzr"],
    "lj": VIBRATION_DEFAULTS["ka"],
    "real": {
        "T": 50.0,
        "timestep": 2.0,
        "equil_time": 500.0,
        "sample_time": 1500.0,
        "sample_every": 10,
        "tdamp": 100.0,
    },
}


def vibration_defaults(system: System) -> dict[str, float]:
    """The default thermal window of ``system``: its preset's, else its unit style's."""
    if system.preset and system.name in VIBRATION_DEFAULTS:
        return dict(VIBRATION_DEFAULTS[system.name])
    return dict(UNIT_VIBRATION_DEFAULTS[system.units])


def _dump_step(path: Path) -> tuple[int, bool]:
    """(timestep, triclinic box?) of a one-frame LAMMPS text dump."""
    with open(path) as fh:
        head = [fh.readline() for _ in range(5)]
    if not head[0].startswith("ITEM: TIMESTEP"):
        raise SoftscopeError(f"{path} is not a LAMMPS dump file (no ITEM: TIMESTEP)")
    return int(head[1].split()[0]), "xy" in head[4]


def _one_frame(
    glass: Path, dump: Path, system: System, par: dict[str, Any], seed: int, log: Path
) -> np.ndarray:
    from lammps import LMP_STYLE_ATOM, LMP_TYPE_ARRAY

    step, triclinic = _dump_step(dump)
    lmp, _ = open_lammps(log, 1)
    try:
        pot_cmds = system.commands
        lmp.commands_string(
            f"""
units {system.units}
atom_style atomic
boundary p p p
atom_modify map array sort 0 0.0
read_data {glass}
{"change_box all triclinic" if triclinic else ""}
{pot_cmds}
read_dump {dump} {step} x y z ix iy iz box yes replace yes purge no
reset_timestep 0
timestep {par["timestep"]!r}
velocity all create {par["T"]!r} {seed} mom yes rot no dist gaussian
fix vib all nvt temp {par["T"]!r} {par["T"]!r} {par["tdamp"]!r}
compute u all property/atom xu yu zu
thermo 0
"""
        )
        n_eq = int(round(par["equil_time"] / par["timestep"]))
        n_s = int(round(par["sample_time"] / par["timestep"]))
        every = int(par["sample_every"])
        lmp.command(f"run {max(n_eq, 0)} post no")
        nloc = int(lmp.extract_global("nlocal"))
        ids = np.asarray(lmp.numpy.extract_atom("id"))[:nloc].astype(np.int64)
        order = np.argsort(ids)

        def pos() -> np.ndarray:
            # extract_compute invokes a per-atom compute that is not current
            u = lmp.numpy.extract_compute("u", LMP_STYLE_ATOM, LMP_TYPE_ARRAY)
            return np.array(u[:nloc], dtype=np.float64)[order]

        # running sums about the first sample (softscope.position_windows, as the fix's
        # msd keyword): the population variance of the n samples, summed over x, y, z
        win = PositionWindows(np.zeros((nloc, PositionWindows.width())))
        for _ in range(max(n_s // every, 1)):
            lmp.command(f"run {every} pre no post no")
            win.add(pos())
        return np.ascontiguousarray(win.msd(), dtype=np.float64)
    finally:
        lmp.close()


def _glass_file(sd: Path, rec: dict[str, Any]) -> Path:
    """The glass data file a shear dataset was made from: the recorded path, or, for a
    sample folder that moved (another machine, a renamed parent), ``<sample>/glass/`` beside
    the shear folder when its SHA-256 is the recorded one."""
    glass = Path(rec["file"])
    if glass.exists():
        return glass
    moved = sd.parent / "glass" / glass.name
    if moved.exists() and rec.get("sha256") in (None, file_sha256(moved)):
        return moved
    raise SoftscopeError(
        f"the glass data file of {sd} is missing: {glass} (nor is it at {moved} with the "
        "recorded SHA-256)"
    )


def vibrational_msd(
    shear_dir: str | Path,
    frames: Sequence[int] | None = None,
    T: float | None = None,
    timestep: float | None = None,
    equil_time: float | None = None,
    sample_time: float | None = None,
    sample_every: int | None = None,
    seed: int = 1,
    progress: bool = True,
) -> Path:
    """Vibrational MSD (length²) of every atom for the given frame indices of an AQS run.

    ``shear_dir``: a ``shear_aqs`` dataset folder; ``frames``: frame indices (default:
    all).  Already computed frames with the same parameters are kept.  Returns the
    ``vibration`` folder.  Parameters default to :data:`VIBRATION_DEFAULTS` of the system.
    """
    sd = Path(shear_dir)
    man = read_manifest(sd)
    if man.get("kind") != "shear_aqs":
        raise SoftscopeError(f"{sd} is a {man.get('kind')!r} dataset; need a shear_aqs folder")
    system = system_from_manifest(man, f"the shear run {sd}")
    d = vibration_defaults(system)
    for k, v in (
        ("T", T),
        ("timestep", timestep),
        ("equil_time", equil_time),
        ("sample_time", sample_time),
    ):
        if v is not None:
            d[k] = positive(k, v)
    if sample_every is not None:
        if int(sample_every) < 1:
            raise SoftscopeError(f"sample_every must be >= 1 step, got {sample_every}")
        d["sample_every"] = int(sample_every)
    all_idx = [int(f["index"]) for f in man["frames"]]
    idx = all_idx if frames is None else [int(i) for i in frames]
    bad = sorted(set(idx) - set(all_idx))
    if bad:
        raise SoftscopeError(f"frame indices {bad} not in {sd} (it has 0..{max(all_idx)})")
    glass = _glass_file(sd, man["glass"])
    out = sd / VIBRATION_DIR
    out.mkdir(exist_ok=True)
    vman_path = out / MANIFEST
    vman: dict[str, Any] = {}
    if vman_path.exists():
        vman = read_manifest(vman_path)
        if vman.get("parameters") != d or vman.get("seed") != seed:
            vman = {}
    done = {int(k): v for k, v in vman.get("frames", {}).items()}
    seeds = lammps_seeds(seed, max(all_idx) + 1)
    from tqdm.auto import tqdm

    for i in tqdm(idx, desc="vibrational MSD", unit="frame", disable=not progress):
        if i in done and (out / done[i]["file"]).exists():
            continue
        t0 = time.perf_counter()
        fr = man["frames"][all_idx.index(i)]
        msd = _one_frame(glass, sd / fr["file"], system, d, seeds[i], out / "log.lammps")
        name = f"msd_{i:04d}.npy"
        np.save(out / name, msd)
        done[i] = {
            "file": name,
            "strain": fr["strain"],
            "seconds": time.perf_counter() - t0,
            "mean_msd": float(msd.mean()),
        }
        write_json(
            vman_path,
            {
                "softscope_dataset": 1,
                "kind": "vibration",
                "system": system.name,
                "units": system.units,
                "method": "NVT (Nose-Hoover) from the AQS frame; velocities at T, zero momentum; "
                "MSD about the mean position over the sampling window, length^2, "
                "atom order = sorted ids",
                "parameters": d,
                "seed": seed,
                "frames": {str(k): v for k, v in sorted(done.items())},
            },
        )
    return out


def read_vibrational_msd(shear_dir: str | Path, index: int) -> np.ndarray | None:
    """Stored vibrational MSD of frame ``index`` (sorted-id order), or None if absent."""
    p = Path(shear_dir) / VIBRATION_DIR / f"msd_{int(index):04d}.npy"
    return np.load(p) if p.exists() else None
