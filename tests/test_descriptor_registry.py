"""A descriptor added through the registry alone works everywhere a DescriptorSpec does.

The toy kind ``neighbour_count`` (number of neighbours closer than r, species-blind) is
registered here, in the test, with no change to softscope; the reference is a
brute-force count over explicit periodic images (tests/reference.py), or over minimum
images for the 4000-atom glass.  End to end, a linear model on the toy kind gives the
brute-force numbers through ``Model.predict``, the OVITO ``PredictModifier`` and the
LAMMPS fix (in-process, ``attach_external``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from model_helpers import by_id, fix_on_glass_nve, modifier_on_glass
from reference import brute_pairs

from softscope import SoftscopeError
from softscope.descriptors import DescriptorSpec, register_block
from softscope.descriptors.registry import PointSet, block_kinds
from softscope.neighbors import build_from_points, neighbor_list, periodic_images

KIND = "neighbour_count"


def _normalise(b: Mapping[str, Any]) -> dict[str, Any]:
    r = float(b["r"])
    if not r > 0:
        raise SoftscopeError(f"neighbour_count needs r > 0, got {r}")
    return {"r": r}


def _compute(b, frame, species, extra) -> np.ndarray:
    return neighbor_list(frame, b["r"]).counts().astype(np.float64)[:, None]


def _compute_points(b, p: PointSet) -> np.ndarray:
    nl = build_from_points(p.points, p.n_query, b["r"])
    return nl.counts().astype(np.float64)[:, None]


@pytest.fixture(scope="module", autouse=True)
def _toy_kind():
    register_block(
        KIND,
        normalise=_normalise,
        cutoff=lambda b, species: b["r"],
        names=lambda b, species: [f"n(r<{b['r']:g})"],
        compute=_compute,
        compute_points=_compute_points,
        replace=True,
    )


def _brute_counts(frame, r) -> np.ndarray:
    pairs = brute_pairs(frame.positions, frame.cell, frame.pbc, r)
    return np.array([len(js) for js, _ in pairs], dtype=np.float64)


def _brute_cg(frame, values, r) -> np.ndarray:
    pairs = brute_pairs(frame.positions, frame.cell, frame.pbc, r)
    return np.array(
        [(values[i] + values[js].sum()) / (1 + len(js)) for i, (js, _) in enumerate(pairs)]
    )


def _spec(cg=(4.0,)) -> DescriptorSpec:
    return DescriptorSpec(
        species=("Cu", "Zr"),
        blocks=(
            {"kind": KIND, "r": 3.2},
            {"kind": "radial", "centers": [2.5, 3.0], "sigma": 0.3},
        ),
        coarse_grain=cg,
    )


def test_registered_neighbour_count_on_a_frame_equals_brute_force_count(small_cuzr):
    spec = _spec()
    assert KIND in block_kinds()
    assert spec.raw_names()[0] == "n(r<3.2)"
    assert spec.cutoff == max(3.2, 3.0 + 4 * 0.3)
    x = spec.compute(small_cuzr)
    want = _brute_counts(small_cuzr, 3.2)
    np.testing.assert_array_equal(x[:, 0], want)
    # its coarse-grained copy: the brute-force mean over the atom and its neighbours
    n_raw = len(spec.raw_names())
    np.testing.assert_allclose(x[:, n_raw], _brute_cg(small_cuzr, want, 4.0), rtol=1e-12)


def test_registered_neighbour_count_on_local_and_ghost_points_equals_brute_force(small_cuzr):
    """The fix's split face: raw columns of the atoms among their periodic images
    (``compute_raw_points``), owners' rows copied to images, then ``coarse_grain_points``."""
    spec = _spec()
    frame = small_cuzr
    n = len(frame)
    codes, _ = frame.species_index(spec.species)
    pts, pa = periodic_images(frame, spec.split_ghost_cutoff)
    raw = spec.compute_raw_points(pts, codes[pa], n, n / frame.volume)
    np.testing.assert_array_equal(raw[:, 0], _brute_counts(frame, 3.2))
    np.testing.assert_array_equal(raw, spec.compute_raw(frame))
    feats = spec.coarse_grain_points(pts, raw[pa], n)
    np.testing.assert_allclose(feats, spec.compute(frame), rtol=1e-12, atol=1e-12)


def test_registered_kind_round_trips_through_json_and_a_linear_model(small_cuzr, rng):
    """A spec with the toy block survives JSON, and a linear model on it predicts through
    the fused projections (the toy block as raw columns) as on the full feature matrix."""
    from softscope.models import LinearEstimator, Model

    spec = _spec()
    again = DescriptorSpec.from_json(spec.to_json())
    assert again == spec
    x = spec.compute(small_cuzr)
    est = LinearEstimator(x.mean(0), x.std(0) + 1.0, rng.normal(size=x.shape[1]), 0.3)
    model = Model("toy", "Toy", again, est)
    assert model.linear_blocks() is not None
    np.testing.assert_allclose(
        model.predict(small_cuzr, check=False), est.predict(x), rtol=0, atol=1e-10
    )


def test_kind_names_are_checked():
    with pytest.raises(SoftscopeError, match=rf"unknown descriptor block kind 'nope'.*{KIND}"):
        DescriptorSpec(species=("Cu",), blocks=({"kind": "nope"},))
    with pytest.raises(SoftscopeError, match="already registered"):
        register_block(
            KIND,
            normalise=_normalise,
            cutoff=lambda b, species: b["r"],
            names=lambda b, species: ["n"],
            compute=_compute,
            compute_points=_compute_points,
        )
    with pytest.raises(SoftscopeError, match="r > 0"):
        DescriptorSpec(species=("Cu",), blocks=({"kind": KIND, "r": -1.0},))


# --------------------------------------------------------------------------- end to end
# A linear model on the toy kind alone, run through every route of a prediction:
# Model.predict, the OVITO PredictModifier and the LAMMPS fix (in-process, through the
# ``fix external`` fallback: the plugin's ``lmp`` runs in another process, where the toy
# kind is not registered).  With coarse-graining the evaluator takes the "projection"
# strategy, so its transit path (a projection per radius, sent to the neighbours) runs.

R_N, R_CG = 3.2, 4.0
#: S = b + w · ((n, cg(n)) - mean) / scale, fixed numbers (no training)
MEAN, SCALE, WEIGHTS, BIAS = [11.0, 11.5], [1.5, 0.8], [0.7, -1.3], 0.25


def _min_image_within(frame, r: float) -> np.ndarray:
    """(N, N) bool: j ≠ i within r of i (minimum image); brute force in numpy, valid for an
    orthogonal periodic cell at least 2r wide (checked)."""
    cell, pos = frame.cell, frame.positions
    L = np.diag(cell)
    assert np.allclose(cell, np.diag(L)) and all(frame.pbc) and 2 * r < L.min()
    out = np.empty((len(pos), len(pos)), dtype=bool)
    for a in range(0, len(pos), 500):
        d = pos[None, :, :] - pos[a : a + 500, None, :]
        d -= L * np.round(d / L)
        r2 = np.einsum("ijk,ijk->ij", d, d)
        out[a : a + 500] = (r2 < r * r) & (r2 > 0)
    return out


def _reference_prediction(frame) -> np.ndarray:
    """The toy model's formula by brute force: n_i = neighbours within R_N; its coarse-
    grained copy = the mean of n over i and its neighbours within R_CG (the atom itself
    included, docs/conventions.md); both z-scored and weighted."""
    n = _min_image_within(frame, R_N).sum(axis=1).astype(np.float64)
    near = _min_image_within(frame, R_CG)
    cg = (n + near @ n) / (1 + near.sum(axis=1))
    z = (np.stack([n, cg], axis=1) - MEAN) / SCALE
    return z @ WEIGHTS + BIAS


@pytest.fixture(scope="module")
def toy_model(tmp_path_factory, _toy_kind):
    from softscope.models import Model
    from softscope.models.estimators import LinearEstimator

    spec = DescriptorSpec(
        species=("Cu", "Zr"), blocks=({"kind": KIND, "r": R_N},), coarse_grain=(R_CG,)
    )
    est = LinearEstimator(np.array(MEAN), np.array(SCALE), np.array(WEIGHTS), BIAS)
    path = Model("toy-count", "ToyCount", spec, est).save(tmp_path_factory.mktemp("toy") / "toy")
    return path


@pytest.fixture(scope="module")
def glass_reference(cuzr_glass) -> np.ndarray:
    return _reference_prediction(cuzr_glass)


def test_toy_linear_model_predict_equals_brute_force_formula(
    toy_model, cuzr_glass, glass_reference
):
    from softscope.models import load_model

    model = load_model(toy_model)
    assert model.evaluator.strategy == "projection" and model.evaluator.transit_width == 1
    pred = model.predict(cuzr_glass)
    np.testing.assert_allclose(pred, glass_reference, rtol=0, atol=1e-10)
    assert np.ptp(pred) > 1.0  # neither constant nor trivially small


def test_toy_linear_model_in_ovito_predict_modifier_equals_brute_force(
    toy_model, cuzr_glass, glass_reference
):
    got, ids = modifier_on_glass(toy_model, "ToyCount")
    want = by_id(cuzr_glass, glass_reference, ids)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_toy_linear_model_in_lammps_fix_equals_model_predict(
    toy_model, cuzr_glass, glass_reference
):
    """``fix softscope`` (in-process, ``attach_external``) evaluates at the run's start and
    at step 10 of NVE; its f_ID[1] (prediction now) equals ``Model.predict`` of LAMMPS'
    positions at step 10, its f_ID[2] (prediction at the reference, step 0) the brute-force
    formula on the glass."""
    from softscope.models import load_model

    frame, out = fix_on_glass_nve(toy_model)
    np.testing.assert_allclose(out[:, 0], load_model(toy_model).predict(frame), rtol=0, atol=1e-10)
    want = by_id(cuzr_glass, glass_reference, frame.ids)
    np.testing.assert_allclose(out[:, 1], want, rtol=0, atol=1e-10)
    assert not np.allclose(out[:, 0], out[:, 1])  # the atoms moved: step 10 is not step 0
