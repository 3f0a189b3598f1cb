"""Shipped data: the default Cu64Zr36 glass and its accessors.

The LAMMPS recipes that make more glasses (and shear them) live in
:mod:`softscope.simulate`.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from softscope.frame import Frame

DEFAULT_GLASS = "cuzr64_default.data"
DEFAULT_ELEMENTS = ("Cu", "Zr")

__all__ = [
    "DEFAULT_GLASS",
    "DEFAULT_ELEMENTS",
    "default_glass_path",
    "default_glass",
    "default_glass_manifest",
]


def default_glass_path() -> Path:
    """Path of the shipped Cu64Zr36 glass (LAMMPS data file, atom_style atomic, units metal)."""
    return Path(str(resources.files("softscope.data") / "files" / DEFAULT_GLASS))


def default_glass() -> Frame:
    """The shipped Cu64Zr36 glass as a Frame (types 1, 2 = Cu, Zr)."""
    return Frame.from_file(default_glass_path(), elements=list(DEFAULT_ELEMENTS))


def default_glass_manifest() -> dict[str, Any]:
    """Recipe and provenance of the shipped glass (``cuzr64_default.json``)."""
    return json.loads(default_glass_path().with_suffix(".json").read_text())
