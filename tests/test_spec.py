"""DescriptorSpec: serialisation, assembly of blocks + coarse-graining, and Model round trips."""

from __future__ import annotations

import numpy as np
import pytest
from reference import brute_pairs

from softscope import ConventionMismatch, SoftscopeError
from softscope.descriptors import DescriptorSpec

CENTERS = list(np.round(np.arange(1.0, 6.01, 0.5), 6))


def _spec(**kw):
    d = dict(
        species=("Cu", "Zr"),
        units="metal",
        blocks=(
            {
                "kind": "radial",
                "centers": CENTERS,
                "sigma": 0.3,
                "cutoff": 6.5,
                "cutoff_function": True,
            },
        ),
        coarse_grain=(4.0,),
    )
    d.update(kw)
    return DescriptorSpec(**d)


def test_spec_features_equal_dscribe_g2_and_brute_force_coarse_graining(small_cuzr):
    from ase import Atoms
    from dscribe.descriptors import ACSF

    spec = _spec()
    got = spec.compute(small_cuzr)
    f = small_cuzr
    atoms = Atoms(symbols=f.species.tolist(), positions=f.positions, cell=f.cell, pbc=True)
    eta = 1.0 / (2 * 0.3**2)
    acsf = ACSF(
        species=["Cu", "Zr"], r_cut=6.5, g2_params=[[eta, m] for m in CENTERS], periodic=True
    )
    d = acsf.create(atoms)
    # dscribe: per species block [G1, G2(params)...]; drop the G1 column of each block
    nb = 1 + len(CENTERS)
    ref_raw = np.concatenate([d[:, k * nb + 1 : (k + 1) * nb] for k in range(2)], axis=1)
    n_raw = ref_raw.shape[1]
    np.testing.assert_allclose(got[:, :n_raw], ref_raw, rtol=1e-9, atol=1e-12)
    pairs = brute_pairs(f.positions, f.cell, f.pbc, 4.0)
    ref_cg = np.array(
        [(ref_raw[i] + ref_raw[js].sum(0)) / (1 + len(js)) for i, (js, _) in enumerate(pairs)]
    )
    np.testing.assert_allclose(got[:, n_raw:], ref_cg, rtol=1e-9, atol=1e-12)
    assert got.shape[1] == spec.n_features == len(spec.feature_names())


def test_spec_json_roundtrip_reproduces_features(small_cuzr):
    spec = _spec(
        blocks=(
            {"kind": "radial", "centers": CENTERS, "sigma": 0.3},
            {"kind": "entropy", "sigma": 0.2, "r_max": 5.0, "average_cutoff": 3.5},
        )
    )
    again = DescriptorSpec.from_json(spec.to_json())
    assert again == spec
    np.testing.assert_array_equal(again.compute(small_cuzr), spec.compute(small_cuzr))
    assert spec.cutoff == pytest.approx(8.5) and spec.ghost_cutoff == pytest.approx(12.5)


def test_spec_rejects_unknown_species_and_bad_blocks(small_cuzr):
    al = small_cuzr.replace(species=np.where(small_cuzr.species == "Cu", "Al", "Zr"))
    with pytest.raises(SoftscopeError, match="Al"):
        _spec().compute(al)
    with pytest.raises(SoftscopeError, match="block kind"):
        _spec(blocks=({"kind": "magic"},))
    with pytest.raises(SoftscopeError, match="unit style"):
        _spec(units="furlongs")


def test_external_feature_must_be_supplied(small_cuzr):
    spec = _spec(blocks=({"kind": "external", "names": ["msd"]},), coarse_grain=())
    with pytest.raises(SoftscopeError, match="msd"):
        spec.compute(small_cuzr)
    v = np.arange(len(small_cuzr), dtype=float)
    np.testing.assert_array_equal(spec.compute(small_cuzr, extra={"msd": v})[:, 0], v)


def test_model_roundtrip_predict_equals_sklearn(tmp_path, small_cuzr):
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from softscope.models import LinearEstimator, Model, load_model

    spec = _spec()
    x = spec.compute(small_cuzr)
    y = (x[:, 3] > np.median(x[:, 3])).astype(int)
    sc = StandardScaler().fit(x)
    svm = LinearSVC(C=0.1, dual="auto").fit(sc.transform(x), y)
    m = Model(
        "test-softness", "Softness", spec, LinearEstimator.from_sklearn(sc, svm), {"note": "test"}
    )
    p = m.save(tmp_path / "m")
    m2 = load_model(p)
    assert m2.name == "test-softness" and m2.species == ("Cu", "Zr") and m2.units == "metal"
    np.testing.assert_allclose(
        m2.predict(small_cuzr), svm.decision_function(sc.transform(x)), rtol=1e-10, atol=1e-10
    )
    with pytest.raises(ConventionMismatch, match="units lj"):
        m2.predict(small_cuzr, units="lj")


def test_unknown_model_name_lists_the_zoo():
    from softscope import ModelFormatError
    from softscope.models import load_model

    with pytest.raises(ModelFormatError, match="softscope models"):
        load_model("no-such-model")


def test_smooth_recipe_spec_has_smooth_cutoffs_and_round_trips(small_cuzr):
    """``recipe_spec(smooth=True)``: the angular cosine cutoff, coarse-graining tapered over
    0.5 Å x the length scale; the taper is saved and read back; a spec without one writes
    no taper field (files written before it stay byte-identical)."""
    from softscope.training.recipes import SMOOTH_TAPER, recipe_spec

    plain = recipe_spec("softness", ("Cu", "Zr"))
    smooth = recipe_spec("softness", ("Cu", "Zr"), smooth=True)
    lj = recipe_spec("softness", ("A", "B"), "lj", smooth=True)
    assert "coarse_grain_taper" not in plain.to_dict() and plain.coarse_grain_taper == 0.0
    assert smooth.coarse_grain_taper == SMOOTH_TAPER == 0.5
    assert lj.coarse_grain_taper == pytest.approx(0.5 / 2.5)
    assert [b.get("cutoff_function") for b in smooth.blocks if b["kind"] == "angular"] == [True]
    assert smooth.feature_names() == plain.feature_names()
    back = DescriptorSpec.from_json(smooth.to_json())
    assert back == smooth
    np.testing.assert_array_equal(back.compute(small_cuzr), smooth.compute(small_cuzr))
    # the radial columns are the same; the angular and coarse-grained ones are not
    n_raw, n_rad = len(plain.raw_names()), sum(n.startswith("G_") for n in plain.raw_names())
    xp, xs = plain.compute(small_cuzr), smooth.compute(small_cuzr)
    np.testing.assert_array_equal(xp[:, :n_rad], xs[:, :n_rad])
    assert not np.allclose(xp[:, n_rad:n_raw], xs[:, n_rad:n_raw])
    assert not np.allclose(xp[:, n_raw:], xs[:, n_raw:])
