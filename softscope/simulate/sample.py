"""A training sample: one glass of the training recipe and its AQS shear to 5 %."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from softscope.simulate.glass import make_glass
from softscope.simulate.shear import shear_aqs

__all__ = ["TRAINING_GLASS", "TRAINING_SHEAR", "make_training_sample"]

#: Default recipe of training glasses: 2,000 atoms quenched at 2e13 K/s from a 1800 K melt
#: (well above the liquidus); measured ~5.5 + 1.2 CPU-minutes (glass + AQS to 5 %) on one core.
TRAINING_GLASS: dict[str, Any] = {
    "system": "cuzr",
    "composition": {"Cu": 0.64, "Zr": 0.36},
    "n_atoms": 2000,
    "melt_T": 1800.0,
    "melt_time": 5.0,
    "quench_rate": 2e13,
    "T_final": 300.0,
    "relax_time": 5.0,
    "timestep": 0.002,
    "pressure": 0.0,
}

#: Default AQS shear of training glasses: 0.2 % steps to 5 % strain (26 frames).
TRAINING_SHEAR: dict[str, Any] = {"strain_step": 0.002, "max_strain": 0.05, "ftol": 1e-6}


def make_training_sample(
    out_dir: str | Path,
    seed: int,
    threads: int = 1,
    progress: bool = True,
    overwrite: bool = False,
    glass_overrides: Mapping[str, Any] | None = None,
    shear_overrides: Mapping[str, Any] | None = None,
) -> Path:
    """One training sample: :data:`TRAINING_GLASS` into ``out_dir/glass`` and
    :data:`TRAINING_SHEAR` (AQS) into ``out_dir/shear_aqs``.  Returns ``out_dir``."""
    out = Path(out_dir)
    g = make_glass(
        out / "glass",
        seed=seed,
        threads=threads,
        progress=progress,
        overwrite=overwrite,
        **{**TRAINING_GLASS, **dict(glass_overrides or {})},
    )
    shear_aqs(
        g,
        out / "shear_aqs",
        threads=threads,
        progress=progress,
        overwrite=overwrite,
        **{**TRAINING_SHEAR, **dict(shear_overrides or {})},
    )
    return out
