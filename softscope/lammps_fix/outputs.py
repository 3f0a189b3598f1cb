"""Names of the ``softscope`` fix's outputs, declared once.

The plugin fix (``f_ID[k]``), the ``fix external`` fallback (``d2_ID[k]``, internal
variables ``v_ID_<name>``) and ``softscope demo`` (dump column names, live metrics) all
take their names and order from here.  Meanings and units: ``docs/fix.md``, "Restart,
fix_modify, output, and minimizer info".
"""

from __future__ import annotations

__all__ = [
    "GLOBAL_SCALAR",
    "GLOBAL_VECTOR",
    "MSD_OUTPUT",
    "PER_ATOM",
    "per_atom_names",
]

#: Per-atom outputs ``f_ID[1..3]``: the prediction now, the prediction frozen at the
#: reference, D²min since the reference (length²; NaN without ``d2min``).
PER_ATOM: tuple[str, ...] = ("prediction", "prediction_ref", "d2min")

#: ``f_ID[4]`` of models with an in-run ``msd`` feature: the vibrational MSD (length²) that
#: the last evaluation used.
MSD_OUTPUT = "msd"

#: Global vector ``f_ID[1..4]`` over the fix group: ROC-AUC of the prediction at the
#: reference against the top-q D²min atoms, Spearman correlation of that prediction with
#: D²min, mean prediction now, fraction of atoms predicted to rearrange.
GLOBAL_VECTOR: tuple[str, ...] = ("roc_auc", "spearman", "mean_prediction", "fraction_positive")

#: Global scalar ``f_ID``: the number of evaluations so far.
GLOBAL_SCALAR = "evaluations"


def per_atom_names(msd: bool = False) -> tuple[str, ...]:
    """Per-atom output names in column order (``f_ID[1..]``); ``msd``: the model has an
    in-run msd feature, whose value is the fourth output."""
    return PER_ATOM + ((MSD_OUTPUT,) if msd else ())
