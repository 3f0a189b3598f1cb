"""Dataset folders: the output folder of a recipe and its ``manifest.json``.

Every recipe writes a folder holding its data or dump files, the LAMMPS log
(:data:`LOG_FILE`) and :data:`MANIFEST`: every parameter, the seeds, the LAMMPS version,
the potential file and its sha256, the element order, composition, unit style, timings
and the frame list; ``system_spec`` is the full system description
(:meth:`softscope.simulate.System.record`), from which later recipes rebuild the system.  ``kind`` says which recipe wrote it (``glass``, ``shear_aqs``,
``shear_md``, ``vibration``).
"""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path
from typing import Any

from softscope.errors import SoftscopeError
from softscope.simulate.systems import System, as_system

__all__ = [
    "MANIFEST",
    "GLASS_FILE",
    "LOG_FILE",
    "read_manifest",
    "write_json",
    "prepare_out",
    "base_manifest",
]

MANIFEST = "manifest.json"
GLASS_FILE = "glass.data"
LOG_FILE = "log.lammps"


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a dataset folder (or the JSON file itself)."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST
    if not p.exists():
        raise SoftscopeError(f"no manifest at {p}: not a softscope dataset folder")
    return json.loads(p.read_text())


def write_json(path: Path, obj: dict[str, Any]) -> None:
    """Write ``obj`` as indented JSON (keys in insertion order) with a final newline."""
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def prepare_out(out_dir: str | Path, overwrite: bool) -> Path:
    """The output folder of a recipe, created; a non-empty one is emptied only with
    ``overwrite``, else an error."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SoftscopeError(f"output path {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise SoftscopeError(
                f"output folder {out} is not empty; choose a new folder or pass overwrite=True"
            )
        for p in out.iterdir():
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def base_manifest(
    kind: str,
    system: str | System,
    params: dict[str, Any],
    lmp: Any,
    parallel: dict[str, Any],
) -> dict[str, Any]:
    """The fields every manifest starts with: kind, system, units, element order, the
    system description, the recipe's ``params``, LAMMPS / softscope / Python versions and
    the parallel settings (``parallel`` as returned by :func:`softscope.simulate.open_lammps`)."""
    import softscope

    sys_ = as_system(system)
    return {
        "softscope_dataset": 1,
        "kind": kind,
        "system": sys_.name,
        "units": sys_.units,
        "elements": list(sys_.elements),
        "type_to_element": {str(i + 1): e for i, e in enumerate(sys_.elements)},
        "system_spec": sys_.record(),
        "parameters": params,
        "lammps_version": int(lmp.version()),
        "softscope_version": softscope.__version__,
        "python": platform.python_version(),
        "parallel": {"mpi_ranks": 1, **parallel},
    }
