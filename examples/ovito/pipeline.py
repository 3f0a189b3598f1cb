"""softscope in an OVITO pipeline: prediction, D²min vs prediction, a table and a picture.

    python examples/ovito/pipeline.py --dump shear.dump --model cuzr-softness \
        --elements Cu Zr --out results/

``--dump`` is a LAMMPS dump of a shear run (``softscope data shear ...`` writes one;
so does a run with ``fix softscope``). The pipeline is

    file -> PredictModifier (property "Softness")
         -> RearrangementModifier (D²min vs frame 0, or vs ``--window`` frames earlier)

and the script exports, per frame, the window metrics (OVITO's ``txt/attr`` format:
frame, reference frame, ROC-AUC, average precision, precision of the top-q predicted
atoms, Spearman), the ROC and P_R(S) tables of the last frame (``txt/table``), and
renders the picture of the window (prediction at its start | D²min at its end).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ovito.io import export_file, import_file

from softscope.ovito_modifiers import PredictModifier, RearrangementModifier
from softscope.render import render_window

COLUMNS = [
    "SourceFrame",
    "Rearrangement.reference_frame",
    "Rearrangement.roc_auc",
    "Rearrangement.average_precision",
    "Rearrangement.precision_top_q",
    "Rearrangement.spearman",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dump", required=True, help="LAMMPS dump of a shear run")
    ap.add_argument("--model", default="cuzr-softness", help="zoo name or .ssm file")
    ap.add_argument("--elements", nargs="+", default=["Cu", "Zr"], help="type 1, 2, ... names")
    ap.add_argument("--window", type=int, default=0, help="frames per window (0: vs frame 0)")
    ap.add_argument("--cutoff", type=float, default=3.7, help="D2min cutoff (Å)")
    ap.add_argument("--q", type=float, default=0.05, help="rearranging top fraction")
    ap.add_argument("--out", default="ovito_results", help="output folder")
    ap.add_argument("--size", default="1200x600", help="picture size WIDTHxHEIGHT")
    ap.add_argument("--no-render", action="store_true", help="skip the picture")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    elements = " ".join(args.elements)

    pipeline = import_file(args.dump, multiple_frames=True)
    pipeline.modifiers.append(PredictModifier(model=args.model, elements=elements))
    pipeline.modifiers.append(
        RearrangementModifier(
            use_frame_offset=args.window > 0,
            frame_offset=-args.window if args.window > 0 else -1,
            reference_frame=0,
            cutoff=args.cutoff,
            q=args.q,
            prediction_property="Softness",  # written at the reference frame by PredictModifier
        )
    )
    n = pipeline.num_frames
    first = args.window if args.window > 0 else 0
    export_file(
        pipeline,
        str(out / "window_metrics.txt"),
        "txt/attr",
        columns=COLUMNS,
        multiple_frames=True,
        start_frame=first,
        end_frame=n - 1,
    )
    for key in ("softscope-roc", "softscope-pr-of-s"):
        export_file(pipeline, str(out / f"{key}.txt"), "txt/table", key=key, frame=n - 1)
    last = pipeline.compute(n - 1).attributes
    print(
        f"frame {n - 1}: ROC-AUC {last['Rearrangement.roc_auc']:.3f}, "
        f"precision top-q {last['Rearrangement.precision_top_q']:.3f}"
    )
    print(f"table written to {out / 'window_metrics.txt'}")

    if not args.no_render:
        w, h = (int(v) for v in args.size.split("x"))
        res = render_window(
            args.dump,
            model=args.model,
            elements=elements,
            reference_frame=max(n - 1 - args.window, 0) if args.window else 0,
            frame=n - 1,
            cutoff=args.cutoff,
            q=args.q,
            out=out / "window.png",
            size=(w, h),
        )
        print(f"picture written to {res['image']} and {res['plots']}")


if __name__ == "__main__":
    main()
