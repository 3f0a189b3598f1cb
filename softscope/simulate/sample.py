"""A training sample: one glass of the training recipe and its AQS shear to 5 %."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from softscope.simulate.glass import make_glass
from softscope.simulate.shear import shear_aqs
from softscope.simulate.systems import System, as_system

__all__ = ["TRAINING_GLASS", "TRAINING_SHEAR", "make_training_sample", "training_glass"]

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


def training_glass(system: str | System = "cuzr") -> dict[str, Any]:
    """The training-glass recipe of ``system``: :data:`TRAINING_GLASS` for ``cuzr``; else
    2,000 atoms with the system's defaults, in ``metal`` / ``real`` units melted and
    relaxed for 5 ps each and quenched at 2e13 K/s (as Cu-Zr)."""
    sys_ = as_system(system)
    if sys_.preset and sys_.name == "cuzr":
        return {**TRAINING_GLASS, "system": system}
    units = sys_.units
    recipe: dict[str, Any] = {"system": system, "n_atoms": 2000}
    if units in ("metal", "real"):
        t = 5.0 if units == "metal" else 5000.0  # ps or fs
        recipe.update({"melt_time": t, "relax_time": t, "quench_rate": 2e13})
    return recipe


def make_training_sample(
    out_dir: str | Path,
    seed: int,
    threads: int = 1,
    progress: bool = True,
    overwrite: bool = False,
    glass_overrides: Mapping[str, Any] | None = None,
    shear_overrides: Mapping[str, Any] | None = None,
    system: str | System | None = None,
) -> Path:
    """One training sample: the training glass (:func:`training_glass` of ``system``, by
    default :data:`TRAINING_GLASS`) into ``out_dir/glass`` and :data:`TRAINING_SHEAR`
    (AQS; ``ftol`` the system's default outside ``metal`` units) into
    ``out_dir/shear_aqs``.  ``system`` may also come as ``glass_overrides["system"]``.
    Returns ``out_dir``."""
    out = Path(out_dir)
    glass_overrides = dict(glass_overrides or {})
    if system is not None:
        glass_overrides["system"] = system
    sys_ = glass_overrides.get("system", "cuzr")
    g = make_glass(
        out / "glass",
        seed=seed,
        threads=threads,
        progress=progress,
        overwrite=overwrite,
        **{**training_glass(sys_), **glass_overrides},
    )
    shear = dict(TRAINING_SHEAR)
    if as_system(sys_).units != "metal":
        shear["ftol"] = None
    shear_aqs(
        g,
        out / "shear_aqs",
        threads=threads,
        progress=progress,
        overwrite=overwrite,
        **{**shear, **dict(shear_overrides or {})},
    )
    return out
