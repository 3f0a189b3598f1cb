"""The perturbation guard of linear training (issue 17: a 1e-4 shear must not move a
prediction by more than 2 % of the spread; hard cutoffs make some features jump).

References: the penalised fit is checked against a direct numerical minimisation of its
documented objective (scipy), the guard's response against
:func:`softscope.models.stability.stability` (``Model.predict`` of the sheared glass), the
feature changes against the features of the perturbed frames computed directly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from softscope.data import default_glass
from softscope.models.model import Model
from softscope.models.stability import stability
from softscope.training.perturbation_guard import (
    PENALTY_PERTURBATIONS,
    THERMAL_PENALTY_DRAWS,
    PerturbationGuard,
    percentile_response,
    perturbation_changes,
)
from softscope.training.recipes import recipe_spec
from softscope.training.train import TrainingSet, fit_linear


@pytest.fixture(scope="module")
def glass():
    return default_glass()


@pytest.fixture(scope="module")
def spec():
    return recipe_spec("softness-radial", ("Cu", "Zr"), coarse_grain=(4.0, 6.0))


def _sheared(frame, row: int, col: int, amp: float = 1e-4):
    cell = frame.cell.copy()
    cell[row, col] += amp * cell[row, row]
    return frame.replace(positions=frame.reduced_positions() @ cell + frame.origin, cell=cell)


def test_feature_changes_are_those_of_the_perturbed_frames(glass, spec):
    xs, dxs = perturbation_changes(spec, [glass], ("shear_yz", "noise"), seed=3)
    x0 = spec.compute(glass)
    np.testing.assert_array_equal(xs[0], x0)
    np.testing.assert_allclose(dxs[0], spec.compute(_sheared(glass, 2, 1)) - x0, atol=1e-12)
    # the noise: the frame's positions moved by N(0, 1e-4) per axis (the generator's
    # first draw: the shear draws nothing), nothing else
    rng = np.random.default_rng(3)
    noisy = glass.replace(positions=glass.positions + rng.normal(0.0, 1e-4, (len(glass), 3)))
    np.testing.assert_allclose(dxs[1], spec.compute(noisy) - x0, atol=1e-12)


def test_response_is_the_stability_figure_of_a_model_with_those_coefficients(glass, spec):
    """percentile_response of an xy-shear pair equals stability()'s shear_1e-4 p999 of a
    linear Model (mean 0, scale 1, weights = coef) evaluated by Model.predict."""
    from softscope.models.estimators import LinearEstimator

    rng = np.random.default_rng(0)
    f = spec.n_features
    coef = rng.normal(size=f) / spec.compute(glass).std(axis=0).clip(1e-6)
    xs, dxs = perturbation_changes(spec, [glass], ("shear_xy",))
    est = LinearEstimator(mean=np.zeros(f), scale=np.ones(f), weights=coef, bias=0.3)
    want = stability(Model("m", "S", spec, est), glass)["shear_1e-4"]["p999"]
    assert percentile_response(coef, xs, dxs) == pytest.approx(want, rel=1e-9)


def _toy(seed: int = 0, n: int = 400, f: int = 6) -> TrainingSet:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, f)) * rng.uniform(0.5, 3.0, f) + rng.normal(size=f)
    y = (x @ rng.normal(size=f) + rng.normal(size=n) > 0.5).astype(int)
    return TrainingSet(x, y, np.array(["a", "b"])[rng.integers(0, 2, n)])


def _guard(ts: TrainingSet, strengths, target=np.inf, seed=1) -> PerturbationGuard:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(20, ts.x.shape[1]))
    return PerturbationGuard(
        penalty=a.T @ a / 20.0,
        xs=(ts.x,),
        dxs=(rng.normal(size=(ts.x.shape[0], 20)) @ a * 1e-3,),  # along the penalised rows
        kinds=("noise",),
        target=target,
        strengths=tuple(strengths),
    )


def test_penalised_fit_minimises_its_documented_objective():
    """LinearSVC (squared hinge, intercept penalised like a weight) with the ridge ½|w|²
    replaced by ½ wᵀ(I + s·M̂)w, M̂ = M/(σσᵀ) normalised to unit mean diagonal (σ: the
    features' standard deviations): compared with scipy's minimisation of that objective."""
    from scipy.optimize import minimize

    ts = _toy()
    c, s = 0.05, 30.0
    guard = _guard(ts, (s,))
    est, info = fit_linear(ts, cs=(c,), guard=guard)
    assert info["perturbation_penalty"]["strength"] == s
    mu, sd = ts.x.mean(axis=0), ts.x.std(axis=0)
    z = (ts.x - mu) / sd
    mz = guard.penalty / np.outer(sd, sd)
    a = np.eye(z.shape[1]) + s * mz / np.mean(np.diag(mz))
    y = 2.0 * ts.y - 1.0

    def objective(p):
        w, b = p[:-1], p[-1]
        h = np.maximum(0.0, 1.0 - y * (z @ w + b))
        return 0.5 * w @ a @ w + 0.5 * b * b + c * np.sum(h * h)

    def grad(p):
        w, b = p[:-1], p[-1]
        h = np.maximum(0.0, 1.0 - y * (z @ w + b))
        g = -2.0 * c * h * y
        return np.concatenate([a @ w + z.T @ g, [b + g.sum()]])

    ref = minimize(objective, np.zeros(z.shape[1] + 1), jac=grad, method="BFGS", tol=1e-12)
    got = np.concatenate([est.weights, [est.bias]])
    assert objective(got) == pytest.approx(ref.fun, rel=1e-5)
    np.testing.assert_allclose(got, ref.x, rtol=0, atol=2e-3 * np.abs(ref.x).max())
    # and the penalty changed the answer: the unpenalised fit is a different model
    free, _ = fit_linear(ts, cs=(c,))
    assert np.abs(free.weights - est.weights).max() > 0.05 * np.abs(free.weights).max()


def test_guard_takes_the_weakest_strength_that_meets_the_target():
    ts = _toy()
    # no quality limit here (the next test covers it)
    probe = dataclasses.replace(_guard(ts, (0.0, 10.0, 100.0, 1000.0)), max_cv_loss=1.0)
    responses = {}
    for s in probe.strengths:
        est, _ = fit_linear(ts, cs=(0.05,), guard=dataclasses.replace(probe, strengths=(s,)))
        responses[s] = probe.response(est.weights / est.scale)
    target = 0.5 * (responses[10.0] + responses[100.0])
    assert responses[0.0] > target and responses[10.0] > target >= responses[100.0]
    est, info = fit_linear(ts, cs=(0.05,), guard=dataclasses.replace(probe, target=target))
    pp = info["perturbation_penalty"]
    assert pp["strength"] == 100.0 and pp["met"]
    assert list(pp["tried"]) == ["0.0", "10.0", "100.0"]
    assert pp["tried"]["100.0"]["response_p999"] == pytest.approx(responses[100.0])
    # the chosen fit's CV ROC-AUC is reported beside it
    assert 0.5 < pp["tried"]["100.0"]["cv_auc"] <= 1.0
    # nothing meets an impossible target: the strongest is kept and the card says so
    _, info = fit_linear(ts, cs=(0.05,), guard=dataclasses.replace(probe, target=0.0))
    assert info["perturbation_penalty"]["strength"] == 1000.0
    assert not info["perturbation_penalty"]["met"]


def test_thermal_criterion_is_the_largest_response_to_thermal_noise_and_selects(glass, spec):
    """guard_for with a thermal amplitude: the penalty gains the thermal-noise changes
    scaled to 1e-4, the criterion the largest |ΔP| under thermal noise of the criterion
    frame (against Model.predict of that noisy frame); a strength is taken only when both
    figures meet their targets."""
    from softscope.models.estimators import LinearEstimator
    from softscope.training.perturbation_guard import guard_for

    g0 = guard_for(spec, [glass], [glass], 0.01)
    g = guard_for(spec, [glass], [glass], 0.01, thermal_amplitude=0.1, thermal_target=5.0)
    assert g0.thermal_xs == () and "thermal_max" not in g0.figures(np.ones(spec.n_features))
    # the penalty: 5 perturbations at 1e-4 plus the thermal draws scaled by 1e-4 / 0.1
    hot_kinds = ("noise",) * THERMAL_PENALTY_DRAWS
    _, hot = perturbation_changes(spec, [glass], hot_kinds, amplitude=0.1, seed=2)
    d0 = np.concatenate(perturbation_changes(spec, [glass], PENALTY_PERTURBATIONS, seed=0)[1])
    d = np.concatenate([d0, *(h * 1e-3 for h in hot)])
    np.testing.assert_allclose(g.penalty, d.T @ d / len(d), rtol=1e-10, atol=1e-300)
    # the criterion: the largest response of a model under the same thermal draw
    rng = np.random.default_rng(3)
    noisy = glass.replace(positions=glass.positions + rng.normal(0.0, 0.1, (len(glass), 3)))
    w = np.random.default_rng(7).normal(size=spec.n_features)
    x0 = spec.compute(glass)
    est = LinearEstimator(mean=x0.mean(0), scale=x0.std(0) + 1e-12, weights=w, bias=0.0)
    m = Model("m", "S", spec, est)
    p0, p1 = m.predict(glass), m.predict(noisy)
    want = np.abs(p1 - p0).max() / p0.std()
    assert g.figures(est.weights / est.scale)["thermal_max"] == pytest.approx(want, rel=1e-9)
    # selection: both targets must hold
    figs = {"response_p999": 0.001, "thermal_max": 6.0}
    assert not g.met(figs) and g.met({**figs, "thermal_max": 4.0}) and g0.met(figs)


def test_guard_keeps_the_thermal_invariance(glass, spec):
    """Penalty and invariant direction together: w·(d/scale) = 0 still holds exactly."""
    ts = _toy(f=5)
    d = np.random.default_rng(4).normal(size=5)
    est, _ = fit_linear(ts, cs=(0.05,), invariant=d, guard=_guard(ts, (300.0,)))
    coef = est.weights / est.scale
    assert abs(coef @ d) < 1e-10 * np.abs(coef).sum() * np.abs(d).max()


def test_guard_never_costs_more_than_max_cv_loss_of_cv_auc():
    """A penalty along the signal itself: meeting the target would cost the model its
    predictive power, so the guard backs off to the strongest strength whose CV ROC-AUC
    stays within max_cv_loss of the unpenalised one, and records the target as not met."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    ts = _toy(n=600)
    signal = np.linalg.lstsq(ts.x - ts.x.mean(axis=0), 2.0 * ts.y - 1.0, rcond=None)[0]
    guard = dataclasses.replace(
        _guard(ts, (0.0, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6)),
        penalty=np.outer(signal, signal) + 1e-9 * np.eye(ts.x.shape[1]),
        target=0.0,
    )
    est, info = fit_linear(ts, cs=(0.05,), guard=guard)
    pp = info["perturbation_penalty"]
    assert not pp["met"]
    # the unpenalised CV ROC-AUC, by scikit-learn directly (same folds: GroupKFold by sample)
    aucs = []
    for tr, te in GroupKFold(n_splits=2).split(ts.x, ts.y, ts.groups):
        sc = StandardScaler().fit(ts.x[tr])
        svm = LinearSVC(C=0.05, dual="auto", max_iter=20000, random_state=0)
        svm.fit(sc.transform(ts.x[tr]), ts.y[tr])
        aucs.append(roc_auc_score(ts.y[te], svm.decision_function(sc.transform(ts.x[te]))))
    assert pp["cv_auc_unpenalised"] == pytest.approx(np.mean(aucs), abs=1e-9)
    tried = pp["tried"]
    chosen = str(pp["strength"])
    assert tried[chosen]["cv_auc"] >= np.mean(aucs) - pp["max_cv_loss"]
    stronger = [k for k in tried if float(k) > pp["strength"] and "cv_auc" in tried[k]]
    assert stronger and all(tried[k]["cv_auc"] < np.mean(aucs) - 0.01 for k in stronger)
    assert 0.0 < pp["strength"] < 1e6
