"""``softscope demo``: a short LAMMPS shear of the shipped glass with the fix and live
metrics (:mod:`softscope.demo`)."""

from __future__ import annotations

from pathlib import Path

from softscope.errors import SoftscopeError

__all__ = ["register"]


def register(subparsers) -> None:
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
