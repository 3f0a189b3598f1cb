"""Glass data: the shipped default glass and (in ``recipes``) LAMMPS recipes to make more."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from softscope.frame import Frame

DEFAULT_GLASS = "cuzr64_default.data"
DEFAULT_ELEMENTS = ("Cu", "Zr")


def default_glass_path() -> Path:
    """Path of the shipped Cu64Zr36 glass (LAMMPS data file, atom_style atomic, units metal)."""
    return Path(str(resources.files("softscope.data") / "files" / DEFAULT_GLASS))


def default_glass() -> Frame:
    """The shipped Cu64Zr36 glass as a Frame (types 1, 2 = Cu, Zr)."""
    return Frame.from_file(default_glass_path(), elements=list(DEFAULT_ELEMENTS))
