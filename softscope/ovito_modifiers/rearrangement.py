"""``RearrangementModifier``: what happened (D²min) against what was predicted."""

from __future__ import annotations

import numpy as np
from ovito.pipeline import ModifierInterface
from traits.api import Bool, Int, Range, Str

from softscope.errors import SoftscopeError
from softscope.ovito_modifiers._adapt import (
    check_species,
    extra_columns,
    frame_from_data,
    get_model,
    in_frame_order,
    set_property,
)

__all__ = ["RearrangementModifier", "ovito_d2min"]

#: Prefix of the global attributes written by :class:`RearrangementModifier`.
ATTR = "Rearrangement."
ROC_TABLE = "softscope-roc"
PRS_TABLE = "softscope-pr-of-s"


def ovito_d2min(data, reference, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """D²min of ``data`` against ``reference`` by OVITO's own ``AtomicStrainModifier``.

    (values (N,) float64 in length², invalid (N,) bool), in ``data``'s particle order.
    OVITO's defaults (minimum image convention on, no affine mapping); OVITO writes 0
    for invalid atoms (fewer than 3 non-coplanar reference neighbours) and selects them:
    the mask is that selection. Runs on a copy; ``data`` is not changed.
    """
    from ovito.modifiers import AtomicStrainModifier
    from ovito.pipeline import ReferenceConfigurationModifier, StaticSource

    work = data.clone()
    reference = reference.clone()
    # a StaticSource holding a frame with SourceFrame = k only serves animation frame k;
    # the modifier asks for frame 0 of its reference source
    if "SourceFrame" in reference.attributes:
        del reference.attributes["SourceFrame"]
    if "Selection" in work.particles:
        del work.particles_["Selection"]
    work.apply(
        AtomicStrainModifier(
            cutoff=float(cutoff),
            output_nonaffine_squared_displacements=True,
            select_invalid_particles=True,
            minimum_image_convention=True,
            affine_mapping=ReferenceConfigurationModifier.AffineMapping.Off,
            reference=StaticSource(data=reference),
        )
    )
    d2 = np.array(work.particles["Nonaffine Squared Displacement"], dtype=np.float64)
    invalid = np.array(work.particles["Selection"]) != 0
    return d2, invalid


class RearrangementModifier(ModifierInterface):
    """D²min of a window (reference frame -> current frame) judged against a prediction.

    D²min is OVITO's ``AtomicStrainModifier`` (``output_nonaffine_squared_displacements``),
    i.e. the Falk–Langer convention of ``docs/conventions.md``: reference-frame
    neighbours within ``cutoff``, minimum image, not divided by the neighbour count —
    equal to :func:`softscope.rearrangement.d2min`. The reference is a fixed frame
    (``reference_frame``) or ``frame_offset`` frames away (``use_frame_offset``), as in
    OVITO's own modifier.

    The prediction is the one made **at the reference frame**: the particle property
    ``prediction_property`` of the reference frame (e.g. written by a
    ``PredictModifier`` placed below this one), or, when ``model`` is set, that
    model evaluated on the reference frame.

    Outputs (current frame):

    - ``D2min`` (length²): NaN for invalid atoms (fewer than 3 non-coplanar neighbours;
      OVITO itself writes 0), or 0 with ``invalid_as_nan`` off;
    - ``D2min Invalid`` (int 0/1) and ``Rearranging`` (int 0/1, top ``q`` of the valid
      D²min: :func:`softscope.rearrangement.top_fraction`);
    - ``Reference <prediction>``: the prediction at the reference frame;
    - global attributes ``Rearrangement.roc_auc``, ``.average_precision``,
      ``.precision_top_q``, ``.pearson``, ``.spearman``, ``.base_rate``,
      ``.n_rearranging``, ``.n_valid``, ``.invalid_count``, ``.q``, ``.cutoff``,
      ``.reference_frame``, ``.prediction`` (the prediction's property name)
      (:func:`softscope.metrics.judge`; invalid atoms excluded). When the reference is
      the current frame the window is empty: no atom is flagged, metrics are NaN and
      the tables have no rows;
    - data tables ``softscope-roc`` (ROC curve) and ``softscope-pr-of-s``
      (P_R(S): fraction rearranging per prediction bin), shown as line plots.
    """

    use_frame_offset = Bool(False, label="Reference relative to the current frame")
    reference_frame = Range(0, 1_000_000_000, 0, label="Reference frame (fixed)")
    frame_offset = Int(-1, label="Frame offset (when relative)")
    cutoff = Range(0.1, 100.0, 3.7, label="D²min cutoff radius (length unit)")
    q = Range(1e-4, 1.0, 0.05, label="Rearranging fraction q (top D²min)")
    prediction_property = Str("Softness", label="Prediction property at the reference")
    model = Str("", label="...or predict with model (zoo name or .ssm file)")
    elements = Str("", label="Type -> element (e.g. 'Cu Zr'; empty: type names)")
    invalid_as_nan = Bool(True, label="Invalid atoms get NaN (off: 0 as in OVITO)")

    def _reference_index(self, frame: int, n_frames: int) -> int:
        ref = frame + int(self.frame_offset) if self.use_frame_offset else int(self.reference_frame)
        if not 0 <= ref < n_frames:
            how = (
                f"frame {frame} + offset {self.frame_offset}"
                if self.use_frame_offset
                else "the fixed reference frame"
            )
            raise SoftscopeError(
                f"RearrangementModifier: reference frame {ref} ({how}) is outside the "
                f"trajectory (frames 0..{n_frames - 1})"
            )
        return ref

    def input_caching_hints(self, frame: int, *, input_slots=None, **kwargs):
        n = input_slots["upstream"].num_frames if input_slots else frame + 1
        try:
            return sorted({frame, self._reference_index(frame, n)})
        except SoftscopeError:
            return [frame]

    def _prediction_at(self, ref_data) -> tuple[np.ndarray, str]:
        if self.model.strip():
            model = get_model(self.model)
            fr = frame_from_data(ref_data, self.elements)
            check_species(fr, model.species, "RearrangementModifier")
            return model.predict(fr, extra=extra_columns(ref_data, model.spec)), model.output_name
        name = self.prediction_property.strip()
        if name and name not in ref_data.particles:
            # OVITO's dump reader may change the case of custom columns ("Softness" -> "softness")
            same = [k for k in ref_data.particles.keys() if k.lower() == name.lower()]
            name = same[0] if len(same) == 1 else name
        if not name or name not in ref_data.particles:
            raise SoftscopeError(
                f"RearrangementModifier: the reference frame has no particle property "
                f"{name!r}; put a PredictModifier below this modifier, set "
                f"'prediction_property' to one of {list(ref_data.particles.keys())}, or set "
                "'model'"
            )
        values = np.asarray(ref_data.particles[name], dtype=np.float64)
        if values.ndim != 1:
            raise SoftscopeError(f"prediction property {name!r} must be a scalar per atom")
        return values, name

    def modify(self, data, *, frame: int, input_slots, **kwargs) -> None:
        from softscope.metrics import judge, roc_curve
        from softscope.rearrangement import top_fraction

        upstream = input_slots["upstream"]
        ref_idx = self._reference_index(frame, upstream.num_frames)
        ref_data = upstream.compute(ref_idx)
        if ref_data.particles is None or ref_data.particles.count != data.particles.count:
            raise SoftscopeError(
                f"RearrangementModifier: reference frame {ref_idx} and frame {frame} hold "
                "different numbers of particles"
            )
        d2, invalid = ovito_d2min(data, ref_data, self.cutoff)
        pred_ref, pred_name = self._prediction_at(ref_data)
        if "Particle Identifier" in data.particles and "Particle Identifier" in ref_data.particles:
            pred = in_frame_order(
                np.asarray(data.particles.identifiers, dtype=np.int64),
                np.asarray(ref_data.particles.identifiers, dtype=np.int64),
                pred_ref,
            )
        else:
            pred = pred_ref
        measure = np.where(invalid, np.nan, d2)
        # reference == current: an empty window, nothing rearranged (D²min is round-off);
        # ranking round-off would give meaningless metrics, so they are NaN
        empty = ref_idx == frame
        flag = np.zeros(len(measure), dtype=bool) if empty else top_fraction(measure, self.q)

        set_property(data, "D2min", measure if self.invalid_as_nan else np.where(invalid, 0.0, d2))
        set_property(data, "D2min Invalid", invalid.astype(np.int32))
        set_property(data, "Rearranging", flag.astype(np.int32))
        set_property(data, f"Reference {pred_name}", pred)

        a = data.attributes
        a[ATTR + "reference_frame"] = ref_idx
        a[ATTR + "prediction"] = pred_name
        a[ATTR + "cutoff"] = float(self.cutoff)
        a[ATTR + "invalid_count"] = int(invalid.sum())
        valid = ~invalid
        if valid.sum() < 2:
            raise SoftscopeError(
                f"RearrangementModifier: only {int(valid.sum())} atom(s) have a defined D²min "
                f"with cutoff {self.cutoff:g}; increase the cutoff"
            )
        j = judge(pred, measure, self.q)
        if empty:
            nan = float("nan")
            j = {**j, "n_rearranging": 0, "base_rate": 0.0, "pearson": nan, "spearman": nan}
            j.update(roc_auc=nan, average_precision=nan, precision_top_q=nan)
            j["pr_of_s"] = {"s": [], "p_r": [], "count": []}
        for key in (
            "roc_auc",
            "average_precision",
            "precision_top_q",
            "pearson",
            "spearman",
            "base_rate",
            "q",
        ):
            a[ATTR + key] = float(j[key])
        a[ATTR + "n_rearranging"] = int(j["n_rearranging"])
        a[ATTR + "n_valid"] = int(j["n_atoms"])

        from ovito.data import DataTable

        if 0 < flag[valid].sum() < valid.sum():
            fpr, tpr = roc_curve(pred[valid], flag[valid])
        else:
            fpr, tpr = np.zeros(0), np.zeros(0)
        roc = data.tables.create(
            identifier=ROC_TABLE,
            title=f"ROC: {pred_name} at frame {ref_idx} vs top {100 * self.q:g}% D2min",
            plot_mode=DataTable.PlotMode.Line,
        )
        roc.x = roc.create_property("False positive rate", data=np.asarray(fpr, np.float64))
        roc.y = roc.create_property("True positive rate", data=np.asarray(tpr, np.float64))
        prs = j["pr_of_s"]
        s = np.asarray(prs["s"], dtype=np.float64)
        p = np.asarray(prs["p_r"], dtype=np.float64)
        keep = np.isfinite(p)
        tab = data.tables.create(
            identifier=PRS_TABLE,
            title=f"P_R({pred_name}): fraction rearranging (top {100 * self.q:g}% D2min)",
            plot_mode=DataTable.PlotMode.Line,
        )
        tab.x = tab.create_property(pred_name, data=s[keep])
        tab.y = tab.create_property("P_R", data=p[keep])
        tab.create_property("Count", data=np.asarray(prs["count"], dtype=np.int64)[keep])
