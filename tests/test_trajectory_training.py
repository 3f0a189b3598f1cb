"""Training and evaluation from trajectories softscope did not write (issue: your own alloy).

Fe80P20 (``FeP_mm.eam.fs``) glasses made and sheared by plain LAMMPS (tests/plain_trajectories),
dumped in every coordinate style, shuffled, with element columns and as extended XYZ; labels
against OVITO's D²min and a brute-force p_hop; the trained model in the LAMMPS fix and the
OVITO modifier against ``Model.predict``.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from lammps_helpers import LMP
from plain_trajectories import STYLES, aqs_trajectory, fep_potential, md_trajectory, shuffled_copy

from softscope.errors import SoftscopeError
from softscope.training.trajectory import (
    d2min_windows,
    open_trajectory,
    parse_frames,
    phop_windows,
)

K = 2  # label window, frames (2 % strain)


@pytest.fixture(scope="module")
def fep(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("fep")
    aqs = {s: aqs_trajectory(root / f"s{s}", seed=s) for s in (11, 12, 13)}
    extxyz = root / "s13" / "aqs.xyz"
    from ovito.io import export_file, import_file

    pipe = import_file(str(aqs[13]["element"]), multiple_frames=True)
    export_file(
        pipe,
        str(extxyz),
        "xyz",
        columns=["Particle Identifier", "Particle Type", "Position.X", "Position.Y", "Position.Z"],
        multiple_frames=True,
    )
    shuffled = shuffled_copy(aqs[13]["scaled"], root / "s13" / "aqs_scaled_shuffled.dump")
    return {"root": root, "aqs": aqs, "extxyz": extxyz, "shuffled": shuffled}


@pytest.fixture(scope="module")
def md(tmp_path_factory) -> Path:
    return md_trajectory(tmp_path_factory.mktemp("fep_md"), seed=21)


def test_every_dump_style_shuffled_element_and_extxyz_read_alike(fep):
    files = fep["aqs"][13]
    ref = open_trajectory(files["xyz"], elements=["Fe", "P"])
    assert ref.n_frames == 11 and ref.n_atoms == 432
    others = [open_trajectory(files[s], elements=["Fe", "P"]) for s in STYLES if s != "element"]
    others += [open_trajectory(files["element"]), open_trajectory(fep["extxyz"])]
    others += [open_trajectory(fep["shuffled"], elements=["Fe", "P"])]
    gz = fep["root"] / "s13" / "aqs_xyz.dump.gz"
    gz.write_bytes(gzip.compress(files["xyz"].read_bytes()))
    others += [open_trajectory(gz, elements=["Fe", "P"])]
    for t in others:
        assert t.n_frames == ref.n_frames
        for a, b in zip(ref.frames, t.frames, strict=True):
            assert np.array_equal(a.ids, b.ids)
            assert np.array_equal(a.species, b.species)
            np.testing.assert_allclose(a.cell, b.cell, atol=1e-9)
            ds = a.reduced_positions() - b.reduced_positions()
            ds -= np.round(ds)
            assert np.abs(ds).max() < 1e-9
    # the dump's own potential energy column travels as the 'pe' extra column
    raw = np.loadtxt(files["xyz"], skiprows=9, max_rows=432)
    raw = raw[np.argsort(raw[:, 0])]
    np.testing.assert_allclose(ref.extra[0]["pe"], raw[:, 8], rtol=0, atol=1e-12)


def test_d2min_windows_equal_ovito_atomic_strain_on_the_original_file(fep):
    from ovito.io import import_file
    from ovito.modifiers import AtomicStrainModifier

    cutoff = 3.5
    traj = open_trajectory(fep["shuffled"], elements=["Fe", "P"])  # scaled + shuffled
    wins = d2min_windows(traj, K)
    assert [w.index for w in wins] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    pipe = import_file(str(fep["aqs"][13]["xyz"]), multiple_frames=True)
    mod = AtomicStrainModifier(
        cutoff=cutoff, output_nonaffine_squared_displacements=True, use_frame_offset=True
    )
    mod.frame_offset = -K
    pipe.modifiers.append(mod)
    for w in wins:
        data = pipe.compute(w.index[1])
        ids = np.asarray(data.particles.identifiers)
        ref = np.asarray(data.particles["Nonaffine Squared Displacement"])[np.argsort(ids)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = w.rearrangement(cutoff)
        ok = np.isfinite(got)
        assert ok.mean() > 0.99
        np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-7, atol=1e-9)


def _read_unwrapped(path: Path) -> np.ndarray:
    """(T, N, 3) xu yu zu of a dump, by id: an independent reader (numpy text parsing)."""
    lines = path.read_text().splitlines()
    frames = []
    for k, ln in enumerate(lines):
        if ln.startswith("ITEM: ATOMS"):
            n = int(lines[k - 5])
            tab = np.array([[float(v) for v in r.split()] for r in lines[k + 1 : k + 1 + n]])
            frames.append(tab[np.argsort(tab[:, 0])][:, 2:5])
    return np.array(frames)


def _phop_brute(R: np.ndarray, t: int, half: int) -> np.ndarray:
    A = R[t - half : t + 1]
    B = R[t : t + half + 1]
    ma, mb = A.mean(axis=0), B.mean(axis=0)
    return np.sqrt(((A - mb) ** 2).sum(-1).mean(0) * ((B - ma) ** 2).sum(-1).mean(0))


def test_phop_windows_future_only_and_centred_against_brute_force(md):
    R = _read_unwrapped(md)
    traj = open_trajectory(md, elements=["Fe", "P"])
    window = 10
    fut = phop_windows(traj, window, stride=5)
    assert [w.index[0] for w in fut] == [0, 5, 10, 15, 20, 25, 30]
    for w in fut:  # label window starts at the prediction frame: centred at t + K/2
        np.testing.assert_allclose(
            w.measure, _phop_brute(R, w.index[0] + window // 2, window // 2), rtol=1e-9
        )
    pc = float(np.quantile(fut[0].measure, 0.9))
    cen = phop_windows(traj, window, stride=5, centred=True, threshold=pc, stable_frames=4)
    for w in cen:
        t = w.index[0]
        v = _phop_brute(R, t, window // 2)
        np.testing.assert_allclose(w.measure, v, rtol=1e-9)
        quiet = np.max([_phop_brute(R, s, window // 2) for s in range(t - 4, t + 5)], axis=0) < pc
        want = np.where(v > pc, 1, np.where(quiet, 0, -1))
        assert np.array_equal(w.train_labels, want)
    assert {w.index[0] for w in cen} == {10, 15, 20, 25, 30}  # t ± (K/2 + 4) in the run


def test_first_shell_of_an_analytic_g_and_grids_scaled_by_hand():
    from scipy.optimize import minimize_scalar

    from softscope.pair_distribution import first_shell
    from softscope.training.recipes import R_PEAK_REFERENCE, grid_scale, recipe_spec

    def g(r):
        return (
            1 + 2.2 * np.exp(-(((r - 2.5) / 0.25) ** 2)) - 0.9 * np.exp(-(((r - 3.4) / 0.3) ** 2))
        )

    r = np.arange(0.005, 8.0, 0.01)
    shell = first_shell(r, g(r), smooth=1e-6)
    peak = minimize_scalar(lambda x: -g(x), bounds=(2.2, 2.8), method="bounded").x
    mini = minimize_scalar(g, bounds=(2.8, 4.0), method="bounded").x
    assert abs(shell.r_peak - peak) < 2e-3 and abs(shell.r_min - mini) < 2e-3
    s = grid_scale(2.184)
    assert s == round(2.184 / R_PEAK_REFERENCE, 4) == 0.8
    spec = recipe_spec("softness-radial", ["Fe", "P"], "metal", length_scale=s)
    centres = spec.blocks[0]["centers"]
    assert centres[:3] == [0.8, 0.96, 1.12] and abs(centres[-1] - 4.8) < 1e-9
    assert spec.blocks[0]["sigma"] == 0.16 and spec.coarse_grain == (3.2,)


def test_g_r_matches_ovito_coordination_analysis(fep):
    from ovito.io import import_file
    from ovito.modifiers import CoordinationAnalysisModifier

    from softscope.frame import Frame
    from softscope.pair_distribution import radial_distribution

    path = fep["aqs"][11]["xyz"]
    pipe = import_file(str(path))
    pipe.modifiers.append(CoordinationAnalysisModifier(cutoff=8.0, number_of_bins=200))
    tab = pipe.compute().tables["coordination-rdf"].xy()
    r, g = radial_distribution(Frame.from_file(path, elements=["Fe", "P"]), 8.0, 0.04)
    n = 432
    np.testing.assert_allclose(r, tab[:, 0], atol=1e-12)
    # OVITO normalises by N², the definition here by N (N − 1)
    np.testing.assert_allclose(g * (n - 1) / n, tab[:, 1], rtol=1e-9, atol=1e-12)


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "softscope", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def trained(fep, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("fep_model")
    a = fep["aqs"]
    model = out / "fep.ssm"
    r = _cli(
        "train", "--recipe", "softness-radial", "--elements", "Fe", "P", "--window", str(K),
        "--trajectory", str(a[11]["xyz"]), str(a[12]["unwrapped"]), str(a[13]["xyz"]),
        "--out", str(model), "--quiet",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    ev = out / "ev"
    r2 = _cli(
        "evaluate", "--model", str(model), "--trajectory", str(fep["shuffled"]),
        "--elements", "Fe", "P", "--window", str(K), "--out", str(ev), "--quiet",
    )  # fmt: skip
    assert r2.returncode == 0, r2.stderr
    return {"model": model, "metrics": json.loads((ev / "metrics.json").read_text())}


def test_cli_trains_and_evaluates_on_plain_dumps(fep, trained):
    from sklearn.metrics import roc_auc_score

    from softscope.models.model import load_model
    from softscope.pair_distribution import first_shell, radial_distribution
    from softscope.rearrangement import top_fraction

    m = load_model(trained["model"])
    card = m.card
    assert card["split"]["test_samples"] == ["s13/aqs_xyz.dump"]
    # grids and cutoff follow the Fe-P g(r), measured here independently of training
    fs = [open_trajectory(fep["aqs"][s]["xyz"], elements=["Fe", "P"]).frames[0] for s in (11, 12)]
    shell = first_shell(*radial_distribution(fs, 0.45 * 17.0, 0.45 * 17.0 / 500))
    assert abs(card["labels"]["d2min_cutoff"] - shell.r_min) < 2e-3
    assert 2.0 < shell.r_peak < 2.8 and abs(card["data"]["g_r"]["r_peak"] - shell.r_peak) < 1e-3
    assert m.spec.blocks[0]["sigma"] == pytest.approx(0.2 * card["data"]["grid_scale"], abs=1e-6)
    # held-out metrics of the card == evaluate on the same trajectory in another format
    met = trained["metrics"]
    held = card["metrics"]["held_out"]
    for k in ("roc_auc", "average_precision", "precision_top_q"):
        assert abs(met[k] - held[k]) <= 5e-5, k  # the card rounds to 4 decimals
    # ... and == sklearn's ROC-AUC of Model.predict vs top-q of OVITO-convention D²min
    traj = open_trajectory(fep["aqs"][13]["element"])
    aucs = []
    for w in d2min_windows(traj, K):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d2 = w.rearrangement(card["labels"]["d2min_cutoff"])
        ok = np.isfinite(d2)
        y = top_fraction(d2[ok], 0.05)
        aucs.append(roc_auc_score(y, m.predict(w.reference)[ok]))
    assert abs(np.mean(aucs) - met["roc_auc"]) < 1e-9
    assert met["n_windows"] == 5 and 0.5 < met["roc_auc"] < 1.0


def _zoo_fep() -> str:
    from softscope.models.model import zoo_names

    if "fep-softness" not in zoo_names():
        pytest.skip("fep-softness is not in this zoo")
    return "fep-softness"


@pytest.mark.skipif(LMP is None, reason="lmp not found")
@pytest.mark.parametrize("which", ["trained here", "zoo fep-softness"])
def test_fep_model_in_a_lammps_md_shear_fix_and_the_ovito_modifier(fep, trained, tmp_path, which):
    from ovito.io import import_file

    from softscope.frame import Frame
    from softscope.models.model import load_model
    from softscope.ovito_modifiers import PredictModifier

    model_arg = str(trained["model"]) if which == "trained here" else _zoo_fep()
    glass = fep["root"] / "s11" / "glass.data"
    script = f"""
units metal
atom_style atomic
read_data {glass}
pair_style eam/fs
pair_coeff * * {fep_potential()} Fe P
change_box all triclinic
velocity all create 600 5 loop geom
fix nvt all nvt temp 600 600 0.1
fix def all deform 1 xy erate 0.5 remap x
fix soft all softscope 10 model {model_arg} elements Fe P
dump d all custom 10 out.dump id type x y z f_soft[1]
dump_modify d sort id format float %.17g
run 20
"""
    (tmp_path / "in.lmp").write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "LAMMPS_PLUGIN_PATH"}
    env["OMP_NUM_THREADS"] = "1"
    r = subprocess.run(
        [LMP, "-in", "in.lmp", "-log", "none"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    m = load_model(model_arg)
    pipe = import_file(str(tmp_path / "out.dump"), multiple_frames=True)
    pipe.modifiers.append(PredictModifier(model=model_arg, elements="Fe P"))
    assert pipe.source.num_frames == 3
    for k in range(3):
        fr = Frame.from_file(tmp_path / "out.dump", frame=k, elements=["Fe", "P"])
        cols = np.loadtxt(tmp_path / "out.dump", skiprows=9 + k * 441, max_rows=432)
        ref = m.predict(fr.sorted_by_id())
        np.testing.assert_allclose(cols[:, 5], ref, rtol=0, atol=1e-10)
        data = pipe.compute(k)
        ids = np.asarray(data.particles.identifiers)
        got = np.asarray(data.particles[m.output_name])[np.argsort(ids)]
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


def test_phop_evaluations_share_predictions_of_a_reference_frame(md):
    """The future-only and centred evaluations of held-out p_hop windows predict each
    reference frame once and judge exactly as separate evaluations do."""
    import softscope
    from softscope.training.evaluate import evaluate_model

    model = softscope.load_model("fep-softness")
    calls = []

    class Counting:
        name, threshold = model.name, model.threshold

        def predict(self, frame, extra=None):
            calls.append(frame)
            return model.predict(frame, extra=extra)

    traj = open_trajectory(md, elements=["Fe", "P"])
    fut = phop_windows(traj, 10, stride=5)
    cen = phop_windows(traj, 10, stride=5, centred=True)
    seen: dict = {}
    a = evaluate_model(Counting(), fut, 3.3, 0.05, progress=False, predictions=seen)
    b = evaluate_model(Counting(), cen, 3.3, 0.05, progress=False, predictions=seen)
    refs = {w.index[0] for w in fut} | {w.index[0] for w in cen}
    assert len(calls) == len(refs) < len(fut) + len(cen)
    for got, wins in ((a, fut), (b, cen)):
        want = evaluate_model(model, wins, 3.3, 0.05, progress=False)
        assert got.summary == {**want.summary, "model": got.summary["model"]}
        np.testing.assert_array_equal(got.prediction, want.prediction)


def test_phop_training_through_the_cli(md, tmp_path):
    md2 = md_trajectory(tmp_path / "second", seed=22)
    model = tmp_path / "phop.ssm"
    r = _cli(
        "train", "--recipe", "softness-radial", "--elements", "Fe", "P", "--label", "phop",
        "--window", "10", "--stride", "2", "--trajectory", str(md), str(md2),
        "--out", str(model), "--quiet", "--smooth",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    from softscope.models.model import load_model

    m = load_model(model)
    card = m.card
    # --smooth: coarse-graining tapered over 0.5 Å x the g(r) grid scale
    assert m.spec.coarse_grain_taper == pytest.approx(0.5 * card["data"]["grid_scale"], abs=1e-6)
    assert card["spec_summary"]["coarse_grain_taper"] == m.spec.coarse_grain_taper
    lab = card["labels"]
    assert lab["label"] == "phop" and lab["threshold_p_c"] > 0 and lab["stable_frames"] == 10
    assert "future-only" in lab["evaluation"]
    held = card["metrics"]
    assert {"held_out", "held_out_centred_window"} <= set(held)


# ---------------------------------------------------------------------- bad input
def test_parse_frames():
    assert list(parse_frames("2:8:3", 10)) == [2, 5]
    assert list(parse_frames(":-2", 5)) == [0, 1, 2]
    for bad, msg in [("0:20", "out of range"), ("a:b", "integers"), ("3", "START:STOP"),
                     ("5:2", "selects no frame")]:  # fmt: skip
        with pytest.raises(SoftscopeError, match=msg):
            parse_frames(bad, 10)


def test_bad_trajectory_inputs_are_clear_errors(fep, tmp_path):
    src = fep["aqs"][11]["xyz"]
    with pytest.raises(SoftscopeError, match="no such trajectory file"):
        open_trajectory(tmp_path / "missing.dump")
    with pytest.raises(SoftscopeError, match="no element name"):
        open_trajectory(src)  # numeric types, no --elements
    with pytest.raises(SoftscopeError):
        open_trajectory(src, elements=["Fe", "P", "Cu"])  # three names for two types
    traj = open_trajectory(src, elements=["Fe", "P"])
    with pytest.raises(SoftscopeError, match="does not fit"):
        d2min_windows(traj, 11)
    # one frame loses an atom
    text = src.read_text().split("ITEM: TIMESTEP\n")
    blk = text[3].splitlines(keepends=True)
    blk[2] = "431\n"
    del blk[-1]
    (tmp_path / "lossy.dump").write_text("ITEM: TIMESTEP\n".join(text[:3] + ["".join(blk)]))
    with pytest.raises(SoftscopeError, match="same atoms in every frame"):
        open_trajectory(tmp_path / "lossy.dump", elements=["Fe", "P"])
    # no ids and atoms listed in another order in each frame (an unsorted LAMMPS dump
    # exported without ids): refused, not matched by list position
    from ovito.io import export_file, import_file

    cols = ["Particle Type", "Position.X", "Position.Y", "Position.Z"]
    pipe = import_file(str(fep["shuffled"]), multiple_frames=True)
    export_file(pipe, str(tmp_path / "noid.xyz"), "xyz", columns=cols, multiple_frames=True)
    with pytest.raises(SoftscopeError, match="no atom ids"):
        open_trajectory(tmp_path / "noid.xyz", elements=["Fe", "P"])
    # a window in which nothing moves has no rearranging atoms to learn from
    first = "ITEM: TIMESTEP\n" + text[1]
    (tmp_path / "still.dump").write_text(first * 3)
    r = _cli(
        "train", "--recipe", "softness-radial", "--elements", "Fe", "P", "--window", "1",
        "--trajectory", str(tmp_path / "still.dump"), "--test-trajectories", "0",
        "--out", str(tmp_path / "x.ssm"),
    )  # fmt: skip
    assert r.returncode != 0 and "no rearranging" in r.stderr, r.stderr
    r = _cli("train", "--recipe", "softness", "--trajectory", str(src), "--out", "x.ssm")
    assert r.returncode != 0 and "--window K" in r.stderr
    r = _cli("train", "--recipe", "softness", "--window", "1.5", "--trajectory", str(src),
             "--out", "x.ssm")  # fmt: skip
    assert r.returncode != 0 and "whole number of frames" in r.stderr


def test_units_real_and_a_user_spec_file(fep, tmp_path):
    """``units real`` (Å, like metal): the model carries the unit style and refuses another;
    ``--spec`` takes the user's own grids instead of the g(r)-scaled recipe."""
    from softscope.descriptors.spec import DescriptorSpec
    from softscope.errors import ConventionMismatch
    from softscope.training.from_trajectories import train_from_trajectories

    a = fep["aqs"]
    paths = [a[11]["xyz"], a[12]["xyz"]]
    m, _ = train_from_trajectories(
        "softness-radial", paths, ["Fe", "P"], units="real", window=K, test_trajectories=0,
        progress=False,
    )  # fmt: skip
    assert m.units == "real" and m.spec.units == "real"
    frame = open_trajectory(a[13]["xyz"], elements=["Fe", "P"]).frames[0]
    assert m.predict(frame, units="real").shape == (432,)
    with pytest.raises(ConventionMismatch):
        m.predict(frame, units="metal")
    spec = DescriptorSpec(
        ("Fe", "P"), units="real",
        blocks=({"kind": "radial", "centers": [2.0, 2.5, 3.0, 3.5], "sigma": 0.3},),
        coarse_grain=(3.0,),
    )  # fmt: skip
    (tmp_path / "spec.json").write_text(spec.to_json())
    m2, _ = train_from_trajectories(
        "softness-radial", paths, ["Fe", "P"], units="real", window=K, test_trajectories=0,
        spec=tmp_path / "spec.json", progress=False,
    )  # fmt: skip
    # the user's grids, clamped to the training range (a linear recipe)
    assert m2.spec.with_raw_bounds(None).to_json() == spec.to_json()
    assert m2.spec.raw_bounds is not None and m2.card["data"]["grid_scale"] is None
    assert "training range" in m2.card["spec_summary"]["raw_bounds"]
    # a spec file with its own bounds keeps them, and the card says whose they are
    n = len(spec.raw_names())
    own = spec.with_raw_bounds(np.zeros(n), np.full(n, 3.0))
    (tmp_path / "own.json").write_text(own.to_json())
    m3, _ = train_from_trajectories(
        "softness-radial", paths, ["Fe", "P"], units="real", window=K, test_trajectories=0,
        spec=tmp_path / "own.json", progress=False,
    )  # fmt: skip
    assert m3.spec == own and "own bounds" in m3.card["spec_summary"]["raw_bounds"]
    with pytest.raises(SoftscopeError, match="units"):
        train_from_trajectories(
            "softness-radial", paths, ["Fe", "P"], units="metal", window=K,
            test_trajectories=0, spec=tmp_path / "spec.json", progress=False,
        )  # fmt: skip
    with pytest.raises(SoftscopeError, match="--smooth"):
        train_from_trajectories(
            "softness-radial", paths, ["Fe", "P"], units="real", window=K,
            test_trajectories=0, spec=tmp_path / "spec.json", smooth=True, progress=False,
        )  # fmt: skip


def test_every_extra_dump_column_is_an_external_feature_by_its_name(tmp_path):
    """A dump column the trajectory reader does not know (``sxy``, from ``dump_modify
    colname``) becomes ``extra['sxy']`` of its frame, in atom-id order; ``c_pe`` is also
    ``pe``."""
    rng = np.random.default_rng(0)
    n, box = 6, 10.0
    text = []
    cols = {}
    for step in (0, 10):
        ids = rng.permutation(np.arange(1, n + 1))  # shuffled rows
        xyz = rng.random((n, 3)) * box
        sxy, pe = rng.normal(size=n), rng.normal(size=n)
        cols[step] = (ids, sxy, pe)
        text += ["ITEM: TIMESTEP", str(step), "ITEM: NUMBER OF ATOMS", str(n)]
        text += ["ITEM: BOX BOUNDS pp pp pp"] + [f"0 {box}"] * 3
        text += ["ITEM: ATOMS id type x y z sxy c_pe"]
        text += [
            f"{i} {1 + i % 2} {x:.10f} {y:.10f} {z:.10f} {s:.17g} {e:.17g}"
            for i, (x, y, z), s, e in zip(ids, xyz, sxy, pe, strict=True)
        ]
    path = tmp_path / "custom.dump"
    path.write_text("\n".join(text) + "\n")
    traj = open_trajectory(path, elements=["Fe", "P"])
    for k, step in enumerate((0, 10)):
        ids, sxy, pe = cols[step]
        order = np.argsort(ids)
        np.testing.assert_allclose(traj.extra[k]["sxy"], sxy[order], rtol=1e-15)
        np.testing.assert_allclose(traj.extra[k]["pe"], pe[order], rtol=1e-15)
