"""``softscope data {glass,shear,sample,default}``: LAMMPS glass recipes
(:mod:`softscope.simulate`) and the path of the shipped glass."""

from __future__ import annotations

import argparse
import json

from softscope.errors import SoftscopeError

__all__ = ["register", "parse_composition"]


def parse_composition(text: str) -> dict[str, float]:
    """Parse ``"Cu=0.64,Zr=0.36"`` (``:`` also accepted) into a dict of fractions."""
    out: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        sep = "=" if "=" in part else ":"
        name, _, val = part.partition(sep)
        try:
            out[name.strip()] = float(val)
        except ValueError:
            raise SoftscopeError(
                f"bad --composition {text!r}: expected ELEMENT=FRACTION pairs separated by "
                "commas, e.g. Cu=0.64,Zr=0.36"
            ) from None
    if not out:
        raise SoftscopeError("--composition is empty; e.g. Cu=0.64,Zr=0.36")
    return out


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
        system=args.system,
        composition=parse_composition(args.composition) if args.composition else None,
        n_atoms=args.atoms,
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
        system=args.system, threads=args.threads, progress=not args.quiet, overwrite=args.overwrite
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
            **common,
        )
    _summary(path, f"shear ({args.mode})")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from softscope.simulate import make_training_sample

    path = make_training_sample(
        args.out,
        seed=args.seed,
        threads=args.threads,
        progress=not args.quiet,
        overwrite=args.overwrite,
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


def register(subparsers) -> None:
    """``softscope data {glass,shear,sample,default}``: LAMMPS glass recipes."""
    data = subparsers.add_parser(
        "data", help="make glasses and shear runs with LAMMPS", description=register.__doc__
    )
    sub = data.add_subparsers(dest="data_command", metavar="{glass,shear,sample,default}")
    sub.required = True

    g = sub.add_parser(
        "glass",
        help="melt-quench a glass (Cu-Zr EAM or Kob-Andersen LJ)",
        description="Melt, quench, relax and minimize a glass. Units follow the system: "
        "cuzr = LAMMPS metal (K, ps, bar; --quench-rate in K/s), ka = LAMMPS lj (per tau).",
    )
    g.add_argument("--system", choices=["cuzr", "ka"], default="cuzr")
    g.add_argument("--atoms", type=int, default=2000, help="number of atoms (default 2000)")
    g.add_argument("--composition", help="e.g. Cu=0.64,Zr=0.36 (default) or A=0.8,B=0.2")
    g.add_argument("--melt-T", dest="melt_T", type=float, help="melt temperature")
    g.add_argument("--quench-rate", type=float, help="K/s (cuzr) or 1/tau (ka)")
    g.add_argument("--T-final", dest="T_final", type=float, help="final temperature")
    g.add_argument("--melt-time", type=float, help="time held at melt_T (ps or tau)")
    g.add_argument("--relax-time", type=float, help="time held at T_final before minimizing")
    g.add_argument("--timestep", type=float, help="MD timestep (ps or tau)")
    g.add_argument("--pressure", type=float, default=0.0, help="NPT pressure in bar (cuzr)")
    g.add_argument("--density", type=float, help="number density (ka: default 1.2)")
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
    s.add_argument("--strain-rate", type=float, help="md: 1/s (cuzr) or 1/tau (ka)")
    s.add_argument("--dump-every", type=int, default=1000, help="md: steps between frames")
    s.add_argument("--timestep", type=float, help="md: timestep")
    s.add_argument("--equil-time", type=float, help="md: thermalisation before shearing")
    s.add_argument("--seed", type=int, default=1, help="md: velocity seed")
    s.add_argument("--system", choices=["cuzr", "ka"], help="system of a bare data file")
    _run_options(s)
    s.set_defaults(func=_cmd_shear)

    t = sub.add_parser(
        "sample",
        help="one training sample: default training glass + AQS shear to 5 %%",
    )
    t.add_argument("--seed", type=int, required=True)
    _run_options(t)
    t.set_defaults(func=_cmd_sample)

    d = sub.add_parser("default", help="print the path of the shipped default glass")
    d.set_defaults(func=_cmd_default)
