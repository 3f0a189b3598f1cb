"""Descriptor speed: softscope radial structure functions vs dscribe ACSF G2 (+ D²min rows).

What is measured
----------------
- **softscope radial**: ``radial(frame, μ = 1.0…8.0 Å step 0.2, σ = 0.2 Å)`` for Cu, Zr
  (72 features, r_c = 8.8 Å) on replicas of the shipped Cu64Zr36 glass (sizes chosen near 8,000 / 64,000 / 500,000 atoms),
  *including* periodic images and the neighbour-list build.  One warm-up call
  (numba compilation / cache load) is excluded; the median of ``repeats`` calls is
  reported, plus the shared-list path for comparison (``neighbor_list`` then
  ``radial_from_neighbors``; ``radial`` itself walks the cell list once, fused) and the
  process CPU time (robust to other processes sharing the cores).  numba threads: its default
  (= cores) unless NUMBA_NUM_THREADS is set.
- **dscribe ACSF G2**: the same η = 1/(2σ²), R_s = μ_k, r_cut, ``periodic=True``,
  single process (``n_jobs=1``), on a subset of ``centers`` atoms of the same frame;
  reported as atoms/s.  (dscribe multiplies by the cosine cutoff; that does not change
  the work done.)
- **angular** (information): ``angular`` with ξ = 1.5, 2.5 Å, λ = ±1, ζ = 1, 2,
  r_c = 6 Å, prefactor and cutoff function on (dscribe's G4 convention) on the
  2,048-atom glass, vs dscribe ACSF G4 on 200 centres.
- **numba compile time**: first ``radial`` call in a fresh subprocess with an empty
  ``NUMBA_CACHE_DIR`` (cold) and again in a second fresh subprocess with that cache
  (cached), each minus the same process's second (steady) call.
- **peak memory**: peak RSS (``ru_maxrss``) of a subprocess that builds a 524,288-atom
  replica and evaluates ``radial`` once (must stay < 4 GiB); again for the shared-list
  path (``neighbor_list`` + ``radial_from_neighbors``, 12 bytes per pair more).
- **D²min**: if ``benchmarks/bench_d2min.py`` exists, its ``run(reference, current,
  cutoff, repeats)`` rows (softscope vs OVITO AtomicStrainModifier) are included.

Run ``python benchmarks/descriptors.py`` (full) or ``--quick`` (small sizes, 1 repeat,
CI smoke test).  Prints a table and writes ``benchmarks/results/descriptors.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import softscope
from softscope import Frame

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_d2min import replicate, sheared_pair  # noqa: E402
from bench_d2min import run as run_d2min  # noqa: E402

HERE = Path(__file__).resolve().parent
MU = np.round(np.arange(1.0, 8.0 + 1e-9, 0.2), 10)
SIGMA = 0.2
RC = float(MU.max() + 4 * SIGMA)
SPECIES = ["Cu", "Zr"]


def reps_for(n_base: int, target: int) -> tuple[int, int, int]:
    """Replica counts (a, b, c) whose product times n_base is closest to ``target``,
    as cubic as possible."""
    best = None
    for a in range(1, 17):
        for b in range(1, a + 1):
            for c in range(1, b + 1):
                key = (abs(a * b * c * n_base - target), a - c)
                if best is None or key < best[0]:
                    best = (key, (a, b, c))
    return best[1]


def _timed(fn, repeats: int) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def bench_softscope(frame: Frame, repeats: int) -> dict:
    from softscope.descriptors.radial import radial, radial_from_neighbors
    from softscope.neighbors import neighbor_list

    radial(frame, MU, SIGMA)  # warm-up: compilation or cache load
    wall, cpu = _timed(lambda: radial(frame, MU, SIGMA), repeats)
    codes, _ = frame.species_index(SPECIES)
    nl_wall, _ = _timed(lambda: neighbor_list(frame, RC), repeats)
    nl = neighbor_list(frame, RC)
    ps = codes[nl.point_atom]
    k_wall, _ = _timed(lambda: radial_from_neighbors(nl, ps, 2, MU, SIGMA, RC), repeats)
    n = len(frame)
    med = statistics.median(wall)
    return {
        "code": "softscope radial",
        "n_atoms": n,
        "n_timed_atoms": n,
        "repeats": repeats,
        "median_s": med,
        "min_s": min(wall),
        "atoms_per_s": n / med,
        "cpu_s_median": statistics.median(cpu),
        "atoms_per_cpu_s": n / statistics.median(cpu),
        "neighbor_build_s": statistics.median(nl_wall),
        "kernel_s": statistics.median(k_wall),
        "pairs_per_atom": nl.n_pairs / n,
    }


def bench_dscribe(frame: Frame, n_centers: int, repeats: int) -> dict | None:
    try:
        from ase import Atoms
        from dscribe.descriptors import ACSF
    except ImportError:
        return None
    atoms = Atoms(
        symbols=list(frame.species), positions=frame.positions, cell=frame.cell, pbc=frame.pbc
    )
    acsf = ACSF(
        species=SPECIES, r_cut=RC, g2_params=[[1 / (2 * SIGMA**2), m] for m in MU], periodic=True
    )
    idx = np.linspace(0, len(frame) - 1, min(n_centers, len(frame))).astype(int)
    acsf.create(atoms, centers=idx[:10], n_jobs=1)  # warm-up (imports, allocation)
    wall, cpu = _timed(lambda: acsf.create(atoms, centers=idx, n_jobs=1), repeats)
    med = statistics.median(wall)
    return {
        "code": "dscribe ACSF G2",
        "n_atoms": len(frame),
        "n_timed_atoms": len(idx),
        "repeats": repeats,
        "median_s": med,
        "min_s": min(wall),
        "atoms_per_s": len(idx) / med,
        "cpu_s_median": statistics.median(cpu),
        "atoms_per_cpu_s": len(idx) / statistics.median(cpu),
    }


ANG = dict(xi=[1.5, 2.5], lambdas=[-1.0, 1.0], zetas=[1.0, 2.0], cutoff=6.0)


def bench_angular(frame: Frame, n_centers: int, repeats: int) -> list[dict]:
    """Angular SF (dscribe-matching convention: prefactor, f_c on all three sides) vs G4."""
    import itertools

    from softscope.descriptors.angular import angular

    kw = dict(ANG, prefactor=True, cutoff_function=True)
    angular(frame, **kw)  # warm-up
    wall, cpu = _timed(lambda: angular(frame, **kw), repeats)
    n = len(frame)
    rows = [
        {
            "code": "softscope angular",
            "n_atoms": n,
            "n_timed_atoms": n,
            "repeats": repeats,
            "median_s": statistics.median(wall),
            "atoms_per_s": n / statistics.median(wall),
            "atoms_per_cpu_s": n / statistics.median(cpu),
        }
    ]
    try:
        from ase import Atoms
        from dscribe.descriptors import ACSF
    except ImportError:
        return rows
    atoms = Atoms(
        symbols=list(frame.species), positions=frame.positions, cell=frame.cell, pbc=frame.pbc
    )
    params = [
        [1 / x**2, z, lam]
        for x, lam, z in itertools.product(ANG["xi"], ANG["lambdas"], ANG["zetas"])
    ]
    acsf = ACSF(species=SPECIES, r_cut=ANG["cutoff"], g4_params=params, periodic=True)
    idx = np.linspace(0, n - 1, min(n_centers, n)).astype(int)
    wall, cpu = _timed(lambda: acsf.create(atoms, centers=idx, n_jobs=1), repeats)
    rows.append(
        {
            "code": "dscribe ACSF G4",
            "n_atoms": n,
            "n_timed_atoms": len(idx),
            "repeats": repeats,
            "median_s": statistics.median(wall),
            "atoms_per_s": len(idx) / statistics.median(wall),
            "atoms_per_cpu_s": len(idx) / statistics.median(cpu),
        }
    )
    rows[0]["speedup_vs_dscribe"] = rows[0]["atoms_per_s"] / rows[1]["atoms_per_s"]
    rows[1]["speedup_vs_dscribe"] = 1.0
    return rows


_COMPILE_SNIPPET = """
import json, time
t0 = time.perf_counter()
import numpy as np
import softscope
from softscope.data import default_glass
from softscope.descriptors.radial import radial
f = default_glass()
t_import = time.perf_counter() - t0
mu = np.arange(1.0, 8.0 + 1e-9, 0.2)
t0 = time.perf_counter(); radial(f, mu, 0.2); first = time.perf_counter() - t0
t0 = time.perf_counter(); radial(f, mu, 0.2); second = time.perf_counter() - t0
print(json.dumps({"import_and_read_s": t_import, "first_call_s": first, "steady_call_s": second}))
"""


def bench_compile() -> dict:
    """First-call overhead (numba compile) cold and from the on-disk cache, in fresh processes."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold", "cached"):
            r = subprocess.run(
                [sys.executable, "-c", _COMPILE_SNIPPET],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            d = json.loads(r.stdout.strip().splitlines()[-1])
            d["compile_s"] = d["first_call_s"] - d["steady_call_s"]
            out[label] = d
    return out


_MEMORY_SNIPPET = """
import json, resource, sys, time
import numpy as np
import softscope
from softscope import Frame
from softscope.data import default_glass
from softscope.descriptors.radial import radial
reps = tuple(int(x) for x in sys.argv[1:4])
g = default_glass()
shifts = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"), -1).reshape(-1, 3)
pos = (g.positions[None] + (shifts @ g.cell)[:, None]).reshape(-1, 3)
f = Frame(pos, np.tile(g.species, len(shifts)), g.cell * np.asarray(reps)[:, None])
del pos
mu = np.arange(1.0, 8.0 + 1e-9, 0.2)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
if sys.argv[4] == "radial":
    G = radial(f, mu, 0.2)
else:
    from softscope.descriptors.radial import radial_from_neighbors
    from softscope.neighbors import neighbor_list
    nl = neighbor_list(f, 8.8)
    codes, _ = f.species_index()
    G = radial_from_neighbors(nl, codes[nl.point_atom], 2, mu, 0.2, 8.8)
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"n_atoms": len(f), "peak_rss_before_radial_mib": before / 1024,
                  "peak_rss_mib": peak / 1024, "output_mib": G.nbytes / 2**20,
                  "radial_s": dt}))
"""


def bench_memory(reps: tuple[int, int, int]) -> dict:
    """Peak RSS of radial() (fused walk) and of neighbor_list + radial_from_neighbors."""
    out = {}
    for path in ("radial", "neighbor_list+radial_from_neighbors"):
        r = subprocess.run(
            [sys.executable, "-c", _MEMORY_SNIPPET, *map(str, reps), path],
            check=True,
            capture_output=True,
            text=True,
        )
        d = json.loads(r.stdout.strip().splitlines()[-1])
        d["limit_mib"] = 4096
        d["ok"] = d["peak_rss_mib"] < 4096
        out[path] = d
    return out


def bench_d2min(glass: Frame, repeats: int) -> list[dict]:
    try:
        return run_d2min(*sheared_pair(glass), 3.7, repeats)
    except Exception as exc:  # a peer's benchmark must not sink this one
        return [{"code": "d2min benchmark failed", "error": repr(exc)}]


def main(argv: list[str] | None = None) -> dict:
    import numba

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, 1 repeat (CI smoke test)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON path (default results/descriptors.json, *_quick.json with --quick)",
    )
    args = ap.parse_args(argv)

    from softscope.data import default_glass

    base = default_glass()
    if args.quick:
        sizes, repeats, n_ds, mem_reps, d2_reps = [(1, 1, 1)], 1, 100, (2, 2, 1), (1, 1, 1)
    else:
        # ~8,000 and ~64,000 atoms, ~500,000 for memory, whatever the shipped glass's size
        sizes = [reps_for(len(base), 8_000), reps_for(len(base), 64_000)]
        repeats, n_ds = 3, 1000
        mem_reps, d2_reps = reps_for(len(base), 500_000), sizes[1]
    repeats = args.repeats or repeats
    if args.out is None:
        name = "descriptors_quick.json" if args.quick else "descriptors.json"
        args.out = HERE / "results" / name
    load0 = os.getloadavg()

    radial_rows = []
    for reps in sizes:
        frame = replicate(base, reps)
        ours = bench_softscope(frame, repeats)
        theirs = bench_dscribe(frame, n_ds, repeats)
        ours["replicas"] = list(reps)
        radial_rows.append(ours)
        if theirs is not None:
            theirs["replicas"] = list(reps)
            ours["speedup_vs_dscribe"] = ours["atoms_per_s"] / theirs["atoms_per_s"]
            theirs["speedup_vs_dscribe"] = 1.0
            radial_rows.append(theirs)

    angular_rows = bench_angular(base, 50 if args.quick else 200, repeats)
    compile_ = bench_compile()
    memory = bench_memory(mem_reps)
    d2 = bench_d2min(replicate(base, d2_reps), repeats)
    load1 = os.getloadavg()

    meta = {
        "softscope": softscope.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "loadavg_start": load0,
        "loadavg_end": load1,
        "centers": [float(MU[0]), float(MU[-1]), 0.2, len(MU)],
        "sigma": SIGMA,
        "cutoff": RC,
        "quick": args.quick,
    }
    meta["angular"] = ANG
    result = {
        "meta": meta,
        "radial": radial_rows,
        "angular": angular_rows,
        "compile": compile_,
        "memory": memory,
        "d2min": d2,
    }

    print(
        f"Radial SF (2 species x {len(MU)} centres, sigma {SIGMA} A, r_c {RC} A); "
        f"{meta['numba_threads']} numba threads, {meta['cpu_count']} cores, "
        f"load avg {load0[0]:.1f} -> {load1[0]:.1f}"
    )
    hdr = f"{'code':<18}{'N':>8}{'timed':>8}{'median s':>10}{'atoms/s':>11}{'atoms/cpu-s':>13}"
    print(hdr + f"{'vs dscribe':>12}")
    for r in radial_rows:
        print(
            f"{r['code']:<18}{r['n_atoms']:>8}{r['n_timed_atoms']:>8}{r['median_s']:>10.4f}"
            f"{r['atoms_per_s']:>11.0f}{r['atoms_per_cpu_s']:>13.0f}"
            f"{r.get('speedup_vs_dscribe', float('nan')):>11.1f}x"
        )
        if "kernel_s" in r:
            print(
                f"{'':<18}  shared-list path: neighbor_list {r['neighbor_build_s']:.4f} s + "
                f"radial_from_neighbors {r['kernel_s']:.4f} s; {r['pairs_per_atom']:.0f} "
                "pairs/atom"
            )
    print(
        f"Angular SF (3 species pairs x 8, xi {ANG['xi']}, r_c "
        f"{ANG['cutoff']} A, prefactor + f_c as dscribe G4):"
    )
    for r in angular_rows:
        print(
            f"{r['code']:<18}{r['n_atoms']:>8}{r['n_timed_atoms']:>8}{r['median_s']:>10.4f}"
            f"{r['atoms_per_s']:>11.0f}{r['atoms_per_cpu_s']:>13.0f}"
            f"{r.get('speedup_vs_dscribe', float('nan')):>11.1f}x"
        )
    for label, c in compile_.items():
        print(
            f"numba first-call overhead ({label}): {c['compile_s']:.2f} s "
            f"(first {c['first_call_s']:.2f} s, steady {c['steady_call_s']:.3f} s)"
        )
    for path, m in memory.items():
        print(
            f"peak RSS, {path} of {m['n_atoms']} atoms: {m['peak_rss_mib']:.0f} MiB "
            f"(before it {m['peak_rss_before_radial_mib']:.0f} MiB, output "
            f"{m['output_mib']:.0f} MiB, {m['radial_s']:.1f} s) "
            f"{'< 4 GiB OK' if m['ok'] else '>= 4 GiB: TOO MUCH'}"
        )
    if d2:
        print("D2min (cutoff 3.7 A):")
        for r in d2:
            if "median_s" in r:
                print(
                    f"  {r['code']:<16}{r['n_atoms']:>8}{r['median_s']:>10.4f}"
                    f"{r['atoms_per_s']:>11.0f}  speed vs OVITO {r.get('ratio_vs_ovito', 1):.2f}x"
                    f"  max rel diff {r.get('max_rel_diff_vs_ovito', float('nan')):.1e}"
                )
            else:
                print(f"  {r}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
