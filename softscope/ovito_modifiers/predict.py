"""``PredictModifier``: a softscope model's per-atom prediction as an OVITO particle property."""

from __future__ import annotations

import numpy as np
from ovito.pipeline import ModifierInterface
from traits.api import Str

from softscope.ovito_modifiers._adapt import (
    check_species,
    extra_columns,
    frame_from_data,
    get_model,
    set_property,
)

__all__ = ["PredictModifier"]


class PredictModifier(ModifierInterface):
    """Evaluate a softscope model (zoo name or ``.ssm`` file) on every frame.

    Writes the particle property ``model.output_name`` (e.g. ``Softness``: signed
    distance to the SVM hyperplane, > 0 = likely to rearrange; tree models: the
    probability of rearranging), exactly ``Model.predict`` of the frame — the number
    the LAMMPS fix writes for the same configuration. Species come from OVITO's
    particle type names; ``elements`` overrides them (``"Cu Zr"`` = type 1 is Cu,
    type 2 is Zr; or ``"1=Cu, 2=Zr"``). Per-atom inputs of external descriptor
    blocks (e.g. ``msd``) are read from particle properties of the same name.
    ``elements`` is checked against the number of particle types, their names and
    masses where the input has them, and the frame's geometry against the model's unit
    system and element sizes (``Model.predict``): a wrong mapping or unit system is an
    error, not a number.
    Global attributes: ``softscope.model``, ``<output>.mean``, ``<output>.positive_fraction``
    (fraction above the model's decision threshold).
    """

    model = Str("", label="Model (zoo name or .ssm file)")
    elements = Str("", label="Type -> element (e.g. 'Cu Zr'; empty: type names)")
    output_property = Str("", label="Output property (empty: model's name)")

    def modify(self, data, *, frame: int, **kwargs) -> None:
        model = get_model(self.model)
        fr = frame_from_data(data, self.elements)
        check_species(fr, model.species, "PredictModifier")
        pred = model.predict(fr, extra=extra_columns(data, model.spec))
        name = self.output_property.strip() or model.output_name
        set_property(data, name, pred)
        data.attributes["softscope.model"] = model.name
        data.attributes[f"{name}.mean"] = float(np.mean(pred))
        data.attributes[f"{name}.positive_fraction"] = float(np.mean(pred > model.threshold))
