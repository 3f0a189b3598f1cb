"""Safe model format and stored estimators, checked against scikit-learn itself."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from softscope import ModelFormatError
from softscope.models.estimators import LinearEstimator, TreeEnsemble
from softscope.models.format import load_arrays, save_arrays


@pytest.fixture(scope="module")
def xy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 7)) * [1, 2, 3, 0.5, 10, 1, 1] + [0, 1, -2, 0, 5, 0, 0]
    y = (x[:, 0] + 0.3 * x[:, 1] - 0.1 * x[:, 4] + rng.normal(scale=0.5, size=600) > 0).astype(int)
    return x, y


def test_linear_estimator_equals_sklearn_decision_function(xy):
    x, y = xy
    sc = StandardScaler().fit(x)
    svm = LinearSVC(C=0.5).fit(sc.transform(x), y)
    est = LinearEstimator.from_sklearn(sc, svm)
    np.testing.assert_allclose(
        est.predict(x), svm.decision_function(sc.transform(x)), rtol=1e-12, atol=1e-12
    )


def test_tree_ensemble_equals_sklearn_predict_proba(xy):
    x, y = xy
    gbc = GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0).fit(x, y)
    est = TreeEnsemble.from_sklearn(gbc)
    xt = np.random.default_rng(1).normal(size=(500, 7)) * 3
    np.testing.assert_allclose(est.predict(xt), gbc.predict_proba(xt)[:, 1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        est.decision_function(xt), gbc.decision_function(xt), rtol=1e-12, atol=1e-12
    )


def test_tree_ensemble_roundtrips_through_file(tmp_path, xy):
    x, y = xy
    gbc = GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0).fit(x, y)
    est = TreeEnsemble.from_sklearn(gbc)
    save_arrays(tmp_path / "m.ssm", {"k": 1}, est.to_arrays())
    meta, arrays = load_arrays(tmp_path / "m.ssm")
    est2 = TreeEnsemble.from_arrays(arrays)
    np.testing.assert_array_equal(est2.predict(x), est.predict(x))


def _write(tmp_path):
    p = save_arrays(tmp_path / "m.ssm", {"name": "x", "n": 3}, {"w": np.arange(5.0)})
    return p


def test_tampered_array_fails_checksum(tmp_path):
    p = _write(tmp_path)
    with zipfile.ZipFile(p) as z:
        members = {n: z.read(n) for n in z.namelist()}
    w = np.load(p)["w"].copy()
    w[2] = 99.0
    import io

    buf = io.BytesIO()
    np.save(buf, w)
    members["w.npy"] = buf.getvalue()
    with zipfile.ZipFile(p, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    with pytest.raises(ModelFormatError, match="checksum"):
        load_arrays(p)


def test_tampered_metadata_fails_checksum(tmp_path):
    p = _write(tmp_path)
    with zipfile.ZipFile(p) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(np.load(p)["__meta__"].tobytes())
    meta["name"] = "evil"
    import io

    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    members["__meta__.npy"] = buf.getvalue()
    with zipfile.ZipFile(p, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    with pytest.raises(ModelFormatError, match="checksum"):
        load_arrays(p)


def test_truncated_file_is_a_clear_error(tmp_path):
    p = _write(tmp_path)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match="truncated or corrupted"):
        load_arrays(p)


def test_wrong_version_is_a_clear_error(tmp_path):
    import softscope.models.format as fmt

    p = _write(tmp_path)
    meta, arrays = load_arrays(p)
    old = fmt.FORMAT_VERSION
    try:
        fmt.FORMAT_VERSION = 99
        save_arrays(p, {"name": "x"}, arrays)
    finally:
        fmt.FORMAT_VERSION = old
    with pytest.raises(ModelFormatError, match="version 99"):
        load_arrays(p)


def test_pickle_payload_is_refused(tmp_path):
    p = tmp_path / "evil.ssm"
    with open(p, "wb") as fh:  # a file handle: np.savez would append .npz to a path
        np.savez(
            fh,
            __meta__=np.frombuffer(b"{}", dtype=np.uint8),
            obj=np.array([{"a": 1}], dtype=object),
        )
    with pytest.raises(ModelFormatError, match="not a readable|pickle|non-numeric"):
        load_arrays(p)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFormatError, match="not found"):
        load_arrays(tmp_path / "nope.ssm")
