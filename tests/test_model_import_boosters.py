"""XGBoost and LightGBM models imported as softscope tree ensembles
(``softscope.models.importers.from_xgboost`` / ``from_lightgbm``, ``softscope models
import``), checked against the libraries' own predictions on the glass's descriptors.

XGBoost: every tree is evaluated alone and its leaf values are added in float32 from the
float32 base margin, as XGBoost does: that reproduces ``output_margin`` bit for bit, so the
routing (``x < split_condition`` on float32 features), the leaves and ``base_score`` are
exact; the whole model (float64 sum) then agrees to XGBoost's float32 rounding, bounded
by 2^-24 per addition.  LightGBM sums double leaf values in the same order: raw scores
are identical.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from model_helpers import SMALL_SPEC, labelled_features, run_doc_example, tree_rule_reference

from softscope.cli import main
from softscope.errors import SoftscopeError
from softscope.models.estimators import TreeEnsemble
from softscope.models.format import load_arrays
from softscope.models.importers import from_lightgbm, from_xgboost
from softscope.models.model import load_model, zoo_path

ROOT = Path(__file__).resolve().parents[1]

SPEC = SMALL_SPEC


@pytest.fixture(scope="module")
def data(cuzr_glass):
    return labelled_features(cuzr_glass, seed=11)


@pytest.fixture(scope="module")
def xgb():
    return pytest.importorskip("xgboost")


@pytest.fixture(scope="module")
def lgb():
    return pytest.importorskip("lightgbm")


def _single_trees(est: TreeEnsemble, x: np.ndarray) -> np.ndarray:
    """(n_trees, N) each tree's leaf value alone (raw, no init, learning rate 1)."""
    one = [
        dataclasses.replace(est, roots=est.roots[t : t + 1], init=0.0, learning_rate=1.0)
        for t in range(est.roots.size)
    ]
    return np.array([dataclasses.replace(e, output="raw").decision_function(x) for e in one])


def _check_xgboost(model, booster, x: np.ndarray, xgb) -> None:
    """Bitwise routing/leaf/base-margin check, then the model's output against XGBoost's."""
    est = model.estimator
    dm = xgb.DMatrix(x, nthread=1)
    margin = booster.predict(dm, output_margin=True, iteration_range=(0, est.roots.size))
    leaves = _single_trees(est, x)
    assert np.array_equal(leaves, leaves.astype(np.float32))  # XGBoost's float32 leaves
    s = np.full(len(x), np.float32(est.init), dtype=np.float32)
    for leaf in leaves:  # XGBoost's order and precision: float32, tree by tree
        s = (s + leaf.astype(np.float32)).astype(np.float32)
    np.testing.assert_array_equal(s, margin)
    # float64 sum vs float32 sum: each float32 addition rounds by <= 2^-24 |partial sum|
    bound = abs(est.init) + np.abs(leaves).max(axis=1).sum()
    tol = 2.0**-24 * (est.roots.size + 1) * bound
    d = est.decision_function(x)
    assert np.abs(d - margin).max() <= tol
    out = booster.predict(dm, iteration_range=(0, est.roots.size))
    pred = model.predict_features(x)
    # + the float32 rounding of XGBoost's own sigmoid / output
    assert np.abs(pred - out).max() <= (0.25 if est.output == "probability" else 1.0) * tol + (
        2.0**-23 * np.abs(out).max()
    )


# ---------------------------------------------------------------------------- XGBoost
def test_xgboost_classifier_is_routed_and_summed_as_xgboost(xgb, data, cuzr_glass, tmp_path):
    x, y, _ = data
    clf = xgb.XGBClassifier(n_estimators=40, max_depth=4, learning_rate=0.3, n_jobs=1)
    clf.fit(x, y)
    model = from_xgboost(clf, SPEC, name="x", output_name="Softness")
    est = model.estimator
    assert (est.kind, est.aggregate, est.output, model.threshold) == (
        "trees",
        "boosting",
        "probability",
        0.5,
    )
    _check_xgboost(model, clf.get_booster(), x, xgb)
    # through the frame route (Evaluator) too, against predict_proba[:, 1]
    np.testing.assert_allclose(
        model.predict(cuzr_glass), clf.predict_proba(x)[:, 1], rtol=0, atol=2e-6
    )
    imp = model.card["imported"]
    assert (imp["library"], imp["objective"], imp["n_trees"]) == ("xgboost", "binary:logistic", 40)
    assert imp["version"] == xgb.__version__.split("rc")[0].split(".dev")[0]
    # base_score is stored as a probability: the margin starts at its logit
    assert est.init == pytest.approx(np.log(imp["base_score"] / (1 - imp["base_score"])), 1e-6)


@pytest.mark.parametrize(
    "objective, source",
    [
        ("binary:logitraw", "booster"),
        ("reg:logistic", "json-file"),
        ("reg:squarederror", "raw-bytes"),
        ("reg:absoluteerror", "json-text"),
        ("reg:pseudohubererror", "dict"),
    ],
)
def test_xgboost_objectives_and_sources(xgb, data, objective, source, tmp_path):
    x, y, yr = data
    label = y if objective in ("binary:logitraw", "reg:logistic") else yr
    params = {"objective": objective, "max_depth": 5, "eta": 0.3, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(x, label=label, nthread=1), num_boost_round=25)
    raw = bytes(booster.save_raw(raw_format="json"))
    if source == "json-file":
        booster.save_model(tmp_path / "m.json")
        src = tmp_path / "m.json"
    else:
        src = {
            "booster": booster,
            "raw-bytes": raw,
            "json-text": raw.decode(),
            "dict": json.loads(raw),
        }[source]
    model = from_xgboost(src, SPEC, name="x", output_name="S")
    want = "probability" if objective == "reg:logistic" else "raw"
    assert model.estimator.output == want
    _check_xgboost(model, booster, x, xgb)


def test_xgboost_early_stopping_uses_the_best_iteration(xgb, data):
    x, y, _ = data
    clf = xgb.XGBClassifier(
        n_estimators=300, max_depth=4, learning_rate=0.8, early_stopping_rounds=3, n_jobs=1
    )
    clf.fit(x[:3000], y[:3000], eval_set=[(x[3000:], y[3000:])], verbose=False)
    booster = clf.get_booster()
    assert clf.best_iteration + 1 < booster.num_boosted_rounds()
    model = from_xgboost(clf, SPEC, name="x", output_name="S")
    assert model.estimator.roots.size == clf.best_iteration + 1
    assert model.card["imported"]["best_iteration"] == clf.best_iteration
    np.testing.assert_allclose(model.predict_features(x), clf.predict_proba(x)[:, 1], atol=2e-6)
    every = from_xgboost(booster, SPEC, name="x", output_name="S", all_trees=True)
    assert every.estimator.roots.size == booster.num_boosted_rounds()
    _check_xgboost(every, booster, x, xgb)


def test_xgboost_model_round_trips_through_the_file_exactly(xgb, data, tmp_path):
    x, y, _ = data
    clf = xgb.XGBClassifier(n_estimators=15, max_depth=3, n_jobs=1).fit(x, y)
    model = from_xgboost(clf, SPEC, name="x", output_name="Softness", card={"note": "mine"})
    back = load_model(model.save(tmp_path / "x.ssm"))
    for k, v in model.estimator.to_arrays().items():
        assert np.array_equal(back.estimator.to_arrays()[k], v), k
    np.testing.assert_array_equal(back.predict_features(x), model.predict_features(x))
    assert back.card["note"] == "mine" and back.card["imported"]["objective"] == "binary:logistic"


def _xgb_doc(xgb, x, y, **params):
    params = {"nthread": 1, **params}
    return json.loads(
        bytes(
            xgb.train(params, xgb.DMatrix(x, label=y, nthread=1), num_boost_round=2).save_raw(
                raw_format="json"
            )
        )
    )


def test_what_xgboost_import_refuses_is_a_clear_error(xgb, data, tmp_path):
    x, y, yr = data
    y3 = np.digitize(yr, np.quantile(yr, [0.3, 0.6]))
    cases = {
        "multi-class": (_xgb_doc(xgb, x, y3, objective="multi:softprob", num_class=3), "multi"),
        "dart": (_xgb_doc(xgb, x, y, objective="binary:logistic", booster="dart"), "dart"),
        "gblinear": (_xgb_doc(xgb, x, y, booster="gblinear"), "gblinear"),
        "poisson": (_xgb_doc(xgb, x, np.abs(yr), objective="count:poisson"), "count:poisson"),
    }
    xc = x.copy()
    xc[:, 0] = 2 * y + np.arange(len(y)) % 2  # a predictive category (0..3)
    types = ["c"] + ["q"] * (x.shape[1] - 1)
    cat = xgb.train(
        {"max_depth": 2, "nthread": 1, "tree_method": "hist"},
        xgb.DMatrix(xc, label=y, enable_categorical=True, feature_types=types, nthread=1),
        num_boost_round=2,
    )
    cases["categorical"] = (cat, "categorical")
    for d, match in cases.values():
        with pytest.raises(SoftscopeError, match=match):
            from_xgboost(d, SPEC, name="x", output_name="S")
    with pytest.raises(SoftscopeError, match="trained on 43 features; the spec computes 44"):
        from_xgboost(_xgb_doc(xgb, x[:, 1:], y), SPEC, name="x", output_name="S")
    names = SPEC.feature_names()[::-1]
    shuffled = xgb.train(
        {"max_depth": 2, "nthread": 1},
        xgb.DMatrix(x, label=y, feature_names=names, nthread=1),
        num_boost_round=1,
    )
    with pytest.raises(SoftscopeError, match="another column order"):
        from_xgboost(shuffled, SPEC, name="x", output_name="S")
    shuffled.save_model(tmp_path / "m.ubj")
    with pytest.raises(SoftscopeError, match="JSON model format"):
        from_xgboost(tmp_path / "m.ubj", SPEC, name="x", output_name="S")
    with pytest.raises(SoftscopeError, match="not XGBoost's JSON"):
        from_xgboost(b"\x00\x01", SPEC, name="x", output_name="S")
    with pytest.raises(SoftscopeError, match="not fitted"):
        from_xgboost(xgb.XGBClassifier(), SPEC, name="x", output_name="S")


# --------------------------------------------------------------------------- LightGBM
def _lgb_raw(booster, x: np.ndarray) -> np.ndarray:
    return booster.predict(x, raw_score=True, num_threads=1)


@pytest.mark.parametrize("source", ["object", "text", "file"])
def test_lightgbm_classifier_equals_lightgbm(lgb, data, cuzr_glass, source, tmp_path):
    x, y, _ = data
    clf = lgb.LGBMClassifier(n_estimators=40, num_leaves=15, n_jobs=1, verbose=-1).fit(x, y)
    src = {"object": clf, "text": clf.booster_.model_to_string()}.get(source)
    if source == "file":
        clf.booster_.save_model(tmp_path / "m.txt")
        src = tmp_path / "m.txt"
    model = from_lightgbm(src, SPEC, name="l", output_name="Softness")
    est = model.estimator
    assert (est.aggregate, est.output, model.threshold) == ("boosting", "probability", 0.5)
    np.testing.assert_array_equal(est.decision_function(x), _lgb_raw(clf.booster_, x))
    np.testing.assert_allclose(
        model.predict(cuzr_glass), clf.predict_proba(x)[:, 1], rtol=1e-13, atol=1e-15
    )
    imp = model.card["imported"]
    assert (imp["library"], imp["n_trees"], imp["format_version"]) == ("lightgbm", 40, "v4")
    assert imp["objective"].startswith("binary")


def test_lightgbm_regressor_sigmoid_and_random_forest(lgb, data):
    x, y, yr = data
    kw = {"n_jobs": 1, "verbose": -1}
    reg = lgb.LGBMRegressor(n_estimators=40, num_leaves=20, **kw).fit(x, yr)
    m = from_lightgbm(reg, SPEC, name="l", output_name="S")
    assert m.estimator.output == "raw" and m.threshold == 0.0
    np.testing.assert_array_equal(m.predict_features(x), reg.predict(x))
    # binary objective with sigmoid != 1: probability = 1 / (1 + exp(-sigmoid * raw))
    clf = lgb.LGBMClassifier(n_estimators=20, num_leaves=8, sigmoid=2.5, **kw).fit(x, y)
    m = from_lightgbm(clf, SPEC, name="l", output_name="S")
    np.testing.assert_allclose(m.predict_features(x), clf.predict_proba(x)[:, 1], rtol=1e-13)
    # random forests: the mean of the trees (then the sigmoid for a classifier)
    rf = {"boosting_type": "rf", "subsample": 0.7, "subsample_freq": 1, "num_leaves": 8, **kw}
    reg = lgb.LGBMRegressor(n_estimators=10, **rf).fit(x, yr)
    m = from_lightgbm(reg, SPEC, name="l", output_name="S")
    assert m.estimator.aggregate == "mean"
    np.testing.assert_array_equal(m.predict_features(x), reg.predict(x))
    clf = lgb.LGBMClassifier(n_estimators=10, **rf).fit(x, y)
    m = from_lightgbm(clf, SPEC, name="l", output_name="S")
    np.testing.assert_allclose(m.predict_features(x), clf.predict_proba(x)[:, 1], rtol=1e-13)


def test_lightgbm_zero_as_missing_sends_zeros_to_the_default_side(lgb, data):
    """``zero_as_missing``: |x| <= 1e-35 goes to the learned default side, whatever the
    threshold; such splits become extra comparisons (more nodes than LightGBM's)."""
    x, y, _ = data
    xz = x.copy()
    xz[::4, 3] = 0.0
    xz[::3, 7] = 0.0
    xz[::5, 5] = 0.0
    clf = lgb.LGBMClassifier(
        n_estimators=30, num_leaves=8, zero_as_missing=True, n_jobs=1, verbose=-1
    ).fit(xz, y)
    model = from_lightgbm(clf, SPEC, name="l", output_name="S")
    text = clf.booster_.model_to_string()
    n_nodes = sum(2 * int(v) - 1 for v in re.findall(r"^num_leaves=(\d+)$", text, re.M))
    assert model.estimator.feature.size > n_nodes
    np.testing.assert_array_equal(model.estimator.decision_function(xz), _lgb_raw(clf.booster_, xz))


def test_lightgbm_model_round_trips_through_the_file_exactly(lgb, data, tmp_path):
    x, y, _ = data
    clf = lgb.LGBMClassifier(n_estimators=10, num_leaves=8, n_jobs=1, verbose=-1).fit(x, y)
    model = from_lightgbm(clf, SPEC, name="l", output_name="Softness")
    back = load_model(model.save(tmp_path / "l.ssm"))
    for k, v in model.estimator.to_arrays().items():
        assert np.array_equal(back.estimator.to_arrays()[k], v), k
    np.testing.assert_array_equal(back.predict_features(x), model.predict_features(x))


def test_what_lightgbm_import_refuses_is_a_clear_error(lgb, data):
    x, y, yr = data
    kw = {"n_estimators": 3, "num_leaves": 4, "n_jobs": 1, "verbose": -1}
    y3 = np.digitize(yr, np.quantile(yr, [0.3, 0.6]))
    xc = x.copy()
    xc[:, 0] = 2 * y + np.arange(len(y)) % 2  # a predictive category (0..3)
    cases = [
        (lgb.LGBMClassifier(**kw).fit(x, y3), "multi-class"),
        (lgb.LGBMClassifier(**kw).fit(xc, y, categorical_feature=[0]), "categorical"),
        (lgb.LGBMRegressor(linear_tree=True, **kw).fit(x, yr), "linear trees"),
        (lgb.LGBMRegressor(objective="poisson", **kw).fit(x, np.abs(yr)), "poisson"),
        (lgb.LGBMRegressor(reg_sqrt=True, **kw).fit(x, yr), "sqrt"),
    ]
    for model, match in cases:
        with pytest.raises(SoftscopeError, match=match):
            from_lightgbm(model, SPEC, name="l", output_name="S")
    text = lgb.LGBMRegressor(**kw).fit(x, yr).booster_.model_to_string()
    with pytest.raises(SoftscopeError, match="truncated"):
        from_lightgbm(text[: text.index("end of trees")], SPEC, name="l", output_name="S")
    with pytest.raises(SoftscopeError, match="not a LightGBM text model"):
        from_lightgbm("{}\n", SPEC, name="l", output_name="S")
    with pytest.raises(SoftscopeError, match="trained on 43 features"):
        from_lightgbm(lgb.LGBMRegressor(**kw).fit(x[:, 1:], yr), SPEC, name="l", output_name="S")
    with pytest.raises(SoftscopeError, match="not fitted"):
        from_lightgbm(lgb.LGBMClassifier(), SPEC, name="l", output_name="S")


# ------------------------------------------------------------ evaluation needs neither
def test_imported_models_evaluate_without_xgboost_or_lightgbm(xgb, lgb, data, tmp_path):
    """The importer modules do not import the libraries; saved models load and predict in
    a process where importing them fails."""
    x, y, _ = data
    xm = from_xgboost(
        xgb.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1).fit(x, y),
        SPEC,
        name="a",
        output_name="S",
    )
    lm = from_lightgbm(
        lgb.LGBMClassifier(n_estimators=10, num_leaves=8, n_jobs=1, verbose=-1).fit(x, y),
        SPEC,
        name="b",
        output_name="S",
    )
    np.save(tmp_path / "x.npy", x)
    xm.save(tmp_path / "a.ssm")
    lm.save(tmp_path / "b.ssm")
    code = f"""
import sys
sys.modules["xgboost"] = None  # any import of it fails
sys.modules["lightgbm"] = None
import numpy as np
import softscope.models.importers, softscope.models.boosters
from softscope.models.model import load_model
d = {str(tmp_path)!r}
x = np.load(d + "/x.npy")
np.save(d + "/pa.npy", load_model(d + "/a.ssm").predict_features(x))
np.save(d + "/pb.npy", load_model(d + "/b.ssm").predict_features(x))
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    np.testing.assert_array_equal(np.load(tmp_path / "pa.npy"), xm.predict_features(x))
    np.testing.assert_array_equal(np.load(tmp_path / "pb.npy"), lm.predict_features(x))


def test_zoo_tree_model_is_unchanged_by_the_importers(cuzr_glass, tmp_path):
    """cuzr-qs (the original ``trees`` kind) loads, re-saves to the same checksum and
    predicts by scikit-learn's rule: float32 features, ``x <= threshold`` goes left."""
    path = zoo_path("cuzr-qs")
    if not path.exists():
        pytest.skip("the zoo has no cuzr-qs model")
    model = load_model(path)
    est = model.estimator
    assert "tree_mode" not in est.to_arrays()
    meta = load_arrays(path)[0]
    assert load_arrays(model.save(tmp_path / "again"))[0]["checksum"] == meta["checksum"]
    x = model.spec.compute(cuzr_glass)
    np.testing.assert_array_equal(model.predict_features(x), tree_rule_reference(est, x))


# ----------------------------------------------------------------------- command line
def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "softscope", "models", "import", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def test_cli_imports_an_xgboost_json_model_with_a_card(xgb, data, tmp_path):
    x, y, _ = data
    clf = xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(x, y)
    clf.save_model(tmp_path / "model.json")
    (tmp_path / "spec.json").write_text(SPEC.to_json())
    (tmp_path / "metrics.json").write_text('{"held_out": {"roc_auc": 0.71}}')
    r = _cli(
        "--from", "xgboost", "model.json", "--spec", "spec.json", "--name", "my-xgb",
        "--output-name", "Softness", "--trained-by", "A. Person", "--data", "default glass",
        "--metrics", "metrics.json", "--out", "out/my-xgb.ssm",
        cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "written to out/my-xgb.ssm" in r.stdout and "20 trees" in r.stdout
    model = load_model(tmp_path / "out" / "my-xgb.ssm")
    assert (model.name, model.output_name, model.spec) == ("my-xgb", "Softness", SPEC)
    card = model.card
    assert card["trained_by"] == "A. Person" and card["data"] == {"description": "default glass"}
    assert card["metrics"] == {"held_out": {"roc_auc": 0.71}}
    assert card["source"]["file"] == "model.json" and len(card["source"]["sha256"]) == 64
    assert card["imported"]["objective"] == "binary:logistic"
    assert model.expected_input == "unknown"
    want = from_xgboost(tmp_path / "model.json", SPEC, name="my-xgb", output_name="Softness")
    np.testing.assert_array_equal(model.predict_features(x), want.predict_features(x))
    np.testing.assert_allclose(model.predict_features(x), clf.predict_proba(x)[:, 1], atol=2e-6)


def test_cli_imports_a_lightgbm_text_model_on_a_recipe_spec(lgb, cuzr_glass, tmp_path):
    from softscope.training.recipes import recipe_spec

    spec = recipe_spec("softness-radial", ["Cu", "Zr"], "metal")
    x = spec.compute(cuzr_glass)
    yr = x[:, 3] - 0.5 * x[:, 60]
    reg = lgb.LGBMRegressor(n_estimators=15, num_leaves=8, n_jobs=1, verbose=-1).fit(x, yr)
    reg.booster_.save_model(tmp_path / "model.txt")
    r = _cli(
        "--from", "lightgbm", "model.txt", "--recipe", "softness-radial",
        "--elements", "Cu", "Zr", "--metrics", '{"spearman": 0.3}', "--out", "lgb.ssm",
        cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    model = load_model(tmp_path / "lgb.ssm")
    assert model.name == "lgb" and model.output_name == "Softness" and model.spec == spec
    assert model.card["metrics"] == {"spearman": 0.3} and model.threshold == 0.0
    np.testing.assert_array_equal(model.predict_features(x), reg.predict(x))
    np.testing.assert_array_equal(model.predict(cuzr_glass), reg.predict(x))


def _fails(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_cli_import_errors_name_the_input_and_write_nothing(lgb, data, tmp_path, capsys):
    x, _, yr = data
    reg = lgb.LGBMRegressor(n_estimators=2, num_leaves=4, n_jobs=1, verbose=-1)
    reg.fit(x[:, :40], yr).booster_.save_model(tmp_path / "m.txt")
    (tmp_path / "spec.json").write_text(SPEC.to_json())
    out = tmp_path / "new" / "m.ssm"
    base = ["models", "import", "--from", "lightgbm", "--out", str(out)]
    spec = ["--spec", str(tmp_path / "spec.json")]
    err = _fails([*base, str(tmp_path / "none.txt"), *spec], capsys)
    assert "none.txt: no such model file" in err
    err = _fails([*base, str(tmp_path / "m.txt"), *spec], capsys)
    assert "m.txt: the LightGBM model was trained on 40 features; the spec computes 44" in err
    err = _fails([*base, str(tmp_path / "m.txt"), "--recipe", "softness"], capsys)
    assert "--recipe needs --elements" in err
    err = _fails([*base, str(tmp_path / "m.txt"), "--recipe", "nope", "--elements", "Cu"], capsys)
    assert "--recipe nope: unknown recipe" in err
    err = _fails([*base, str(tmp_path / "m.txt"), *spec, "--metrics", "{bad"], capsys)
    assert "--metrics: neither a JSON object" in err
    err = _fails([*base, str(tmp_path / "m.txt"), "--spec", str(tmp_path / "x.json")], capsys)
    assert "no such file" in err
    assert not (tmp_path / "new").exists()
    with pytest.raises(SystemExit):  # argparse: sklearn has no safe file format
        main([*base, str(tmp_path / "m.txt"), *spec, "--from", "sklearn"])
    capsys.readouterr()


def test_models_listing_is_unchanged(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == "name output units species feat AUC AP P@q Spear xfer".split()
    assert any(line.startswith("cuzr-softness ") for line in lines)
    assert main(["models", "--json"]) == 0
    assert {"name", "roc_auc"} <= set(json.loads(capsys.readouterr().out)[0])


# ------------------------------------------------------------------------------- docs
def test_the_booster_example_of_docs_model_format_runs(xgb, tmp_path, monkeypatch):
    """The ``py`` example of the XGBoost/LightGBM section of docs/model_format.md."""
    monkeypatch.chdir(tmp_path)
    run_doc_example("from_xgboost(clf")
    assert (tmp_path / "my-xgb.ssm").is_file()


def test_lightgbm_routes_features_next_to_a_threshold_as_lightgbm(lgb, data):
    """LightGBM compares doubles: a feature one double above a split threshold goes right.
    The imported ensemble compares in float64 too (``compare = "float64"``), so such rows
    score exactly as LightGBM scores them; float32-rounded features (the older rule) would
    send some of them left."""
    import dataclasses

    x, y, _ = data
    clf = lgb.LGBMClassifier(n_estimators=20, num_leaves=8, n_jobs=1, verbose=-1).fit(x, y)
    model = from_lightgbm(clf, SPEC, name="l", output_name="S")
    est = model.estimator
    assert est.compare == "float64"
    inner = np.flatnonzero(est.feature >= 0)
    rows = np.repeat(x[:1], inner.size, axis=0)
    rows[np.arange(inner.size), est.feature[inner]] = np.nextafter(est.threshold[inner], np.inf)
    np.testing.assert_array_equal(est.decision_function(rows), _lgb_raw(clf.booster_, rows))
    as_float32 = dataclasses.replace(est, compare="float32").decision_function(rows)
    assert np.any(as_float32 != _lgb_raw(clf.booster_, rows))
