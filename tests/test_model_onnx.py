"""ONNX networks as softscope models (``softscope.models.from_onnx``, kind ``onnx``).

References: the network's own library on the same real descriptor matrix (the shipped
glass's ``SMALL_SPEC`` features): scikit-learn's ``predict_proba`` / ``predict`` for
networks converted by skl2onnx (float32 graphs: agreement to float32 rounding), a numpy
forward pass for a float64 graph built with ``onnx.helper`` (exact); then the saved file,
``Model.predict``, the OVITO PredictModifier and the LAMMPS fix agree to 1e-10.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from model_helpers import SMALL_SPEC, by_id, fix_on_glass_nve, labelled_features, run_doc_example
from model_helpers import modifier_on_glass as _modifier

import softscope
from softscope.data import default_glass
from softscope.errors import ModelFormatError, SoftscopeError
from softscope.models import from_onnx, load_model

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")


@pytest.fixture(scope="module")
def glass():
    return default_glass()


@pytest.fixture(scope="module")
def data(glass):
    return labelled_features(glass, seed=7)


def _to_onnx(est, n: int, **kw):
    from skl2onnx.common.data_types import FloatTensorType

    return skl2onnx.convert_sklearn(est, initial_types=[("x", FloatTensorType([None, n]))], **kw)


@pytest.fixture(scope="module")
def mlp_classifier(data):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(
            StandardScaler(), MLPClassifier((16, 8), max_iter=80, random_state=1)
        ).fit(x[:1500], y[:1500])
    return pipe


def _numpy_graph(rng) -> tuple[bytes, list[tuple[np.ndarray, np.ndarray]]]:
    """A float64 2-layer network (44 -> 12 tanh -> 1) as ONNX MatMul/Add/Tanh nodes."""
    from onnx import TensorProto, helper, numpy_helper

    w1, b1 = rng.normal(size=(44, 12)) * 0.2, rng.normal(size=12)
    w2, b2 = rng.normal(size=(12, 1)), rng.normal(size=1)
    inits = [
        numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Tanh", ["h1"], ["h"]),
        helper.make_node("MatMul", ["h", "w2"], ["o0"]),
        helper.make_node("Add", ["o0", "b2"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "net",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None, 44])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None, 1])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString(), [(w1, b1), (w2, b2)]


def test_skl2onnx_classifier_equals_scikit_learn_to_float32(mlp_classifier, data, tmp_path):
    x, _, _ = data
    graph = _to_onnx(mlp_classifier, x.shape[1], options={"zipmap": False})
    model = from_onnx(graph, SMALL_SPEC, name="onnx-mlp", output_name="P", output="probability")
    want = mlp_classifier.predict_proba(x)[:, 1]
    got = model.predict_features(x)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)
    assert model.threshold == 0.5
    back = load_model(model.save(tmp_path / "onnx-mlp"))
    assert back.estimator.kind == "onnx"
    np.testing.assert_array_equal(back.predict_features(x), got)
    assert back.card["imported"]["library"] == "onnx"


def test_skl2onnx_regressor_equals_scikit_learn_to_float32(data):
    from sklearn.ensemble import GradientBoostingRegressor

    x, _, yr = data
    gbr = GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=0)
    gbr.fit(x[:1500], yr[:1500])
    model = from_onnx(_to_onnx(gbr, x.shape[1]), SMALL_SPEC, name="onnx-gbr", output_name="R")
    want = gbr.predict(x)
    np.testing.assert_allclose(model.predict_features(x), want, rtol=1e-5, atol=1e-5 * want.std())
    assert model.threshold == 0.0


def test_a_float64_graph_equals_a_numpy_forward_pass_exactly(data):
    x, _, _ = data
    graph, ((w1, b1), (w2, b2)) = _numpy_graph(np.random.default_rng(3))
    model = from_onnx(graph, SMALL_SPEC, name="onnx-f64", output_name="S")
    want = (np.tanh(x @ w1 + b1) @ w2 + b2)[:, 0]
    np.testing.assert_allclose(model.predict_features(x), want, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def onnx_file(mlp_classifier, data, tmp_path_factory):
    x, _, _ = data
    graph = _to_onnx(mlp_classifier, x.shape[1], options={"zipmap": False})
    model = from_onnx(graph, SMALL_SPEC, name="onnx-mlp", output_name="OnnxP", output="probability")
    return model.save(tmp_path_factory.mktemp("onnx") / "onnx-mlp")


def test_onnx_model_in_ovito_predict_modifier_equals_model_predict(onnx_file, glass):
    got, ids = _modifier(onnx_file, "OnnxP")
    want = by_id(glass, load_model(onnx_file).predict(glass), ids)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_onnx_model_in_lammps_fix_equals_model_predict(onnx_file, glass):
    frame, out = fix_on_glass_nve(onnx_file)
    model = load_model(onnx_file)
    np.testing.assert_allclose(out[:, 0], model.predict(frame), rtol=0, atol=1e-10)
    np.testing.assert_allclose(out[:, 1], by_id(glass, model.predict(glass), frame.ids), atol=1e-10)
    assert not np.allclose(out[:, 0], out[:, 1])


def test_onnx_input_errors_say_what_to_do(mlp_classifier, data, tmp_path):
    x, _, _ = data
    zipmap = _to_onnx(mlp_classifier, x.shape[1])  # default: a list of dicts
    with pytest.raises(SoftscopeError, match="zipmap"):
        from_onnx(zipmap, SMALL_SPEC, name="z", output_name="Z", output="probability")
    narrow = _to_onnx(mlp_classifier, x.shape[1], options={"zipmap": False})
    wide = softscope.descriptors.spec.DescriptorSpec(
        species=("Cu", "Zr"),
        blocks=({"kind": "radial", "centers": [2.0, 3.0], "sigma": 0.3},),
    )
    with pytest.raises(SoftscopeError, match=r"\(N, 4\)"):
        from_onnx(narrow, wide, name="w", output_name="W")
    with pytest.raises(SoftscopeError, match="not found"):
        from_onnx(tmp_path / "missing.onnx", SMALL_SPEC, name="m", output_name="M")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(SoftscopeError, match="onnxruntime cannot load"):
        from_onnx(bad, SMALL_SPEC, name="b", output_name="B")


def test_without_onnxruntime_the_model_loads_and_evaluating_names_the_extra(
    onnx_file, data, monkeypatch
):
    import sys

    from softscope.models import onnx_estimator

    onnx_estimator._session.cache_clear()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    model = load_model(onnx_file)  # the card and arrays load
    assert model.card["imported"]["library"] == "onnx"
    with pytest.raises(SoftscopeError, match=r"softscope\[onnx\]"):
        model.predict_features(data[0][:3])
    onnx_estimator._session.cache_clear()


def test_a_damaged_onnx_meta_is_a_model_format_error(onnx_file, tmp_path):
    from softscope.models.format import load_arrays, save_arrays

    meta, arrays = load_arrays(onnx_file)
    arrays["onnx_meta"] = np.array([44, 0, -1, 7], dtype=np.int64)
    path = save_arrays(tmp_path / "broken.ssm", meta, arrays)
    with pytest.raises(ModelFormatError, match="onnx_meta"):
        load_model(path)


def test_cli_imports_an_onnx_file_with_a_card(mlp_classifier, data, tmp_path, capsys):
    from softscope.cli import main

    x, _, _ = data
    graph = _to_onnx(mlp_classifier, x.shape[1], options={"zipmap": False})
    (tmp_path / "net.onnx").write_bytes(graph.SerializeToString())
    (tmp_path / "spec.json").write_text(SMALL_SPEC.to_json())
    out = tmp_path / "net.ssm"
    argv = ["models", "import", "--from", "onnx", str(tmp_path / "net.onnx")]
    argv += ["--spec", str(tmp_path / "spec.json"), "--output", "probability"]
    argv += ["--trained-by", "a notebook", "--out", str(out)]
    assert main(argv) == 0
    assert "ONNX graph" in capsys.readouterr().out
    model = load_model(out)
    assert model.card["trained_by"] == "a notebook" and model.threshold == 0.5
    want = mlp_classifier.predict_proba(x)[:, 1]
    np.testing.assert_allclose(model.predict_features(x), want, rtol=0, atol=2e-6)
    # --output belongs to ONNX; a tree model's objective sets it
    assert main([*argv[:3], "lightgbm", *argv[4:]]) == 2
    assert "--output is for ONNX networks" in capsys.readouterr().err


def test_the_onnx_example_of_docs_model_format_runs(tmp_path, monkeypatch):
    """The ``from_onnx`` example of docs/model_format.md, verbatim."""
    monkeypatch.chdir(tmp_path)
    run_doc_example("from_onnx(graph")
    assert (tmp_path / "my-net.ssm").is_file()
