"""Ahead-of-time compiled kernels (softscope._jit) — what the LAMMPS fix runs in its ranks.

The AOT module is the same kernel source compiled by numba.pycc instead of the JIT; the
references here are the JIT kernels (themselves checked against brute force, dscribe,
OVITO and LAMMPS computes in the other test files): AOT and JIT must agree to rounding
on a real glass.  Also: a stale module (other kernel sources) or a call whose argument
types differ from the AOT signature falls back to the JIT with a warning (a wrong-typed
call into pycc code would crash: it does not check types), and ``fix softscope`` runs
without numba in its interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from lammps_helpers import LMP, MPIEXEC, needs_lmp
from lammps_helpers import cuzr_potential as _potential

import softscope
from softscope import _jit
from softscope.data import default_glass, default_glass_path
from softscope.descriptors.coarse_grain import coarse_grain_points
from softscope.descriptors.spec import DescriptorSpec
from softscope.models.linear_projection import projection
from softscope.neighbors import neighbor_list
from softscope.rearrangement import d2min_from_points, d2min_from_vectors

pytestmark = pytest.mark.skipif(
    not _jit.aot_status()["usable"], reason=f"AOT kernels not built: {_jit.aot_status()}"
)


@pytest.fixture(autouse=True)
def _fresh_aot_state():
    """Each test starts from an unresolved AOT choice (the resolution is cached)."""
    saved = dict(_jit._STATE)
    for k in _jit._REGISTRY:
        k._aot = None
    yield
    _jit._STATE.clear()
    _jit._STATE.update(saved)
    for k in _jit._REGISTRY:
        k._aot = None


def _both(fn, *kernels):
    """fn() with JIT kernels and with AOT kernels; AOT must not warn (no fallback), and
    the named kernels must have run from the AOT module."""
    jit = fn()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with _jit.aot_kernels():
            aot = fn()
    ran = {k.py_func.__name__ for k in _jit._REGISTRY if k._aot}
    assert set(kernels) <= ran, set(kernels) - ran
    return jit, aot


SPEC = DescriptorSpec(
    species=("Cu", "Zr"),
    blocks=(
        {"kind": "radial", "centers": list(np.round(np.arange(1.0, 6.01, 0.2), 10)), "sigma": 0.2},
        {
            "kind": "angular",
            "xi": [2.0, 3.0],
            "lambdas": [-1.0, 1.0],
            "zetas": [1.0, 2.0],
            "cutoff": 4.5,
        },
    ),
    coarse_grain=(4.0,),
)


def test_fix_kernels_are_in_the_aot_module():
    st = _jit.aot_status()
    names = {
        "_projection_kernel",
        "_cg_fused",
        "_count",
        "_fill",
        "_counting_sort",
        "_d2min_kernel",
        "_d2min_points_kernel",
        "_s2_kernel",
    }
    missing = {n for n in names if not any(k.endswith("__" + n) for k in st["kernels"])}
    assert not missing


def test_every_kernel_module_is_hashed_for_staleness():
    """A kernel whose module is not in KERNEL_MODULES would escape the AOT build and the
    staleness hash."""
    import softscope.descriptors  # noqa: F401  (every built-in descriptor kind)
    import softscope.models.linear_projection  # noqa: F401

    modules = {k.py_func.__module__ for k in _jit._REGISTRY}
    assert {m for m in modules if m.startswith("softscope.")} <= set(_jit.KERNEL_MODULES)


def test_aot_projections_equal_jit_on_a_glass():
    frame = default_glass()
    coef = np.random.default_rng(3).normal(size=(2, len(SPEC.raw_names())))
    jit, aot = _both(
        lambda: projection(frame, SPEC, coef, np.array([0.5, -1.0])), "_projection_kernel"
    )
    assert np.abs(aot - jit).max() <= 1e-10 * np.abs(jit).max()


def test_aot_coarse_graining_and_neighbour_lists_equal_jit():
    frame = default_glass()
    x = np.random.default_rng(4).normal(size=(len(frame), 3))
    pts = frame.positions

    def run():
        cg = coarse_grain_points(pts, x, len(frame), SPEC.coarse_grain)  # no images
        nl = neighbor_list(frame, 3.7)
        return cg, nl.offsets, nl.neigh, nl.dist

    (cg_j, *nl_j), (cg_a, *nl_a) = _both(run, "_cg_fused", "_count", "_fill")
    assert np.allclose(cg_a, cg_j, rtol=1e-12, atol=1e-12)
    for a, b in zip(nl_a, nl_j, strict=True):
        assert np.array_equal(a, b)


def test_aot_d2min_equals_jit():
    """The fix's D²min face (pair vectors in CSR order) on a sheared, noisy glass."""
    frame = default_glass()
    nl = neighbor_list(frame, 3.7)
    i = np.repeat(np.arange(nl.n_query), np.diff(nl.offsets))
    d0 = nl.points[nl.neigh] - nl.points[i]
    rng = np.random.default_rng(5)
    shear = np.eye(3)
    shear[1, 0] = 0.01
    d1 = d0 @ shear + rng.normal(scale=0.05, size=d0.shape)
    (dj, ij), (da, ia) = _both(lambda: d2min_from_vectors(nl.offsets, d0, d1), "_d2min_kernel")
    assert np.array_equal(ij, ia)
    assert np.allclose(da, dj, rtol=1e-10, atol=1e-14, equal_nan=True)
    cur = nl.points @ shear + rng.normal(scale=0.05, size=nl.points.shape)
    (pj, _), (pa, _) = _both(
        lambda: d2min_from_points(nl.points, cur, nl.n_query, 3.7), "_d2min_points_kernel"
    )
    assert np.allclose(pa, pj, rtol=1e-10, atol=1e-14, equal_nan=True)


def test_wrong_argument_types_fall_back_to_jit_with_a_warning():
    k = next(k for k in _jit._REGISTRY if k.py_func.__name__ == "_d2min_kernel")
    off = np.array([0, 3], dtype=np.int64)
    d0 = np.eye(3)
    d1 = 1.01 * np.eye(3)
    want = k(off, d0, d1, 1e-12)
    with _jit.aot_kernels(), pytest.warns(RuntimeWarning, match="argument types differ"):
        got = k(off.astype(np.int32), d0, d1, 1e-12)  # int32 offsets: not the AOT signature
    assert np.allclose(got[0], want[0])


def test_stale_aot_module_is_not_used(monkeypatch):
    monkeypatch.setattr(_jit, "_source_hash", lambda: "other kernel sources")
    _jit._STATE["aot"] = None
    assert not _jit.aot_status()["usable"]
    assert "stale" in _jit.aot_status()["reason"]
    frame = default_glass()
    coef = np.ones((1, len(SPEC.raw_names())))
    with _jit.aot_kernels(), pytest.warns(RuntimeWarning, match="stale"):
        projection(frame, SPEC, coef)


@needs_lmp
def test_fix_runs_without_numba_or_mpi4py_in_its_ranks(tmp_path):
    """The fix's profile lists the heavy packages each rank's (embedded) interpreter
    imported; on 2 ranks its collectives go through the plugin, not mpi4py."""
    prof = tmp_path / "profile.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("LAMMPS_PLUGIN_PATH", "SOFTSCOPE_JIT")}
    env["SOFTSCOPE_FIX_PROFILE"] = str(prof)
    launch = [MPIEXEC, "-np", "2"] if MPIEXEC else []
    r = subprocess.run(
        [
            *launch,
            LMP,
            "-in",
            os.path.join(
                os.path.dirname(softscope.__file__), "..", "examples", "lammps", "in.md_shear"
            ),
            "-var",
            "model",
            "cuzr-softness",
            "-var",
            "data",
            str(default_glass_path()),
            "-var",
            "pot",
            _potential(),
            "-var",
            "steps",
            "20",
            "-var",
            "every",
            "10",
            "-var",
            "window",
            "10",
            "-log",
            "none",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "JIT-compiled" not in r.stdout + r.stderr
    recs = [json.loads(ln) for ln in prof.read_text().splitlines()]
    mods = set().union(*(rec.get("modules", []) for rec in recs))
    assert "numpy" in mods
    # (the lammps module imports the bare mpi4py package for its version, not mpi4py.MPI)
    assert not mods & {"numba", "llvmlite", "scipy", "sklearn", "mpi4py.MPI"}, mods
    assert len(recs) == 3 * (2 if MPIEXEC else 1)  # steps 0, 10, 20 on every rank
    if MPIEXEC:
        assert {rec["rank"] for rec in recs} == {0, 1}


def test_build_aot_writes_a_module_that_loads_without_numba(tmp_path):
    """A fresh build (what setup.py does at install) imports in a numba-free interpreter."""
    _jit.build_aot(tmp_path / "softscope")
    so = list((tmp_path / "softscope").glob("_kernels_aot*.so"))
    assert len(so) == 1
    meta = json.loads((tmp_path / "softscope" / "_kernels_aot.json").read_text())
    assert meta["source_hash"] == _jit._source_hash()
    code = (
        "import sys, importlib.util as u; "
        f"s = u.spec_from_file_location('_kernels_aot', {str(so[0])!r}); "
        "m = u.module_from_spec(s); s.loader.exec_module(m); "
        "assert 'numba' not in sys.modules; print(len([n for n in dir(m) if '__' in n]))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) >= len(meta["kernels"])
