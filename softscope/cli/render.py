"""``softscope render TRAJECTORY``: prediction at the window start beside D²min at its end."""

from __future__ import annotations

import argparse
import json

from softscope.cli.common import load_model_arg
from softscope.errors import SoftscopeError

__all__ = ["register"]


def _cmd_render(args: argparse.Namespace) -> int:
    from softscope.render import render_window

    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise SoftscopeError(
            f"bad --size {args.size!r}: expected WIDTHxHEIGHT, e.g. 1200x600"
        ) from None
    if args.model:  # checked before render_window creates the folder of --out
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


def register(subparsers) -> None:
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
