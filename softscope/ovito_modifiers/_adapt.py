"""Glue between OVITO data collections and the softscope core (no science here).

Shared by the modifiers: the type -> element mapping parameter, models loaded once
per file version, OVITO DataCollection -> :class:`~softscope.frame.Frame`, and
writing per-atom arrays back as particle properties.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np

from softscope.errors import SoftscopeError
from softscope.frame import Frame


def parse_elements(text: str) -> Sequence[str] | Mapping[int, str] | None:
    """The ``elements`` parameter: ``""`` (use OVITO's type names), ``"Cu Zr"`` (type 1
    is Cu, type 2 is Zr, like LAMMPS ``pair_coeff``) or ``"1=Cu, 2=Zr"``."""
    text = (text or "").strip()
    if not text:
        return None
    parts = [p for p in text.replace(",", " ").split() if p]
    if any("=" in p or ":" in p for p in parts):
        out: dict[int, str] = {}
        for p in parts:
            k, sep, v = p.replace(":", "=").partition("=")
            if not sep or not k.strip().isdigit() or not v.strip():
                raise SoftscopeError(
                    f"bad elements entry {p!r} in {text!r}: write 'TYPE=ELEMENT' pairs such as "
                    "'1=Cu, 2=Zr', or element names in type order such as 'Cu Zr'"
                )
            out[int(k)] = v.strip()
        return out
    return parts


def frame_from_data(data, elements: str = "", species_free: bool = False) -> Frame:
    """A Frame of an OVITO DataCollection; type names come from OVITO's particle types
    unless ``elements`` overrides them. ``species_free``: a measure that ignores species
    (D²min, p_hop) accepts unnamed types and calls them by their numeric id."""
    if data.particles is None or data.particles.count == 0:
        raise SoftscopeError("the input has no particles")
    if data.cell is None:
        raise SoftscopeError(
            "the input has no simulation cell; softscope needs one (periodic or not)"
        )
    mapping = parse_elements(elements)
    if mapping is None and species_free:
        ptypes = data.particles.particle_types if "Particle Type" in data.particles else None
        if ptypes is None:
            return _frame_without_types(data)
        named = {t.id: t.name for t in ptypes.types}
        if any(not nm or nm.isdigit() for nm in named.values()):
            mapping = {t: str(t) for t in named}
    if "Particle Type" not in data.particles:
        if species_free:
            return _frame_without_types(data)
        raise SoftscopeError("the input has no 'Particle Type' property; softscope needs species")
    try:
        return Frame.from_ovito(data, elements=mapping)
    except SoftscopeError as exc:
        if "no element name" not in str(exc):
            raise
        names = [t.name for t in data.particles.particle_types.types]
        raise SoftscopeError(
            f"the OVITO particle types {names or '(none)'} carry no element names: set the "
            "modifier's 'elements' parameter, e.g. 'Cu Zr' (type 1 = Cu, type 2 = Zr) or "
            "'1=Cu, 2=Zr'"
        ) from None


def _frame_without_types(data) -> Frame:
    p = data.particles
    m = np.asarray(data.cell, dtype=np.float64)
    ids = np.asarray(p.identifiers, dtype=np.int64) if "Particle Identifier" in p else None
    return Frame(
        np.asarray(p.positions, dtype=np.float64),
        np.full(p.count, "X"),
        m[:, :3].T.copy(),
        origin=m[:, 3].copy(),
        pbc=tuple(bool(x) for x in data.cell.pbc),
        ids=ids,
    )


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime: float):
    from softscope.models import Model

    return Model.load(path)


def get_model(name_or_path: str):
    """A zoo name or model file (:func:`softscope.models.resolve`), loaded once per file
    version (reloaded when it changes)."""
    from softscope.models import resolve

    s = (name_or_path or "").strip()
    if not s:
        raise SoftscopeError(
            "no model given: set the 'model' parameter to a zoo name (softscope models) or "
            "the path of a .ssm model file"
        )
    p = resolve(s).resolve()
    return _load(str(p), p.stat().st_mtime)


def check_species(frame: Frame, species: Sequence[str], who: str) -> None:
    """Every species of ``frame`` must be one of the model's, else a clear error."""
    have = set(frame.species.tolist())
    unknown = sorted(have - set(species))
    if unknown:
        raise SoftscopeError(
            f"{who}: the particle types {unknown} are not species of the model "
            f"(model species: {list(species)}). Name the OVITO particle types after the "
            "elements, or set the 'elements' parameter, e.g. "
            f"'{' '.join(species)}' (type 1 = {species[0]}, ...) or "
            "'1=Cu, 2=Zr'"
        )


def extra_columns(data, spec) -> dict[str, np.ndarray] | None:
    """Per-atom columns of external descriptor blocks (e.g. ``msd``), taken from the
    particle properties of the same name."""
    names = spec.external
    if not names:
        return None
    missing = [n for n in names if n not in data.particles]
    if missing:
        raise SoftscopeError(
            f"the model needs the per-atom input(s) {missing}, which a single frame cannot "
            "give; provide them as particle properties of these names (e.g. from the LAMMPS "
            f"fix's dump). Available properties: {list(data.particles.keys())}"
        )
    return {n: np.asarray(data.particles[n], dtype=np.float64) for n in names}


def set_property(data, name: str, values: np.ndarray, component_names=None) -> None:
    """Create or overwrite a float64 (or int32) particle property."""
    v = np.asarray(values)
    if v.dtype.kind == "f":
        v = v.astype(np.float64, copy=False)
    parts = data.particles_
    if name in parts:
        del parts[name]
    kw = {"data": v}
    if component_names is not None:
        kw["components"] = list(component_names)
    parts.create_property(name, **kw)


def in_frame_order(frame_ids: np.ndarray, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Reorder per-atom ``values`` (given in the order of ``ids``) into ``frame_ids``' order."""
    order = np.argsort(ids, kind="stable")
    pos = np.searchsorted(ids[order], frame_ids)
    pos = np.minimum(pos, len(ids) - 1)
    if not np.array_equal(ids[order][pos], frame_ids):
        raise SoftscopeError(
            "particle identifiers differ between frames; both frames must hold the same atoms"
        )
    return values[order[pos]]
