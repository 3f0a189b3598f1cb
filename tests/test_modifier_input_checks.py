"""Wrong type -> element mappings and unit systems are refused, not turned into numbers.

The LAMMPS fix refuses them (element count vs ``ntypes``, per-type masses, ``units``);
the OVITO modifiers and ``Model.predict`` see files that record less, so they check what
the data hold: the number of particle types, type names, masses (per type or per
particle), and, where nothing is recorded, the geometry (typical nearest-neighbour
distance vs the model's unit system; relative atom sizes vs the element names).
Correct input still gives exactly ``Model.predict`` of the frame.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import softscope
from softscope.data import default_glass, default_glass_path
from softscope.errors import ConventionMismatch, SoftscopeError
from softscope.frame import Frame
from softscope.models import load_model

METAL = "cuzr-softness-radial"  # units metal, Cu Zr (radial + cg: fast)
LJ = "ka-softness"  # units lj, A B
LJ_SCALE = 2.55  # Å per σ that brings the Cu-Zr glass to LJ-like distances (NN ≈ 1)
COLUMNS = ["Particle Identifier", "Particle Type", "Position.X", "Position.Y", "Position.Z"]


# --------------------------------------------------------------------------- inputs
def _datacollection(frame: Frame, type_names=None):
    """An OVITO DataCollection of ``frame``: type k + 1 is the k-th sorted species,
    named ``type_names[k]`` (default: unnamed, as in a plain LAMMPS dump)."""
    from ovito.data import DataCollection, ParticleType

    dc = DataCollection()
    m = np.zeros((3, 4))
    m[:, :3] = frame.cell.T
    m[:, 3] = frame.origin
    dc.create_cell(m, pbc=frame.pbc)
    p = dc.create_particles(count=len(frame))
    p.create_property("Position", data=frame.positions)
    p.create_property("Particle Identifier", data=frame.ids)
    names = frame.species_names
    tp = p.create_property("Particle Type")
    for k in range(len(names)):
        tp.types.append(ParticleType(id=k + 1, name=type_names[k] if type_names else ""))
    lut = {s: k + 1 for k, s in enumerate(names)}
    tp[...] = np.array([lut[s] for s in frame.species.tolist()])
    return dc


def _write_dump(dc, path: Path, columns=COLUMNS) -> Path:
    from ovito.io import export_file

    export_file(dc, str(path), "lammps/dump", columns=list(columns))
    return path


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> dict[str, Path]:
    """Dumps of the default Cu64Zr36 glass (types 1 = Cu, 2 = Zr) written by OVITO.

    ``bare``: id type x y z (what the fix's dumps hold: no masses, no names);
    ``mass``: with a per-particle mass column; ``named``: an ``element`` column (named
    types); ``lj``: the glass shrunk by 1/2.55 (σ-like distances), bare.
    """
    d = tmp_path_factory.mktemp("dumps")
    g = default_glass()
    out = {"bare": _write_dump(_datacollection(g), d / "bare.dump")}
    dc = _datacollection(g)
    mass = np.where(g.species == "Cu", 63.546, 91.224)
    dc.particles_.create_property("Mass", data=mass)
    out["mass"] = _write_dump(dc, d / "mass.dump", [*COLUMNS[:2], "Mass", *COLUMNS[2:]])
    text = out["bare"].read_text().splitlines()
    head = text.index("ITEM: ATOMS id type x y z")
    rows = [r.split() for r in text[head + 1 :]]
    named = [" ".join([r[0], {"1": "Cu", "2": "Zr"}[r[1]], *r[2:]]) for r in rows]
    out["named"] = d / "named.dump"
    out["named"].write_text(
        "\n".join([*text[:head], "ITEM: ATOMS id element x y z", *named]) + "\n"
    )
    s = 1.0 / LJ_SCALE
    small = g.replace(positions=g.positions * s, cell=g.cell * s, origin=g.origin * s)
    out["lj"] = _write_dump(_datacollection(small), d / "lj.dump")
    return out


def _run(path: Path, modifier):
    from ovito.io import import_file

    p = import_file(str(path))
    p.modifiers.append(modifier)
    return p.compute()


def _predict(path: Path, elements: str, model: str = METAL):
    from softscope.ovito_modifiers import PredictModifier

    return _run(path, PredictModifier(model=model, elements=elements))


def _features(path: Path, elements: str, model: str = METAL):
    from softscope.ovito_modifiers import FeaturesModifier

    return _run(path, FeaturesModifier(model=model, elements=elements, as_vector=True))


def _both(path: Path, elements: str, model: str = METAL):
    """PredictModifier and FeaturesModifier on the same input (each must raise)."""
    return [lambda: _predict(path, elements, model), lambda: _features(path, elements, model)]


def _assert_correct(path: Path, elements: str = "Cu Zr") -> None:
    """The right mapping: no warning, and exactly Model.predict / spec.compute of the frame."""
    model = load_model(METAL)
    frame = Frame.from_file(path, elements=elements.split())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = model.predict(frame)
        got = np.asarray(_predict(path, elements).particles["Softness"])
        feats = np.asarray(_features(path, elements).particles["Features"])
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(feats, model.spec.compute(frame))


# --------------------------------------------------------------------------- swapped
def test_swapped_elements_on_a_data_file_name_the_masses_and_the_right_order():
    glass = default_glass_path()  # Masses section: OVITO names the types Cu, Zr
    for run in _both(glass, "Zr Cu"):
        with pytest.raises(SoftscopeError, match=r"type 1 .*Cu.* Zr.*'Cu Zr'"):
            run()
    with pytest.raises(SoftscopeError, match=r"'Cu Zr'"):
        load_model(METAL).predict(Frame.from_file(glass, elements=["Zr", "Cu"]))
    _assert_correct(glass)


def test_swapped_elements_on_a_dump_with_masses_or_element_names_are_refused(dumps):
    with pytest.raises(SoftscopeError, match=r"type 1 has mass 63.5.*Zr.*'elements Cu Zr'"):
        _predict(dumps["mass"], "Zr Cu")
    with pytest.raises(SoftscopeError, match=r"type 1 has mass 63.5.*'elements Cu Zr'"):
        _features(dumps["mass"], "Zr Cu")
    for run in _both(dumps["named"], "Zr Cu"):
        with pytest.raises(SoftscopeError, match=r"type 1 is named 'Cu'.*mapped to Zr.*'Cu Zr'"):
            run()
    for path in (dumps["mass"], dumps["named"]):
        with pytest.raises(SoftscopeError, match=r"'(elements )?Cu Zr'"):
            Frame.from_file(path, elements=["Zr", "Cu"])
        _assert_correct(path)


def test_swapped_elements_on_a_bare_dump_are_caught_by_the_atom_sizes(dumps):
    """No masses, no names: Zr atoms labelled Cu are larger than the 'Zr' ones."""
    for run in _both(dumps["bare"], "Zr Cu"):
        with pytest.raises(
            ConventionMismatch, match=r"named Cu look like Zr.*named Zr look like Cu"
        ):
            run()
    swapped = Frame.from_file(dumps["bare"], elements=["Zr", "Cu"])  # nothing to check there
    with pytest.raises(ConventionMismatch, match=r"swap|permut"):
        load_model(METAL).predict(swapped)
    _assert_correct(dumps["bare"])


# --------------------------------------------------------------------------- count, duplicates
@pytest.mark.parametrize(
    "elements, match",
    [
        ("Cu Cu", r"Cu for types 1 and 2"),
        ("Cu Zr Al", r"lists 3 names .*2 particle types"),
        ("Cu", r"lists 1 name .*2 particle types"),
    ],
)
def test_duplicated_extra_or_missing_elements_are_refused(dumps, elements, match):
    for path in (dumps["bare"], default_glass_path()):
        for run in _both(path, elements):
            with pytest.raises(SoftscopeError, match=match):
                run()
        with pytest.raises(SoftscopeError, match=match):
            load_model(METAL).predict(Frame.from_file(path, elements=elements.split()))
    _assert_correct(dumps["bare"])


def test_explicit_type_mapping_may_name_an_absent_type_and_repeat_an_element(dumps):
    """'1=Cu, 2=Zr, 3=Al' is unambiguous (a dump may hold no atom of type 3)."""
    from softscope.ovito_modifiers import PredictModifier

    model = load_model(METAL)
    expected = model.predict(Frame.from_file(dumps["bare"], elements=["Cu", "Zr"]))
    data = _run(dumps["bare"], PredictModifier(model=METAL, elements="1=Cu, 2=Zr, 3=Al"))
    np.testing.assert_array_equal(np.asarray(data.particles["Softness"]), expected)
    # duplicates in the list form point to this form
    with pytest.raises(SoftscopeError, match=r"'1=Cu, 2=Cu'"):
        _predict(dumps["bare"], "Cu Cu")


# --------------------------------------------------------------------------- unit systems
def test_lj_model_on_a_metal_dump_is_refused(dumps):
    for run in _both(dumps["bare"], "A B", model=LJ):
        with pytest.raises(ConventionMismatch, match=r"units lj.*2\.\d+.*units metal"):
            run()
    frame = Frame.from_file(dumps["bare"], elements=["A", "B"])
    with pytest.raises(ConventionMismatch, match=r"'ka-softness'.*units lj"):
        load_model(LJ).predict(frame)
    _assert_correct(dumps["bare"])


def test_metal_model_on_an_lj_scaled_frame_is_refused(dumps):
    for run in _both(dumps["lj"], "Cu Zr"):
        with pytest.raises(ConventionMismatch, match=r"units metal.*[01]\.\d+.*units lj"):
            run()
    frame = Frame.from_file(dumps["lj"], elements=["Cu", "Zr"])
    with pytest.raises(ConventionMismatch, match=r"units metal"):
        load_model(METAL).predict(frame)
    # the LJ model on it: right scale, right numbers
    lj = load_model(LJ)
    ab = frame.replace(species=np.where(frame.species == "Cu", "A", "B"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = _predict(dumps["lj"], "A B", model=LJ).particles["Softness"]
        np.testing.assert_array_equal(np.asarray(got), lj.predict(ab))


def test_unusual_but_possible_scale_warns_and_says_what_was_assumed():
    g = default_glass()
    s = 0.7  # nearest neighbours ≈ 1.75 Å: odd for a metal, not impossible
    odd = g.replace(positions=g.positions * s, cell=g.cell * s, origin=g.origin * s)
    with pytest.warns(UserWarning, match=r"assumed .*Å.*units metal"):
        load_model(METAL).predict(odd)
    with pytest.warns(UserWarning, match=r"assumed .*Å.*units metal"):
        _run_dc(_datacollection(odd), "Cu Zr")


def _run_dc(dc, elements: str):
    from ovito.pipeline import Pipeline, StaticSource

    from softscope.ovito_modifiers import PredictModifier

    p = Pipeline(source=StaticSource(data=dc))
    p.modifiers.append(PredictModifier(model=METAL, elements=elements))
    return p.compute()


assert softscope  # libmpi preload before ovito
