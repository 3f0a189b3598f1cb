"""The ``softscope`` command line.

One sub-command group per concern; each group is added by a ``_register_<group>``
function that takes the top-level ``subparsers`` object and sets ``func`` on its leaf
parsers (``func(args) -> int`` exit status).  To add a group (train, evaluate, models,
demo, render, ...) write ``_register_<group>(subparsers)`` (or import it from the module
that owns the feature) and append it to ``REGISTRARS``.

Errors in the user's input (:class:`~softscope.errors.SoftscopeError`) print one line
``softscope: error: ...`` to stderr and exit with status 2, like argparse's own errors.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from softscope.errors import SoftscopeError

PROG = "softscope"


def _composition(text: str) -> dict[str, float]:
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
    from softscope.data.recipes import read_manifest

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


# ------------------------------------------------------------------------------ data
def _cmd_data_glass(args: argparse.Namespace) -> int:
    from softscope.data.recipes import make_glass

    path = make_glass(
        args.out,
        system=args.system,
        composition=_composition(args.composition) if args.composition else None,
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


def _cmd_data_shear(args: argparse.Namespace) -> int:
    from softscope.data.recipes import shear_aqs, shear_md

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


def _cmd_data_sample(args: argparse.Namespace) -> int:
    from softscope.data.recipes import make_training_sample

    path = make_training_sample(
        args.out,
        seed=args.seed,
        threads=args.threads,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(f"training sample written to {path} (glass/ and shear_aqs/)")
    return 0


def _cmd_data_default(args: argparse.Namespace) -> int:
    from softscope.data import default_glass_path

    print(default_glass_path())
    return 0


def _register_data(subparsers) -> None:
    """``softscope data {glass,shear,sample,default}``: LAMMPS glass recipes."""
    data = subparsers.add_parser(
        "data", help="make glasses and shear runs with LAMMPS", description=_register_data.__doc__
    )
    sub = data.add_subparsers(dest="data_command", metavar="{glass,shear,sample,default}")
    sub.required = True

    def run_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, help="output dataset folder (created)")
        p.add_argument("--threads", type=int, default=1, help="OpenMP threads (default 1)")
        p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
        p.add_argument("--quiet", action="store_true", help="no progress bars")

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
    run_opts(g)
    g.set_defaults(func=_cmd_data_glass)

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
    run_opts(s)
    s.set_defaults(func=_cmd_data_shear)

    t = sub.add_parser(
        "sample",
        help="one training sample: default training glass + AQS shear to 5 %%",
    )
    t.add_argument("--seed", type=int, required=True)
    run_opts(t)
    t.set_defaults(func=_cmd_data_sample)

    d = sub.add_parser("default", help="print the path of the shipped default glass")
    d.set_defaults(func=_cmd_data_default)


# ------------------------------------------------------------------------------ render
def _cmd_render(args: argparse.Namespace) -> int:
    from softscope.render import render_window

    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise SoftscopeError(
            f"bad --size {args.size!r}: expected WIDTHxHEIGHT, e.g. 1200x600"
        ) from None
    if args.model:  # checked before render_window creates the folder of --out
        from softscope.training.commands import load_model_arg

        load_model_arg(args.model)
    res = render_window(
        args.trajectory,
        model=args.model,
        prediction_property=args.property,
        reference_frame=args.reference,
        frame=args.frame,
        cutoff=args.cutoff,
        q=args.q,
        elements=" ".join(args.elements or []),
        out=args.out,
        size=(w, h),
        plots=not args.no_plots,
    )
    print(f"image written to {res['image']}")
    if res["plots"]:
        print(f"ROC and P_R(S) plots written to {res['plots']}")
    print(json.dumps(res["metrics"]))
    return 0


def _register_render(subparsers) -> None:
    """``softscope render TRAJECTORY``: prediction at the window start beside D2min at its end."""
    r = subparsers.add_parser(
        "render",
        help="picture: particles colored by the prediction (window start) and D2min (window end)",
        description="Render two panels with OVITO (offscreen): the particles at the reference "
        "frame colored by the model's prediction, and at the end frame colored by D2min (OVITO "
        "convention), each with a color legend; plus <out>_metrics.png with the ROC curve and "
        "P_R(S). Needs Debian's libvulkan1 mesa-vulkan-drivers on headless machines.",
    )
    r.add_argument("trajectory", help="trajectory file OVITO reads (e.g. a LAMMPS dump)")
    r.add_argument("--model", help="zoo name or .ssm file (default: use --property of the file)")
    r.add_argument("--property", default="Softness", help="prediction property if no --model")
    r.add_argument("--reference", type=int, default=0, help="window start frame (default 0)")
    r.add_argument("--frame", type=int, default=-1, help="window end frame (default: last)")
    r.add_argument("--cutoff", type=float, default=3.7, help="D2min cutoff (default 3.7)")
    r.add_argument("--q", type=float, default=0.05, help="rearranging top fraction (default 0.05)")
    r.add_argument("--elements", nargs="+", help="type -> element names, e.g. Cu Zr")
    r.add_argument("--out", default="window.png", help="output PNG (default window.png)")
    r.add_argument("--size", default="1200x600", help="WIDTHxHEIGHT in pixels (default 1200x600)")
    r.add_argument("--no-plots", action="store_true", help="skip the ROC / P_R(S) figure")
    r.set_defaults(func=_cmd_render)


#: Command-group registrars, in help order.  Others append theirs.
REGISTRARS: list[Callable] = [_register_data]
REGISTRARS.append(_register_render)


def _register_training(subparsers) -> None:
    """``softscope train`` / ``evaluate`` / ``models`` (code in softscope.training.commands)."""
    from softscope.training.commands import register_evaluate, register_models, register_train

    register_train(subparsers)
    register_evaluate(subparsers)
    register_models(subparsers)


REGISTRARS.append(_register_training)


def _register_demo(subparsers) -> None:
    """``softscope demo``: short MD shear of the shipped glass with the fix, live metrics."""
    from softscope.demo import DEFAULT_MODEL, DemoSettings

    d = DemoSettings()
    p = subparsers.add_parser(
        "demo",
        help="see it work: a short LAMMPS shear with the softscope fix and live metrics",
        description="Shear the shipped Cu64Zr36 glass in LAMMPS (metal units, NVT, fix deform) "
        "with the softscope fix, print the live metrics (ROC-AUC, Spearman of the prediction "
        "at each window start against D2min), and leave the LAMMPS input, log, dump, "
        "metrics.json, ROC / P_R(S) plots and a picture in --out.",
    )
    p.add_argument("--out", default="softscope-demo", help="output folder (default softscope-demo)")
    p.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"zoo name or .ssm file (default {DEFAULT_MODEL})"
    )
    p.add_argument(
        "--np", dest="nprocs", type=int, help="MPI ranks (default 2 when available, else 1)"
    )
    p.add_argument(
        "--steps", type=int, default=d.steps, help=f"MD steps (default {d.steps}, 1 fs each)"
    )
    p.add_argument(
        "--every", type=int, default=d.every, help=f"steps between evaluations (default {d.every})"
    )
    p.add_argument(
        "--window", type=int, help=f"steps per D2min window (default {d.window} or --steps)"
    )
    p.add_argument(
        "--T", dest="temperature", type=float, default=d.temperature, help="temperature in K"
    )
    p.add_argument("--strain-rate", type=float, default=d.strain_rate, help="xy shear rate in 1/ps")
    p.add_argument(
        "--average",
        type=int,
        default=d.average,
        help=f"evaluate on positions averaged over the last K steps (fix keyword 'average K'; "
        f"default {d.average})",
    )
    p.add_argument("--no-render", action="store_true", help="skip the OVITO picture")

    def run(args) -> int:
        from softscope.demo import launcher, resolve_model, run_demo

        settings = DemoSettings(
            steps=args.steps,
            every=args.every,
            window=args.window if args.window is not None else min(d.window, args.steps),
            temperature=args.temperature,
            strain_rate=args.strain_rate,
            average=args.average,
        )
        # every input is checked before run_demo creates --out
        if args.nprocs is not None and args.nprocs < 1:
            raise SoftscopeError(f"--np must be at least 1, got {args.nprocs}")
        settings.check()
        resolve_model(args.model)
        launcher(args.nprocs)
        out = Path(args.out).expanduser()
        if out.exists() and not out.is_dir():
            raise SoftscopeError(f"--out {out}: exists and is not a folder; give a folder path")
        run_demo(
            args.out,
            model=args.model,
            nprocs=args.nprocs,
            settings=settings,
            render=not args.no_render,
        )
        return 0

    p.set_defaults(func=run)


REGISTRARS.append(_register_demo)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (all registered command groups)."""
    from softscope import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Machine-learned structural indicators for metallic glasses.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for register in REGISTRARS:
        register(subparsers)
    return parser


@contextlib.contextmanager
def output_guard(out: str | Path | None) -> Iterator[None]:
    """Undo a failed command's empty output folders.

    Commands check their inputs before they create ``--out``; checks that can only run
    later (inside LAMMPS or OVITO) may still fail after that.  When the body raises, the
    folders on the way to ``out`` that did not exist before are removed again if they
    are still empty (a folder with a log or partial results is kept).
    """
    created: list[Path] = []
    if out is not None:
        p = Path(os.path.abspath(os.path.expanduser(out)))  # lexical: no '..' left
        while not p.exists() and not p.is_symlink() and p != p.parent:
            created.append(p)  # deepest first
            p = p.parent
    try:
        yield
    except BaseException:
        for d in created:
            if not d.exists():
                continue
            try:
                d.rmdir()  # only an empty folder; anything else stays
            except OSError:
                break
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``softscope`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = getattr(args, "out", None)
    try:
        with output_guard(out if isinstance(out, str) else None):
            return int(args.func(args) or 0)
    except SoftscopeError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
