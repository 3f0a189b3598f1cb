"""Every linear model of the zoo is well-conditioned (issue 17): under 1e-4 Å random
displacements of the shipped glass the 99.9th percentile of |ΔP| is <= 2 % of the
predictions' spread; under 0.1 Å (the thermal amplitude at 300 K) max |ΔP| <= 10 spreads
and |mean shift| <= 2 spreads; a 1e-4 affine shear moves the 99.9th percentile by <= 2 %.
Tree models are reported (their thresholds make them piecewise constant), not held to it.
Reference: ``Model.predict`` of the perturbed frames, nothing else."""

from __future__ import annotations

import numpy as np
import pytest

import softscope
from softscope.data import default_glass
from softscope.models.model import zoo_names
from softscope.models.stability import STABILITY_TARGETS, meets_targets, stability

CUZR = [n for n in zoo_names() if n.startswith("cuzr-")]


# The shipped zoo predates the training guard: its linear models explode (largest raw
# coefficient ~1e11, 0.1 Å noise -> ~2500 spreads). strict: once the zoo is regenerated
# with the guard (scripts/make_zoo.sh), XPASS fails the suite until this marker goes.
_UNGUARDED = pytest.mark.xfail(
    strict=True, reason="zoo not yet regenerated with the training guard (issue 17)"
)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=_UNGUARDED) if n != "cuzr-qs" else n for n in CUZR]
)
def test_zoo_model_prediction_is_stable_under_thermal_scale_noise(name):
    model = softscope.load_model(name)
    glass = default_glass()
    extra = {"msd": np.full(len(glass), 0.02)} if model.spec.external else None
    fig = stability(model, glass, extra=extra)
    if model.estimator.kind != "linear":
        assert np.isfinite(fig["noise_0.1"]["max"])
        return
    assert fig["max_raw_coefficient"] < 1e4, fig
    assert meets_targets(fig), (fig, STABILITY_TARGETS)
    # the card states the same conditioning
    assert model.card["stability"]["max_raw_coefficient"] == pytest.approx(
        fig["max_raw_coefficient"]
    )
    assert model.expected_input == "minimised"
