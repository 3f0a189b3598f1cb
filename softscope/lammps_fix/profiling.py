"""Phase timings of the fix's evaluations (diagnostics, off by default).

``SOFTSCOPE_FIX_PROFILE=path`` appends one JSON line per evaluation and rank: the wall
time (s) of each phase, the CPU time of the whole evaluation (``cpu_s``: this process, all
threads; robust where other jobs share the cores), resident memory (MB) at its start and
end and the process's peak, counters such as ``n_fetched``, and at the first evaluations
which heavy packages the embedded interpreter holds (``modules``).
``benchmarks/lammps_overhead.py`` reads these lines.  With ``SOFTSCOPE_FIX_PHASE_PEAKS=1``
also each phase's peak RSS (``peak_mb:<phase>``); that resets the kernel's peak-RSS
counter, so the process's own peak (``time -f %M``, VmHWM) is no longer the run's peak:
for diagnosis only.
"""

from __future__ import annotations

import json
import os
import sys
import time

__all__ = ["HEAVY_MODULES", "PhaseProfiler", "memory"]

#: Packages whose presence in a rank's interpreter the profile reports.
HEAVY_MODULES = (
    "numpy",
    "numba",
    "llvmlite",
    "scipy",
    "sklearn",
    "ovito",
    "matplotlib",
    "joblib",
    "tqdm",
    "dscribe",
    "lammps",
)


def memory() -> dict[str, float]:
    """This process's resident memory now and at its peak (MB, /proc/self/status)."""
    out = {}
    try:
        with open("/proc/self/status") as fh:
            for ln in fh:
                if ln.startswith(("VmRSS:", "VmHWM:")):
                    out["rss_mb" if ln.startswith("VmRSS") else "hwm_mb"] = (
                        int(ln.split()[1]) / 1024
                    )
    except OSError:
        pass
    return out


def _reset_peak() -> None:
    """Restart VmHWM at the current RSS (Linux ``clear_refs`` 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


class PhaseProfiler:
    """Accumulates phase timings of one evaluation and appends them as a JSON line.

    ``path`` None: every method returns at once (``enabled`` is False).
    """

    def __init__(self, path: str | None, phase_peaks: bool = False) -> None:
        self.path = path
        self.phase_peaks = bool(path and phase_peaks)
        self._rec: dict[str, float] = {}
        self._t_last = 0.0
        self._cpu0 = 0.0

    @classmethod
    def from_env(cls) -> PhaseProfiler:
        """Configured by ``SOFTSCOPE_FIX_PROFILE`` and ``SOFTSCOPE_FIX_PHASE_PEAKS``."""
        path = os.environ.get("SOFTSCOPE_FIX_PROFILE")
        return cls(path, bool(os.environ.get("SOFTSCOPE_FIX_PHASE_PEAKS")))

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def start(self) -> None:
        """Start an evaluation: clock, CPU clock and resident memory now."""
        self.tick()
        if self.enabled:
            self._rec["rss_start_mb"] = memory().get("rss_mb", float("nan"))
            self._cpu0 = time.process_time()

    def tick(self, phase: str | None = None) -> None:
        """Charge the time since the last tick to ``phase`` (None: to no phase)."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if phase is not None:
            self._rec[phase] = self._rec.get(phase, 0.0) + now - self._t_last
            if self.phase_peaks:  # peak RSS within the phase: VmHWM since the last tick
                key = "peak_mb:" + phase
                self._rec[key] = max(self._rec.get(key, 0.0), memory().get("hwm_mb", 0.0))
        if self.phase_peaks:
            _reset_peak()
        self._t_last = now

    def count(self, key: str, n: int) -> None:
        """Add ``n`` to the counter ``key`` of this evaluation."""
        if self.enabled:
            self._rec[key] = self._rec.get(key, 0) + n

    def flush(self, head: dict, modules: bool = False) -> None:
        """Append ``head`` + this evaluation's record as one JSON line; ``modules``: also
        list the heavy packages loaded."""
        if not self.enabled:
            return
        rec = dict(head)
        rec.update({k: round(t, 6) for k, t in self._rec.items()})
        rec.update(memory())
        rec["cpu_s"] = round(time.process_time() - self._cpu0, 6)
        if modules:
            rec["modules"] = sorted(
                ({k.split(".")[0] for k in sys.modules} & set(HEAVY_MODULES))
                | ({"mpi4py.MPI"} & set(sys.modules))  # the MPI extension, not the package
            )
        with open(self.path, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        self._rec = {}
