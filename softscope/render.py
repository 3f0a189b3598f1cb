"""Pictures of a window: prediction at its start beside D²min at its end, plus ROC / P_R(S).

:func:`render_window` (and ``softscope render``) runs the OVITO modifiers of
:mod:`softscope.ovito_modifiers` on a trajectory and writes

- ``out`` (PNG, exactly ``size`` pixels): left, the particles at the reference frame
  colored by the prediction (blue-white-red, centred on the model's threshold when the
  model is known); right, the particles at the end frame colored by D²min (OVITO
  convention, length²; invalid atoms drawn as 0). Each panel carries a color legend.
  Rendered offscreen with OVITO's standard renderer (Vulkan; headless machines need
  Debian's ``libvulkan1 mesa-vulkan-drivers``).
- ``<out stem>_metrics.png``: the ROC curve and P_R(S) (matplotlib, Agg backend).

OVITO is imported only inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from softscope.errors import SoftscopeError

__all__ = ["render_window", "window_pipeline", "vulkan_available"]


def vulkan_available() -> bool:
    """True when the Vulkan loader that OVITO's offscreen renderer needs can be loaded
    (Debian: ``apt-get install libvulkan1 mesa-vulkan-drivers``)."""
    import ctypes

    try:
        ctypes.CDLL("libvulkan.so.1")
    except OSError:
        return False
    return True


def window_pipeline(
    trajectory,
    *,
    model: str | None = None,
    prediction_property: str = "Softness",
    reference_frame: int = 0,
    cutoff: float = 3.7,
    q: float = 0.05,
    elements: str = "",
):
    """An OVITO pipeline: file -> [PredictModifier] -> RearrangementModifier.

    ``trajectory`` is a file path (any format OVITO reads) or an existing
    ``ovito.pipeline.Pipeline`` (its modifiers are kept; ours are appended).
    With ``model``, the prediction is computed (property ``model.output_name``);
    without it, the trajectory must already carry ``prediction_property``.
    Returns ``(pipeline, prediction property name)``.
    """
    from ovito.io import import_file
    from ovito.pipeline import Pipeline

    from softscope.ovito_modifiers import PredictModifier, RearrangementModifier
    from softscope.ovito_modifiers._adapt import get_model

    if isinstance(trajectory, Pipeline):
        pipeline = trajectory
    else:
        path = Path(trajectory)
        if not path.exists():
            raise SoftscopeError(f"no such trajectory file: {path}")
        pipeline = import_file(str(path), multiple_frames=True)
    name = prediction_property
    if model:
        name = get_model(model).output_name
        pipeline.modifiers.append(PredictModifier(model=str(model), elements=elements))
    pipeline.modifiers.append(
        RearrangementModifier(
            reference_frame=int(reference_frame),
            cutoff=float(cutoff),
            q=float(q),
            prediction_property=name,
            elements=elements,
        )
    )
    return pipeline, name


def _frame_index(frame: int, n: int, what: str) -> int:
    if not -n <= frame < n:
        raise SoftscopeError(f"{what} {frame} is outside the trajectory ({n} frame(s): 0..{n - 1})")
    return frame % n


def _render_panel(
    data,
    prop: str,
    values: np.ndarray,
    title: str,
    legend: str,
    gradient,
    vrange: tuple[float, float],
    size: tuple[int, int],
    path: Path,
) -> None:
    from ovito.modifiers import ColorCodingModifier
    from ovito.pipeline import Pipeline, StaticSource
    from ovito.qt_compat import QtCore
    from ovito.vis import ColorLegendOverlay, TextLabelOverlay, Viewport

    d = data.clone()
    parts = d.particles_
    if prop in parts:
        del parts[prop]
    parts.create_property(prop, data=np.asarray(values, dtype=np.float64))
    Qt = QtCore.Qt
    pipe = Pipeline(source=StaticSource(data=d))
    cc = ColorCodingModifier(
        property=prop,
        gradient=gradient,
        start_value=vrange[0],
        end_value=vrange[1],
        auto_adjust_range=False,
    )
    pipe.modifiers.append(cc)
    pipe.add_to_scene()
    try:
        vp = Viewport(type=Viewport.Type.Ortho, camera_dir=(-1.0, -0.55, -0.45))
        vp.zoom_all(size=size)
        vp.fov *= 1.25  # room for the title and the legend
        vp.overlays.append(
            ColorLegendOverlay(
                modifier=cc,
                title=legend,
                orientation=Qt.Orientation.Vertical,
                alignment=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                legend_size=0.35,
                aspect_ratio=6.0,
                font_size=0.1,
                format_string="%.2g",
                background_enabled=True,
                background_color=(1.0, 1.0, 1.0),
                offset_x=-0.01,
                offset_y=0.02,
            )
        )
        vp.overlays.append(
            TextLabelOverlay(
                text=title,
                alignment=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                font_size=0.045,
                text_color=(0.0, 0.0, 0.0),
                offset_x=0.01,
                offset_y=-0.01,
            )
        )
        vp.render_image(size=size, filename=str(path), background=(1.0, 1.0, 1.0))
    finally:
        pipe.remove_from_scene()


def metrics_figure(roc, prs, metrics: dict[str, Any], name: str, path: Path) -> None:
    """Write a PNG of the ROC curve ``roc`` = (fpr, tpr) and the precision-recall curve
    ``prs`` = (recall, precision), titled with ``name`` and ``metrics``' ROC-AUC / AP."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 4), dpi=100)
    fpr, tpr = roc
    a.plot(fpr, tpr, color="C3", lw=2)
    a.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1)
    a.set(
        xlabel="false positive rate",
        ylabel="true positive rate",
        xlim=(0, 1),
        ylim=(0, 1),
        title=f"ROC  (AUC = {metrics['roc_auc']:.3f})",
    )
    s, p = prs
    b.plot(s, p, "o-", color="C0")
    b.axhline(metrics["base_rate"], color="0.6", ls="--", lw=1, label="base rate")
    b.set(
        xlabel=name,
        ylabel="$P_R$ (fraction rearranging)",
        title=f"$P_R$({name})  (precision top-q = {metrics['precision_top_q']:.2f})",
    )
    b.set_yscale("log")
    b.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def render_window(
    trajectory,
    *,
    model: str | None = None,
    prediction_property: str = "Softness",
    reference_frame: int = 0,
    frame: int = -1,
    cutoff: float = 3.7,
    q: float = 0.05,
    elements: str = "",
    out: str | Path = "window.png",
    size: tuple[int, int] = (1200, 600),
    plots: bool = True,
) -> dict[str, Any]:
    """Render the window ``reference_frame -> frame`` of a trajectory.

    Parameters
    ----------
    trajectory : file path (LAMMPS dump, ...) or an OVITO ``Pipeline``.
    model : zoo name or ``.ssm`` file; None: use the particle property
        ``prediction_property`` of the reference frame.
    reference_frame, frame : window start and end (negative counts from the end).
    cutoff : D²min cutoff (length unit, default 3.7 Å); ``q``: top fraction labelled
        rearranging.
    elements : type -> element override for the model (``"Cu Zr"``).
    out : PNG path of the two-panel picture, ``size`` = (width, height) in pixels.
    plots : also write ``<stem>_metrics.png`` (ROC and P_R(S)).

    Returns ``{"image": Path, "plots": Path | None, "metrics": {...}}`` where metrics
    are the ``Rearrangement.*`` attributes of :class:`RearrangementModifier`.
    """
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise SoftscopeError(f"size must be (width, height) in pixels, got {size!r}") from None
    if w < 64 or h < 64:
        raise SoftscopeError(f"image size must be at least 64x64 pixels, got {w}x{h}")
    from ovito.io import import_file
    from ovito.pipeline import Pipeline

    if not isinstance(trajectory, Pipeline):
        if not Path(trajectory).exists():
            raise SoftscopeError(f"no such trajectory file: {trajectory}")
        try:
            trajectory = import_file(str(trajectory), multiple_frames=True)
        except RuntimeError as exc:
            raise SoftscopeError(f"OVITO cannot read {trajectory}: {exc}") from None
    n = trajectory.num_frames
    ref = _frame_index(int(reference_frame), n, "reference frame")
    cur = _frame_index(int(frame), n, "frame")
    pipeline, name = window_pipeline(
        trajectory,
        model=model,
        prediction_property=prediction_property,
        reference_frame=ref,
        cutoff=cutoff,
        q=q,
        elements=elements,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    end = pipeline.compute(cur)
    start = pipeline.compute(ref)
    name = str(end.attributes["Rearrangement.prediction"])
    pred_start = np.asarray(start.particles[name], dtype=np.float64)
    d2 = np.nan_to_num(np.asarray(end.particles["D2min"], dtype=np.float64), nan=0.0)
    metrics = {
        k.split(".", 1)[1]: v
        for k, v in end.attributes.items()
        if k.startswith("Rearrangement.") and k != "Rearrangement.prediction"
    }

    from ovito.modifiers import ColorCodingModifier

    thr, d2_label = 0.0, "D²min"
    if model:
        from softscope.ovito_modifiers._adapt import get_model

        m = get_model(model)
        thr = m.threshold
        d2_label = "D²min (Å²)" if m.units == "metal" else f"D²min ({m.units} length²)"
    lo, hi = np.percentile(pred_start, [2, 98])
    half = max(abs(hi - thr), abs(thr - lo), 1e-12)
    d2_hi = max(float(np.percentile(d2, 99)), 1e-12)
    wl = w // 2
    with tempfile.TemporaryDirectory() as tmp:
        left, right = Path(tmp) / "left.png", Path(tmp) / "right.png"
        _render_panel(
            start,
            "_softscope_color",
            pred_start,
            f"{name}, frame {ref} (window start)",
            name,
            ColorCodingModifier.BlueWhiteRed(),
            (thr - half, thr + half),
            (wl, h),
            left,
        )
        _render_panel(
            end,
            "_softscope_color",
            d2,
            f"D²min, frame {cur} (window end)",
            d2_label,
            ColorCodingModifier.Viridis(),
            (0.0, d2_hi),
            (w - wl, h),
            right,
        )
        import matplotlib.image as mpimg

        img = np.concatenate([mpimg.imread(left)[..., :3], mpimg.imread(right)[..., :3]], axis=1)
    import matplotlib.pyplot as plt

    plt.imsave(out, np.clip(img, 0.0, 1.0))
    plot_path = None
    if plots:
        roc = end.tables["softscope-roc"].xy()
        prs = end.tables["softscope-pr-of-s"].xy()
        plot_path = out.with_name(out.stem + "_metrics.png")
        metrics_figure((roc[:, 0], roc[:, 1]), (prs[:, 0], prs[:, 1]), metrics, name, plot_path)
    return {
        "image": out,
        "plots": plot_path,
        "metrics": metrics,
        "frames": {"reference": ref, "current": cur},
    }
