"""The zoo's linear models are well-conditioned and stable under perturbations (targets in
:data:`softscope.models.stability.STABILITY_TARGETS`, in spreads of the predictions):

- conditioning: the largest coefficient on a raw feature < 1e5 (the unguarded zoo had
  ~1e11: z-scored near-empty features, spread ~1e-13; the smooth angular functions of
  Zr-Zr triplets are ~1e-5 in value, and 2e4 on them is 0.09 in standardised units);
- small perturbations: under 1e-4 Å random displacements and a 1e-4 affine shear the 99.9th
  percentile of |ΔP| is <= 2 % of the spread;
- thermal-scale noise (0.1 Å per axis): max |ΔP| <= 10 spreads, |mean shift| <= 2 spreads
  (the zoo's linear models clamp their raw columns to the training range,
  ``DescriptorSpec.raw_bounds``: before, one compressed A-A triplet of a KA glass under
  0.04 σ noise moved its atom's softness by 12.6 spreads).

Measured with ``Model.predict`` of the perturbed shipped glass (the reference is the
model's own prediction of the unperturbed glass, nothing else; three noise draws, atoms
pooled) for the Cu-Zr models; every linear model's card records the same figures pooled
over ten frames of two held-out glasses of its own system, measured when the zoo was made
(the raw data is not in the repository), and they meet the targets too (but for
:data:`KNOWN_MISSES`, empty today).  Tree models (piecewise constant) are reported on their cards, not held to
the targets.
"""

from __future__ import annotations

import numpy as np
import pytest

import softscope
from softscope.data import default_glass
from softscope.models.model import zoo_names
from softscope.models.stability import STABILITY_TARGETS, meets_targets, pooled_stability

LINEAR_CUZR = [
    n
    for n in zoo_names()
    if n.startswith("cuzr-") and softscope.load_model(n).estimator.kind == "linear"
]
T = STABILITY_TARGETS


@pytest.fixture(scope="module")
def figures():
    glass = default_glass()
    out = {}
    for name in LINEAR_CUZR:
        model = softscope.load_model(name)
        extra = {"msd": np.full(len(glass), 0.02)} if model.spec.external else None
        out[name] = pooled_stability(model, [glass], [extra], draws=3)
    return out


@pytest.mark.parametrize("name", [n for n in zoo_names()])
def test_zoo_linear_models_are_well_conditioned(name):
    model = softscope.load_model(name)
    card = model.card["stability"]
    if model.estimator.kind != "linear":
        assert "max_raw_coefficient" not in card
        return
    est = model.estimator
    coef = float(np.max(np.abs(est.weights / est.scale)))
    assert coef < 1e5
    assert card["max_raw_coefficient"] == pytest.approx(coef)  # the card states it
    # the card says what to feed it: AQS-trained models minimised frames, MD-trained ones
    # thermal snapshots (the fix advises time-averaging for the former)
    want = "thermal snapshot" if model.card["labels"].get("label") == "phop" else "minimised"
    assert model.expected_input == want


@pytest.mark.parametrize("name", LINEAR_CUZR)
def test_small_perturbations_move_predictions_by_at_most_2_percent(figures, name):
    f = figures[name]
    assert f["noise_1e-4"]["p999"] <= T["noise_1e-4_p999"], f
    assert f["shear_1e-4"]["p999"] <= T["shear_1e-4_p999"], f


@pytest.mark.parametrize("name", LINEAR_CUZR)
def test_thermal_scale_noise_keeps_predictions_bounded(figures, name):
    f = figures[name]
    assert f["thermal_amplitude"] == 0.1
    assert f["noise_thermal"]["max"] <= T["noise_thermal_max"], f
    assert abs(f["noise_thermal"]["mean"]) <= T["noise_thermal_abs_mean"], f


#: Where a model misses a target today, a strict xfail states the measured value (an
#: improvement turns it into an XPASS, which fails the suite until the marker goes).
KNOWN_MISSES: dict[str, str] = {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[n]))
        if n in KNOWN_MISSES
        else n
        for n in zoo_names()
    ],
)
def test_every_linear_zoo_model_met_the_targets_on_its_held_out_glass(name):
    model = softscope.load_model(name)
    if model.estimator.kind != "linear":
        return
    card = model.card["stability"]
    held = card["frame"].split(":")[0].split(", ")
    assert set(held) <= set(model.card["split"]["test_samples"])
    assert card["n_frames"] >= 5 and card["draws"] == 3  # pooled, not one lucky frame
    assert meets_targets(card), card
    # trained with the perturbation guard (its own criterion is recorded beside)
    assert "perturbation_penalty" in model.card["training"]
    # on raw columns clamped to the training range, which the card states
    assert model.spec.raw_bounds is not None and "raw_bounds" in model.card["spec_summary"]
