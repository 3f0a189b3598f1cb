"""LAMMPS workflows that make the datasets training reads: glasses, their shear, and the
vibrational MSD of sheared frames.

=================  ==========================================================
``systems``        the two preset systems (Cu-Zr EAM, Kob-Andersen LJ),
                   :func:`custom_system` (any potential file or pair snippet),
                   compositions, parameter checks in the system's units
``session``        opening a quiet LAMMPS, seeds, chunked MD runs, thermo state
``manifest``       dataset folders and their ``manifest.json``
``glass``          :func:`make_glass` (melt, quench, relax, minimize)
``shear``          :func:`shear_aqs`, :func:`shear_md` (simple shear xy)
``sample``         :func:`make_training_sample` (training glass + AQS shear to 5 %)
``vibration``      :func:`vibrational_msd` of AQS frames (short thermal windows)
=================  ==========================================================

LAMMPS is imported only when a recipe runs.  Every run writes a dataset folder with the
data/dump files, the LAMMPS log and ``manifest.json``; one MPI rank, optionally with
OpenMP threads.  The same seed with ``threads=1`` reproduces the same files bit for bit.
"""

from __future__ import annotations

from softscope.simulate.glass import DEFAULT_GLASS_RECIPE, make_glass
from softscope.simulate.manifest import GLASS_FILE, LOG_FILE, MANIFEST, read_manifest
from softscope.simulate.sample import (
    TRAINING_GLASS,
    TRAINING_SHEAR,
    make_training_sample,
    training_glass,
)
from softscope.simulate.session import lammps_info, lammps_seeds, open_lammps
from softscope.simulate.shear import DUMP_COLUMNS, setup_shear, shear_aqs, shear_md
from softscope.simulate.systems import (
    SYSTEMS,
    System,
    as_system,
    custom_system,
    parse_composition,
    potential_commands,
    potential_path,
    shipped_potentials,
    system_from_manifest,
)
from softscope.simulate.vibration import (
    VIBRATION_DEFAULTS,
    VIBRATION_DIR,
    read_vibrational_msd,
    vibrational_msd,
)

__all__ = [
    "SYSTEMS",
    "System",
    "as_system",
    "custom_system",
    "parse_composition",
    "shipped_potentials",
    "system_from_manifest",
    "training_glass",
    "DEFAULT_GLASS_RECIPE",
    "TRAINING_GLASS",
    "TRAINING_SHEAR",
    "VIBRATION_DEFAULTS",
    "VIBRATION_DIR",
    "DUMP_COLUMNS",
    "MANIFEST",
    "GLASS_FILE",
    "LOG_FILE",
    "make_glass",
    "shear_aqs",
    "shear_md",
    "make_training_sample",
    "vibrational_msd",
    "read_vibrational_msd",
    "read_manifest",
    "potential_path",
    "potential_commands",
    "open_lammps",
    "setup_shear",
    "lammps_seeds",
    "lammps_info",
]
