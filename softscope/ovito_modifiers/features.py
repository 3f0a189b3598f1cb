"""``FeaturesModifier``: the raw feature vector of a descriptor spec as particle properties."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from ovito.pipeline import ModifierInterface
from traits.api import Bool, Str

from softscope.errors import SoftscopeError
from softscope.ovito_modifiers._adapt import (
    check_species,
    extra_columns,
    frame_from_data,
    get_model,
    set_property,
)

__all__ = ["FeaturesModifier", "ovito_names"]


def ovito_names(names: list[str]) -> list[str]:
    """Feature names as OVITO property names: OVITO forbids '.', so '.' becomes '_'
    (``G_Cu(2.5)`` -> ``G_Cu(2_5)``); the order is that of ``spec.feature_names()``."""
    out = [n.replace(".", "_") for n in names]
    if len(set(out)) != len(out):
        raise SoftscopeError("feature names collide after replacing '.' by '_' for OVITO")
    return out


class FeaturesModifier(ModifierInterface):
    """Structural features of a :class:`~softscope.descriptors.spec.DescriptorSpec`.

    The spec is taken from ``spec`` (a JSON text or the path of a ``.json`` file
    holding ``DescriptorSpec.to_dict()``) or, when that is empty, from ``model``
    (zoo name or ``.ssm`` file: the features the model was trained on, clamped to its
    training range where its spec has ``raw_bounds``). Output: one
    float64 particle property per feature named ``prefix + feature name`` with '.'
    replaced by '_' (OVITO forbids dots: ``G_Cu(2_5)``, ``cg4(G_Cu(2_5))``; see
    :func:`ovito_names`; units as in ``docs/conventions.md``), or with
    ``as_vector`` one property ``prefix + "Features"`` whose components are the
    feature names. ``coarse_grained=False`` drops the coarse-grained copies.
    The type -> element mapping and the spec's unit system are checked against the
    data as in ``Model.predict`` (:func:`softscope.plausibility.check_frame`).
    """

    spec = Str("", label="Descriptor spec (JSON text or .json file)")
    model = Str("", label="...or the spec of a model (zoo name or .ssm file)")
    elements = Str("", label="Type -> element (e.g. 'Cu Zr'; empty: type names)")
    coarse_grained = Bool(True, label="Include coarse-grained features")
    as_vector = Bool(False, label="One vector property instead of one per feature")
    prefix = Str("", label="Property name prefix")

    def _spec(self):
        from softscope.descriptors.spec import DescriptorSpec

        text = self.spec.strip()
        if text:
            if not text.startswith("{"):
                p = Path(text).expanduser()
                if not p.exists():
                    raise SoftscopeError(
                        f"FeaturesModifier: spec {text!r} is neither JSON text nor an existing "
                        ".json file"
                    )
                text = p.read_text()
            try:
                return DescriptorSpec.from_dict(json.loads(text))
            except json.JSONDecodeError as exc:
                raise SoftscopeError(f"FeaturesModifier: spec is not valid JSON: {exc}") from None
        if self.model.strip():
            return get_model(self.model).spec
        raise SoftscopeError(
            "FeaturesModifier: set 'spec' (JSON of a DescriptorSpec or a .json file) or "
            "'model' (zoo name or .ssm file)"
        )

    def modify(self, data, *, frame: int, **kwargs) -> None:
        from softscope.plausibility import check_frame

        spec = self._spec()
        fr = frame_from_data(data, self.elements)
        check_species(fr, spec.species, "FeaturesModifier")
        source = "the descriptor spec" if self.spec.strip() else f"model {self.model.strip()!r}"
        check_frame(fr, spec.units, f"FeaturesModifier: {source}")
        extra = extra_columns(data, spec)
        if self.coarse_grained:
            x, names = spec.compute(fr, extra=extra), spec.feature_names()
        else:
            x, names = spec.compute_raw(fr, extra=extra), spec.raw_names()
        x = np.ascontiguousarray(x, dtype=np.float64)
        names = ovito_names(names)
        if self.as_vector:
            set_property(data, self.prefix + "Features", x, component_names=names)
        else:
            for k, nm in enumerate(names):
                set_property(data, self.prefix + nm, x[:, k])
        data.attributes["softscope.n_features"] = len(names)
