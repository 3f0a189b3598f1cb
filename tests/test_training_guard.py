"""Linear training cannot produce exploding models (issue 17): near-empty and constant
features get weight 0, so a thermal-scale displacement moves the prediction by a few
spreads at most, not by thousands.

Reference: scikit-learn's own ``StandardScaler`` + ``LinearSVC`` on the kept columns; the
stability figures are measured with ``Model.predict`` on the shipped glass displaced at
random (thresholds of the issue: 1e-4 Å -> max |ΔP| <= 2 % of the spread; 0.1 Å -> max
<= 10 spreads, |mean shift| <= 2 spreads; a 1e-4 affine shear -> <= 2 % of the spread).
"""

from __future__ import annotations

import numpy as np
import pytest

from softscope.data import default_glass
from softscope.models.model import Model
from softscope.training.recipes import recipe_spec
from softscope.training.train import (
    TrainingSet,
    feature_families,
    fit_linear,
    usable_features,
)


@pytest.fixture(scope="module")
def setup():
    glass = default_glass()
    spec = recipe_spec("softness-radial", ("Cu", "Zr"))
    x = spec.compute(glass)
    rng = np.random.default_rng(0)
    score = x[:, 12] - 0.5 * x[:, 40] + 0.3 * rng.normal(size=len(glass)) * x[:, 12].std()
    y = (score >= np.quantile(score, 0.9)).astype(int)
    groups = np.array(["a", "b"])[rng.integers(0, 2, len(glass))]
    return glass, spec, TrainingSet(x, y, groups)


def _response(model: Model, glass, amp: float, rng, pct: float = 100.0) -> tuple[float, float]:
    """(percentile ``pct`` of |ΔP|, mean ΔP), in spreads of the prediction."""
    p0 = model.predict(glass, check=False)
    pos = glass.positions + rng.normal(scale=amp, size=glass.positions.shape)
    p1 = model.predict(glass.replace(positions=pos), check=False)
    d = np.abs(p1 - p0) / p0.std()
    return float(np.percentile(d, pct)), float((p1 - p0).mean() / p0.std())


def test_feature_families_group_kinds_and_coarse_graining_copies_over_species():
    names = [
        "G_Cu(1)",
        "G_Zr(1)",
        "cg4(G_Cu(1))",
        "s2[sigma=0.2,r_max=5]",
        "cg6(msd)",
        "Psi_CuZr(xi=2,lambda=1,zeta=1)",
    ]
    assert feature_families(names) == ["G", "G", "cg4|G", "s2", "cg6|msd", "Psi"]
    assert feature_families(["Psi_PP(xi=1.8,lambda=1,zeta=1)", "pe", "cg2(pe)"]) == [
        "Psi",
        "pe",
        "cg2|pe",
    ]


def test_usable_features_drop_near_empty_columns_per_family(setup):
    _, spec, ts = setup
    names = spec.feature_names()
    fam = np.array(feature_families(names))
    keep = usable_features(ts.x, fam)
    std = ts.x.std(axis=0)
    for f in set(fam):  # brute force: 1 % of the family's largest std
        blk = fam == f
        np.testing.assert_array_equal(keep[blk], std[blk] >= 0.01 * std[blk].max())
    assert not keep[names.index("G_Cu(1)")]  # μ = 1 Å: no pair is that close
    assert keep[names.index("G_Zr(3)")]
    assert keep.sum() < keep.size


def test_guarded_model_equals_sklearn_on_the_kept_columns(setup):
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    _, spec, ts = setup
    fam = feature_families(spec.feature_names())
    est, info = fit_linear(ts, cs=(0.01,), families=fam)
    keep = usable_features(ts.x, fam)
    sc = StandardScaler().fit(ts.x[:, keep])
    svm = LinearSVC(C=0.01, dual="auto", max_iter=20000, random_state=0)
    svm.fit(sc.transform(ts.x[:, keep]), ts.y)
    want = svm.decision_function(sc.transform(ts.x[:, keep]))
    np.testing.assert_allclose(est.predict(ts.x), want, rtol=1e-10, atol=1e-10)
    assert info["features_used"] == int(keep.sum())
    assert np.all(est.weights[~keep] == 0.0)


def test_guarded_model_is_stable_under_thermal_noise_and_small_shear(setup):
    glass, spec, ts = setup
    est, info = fit_linear(ts, cs=(0.01,), families=feature_families(spec.feature_names()))
    assert info["max_raw_coefficient"] < 1e3
    model = Model("guarded", "Softness", spec, est)
    rng = np.random.default_rng(1)
    # 1e-4 Å: the 99.9th percentile; the few largest changes are neighbours crossing the
    # coarse-graining radius (a hard cutoff by convention: a jump of ~1/n of the
    # neighbours' difference, not an amplification), bounded below half a spread
    small, _ = _response(model, glass, 1e-4, rng, pct=99.9)
    assert small <= 0.02
    assert _response(model, glass, 1e-4, rng)[0] <= 0.5
    big, shift = _response(model, glass, 0.1, rng)
    assert big <= 10.0 and abs(shift) <= 2.0
    cell = glass.cell.copy()
    cell[1, 0] += 1e-4 * cell[1, 1]
    sheared = glass.replace(positions=glass.reduced_positions() @ cell + glass.origin, cell=cell)
    p0 = model.predict(glass, check=False)
    d = np.abs(model.predict(sheared, check=False) - p0) / p0.std()
    assert np.percentile(d, 99.9) <= 0.02 and d.max() <= 0.5


def test_without_the_guard_the_same_recipe_explodes(setup):
    """The reason for the guard (and proof that the stability test can fail)."""
    glass, spec, ts = setup
    est, info = fit_linear(ts, cs=(0.01,), min_relative_std=0.0)
    assert info["max_raw_coefficient"] > 1e9
    big, _ = _response(Model("raw", "Softness", spec, est), glass, 0.1, np.random.default_rng(1))
    assert big > 100.0


def test_invariance_along_one_feature_equals_dropping_that_feature(setup):
    """invariant = e_k (a raw-feature axis): the projected SVM is scikit-learn's LinearSVC
    on the standardised columns without k (the complement of a standardised axis is the
    other axes), so the two models agree and feature k gets weight 0."""
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    _, spec, ts = setup
    fam = feature_families(spec.feature_names())
    keep = usable_features(ts.x, fam)
    k = int(np.flatnonzero(keep)[5])
    axis = np.zeros(ts.x.shape[1])
    axis[k] = 3.7
    est, info = fit_linear(ts, cs=(0.01,), families=fam, invariant=axis)
    assert info["invariant_directions"] == 1
    assert est.weights[k] == pytest.approx(0.0, abs=1e-12)
    cols = np.flatnonzero(keep)
    sc = StandardScaler().fit(ts.x[:, cols])
    z = sc.transform(ts.x[:, cols])
    z[:, list(cols).index(k)] = 0.0
    svm = LinearSVC(C=0.01, dual="auto", max_iter=20000, random_state=0).fit(z, ts.y)
    want = svm.decision_function(sc.transform(ts.x[:, cols]) * (cols != k))
    np.testing.assert_allclose(est.predict(ts.x), want, rtol=1e-8, atol=1e-8)


def test_thermal_invariance_removes_the_mean_shift_under_thermal_noise(setup):
    """The mean feature change under 0.1 Å noise (``thermal_shift``, measured on one
    noise realisation) as the invariant direction: under another realisation the mean
    prediction moves by a small fraction of what the unconstrained model's moves."""
    from softscope.training.train import thermal_shift

    glass, spec, ts = setup
    fam = feature_families(spec.feature_names())
    d = thermal_shift(spec, [glass], 0.1, seed=11)
    # brute force: the same noise, numpy mean of the feature differences
    rng = np.random.default_rng(11)
    noisy = glass.replace(positions=glass.positions + rng.normal(0.0, 0.1, (len(glass), 3)))
    np.testing.assert_allclose(d, (spec.compute(noisy) - spec.compute(glass)).mean(axis=0))
    free, _ = fit_linear(ts, cs=(0.01,), families=fam)
    inv, _ = fit_linear(ts, cs=(0.01,), families=fam, invariant=d)
    assert abs(np.dot(inv.weights / inv.scale, d)) < 1e-10 * np.abs(inv.weights / inv.scale).sum()
    _, shift_free = _response(Model("free", "S", spec, free), glass, 0.1, np.random.default_rng(5))
    _, shift_inv = _response(Model("inv", "S", spec, inv), glass, 0.1, np.random.default_rng(5))
    assert abs(shift_inv) < 0.25 * abs(shift_free)


def test_thermal_invariance_has_one_direction_per_training_composition(setup):
    """Training samples of two compositions (the glass and a copy with a third of its Cu
    relabelled Zr), two samples of the first: one row per composition, each the numpy
    mean feature change over that composition's frames under the same noise draws."""
    from softscope.training.pipeline import thermal_invariance
    from softscope.training.windows import Window

    glass, spec, _ = setup
    sp = np.asarray(glass.species).copy()
    cu = np.flatnonzero(sp == "Cu")
    sp[cu[::3]] = "Zr"
    other = glass.replace(species=sp)
    shifted = glass.replace(positions=glass.positions + 0.01)
    ws = [Window(n, f, f, (0.0, 0.01)) for n, f in (("a", glass), ("b", other), ("c", shifted))]
    rows = thermal_invariance(spec, ws, "metal")
    assert rows.shape == (2, spec.n_features)
    rng = np.random.default_rng(0)  # thermal_shift's seed, draws in frame order per group

    def change(frame):
        noisy = frame.replace(positions=frame.positions + rng.normal(0.0, 0.1, (len(frame), 3)))
        return (spec.compute(noisy) - spec.compute(frame)).sum(axis=0)

    want_a = (change(glass) + change(shifted)) / (2 * len(glass))
    rng = np.random.default_rng(0)
    want_b = change(other) / len(glass)
    np.testing.assert_allclose(rows[0], want_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rows[1], want_b, rtol=1e-12, atol=1e-12)
