"""Estimator kinds beyond the zoo's, imported from scikit-learn (``models.from_sklearn``).

On the real descriptor matrix of the shipped glass (radial SF + coarse-graining), every
supported scikit-learn estimator is fitted and imported; the model's ``Model.predict`` of
the glass equals the library's own ``decision_function`` / ``predict_proba[:, 1]`` /
``predict`` on the same features (linear and networks to rounding; trees exactly, up to
scikit-learn's float32 rounding of the features, which both sides share); the ``.ssm``
round trip is exact; damaged or inconsistent files are ``ModelFormatError``; what cannot
be represented is a ``SoftscopeError`` naming what is supported.  The MLP kind gives the
same numbers in the OVITO ``PredictModifier`` and in the LAMMPS fix (in-process).
"""

from __future__ import annotations

import io
import warnings
import zipfile

import numpy as np
import pytest
from model_helpers import (
    SMALL_SPEC,
    by_id,
    fix_on_glass_nve,
    labelled_features,
    modifier_on_glass,
    run_doc_example,
    tree_rule_reference,
)
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from softscope.errors import ModelFormatError, SoftscopeError
from softscope.models import MLPEstimator, TreeEnsemble, from_sklearn, load_model
from softscope.models.format import load_arrays, save_arrays
from softscope.models.model import zoo_path

SPEC = SMALL_SPEC


@pytest.fixture(scope="module")
def data(cuzr_glass):
    return labelled_features(cuzr_glass, seed=7)


def _scaled(est):
    return make_pipeline(StandardScaler(), est)


#: name -> (make the fitted object from (x, y), target "y"/"yr", sklearn output, rows)
CASES = {
    "LinearSVC": (lambda: _scaled(LinearSVC(C=0.1, max_iter=5000)), "y", "decision_function"),
    "LogisticRegression": (lambda: _scaled(LogisticRegression(C=1.0)), "y", "decision_function"),
    "SVC-linear": (lambda: _scaled(SVC(kernel="linear", C=0.1)), "y", "decision_function"),
    "RidgeClassifier": (lambda: _scaled(RidgeClassifier(alpha=2.0)), "y", "decision_function"),
    "Ridge": (lambda: _scaled(Ridge(alpha=1.0)), "yr", "predict"),
    "LinearRegression-bare": (lambda: LinearRegression(), "yr", "predict"),
    "Lasso": (lambda: _scaled(Lasso(alpha=0.01)), "yr", "predict"),
    "GradientBoostingClassifier": (
        lambda: GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0),
        "y",
        "predict_proba",
    ),
    "GradientBoostingRegressor-huber": (
        lambda: GradientBoostingRegressor(
            n_estimators=30, max_depth=3, loss="huber", subsample=0.8, random_state=0
        ),
        "yr",
        "predict",
    ),
    "HistGradientBoostingClassifier": (
        lambda: HistGradientBoostingClassifier(max_iter=40, max_leaf_nodes=15, random_state=0),
        "y",
        "predict_proba",
    ),
    "HistGradientBoostingRegressor-scaled": (
        lambda: _scaled(
            HistGradientBoostingRegressor(max_iter=30, learning_rate=0.2, random_state=0)
        ),
        "yr",
        "predict",
    ),
    "RandomForestClassifier": (
        lambda: RandomForestClassifier(n_estimators=20, max_depth=8, random_state=0),
        "y",
        "predict_proba",
    ),
    "RandomForestRegressor-scaled": (
        lambda: _scaled(RandomForestRegressor(n_estimators=10, max_depth=8, random_state=0)),
        "yr",
        "predict",
    ),
    "ExtraTreesClassifier": (
        lambda: ExtraTreesClassifier(n_estimators=20, min_samples_leaf=3, random_state=0),
        "y",
        "predict_proba",
    ),
    "ExtraTreesRegressor": (
        lambda: ExtraTreesRegressor(n_estimators=10, max_depth=10, random_state=0),
        "yr",
        "predict",
    ),
    "MLPClassifier-relu": (
        lambda: _scaled(MLPClassifier((16, 8), max_iter=80, random_state=0)),
        "y",
        "predict_proba",
    ),
    "MLPClassifier-logistic": (
        lambda: _scaled(MLPClassifier((12,), activation="logistic", max_iter=80, random_state=0)),
        "y",
        "predict_proba",
    ),
    "MLPRegressor-tanh": (
        lambda: _scaled(
            MLPRegressor(hidden_layer_sizes=(16, 8), activation="tanh", max_iter=80, random_state=0)
        ),
        "yr",
        "predict",
    ),
    "MLPRegressor-identity-poisson": (
        lambda: _scaled(
            MLPRegressor(
                hidden_layer_sizes=(8,),
                activation="identity",
                loss="poisson",
                max_iter=80,
                random_state=0,
            )
        ),
        "yr",
        "predict",
    ),
}

_FITTED: dict[str, object] = {}


@pytest.fixture
def fitted(data):
    """Fits a case on the first 1500 atoms (once per module)."""
    x, y, yr = data

    def get(case: str):
        if case not in _FITTED:
            make, target, _ = CASES[case]
            t = y if target == "y" else (yr - yr.min() + 0.1 if "poisson" in case else yr)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                _FITTED[case] = make().fit(x[:1500], t[:1500])
        return _FITTED[case]

    return get


def _sklearn_output(obj, how: str, x: np.ndarray) -> np.ndarray:
    if how == "predict_proba":
        return obj.predict_proba(x)[:, 1]
    return getattr(obj, how)(x)


@pytest.mark.parametrize("case", list(CASES))
def test_imported_model_predicts_what_scikit_learn_predicts_on_the_glass(
    case, fitted, data, cuzr_glass
):
    x, _, _ = data
    obj = fitted(case)
    how = CASES[case][2]
    model = from_sklearn(obj, SPEC, name=f"test-{case.lower()}", output_name="Out")
    want = _sklearn_output(obj, how, x)
    got = model.predict(cuzr_glass)
    if "HistGradientBoosting" in case:
        # float64 comparisons: a frame's features equal spec.compute's only to ~1e-15, and
        # HGB puts thresholds between near-zero values of near-empty features, so compare
        # on the very matrix scikit-learn saw
        got = model.predict_features(x)
    kind = model.estimator.kind
    assert kind == (
        "mlp"
        if "MLP" in case
        else "trees"
        if "Tree" in case or "Forest" in case or "Gradient" in case
        else "linear"
    )
    assert np.ptp(want) > 0  # not a constant model
    if kind == "trees":
        # the frame's features equal spec.compute's to ~1e-15: identical after float32 rounding
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())
    prob = how == "predict_proba"
    assert model.estimator.output == ("probability" if prob else "raw")
    assert model.threshold == (0.5 if prob else 0.0)
    imported = model.card["imported"]
    assert imported["library"] == "scikit-learn"
    assert imported["output"] == ("predict_proba[:, 1]" if prob else how)
    if prob:
        assert imported["positive_class"] == 1


@pytest.mark.parametrize("case", list(CASES))
def test_imported_model_round_trips_through_the_file_exactly(case, fitted, data, tmp_path):
    x, _, _ = data
    model = from_sklearn(fitted(case), SPEC, name="rt", output_name="Out", card={"note": "x"})
    path = model.save(tmp_path / "rt")
    again = load_model(path)
    assert again.estimator.kind == model.estimator.kind
    assert again.estimator.output == model.estimator.output
    assert again.card == model.card and again.card["note"] == "x"
    a, b = model.estimator.to_arrays(), again.estimator.to_arrays()
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
    np.testing.assert_array_equal(again.predict_features(x), model.predict_features(x))


def test_a_scaler_and_estimator_pair_equals_the_pipeline(fitted, data):
    x, _, _ = data
    pipe = fitted("MLPClassifier-relu")
    pair = (pipe.steps[0][1], pipe.steps[1][1])
    a = from_sklearn(pipe, SPEC, name="a", output_name="P").predict_features(x)
    b = from_sklearn(pair, SPEC.to_dict(), name="b", output_name="P").predict_features(x)
    np.testing.assert_array_equal(a, b)


def test_mlp_from_layers_equals_a_numpy_forward_pass(rng):
    """Weights of any framework (layer k: (n_in, n_out)), every activation."""
    sizes = [5, 7, 6, 4, 3, 1]
    acts = ("relu", "tanh", "logistic", "exp", "identity")
    ws = [rng.normal(scale=0.5, size=(a, b)) for a, b in zip(sizes, sizes[1:], strict=False)]
    bs = [rng.normal(scale=0.1, size=b) for b in sizes[1:]]
    mean, scale = rng.normal(size=5), rng.random(5) + 0.5
    est = MLPEstimator.from_layers(ws, bs, acts, mean, scale)
    x = rng.normal(size=(300, 5)) * 2
    f = {
        "relu": lambda v: np.maximum(v, 0),
        "tanh": np.tanh,
        "logistic": lambda v: 1 / (1 + np.exp(-v)),
        "exp": np.exp,
        "identity": lambda v: v,
    }
    a = (x - mean) / scale
    for w, b, act in zip(ws, bs, acts, strict=True):
        a = f[act](a @ w + b)
    np.testing.assert_allclose(est.predict(x), a[:, 0], rtol=1e-12)
    assert est.output == "raw" and est.layer_sizes == tuple(sizes)


# --------------------------------------------------------------------------- zoo model
def test_zoo_trees_model_loads_unchanged_and_predicts_by_the_tree_rule(cuzr_glass, tmp_path):
    path = zoo_path("cuzr-qs")
    if not path.exists():
        pytest.skip("the zoo has no cuzr-qs model")
    model = load_model(path)
    est = model.estimator
    assert (est.kind, est.aggregate, est.output, est.mean) == (
        "trees",
        "boosting",
        "probability",
        None,
    )
    assert model.threshold == 0.5
    # nothing new is written for the original kind: a re-saved file has the same content
    meta, arrays = load_arrays(path)
    assert sorted(est.to_arrays()) == sorted(arrays)
    assert load_arrays(model.save(tmp_path / "again"))[0]["checksum"] == meta["checksum"]
    x = model.spec.compute(cuzr_glass)
    pred = model.predict_features(x)
    np.testing.assert_array_equal(pred, tree_rule_reference(est, x))
    assert 0 < pred.min() < pred.max() < 1


def test_boosted_classifier_import_equals_the_training_route(fitted, data):
    """``from_sklearn`` on a GradientBoostingClassifier stores what
    ``TreeEnsemble.from_sklearn`` (the zoo's training route) stores."""
    gbc = fitted("GradientBoostingClassifier")
    a = from_sklearn(gbc, SPEC, name="a", output_name="QS").estimator.to_arrays()
    b = TreeEnsemble.from_sklearn(gbc).to_arrays()
    assert sorted(a) == sorted(b) and "tree_mode" not in a
    assert all(np.array_equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- damaged files
def _rewrite_member(path, name: str, change) -> None:
    """Replace array ``name`` of the model file by ``change(array)`` (checksum unchanged)."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    a = np.load(io.BytesIO(members[f"{name}.npy"]))
    buf = io.BytesIO()
    np.save(buf, change(a.copy()))
    members[f"{name}.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)


def _bump(a):
    a.flat[0] += 1 if a.dtype.kind in "iu" else 1e-3
    return a


@pytest.mark.parametrize(
    ("case", "member"),
    [
        ("MLPClassifier-relu", "mlp_weights_1"),
        ("MLPClassifier-relu", "mlp_activations"),
        ("RandomForestRegressor-scaled", "tree_mode"),
        ("RandomForestRegressor-scaled", "tree_scale"),
    ],
)
def test_tampered_array_of_a_new_kind_fails_the_checksum(case, member, fitted, tmp_path):
    model = from_sklearn(fitted(case), SPEC, name="t", output_name="Out")
    path = model.save(tmp_path / "t")
    _rewrite_member(path, member, _bump)
    with pytest.raises(ModelFormatError, match="checksum mismatch"):
        load_model(path)


def _resave(path, change) -> None:
    """Rewrite a model file with ``change(arrays)`` and a valid checksum (content no
    softscope wrote)."""
    meta, arrays = load_arrays(path)
    change(arrays)
    save_arrays(path, {k: v for k, v in meta.items() if k != "checksum"}, arrays)


INCONSISTENT = {
    "unknown activation code": (
        "MLPClassifier-relu",
        lambda a: a.__setitem__("mlp_activations", np.array([1, 9, 3])),
        "codes outside",
    ),
    "missing layer": (
        "MLPClassifier-relu",
        lambda a: a.pop("mlp_weights_2"),
        "weight/bias arrays",
    ),
    "layers do not chain": (
        "MLPClassifier-relu",
        lambda a: a.__setitem__("mlp_weights_1", a["mlp_weights_1"][:-1]),
        "do not chain",
    ),
    "NaN weight": (
        "MLPClassifier-relu",
        lambda a: a["mlp_biases_0"].__setitem__(0, np.nan),
        "NaN",
    ),
    "unknown tree mode": (
        "RandomForestRegressor-scaled",
        lambda a: a.__setitem__("tree_mode", np.array([7, 0])),
        "tree_mode",
    ),
    "tree scaler half missing": (
        "RandomForestRegressor-scaled",
        lambda a: a.pop("tree_scale"),
        "together",
    ),
}


@pytest.mark.parametrize("what", list(INCONSISTENT))
def test_inconsistent_arrays_of_a_new_kind_are_a_model_format_error(what, fitted, tmp_path):
    case, change, match = INCONSISTENT[what]
    path = from_sklearn(fitted(case), SPEC, name="t", output_name="Out").save(tmp_path / "t")
    _resave(path, change)
    with pytest.raises(ModelFormatError, match=match):
        load_model(path)


# --------------------------------------------------------------------------- unsupported
def _toy(n_features=44, seed=0):
    """Random features, an integer counter (labels: ``% 2`` or ``% 3``), two targets."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(120, n_features))
    return x, np.arange(120), x[:, :2].copy()


UNSUPPORTED = {
    "multi-class linear": (lambda x, y3, y2: LogisticRegression().fit(x, y3 % 3), "3 classes"),
    "multi-class MLP": (
        lambda x, y3, y2: MLPClassifier((4,), max_iter=5).fit(x, y3 % 3),
        "3 classes",
    ),
    "multi-class forest": (
        lambda x, y3, y2: RandomForestClassifier(3).fit(x, y3 % 3),
        "3 classes",
    ),
    "multi-class HistGradientBoosting": (
        lambda x, y3, y2: HistGradientBoostingClassifier(max_iter=3).fit(x, y3 % 3),
        "3 classes",
    ),
    "HistGradientBoosting poisson": (
        lambda x, y3, y2: HistGradientBoostingRegressor(loss="poisson", max_iter=3).fit(
            x, np.abs(y2[:, 0]) + 1.0
        ),
        "non-identity link",
    ),
    "rbf kernel": (lambda x, y3, y2: SVC(kernel="rbf").fit(x, y3 % 2), "kernel='linear'"),
    "exponential loss": (
        lambda x, y3, y2: GradientBoostingClassifier(loss="exponential", n_estimators=2).fit(
            x, y3 % 2
        ),
        "log-loss",
    ),
    "multi-output regressor": (lambda x, y3, y2: Ridge().fit(x, y2), "single-output"),
    "multi-output forest": (
        lambda x, y3, y2: RandomForestRegressor(2).fit(x, y2),
        "single-output",
    ),
    "other estimator": (
        lambda x, y3, y2: KNeighborsClassifier().fit(x, y3 % 2),
        "KNeighborsClassifier cannot be exported; supported: .*StandardScaler.*MLPClassifier",
    ),
    "other transformer": (
        lambda x, y3, y2: make_pipeline(StandardScaler(), StandardScaler(), Ridge()).fit(
            x, y2[:, 0]
        ),
        "cannot export the pipeline",
    ),
    "not fitted": (lambda x, y3, y2: LinearSVC(), "not fitted"),
    "other feature count": (
        lambda x, y3, y2: Ridge().fit(x[:, :3], y2[:, 0]),
        "fitted on 3 features; the spec computes 44",
    ),
}


@pytest.mark.parametrize("what", list(UNSUPPORTED))
def test_what_cannot_be_represented_is_a_clear_error(what):
    make, match = UNSUPPORTED[what]
    x, y, y2 = _toy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        obj = make(x, y, y2)
    with pytest.raises(SoftscopeError, match=match):
        from_sklearn(obj, SPEC, name="no", output_name="No")


# --------------------------------------------------------------------------- every route
@pytest.fixture(scope="module")
def mlp_model(data, tmp_path_factory):
    """A tanh/relu MLP classifier model saved to a file (the LAMMPS and OVITO routes)."""
    x, y, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = _scaled(MLPClassifier((16, 8), activation="tanh", max_iter=60, random_state=1))
        pipe.fit(x[:1500], y[:1500])
    model = from_sklearn(pipe, SPEC, name="test-mlp", output_name="MLPSoftness")
    return model.save(tmp_path_factory.mktemp("mlp") / "test-mlp")


def test_mlp_model_in_ovito_predict_modifier_equals_model_predict(mlp_model, cuzr_glass):
    got, ids = modifier_on_glass(mlp_model, "MLPSoftness")
    want = by_id(cuzr_glass, load_model(mlp_model).predict(cuzr_glass), ids)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_mlp_model_in_lammps_fix_equals_model_predict(mlp_model, cuzr_glass):
    """``fix softscope`` (in-process, ``attach_external``) with the MLP model: f_ID[1] at
    step 10 of NVE equals ``Model.predict`` of LAMMPS' positions then, f_ID[2] (the
    reference, step 0) ``Model.predict`` of the glass."""
    frame, out = fix_on_glass_nve(mlp_model)
    model = load_model(mlp_model)
    assert model.evaluator.strategy == "coarse_grain"
    np.testing.assert_allclose(out[:, 0], model.predict(frame), rtol=0, atol=1e-10)
    want = by_id(cuzr_glass, model.predict(cuzr_glass), frame.ids)
    np.testing.assert_allclose(out[:, 1], want, rtol=0, atol=1e-10)
    assert not np.allclose(out[:, 0], out[:, 1])


def test_the_import_example_of_docs_model_format_runs(tmp_path, monkeypatch):
    """The ``from_sklearn`` example of docs/model_format.md, verbatim."""
    monkeypatch.chdir(tmp_path)
    run_doc_example("from_sklearn(pipe")
    assert (tmp_path / "my-mlp.ssm").is_file()


def test_aot_kernels_of_the_new_kinds_equal_the_jit(fitted, data):
    """The fix's ranks run the MLP and tree kernels ahead-of-time compiled (no numba):
    same numbers as the JIT, no fallback warning."""
    from softscope import _jit

    if not _jit.aot_status()["usable"]:
        pytest.skip(f"AOT kernels not built or stale: {_jit.aot_status()['reason']}")
    x, _, _ = data
    models = [
        from_sklearn(fitted(c), SPEC, name="a", output_name="A")
        for c in ("MLPClassifier-relu", "GradientBoostingClassifier", "RandomForestClassifier")
    ]
    jit = [m.predict_features(x) for m in models]
    saved = {k: k._aot for k in _jit._REGISTRY}
    try:
        for k in _jit._REGISTRY:
            k._aot = None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with _jit.aot_kernels():
                aot = [m.predict_features(x) for m in models]
        ran = {k.py_func.__name__ for k in _jit._REGISTRY if k._aot}
    finally:
        for k, v in saved.items():
            k._aot = v
    assert {"_eval_mlp", "_eval_trees"} <= ran
    np.testing.assert_allclose(aot[0], jit[0], rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(aot[1], jit[1])
    np.testing.assert_array_equal(aot[2], jit[2])


def test_softness_mlp_recipe_equals_its_sklearn_network_on_the_used_features():
    """fit_mlp drops near-empty features (zero input weights) and must still give exactly
    scikit-learn's predict_proba of the network it fitted on the kept columns."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    from softscope.data import default_glass
    from softscope.training.recipes import recipe_spec
    from softscope.training.train import TrainingSet, feature_families, fit_mlp, usable_features

    frame = default_glass()
    spec = recipe_spec("softness-mlp", ["Cu", "Zr"])
    x = spec.compute(frame)
    rng = np.random.default_rng(3)
    y = (x[:, 10] + 0.5 * rng.standard_normal(len(x)) > np.median(x[:, 10])).astype(np.int8)
    ts = TrainingSet(x, y, np.array(["a"] * (len(x) // 2) + ["b"] * (len(x) - len(x) // 2)))
    fam = feature_families(spec.feature_names())
    est, info = fit_mlp(ts, seed=1, families=fam)
    keep = usable_features(x, fam)
    assert 0 < keep.sum() < x.shape[1] and info["features_used"] == keep.sum()
    sc = StandardScaler().fit(x[:, keep])
    ref = MLPClassifier(
        hidden_layer_sizes=(32, 8), alpha=1e-2, early_stopping=True, validation_fraction=0.1,
        max_iter=500, random_state=1,
    ).fit(sc.transform(x[:, keep]), y)  # fmt: skip
    want = ref.predict_proba(sc.transform(x[:, keep]))[:, 1]
    np.testing.assert_allclose(est.predict(x), want, rtol=1e-9, atol=1e-12)
