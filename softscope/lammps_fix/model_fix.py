"""``fix softscope ... model NAME``: evaluate a softscope model inside a LAMMPS run.

A thin adapter (no science of its own): raw features come from
:meth:`DescriptorSpec.compute_raw_points` for the **local** atoms only; the owners' raw
rows are then sent to their ghosts (forward communication of transit columns) and
:meth:`DescriptorSpec.coarse_grain_points` coarse-grains the local atoms, so ghosts need
only reach max(raw cutoff, r_cg) and no ghost features are computed.  Predictions from
:meth:`Model.predict_features` (linear models with coarse-graining: the same terms
regrouped, one projection per coarse-graining radius communicated and coarse-grained,
see :meth:`ModelFix._linear_blocks`; the projections come straight from the fused kernels
of :mod:`softscope.descriptors.projection`, without a raw feature matrix), D²min from
:func:`softscope.rearrangement.d2min_from_walk` (OVITO's convention, no stored pairs), the live
judgement from :func:`softscope.metrics.roc_auc` and Spearman as in
:func:`softscope.metrics.judge`.

Per-atom outputs ``f_ID[1..3]``: (1) prediction now, (2) prediction frozen at the
reference, (3) D²min (length²) since the reference, NaN for invalid atoms and without
``d2min``; models with an external ``msd`` feature add (4) the vibrational MSD (length²)
used by the last evaluation.  Atoms outside the fix group get NaN in all of them.
State columns (migrate, go to restarts): reference position in reduced coordinates of
the reference cell (3), prediction at the reference (1); for msd models also the running
window statistics (anchor 3, Σd 3, Σ|d|² 1, sample count 1) and the msd of the last
window (1).  Transit columns (valid within one evaluation): first the current reduced
positions (3) on their way to the ghosts, whose positions may be stale at end_of_step
after fix deform; then the raw features on their way to the ghosts (linear models: one
projection per coarse-graining radius).  They are the output columns when those are
enough (the old outputs are dead until the evaluation writes the new ones at its end),
else scratch columns (not migrated).  Per atom (local + ghost rows) that is 3 + 4
doubles for the zoo's softness models (3 + 4 + max(3, n_cg) with scratch columns).

Vibrational MSD (external block ``msd``): every K steps (keyword ``sample K``, default
10; at end_of_step, before an evaluation on the same step) the fix adds each atom's
unwrapped position r (LAMMPS image flags, ``x + (ix, iy, iz)·H`` as dump ``xu yu zu``)
to a per-atom window.  At an evaluation whose window holds >= 2 samples on every atom,
msd = mean over the window's samples of |r − <r>|² (computed as Σ|d|²/n − |Σd/n|² with
d = r − r_first, the first sample of the window), and the window restarts empty.  With
fewer samples the msd of the previous window is kept; before the first complete window
predictions are NaN and no reference is stored (the first reference is taken at the
first evaluation with an msd).

Reference: stored at the first evaluation; renewed *after* the evaluation at every
step that is a multiple of ``reference M`` (M > 0), and after the next evaluation
following ``fix_modify ID reference now``.  So an evaluation that renews the reference
still reports the window that it closes.
"""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np

from softscope.errors import SoftscopeError
from softscope.lammps_fix.bridge import AtomView, ForwardComm, SoftscopeFix

__all__ = ["ModelFix", "global_vector_names"]

_NAN = float("nan")


def global_vector_names() -> list[str]:
    """Names of the fix's global vector entries ``f_ID[1..4]``."""
    return ["roc_auc", "spearman", "mean_prediction", "fraction_positive"]


def _auc_spearman(
    prediction: np.ndarray,
    measure: np.ndarray,
    q: float,
    auc: bool = True,
    rho: bool = True,
    ids: np.ndarray | None = None,
) -> tuple:
    """(ROC-AUC, Spearman) exactly as ``softscope.metrics.judge`` reports them on atoms in
    id order (same functions: invalid measures dropped, labels = top-q measure, ties at
    the threshold to the lower ``ids``), without its other metrics; both are numpy-only,
    so the embedded interpreter never imports scipy or scikit-learn (~65 MB per rank).
    ``auc``/``rho`` False: that entry is skipped (0.0), so two ranks can share the work."""
    from softscope.metrics import _clean, roc_auc, spearman
    from softscope.rearrangement import top_fraction

    try:
        p, m = _clean(prediction, measure)
    except SoftscopeError:
        return (_NAN if auc else 0.0, _NAN if rho else 0.0)
    if p.size < 2:
        return (_NAN if auc else 0.0, _NAN if rho else 0.0)
    if auc and ids is not None and p.size != measure.size:
        ids = ids[np.isfinite(measure)]
    return (
        roc_auc(p, top_fraction(m, q, tie_key=ids)) if auc else 0.0,
        spearman(p, m) if rho else 0.0,
    )


_HEAVY_MODULES = (
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


def _memory() -> dict[str, float]:
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
    """Restart VmHWM at the current RSS (Linux ``clear_refs`` 5); profiling only."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _widths(H: np.ndarray) -> np.ndarray:
    """Perpendicular widths of the cell with rows H (length unit)."""
    return abs(np.linalg.det(H)) / np.linalg.norm(np.cross(H[[1, 2, 0]], H[[2, 0, 1]]), axis=1)


class _SerialComm:
    """The collectives used, for one rank."""

    def allreduce(self, x, op="SUM"):
        return x

    def gather_vectors(self, arrays, root=0):
        return [np.asarray(a, dtype=np.float64) for a in arrays]

    def allgather_rows(self, rows):
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


class _PluginComm:
    """MPI collectives through the plugin's C functions (``softscope_mpi_*``) on the fix's
    communicator: the same calls as mpi4py's for what the fix needs, without importing
    mpi4py in every rank (~10 MB each).  Values travel as float64."""

    _OPS = {"SUM": 0, "MIN": 1, "MAX": 2}

    def __init__(self, fortran_comm: int, rank: int, nprocs: int) -> None:
        import ctypes

        from softscope.plugins import plugin_path

        lib = ctypes.CDLL(str(plugin_path()))  # already loaded by LAMMPS: same handle
        dp = ctypes.POINTER(ctypes.c_double)
        ip = ctypes.POINTER(ctypes.c_int)
        ci = ctypes.c_int
        self._allreduce = lib.softscope_mpi_allreduce
        self._allreduce.argtypes = [ci, dp, ci, ci]
        self._gatherv = lib.softscope_mpi_gatherv
        self._gatherv.argtypes = [ci, dp, ci, dp, ip, ip, ci]
        for f in (self._allreduce, self._gatherv):
            f.restype = ci
        self._dp, self._ip = dp, ip
        self.fcomm, self.rank, self.nprocs = int(fortran_comm), int(rank), int(nprocs)

    def _ok(self, rc: int, what: str) -> None:
        if rc != 0:
            raise SoftscopeError(f"MPI {what} failed with error code {rc}")

    def _ptr(self, a: np.ndarray):
        return a.ctypes.data_as(self._dp)

    def allreduce(self, x, op="SUM"):
        a = np.array(x, dtype=np.float64, ndmin=1)  # a copy, reduced in place
        self._ok(self._allreduce(self.fcomm, self._ptr(a), a.size, self._OPS[op]), "allreduce")
        return a if np.ndim(x) else float(a[0])

    def gather_vectors(self, arrays, root=0):
        """Each 1-D array's values of every rank, concatenated in rank order, on ``root``
        (one gatherv each, straight into the result; None elsewhere)."""
        arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in arrays]
        mine = np.zeros(self.nprocs)
        mine[self.rank] = arrays[0].size if arrays else 0
        counts = self.allreduce(mine, "SUM").astype(np.intc)
        displs = np.zeros(self.nprocs, dtype=np.intc)
        displs[1:] = np.cumsum(counts)[:-1]
        out = []
        for a in arrays:
            recv = np.empty(int(counts.sum()) if self.rank == root else 1)
            self._ok(
                self._gatherv(
                    self.fcomm,
                    self._ptr(a),
                    a.size,
                    self._ptr(recv),
                    counts.ctypes.data_as(self._ip),
                    displs.ctypes.data_as(self._ip),
                    root,
                ),
                "gatherv",
            )
            out.append(recv)
        return out if self.rank == root else None

    def allgather_rows(self, rows):
        """Every rank's rows (k_r, c) stacked in rank order, on every rank (small arrays:
        one allreduce of the zero-padded stack)."""
        rows = np.asarray(rows, dtype=np.float64)
        c = rows.shape[1]
        mine = np.zeros(self.nprocs)
        mine[self.rank] = rows.shape[0]
        counts = self.allreduce(mine, "SUM").astype(np.int64)
        total = np.zeros((int(counts.sum()), c))
        if total.size == 0:
            return total
        start = int(counts[: self.rank].sum())
        total[start : start + rows.shape[0]] = rows
        return self.allreduce(total, "SUM").reshape(-1, c)


_PROVIDED_EXTERNAL = ("msd",)
_NREF = 4  # state column: number of reference neighbours within R (D²min completeness)
_MSD = 5  # first msd state column: anchor(3), sum d(3), sum |d|^2, count, msd of last window
#: D²min at or below (this x R)² everywhere is rounding noise (a re-evaluated configuration)
_D2_NOISE = 1e-9


class ModelFix(SoftscopeFix):
    """Model prediction, frozen reference prediction and D²min per atom; live metrics."""

    mode = "model"
    nout = 3
    nstate = _MSD

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        from softscope.models.model import load_model

        self.model = load_model(self.opts["model"])
        self.dspec = self.model.spec
        unknown = [e for e in self.dspec.external if e not in _PROVIDED_EXTERNAL]
        if unknown:
            raise SoftscopeError(
                f"model {self.model.name!r} needs external per-atom features {unknown} that "
                f"the fix cannot measure in-run (it provides: {', '.join(_PROVIDED_EXTERNAL)})"
            )
        self.use_msd = "msd" in self.dspec.external
        if self.use_msd:
            self.nout, self.nstate = 4, _MSD + 9
            self.msd_every = int(self.opts.get("sample", 10))
            self.sample_every = self.msd_every
        elif "sample" in self.opts:
            raise SoftscopeError(
                f"keyword sample is for models with an in-run msd feature; model "
                f"{self.model.name!r} has none"
            )
        # average K: every computation on each atom's position averaged over the K steps
        # up to the evaluation (state: anchor 3, sum of displacements 3, sample count 1)
        self.average = int(self.opts.get("average", 0))
        if self.average:
            if self.average > self.nevery:
                raise SoftscopeError(
                    f"average {self.average} is longer than the evaluation interval N = "
                    f"{self.nevery}; use average K with 1 <= K <= N"
                )
            self._avg0 = self.nstate
            self.nstate += 7
            self.sample_every = 1  # the fix samples each step of a window (cheap)
        self.avg_last_step = -1
        self.n_raw = len(self.dspec.raw_names())
        # transit columns: reduced positions on their way to the ghosts (3), then the raw
        # features (or, for linear models, one projection per coarse-graining radius).
        # Within an evaluation the old outputs are dead until the new ones are written at
        # its end, so the output columns carry them when they are enough (no scratch
        # columns: 24 bytes less per local + ghost atom); else scratch columns do.
        ntransit = self.n_raw if self.dspec.coarse_grain else 0
        self._linear = self._linear_blocks()
        if self._linear is not None:
            ntransit = len(self.dspec.coarse_grain)
        ntransit = max(ntransit, 3)
        self._transit_in_out = ntransit <= self.nout
        self.nscratch = 0 if self._transit_in_out else ntransit
        self.msd_ready = False
        # SOFTSCOPE_FIX_PROFILE=path: append one JSON line of phase timings (s) per
        # evaluation and rank (benchmarks/lammps_overhead.py reads them)
        self._prof_path = os.environ.get("SOFTSCOPE_FIX_PROFILE")
        # SOFTSCOPE_FIX_PHASE_PEAKS=1 (with the profile): also the peak RSS of each phase.
        # It resets the kernel's peak-RSS counter, so the process's own peak (time -f %M,
        # VmHWM) is no longer the run's peak: for diagnosis only
        self._phase_peaks = bool(self._prof_path and os.environ.get("SOFTSCOPE_FIX_PHASE_PEAKS"))
        self._prof: dict[str, float] = {}
        self._t_last = 0.0
        self.elements = self.opts.get("elements")
        self.R = self.opts.get("d2min")
        self.ref_every = int(self.opts.get("reference", 0))
        self.q = float(self.opts.get("q", 0.05))
        # optional: extra ghost reach beyond R (fewer reference neighbours to fetch by id)
        self.margin = float(self.opts.get("margin", 0.0))
        if self.ref_every % self.nevery:
            raise SoftscopeError(
                f"reference {self.ref_every} is not a multiple of N = {self.nevery}: the fix "
                f"evaluates every {self.nevery} steps, so the window would silently stretch to "
                f"{math.lcm(self.ref_every, self.nevery)} steps; use reference "
                f"{max(self.nevery, self.ref_every // self.nevery * self.nevery)} (or another "
                f"multiple of {self.nevery})"
            )
        self._warned: set[str] = set()
        if self.elements is not None:
            unknown = [e for e in self.elements if e != "NULL" and e not in self.model.species]
            if unknown:
                raise SoftscopeError(
                    f"elements {unknown} are not species of model {self.model.name!r} "
                    f"(it knows {', '.join(self.model.species)})"
                )
        elif len(self.model.species) > 1:
            raise SoftscopeError(
                f"model {self.model.name!r} has species {', '.join(self.model.species)}; "
                "map LAMMPS types to them with 'elements E1 E2 ...' (one per atom type)"
            )
        self.type_codes = None
        self.has_ref = False
        self.H0 = self.o0 = None
        self.ref_step = -1
        self.renew_requested = False
        self.vector = [_NAN] * 4
        self.n_evals = 0
        self._mpi = None
        self._pbc = np.ones(3, bool)

    # ------------------------------------------------------------------ protocol
    def spec(self) -> tuple:  # noqa: D102 - see bridge protocol
        return (
            self.nout,
            self.nstate,
            self.nevery,
            self.ghost_cutoff(),
            1,
            4,
            0,
            self.nscratch,
            self.sample_every,
        )

    def ghost_cutoff(self) -> float:
        """Ghost reach: max(raw cutoff, r_cg, R + margin); ghosts get raw features by
        communication, so the coarse-graining radius does not add to the raw cutoff."""
        need = self.dspec.split_ghost_cutoff
        if self.R:
            need = max(need, self.R + self.margin)
        return float(need)

    def model_reach(self) -> float:
        """Distance an atom's outputs depend on (raw cutoff + r_cg, or D²min's R + margin)."""
        need = self.model.cutoff
        if self.R:
            need = max(need, self.R + self.margin)
        return float(need)

    def comm(self):
        """Collectives on the fix's communicator (the plugin's MPI, no mpi4py)."""
        if self._mpi is None:
            if self.nprocs == 1:
                self._mpi = _SerialComm()
            else:
                self._mpi = _PluginComm(self.fortran_comm, self.rank, self.nprocs)
        return self._mpi

    def _allreduce(self, x, op: str):
        return self.comm().allreduce(x, op)

    def modify_param(self, args) -> int:
        """``fix_modify ID reference now``: renew the reference after the next evaluation."""
        if args and args[0] == "reference":
            if len(args) < 2 or args[1] != "now":
                raise SoftscopeError("fix_modify ID reference needs the value 'now'")
            self.renew_requested = True
            return 2
        return 0

    def init(self, v: AtomView):
        super().init(v)
        lmp = self.capi()
        self.model.check_units(lmp.units())
        ntypes = lmp.ntypes()
        codes = np.full(ntypes + 1, -1, dtype=np.int64)
        if self.elements is None:
            codes[1:] = 0
        else:
            if len(self.elements) != ntypes:
                raise SoftscopeError(
                    f"'elements' lists {len(self.elements)} names but the system has "
                    f"{ntypes} atom types; give one element (or NULL) per type"
                )
            for t, e in enumerate(self.elements, start=1):
                if e != "NULL":
                    codes[t] = self.model.species.index(e)
            self._check_masses(lmp, ntypes)
        self.type_codes = codes
        if self.R:  # one-time imports here (setup), not inside the first window's step
            import softscope.metrics  # noqa: F401
            import softscope.rearrangement  # noqa: F401
        n_in = int(np.count_nonzero(v.mask[: v.nlocal] & self.groupbit))
        if self._allreduce(n_in, "SUM") == 0:
            raise SoftscopeError(f"fix group {self.group!r} is empty")

    def _check_masses(self, lmp, ntypes: int) -> None:
        """Catch a swapped element order: per-type masses must fit the element names."""
        from softscope.elements import check_type_masses

        masses = lmp.type_masses()
        if masses is None:  # per-atom masses: nothing per type
            return
        msg = check_type_masses(self.elements, masses[:ntypes], lmp.units())
        if msg:
            raise SoftscopeError(msg)

    def setup(self, v: AtomView):
        super().setup(v)
        return self.evaluate(v)

    def end_of_step(self, v: AtomView):
        super().end_of_step(v)
        if not self.average and self.model.expected_input == "minimised":
            self._warn_once(
                "thermal",
                f"model {self.model.name!r} was trained on minimised (inherent) structures "
                "and is evaluated on the instantaneous positions of an MD run: thermal "
                "displacements shift its predictions. Add 'average K' (e.g. K = N, or "
                "1 ps of steps) to evaluate it on time-averaged positions",
            )
        return self.evaluate(v)

    # ------------------------------------------------------------------ evaluation
    def _box(self):
        boxlo, boxhi, xy, yz, xz, periodicity = self.capi().box()
        lo, hi = np.array(boxlo, float), np.array(boxhi, float)
        L = hi - lo
        H = np.array([[L[0], 0.0, 0.0], [xy, L[1], 0.0], [xz, yz, L[2]]])
        return H, lo, np.array(periodicity, bool)

    def _tick(self, phase: str | None = None) -> None:
        if self._prof_path is None:
            return
        now = time.perf_counter()
        if phase is not None:
            self._prof[phase] = self._prof.get(phase, 0.0) + now - self._t_last
            if self._phase_peaks:  # peak RSS within the phase: VmHWM since the last tick
                key = "peak_mb:" + phase
                self._prof[key] = max(self._prof.get(key, 0.0), _memory().get("hwm_mb", 0.0))
        if self._phase_peaks:
            _reset_peak()
        self._t_last = now

    def _prof_flush(self, v: AtomView) -> None:
        if self._prof_path is None:
            return
        rec = {"step": v.step, "rank": self.rank, "nlocal": v.nlocal, "nghost": v.nghost}
        rec.update({k: round(t, 6) for k, t in self._prof.items()})
        rec.update(_memory())
        # CPU time of the whole evaluation (this process, all threads): robust where
        # other jobs share the cores and stretch the wall-clock phases
        rec["cpu_s"] = round(time.process_time() - self._cpu0, 6)
        if self.n_evals <= 1:  # which heavy packages the embedded interpreter holds
            import sys

            rec["modules"] = sorted(
                ({k.split(".")[0] for k in sys.modules} & set(_HEAVY_MODULES))
                | ({"mpi4py.MPI"} & set(sys.modules))  # the MPI extension, not the package
            )
        with open(self._prof_path, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        self._prof = {}

    def evaluate(self, v: AtomView):
        self._tick()
        if self._prof_path is not None:
            self._prof["rss_start_mb"] = _memory().get("rss_mb", _NAN)
            self._cpu0 = time.process_time()
        nloc, m = v.nlocal, v.ntotal
        H1, o1, pbc = self._box()
        widths = _widths(H1)
        reach = self.model_reach()
        if np.any(pbc & (widths < reach)):
            raise SoftscopeError(
                f"the fix needs neighbours within {reach:.4g} (model cutoff "
                f"{self.model.cutoff:.4g}, d2min {self.R}), larger than the periodic box width "
                f"{widths[pbc].min():.4g}; use a larger box (replicate) or a model with a "
                "shorter cutoff"
            )
        inv1 = np.linalg.inv(H1)
        self._pbc = pbc
        out, state = v.out, v.state
        msd = None
        xloc = v.x[:nloc]
        if self.use_msd:
            msd = self._take_msd(v)
        if self.average:
            xloc = self._take_average(v, H1)
        if (self.use_msd and msd is None) or xloc is None:
            # no complete window yet (msd, averaged positions): nothing to predict from
            out[:nloc, :] = np.nan
            self.vector = [_NAN] * 4
            self.n_evals += 1
            self.renew_requested = self.renew_requested and self.has_ref
            return
        first = not self.has_ref
        tr, tr0 = self._transit(v)
        tr[:nloc, 0:3] = (xloc - o1) @ inv1  # reduced positions now (or averaged)
        if first:
            state[:nloc, 0:3] = tr[:nloc, 0:3]
            self.H0, self.o0 = H1.copy(), o1.copy()
        # ghosts get their owners' reduced positions now (and reference positions):
        # ghost x may be stale here, e.g. after fix deform remapped the owners this step
        self._tick("prepare")
        if self._transit_in_out:  # positions (output columns) + reference positions: adjacent
            v = yield ForwardComm(0, self.nout + 3)
        elif self.nstate == _MSD:  # reference (state columns) + positions (scratch): adjacent
            v = yield ForwardComm(self.nout, _MSD + 3)
        else:  # the msd / average columns lie between them
            v = yield ForwardComm(self.nout, 3)
            v = yield ForwardComm(tr0, 3)
        self._tick("comm_positions")
        out, state = v.out, v.state
        x = self._positions(v, H1, o1, inv1, xloc if self.average else None)
        del xloc
        tcodes = self.type_codes[v.type[:m]]
        if np.any(tcodes < 0):
            raise SoftscopeError("an atom has a type mapped to NULL in 'elements'")
        natoms = self.capi().natoms()
        density = natoms / abs(np.linalg.det(H1))
        extra = None
        if msd is not None:
            extra = {"msd": np.concatenate([msd, np.full(m - nloc, np.nan)])}
        self._tick("ghost_positions")
        if self._linear is not None:
            # Linear model: S_i = b + p_0(i) + Σ_k cg_k(p_k)(i), because coarse-graining is
            # a mean, so w·z(cg(raw)) = cg(w·z(raw)) with the cg block's mean and scale.
            # The same terms as Model.predict, summed in another order (~1e-13); ghosts
            # need only the n_cg projections, not the raw columns.  The projections come
            # from fused kernels (no (nlocal, n_raw) matrix, no stored pair list).
            proj = self._project(x, tcodes, nloc, density, extra)
            del tcodes, extra
            self._tick("raw_features")
            ncg = proj.shape[1] - 1
            self._transit(v)[0][:nloc, :ncg] = proj[:, 1:]
            p0 = proj[:, 0].copy()
            del proj
            v = yield ForwardComm(tr0, ncg)
            self._tick("comm_raw")
            out, state = v.out, v.state
            pred = self._linear[2] + p0
            pred += self.dspec.coarse_grain_diagonal(x, self._transit(v)[0][:m, :ncg], nloc)
            self._tick("coarse_grain")
        elif self.dspec.coarse_grain:
            raw = self.dspec.compute_raw_points(x, tcodes, nloc, density=density, extra=extra)
            self._tick("raw_features")
            self._transit(v)[0][:nloc, : self.n_raw] = raw
            # ghosts get their owners' raw features: no feature work on ghosts
            v = yield ForwardComm(tr0, self.n_raw)
            self._tick("comm_raw")
            out, state = v.out, v.state
            feats = self.dspec.coarse_grain_points(x, self._transit(v)[0][:m, : self.n_raw], nloc)
            self._tick("coarse_grain")
            pred = self.model.predict_features(feats)
            self._tick("predict")
        else:
            raw = self.dspec.compute_raw_points(x, tcodes, nloc, density=density, extra=extra)
            self._tick("raw_features")
            pred = self.model.predict_features(raw)
            self._tick("predict")
        ing = (v.mask[:nloc] & self.groupbit) != 0
        if msd is not None:
            out[:nloc, 3] = np.where(ing, msd, np.nan)
        out[:nloc, 0] = np.where(ing, pred, np.nan)
        if first:
            state[:nloc, 3] = out[:nloc, 0]
            self.has_ref = True
            self.ref_step = v.step
        out[:nloc, 1] = np.where(ing, state[:nloc, 3], np.nan)
        if self.R:
            self._tick()
            d2 = self._d2min(v, x, H1, o1, pbc, first)
            out[:nloc, 2] = np.where(ing, d2, np.nan)
            self._tick("d2min")
        else:
            out[:nloc, 2] = np.nan
        self._global(v, ing, empty_window=first)
        self._tick("global_metrics")
        self.n_evals += 1
        step = v.step
        renew = self.renew_requested or (
            self.ref_every > 0 and step % self.ref_every == 0 and step != self.ref_step
        )
        if renew and not first:
            self._store_reference(v, x, H1, o1)
        self.renew_requested = False
        self._tick("finish")
        self._prof_flush(v)

    def _transit(self, v: AtomView) -> tuple[np.ndarray, int]:
        """The transit columns (array view, first column's index for ForwardComm): the
        output columns when they are enough, else the scratch columns."""
        if self._transit_in_out:
            return v.out, 0
        return v.scratch, self.nout + self.nstate

    def _linear_blocks(self):
        """The model's :meth:`~softscope.models.model.Model.linear_blocks` (coef, const,
        bias) when it is linear with coarse-graining (the projected path); else None.

        SOFTSCOPE_FIX_FULL_FEATURES=1 forces the general path (all features, any model);
        SOFTSCOPE_FIX_UNFUSED=1 computes the raw matrix and projects it with numpy
        (the pre-fusion path, kept for A/B timing).
        """
        if not self.dspec.coarse_grain or os.environ.get("SOFTSCOPE_FIX_FULL_FEATURES", "") not in (
            "",
            "0",
        ):
            return None
        return self.model.linear_blocks()

    def _project(self, x, tcodes, nloc, density, extra) -> np.ndarray:
        """(nloc, 1 + n_cg): p_k(i) = Σ_f w_kf (raw_f(i) − m_kf) / s_kf for each block k."""
        coef, const, _b = self._linear
        if os.environ.get("SOFTSCOPE_FIX_UNFUSED", "") not in ("", "0"):
            raw = self.dspec.compute_raw_points(x, tcodes, nloc, density=density, extra=extra)
            if not np.isfinite(raw).all():
                raise SoftscopeError("features contain NaN or inf")
            return raw @ coef.T + const
        from softscope.descriptors.projection import projection_from_points

        return projection_from_points(
            self.dspec, x, tcodes, nloc, coef, const, density=density, extra=extra
        )

    # ------------------------------------------------------------------ msd window
    def sample(self, v: AtomView):
        """Per-step sampling: the msd window (every ``sample`` steps) and the averaging
        window (every step of the K steps up to an evaluation)."""
        if self.use_msd and v.step % self.msd_every == 0:
            self._sample_msd(v)
        if self.average:
            self._sample_average(v)

    def _unwrapped(self, v: AtomView, H: np.ndarray) -> np.ndarray:
        """(nloc, 3) unwrapped positions x + (ix, iy, iz)·H (as dump ``xu yu zu``)."""
        from softscope.lammps_fix.bridge import unpack_image

        nloc = v.nlocal
        return v.x[:nloc] + unpack_image(v.image[:nloc]) @ H

    def _sample_average(self, v: AtomView) -> None:
        """Add each local atom's unwrapped position to its averaging window when this step
        is one of the K steps (t - K, t] before the next evaluation step t; the window
        restarts at its first step, or whenever a step was missed (a new run, a restart
        elsewhere): such a window is incomplete at t and gives no evaluation."""
        step, n, k = v.step, self.nevery, self.average
        t = -(-step // n) * n
        if step <= t - k:
            return
        nloc = v.nlocal
        H, _o, _pbc = self._box()
        xu = self._unwrapped(v, H)
        a = self._avg0
        st = v.state
        if step == t - k + 1 or self.avg_last_step != step - 1:
            st[:nloc, a : a + 3] = xu
            st[:nloc, a + 3 : a + 7] = 0.0
        st[:nloc, a + 3 : a + 6] += xu - st[:nloc, a : a + 3]
        st[:nloc, a + 6] += 1.0
        self.avg_last_step = step

    def _take_average(self, v: AtomView, H: np.ndarray):
        """(nloc, 3) each local atom's position averaged over the window that ends at this
        step, placed at the same periodic image as its current position; None when that
        window is incomplete (e.g. at the setup of the first run)."""
        nloc = v.nlocal
        a = self._avg0
        st = v.state
        cnt = st[:nloc, a + 6]
        ok = self.avg_last_step == v.step and (cnt.min() if nloc else self.average) >= self.average
        if self._allreduce(0 if ok else 1, "SUM") > 0:
            return None
        mean_u = st[:nloc, a : a + 3] + st[:nloc, a + 3 : a + 6] / cnt[:, None]
        return v.x[:nloc] + (mean_u - self._unwrapped(v, H))

    def _sample_msd(self, v: AtomView) -> None:
        """Add every local atom's unwrapped position to its msd window."""
        from softscope.lammps_fix.bridge import unpack_image

        nloc = v.nlocal
        H, _o, _pbc = self._box()
        st = v.state
        xu = v.x[:nloc] + unpack_image(v.image[:nloc]) @ H
        cnt = st[:nloc, _MSD + 7]
        new = cnt == 0
        if new.any():
            anchor = st[:nloc, _MSD : _MSD + 3]
            anchor[new] = xu[new]
        d = xu - st[:nloc, _MSD : _MSD + 3]
        st[:nloc, _MSD + 3 : _MSD + 6] += d
        st[:nloc, _MSD + 6] += np.einsum("ij,ij->i", d, d)
        st[:nloc, _MSD + 7] += 1.0

    def _take_msd(self, v: AtomView):
        """msd (nloc,) of the current window (then emptied), the previous one, or None."""
        nloc = v.nlocal
        st = v.state
        cnt = st[:nloc, _MSD + 7]
        full = int(self._allreduce(int(cnt.min()) if nloc else 1 << 30, "MIN")) >= 2
        if full:
            n = cnt
            mean_d = st[:nloc, _MSD + 3 : _MSD + 6] / n[:, None]
            st[:nloc, _MSD + 8] = st[:nloc, _MSD + 6] / n - np.einsum("ij,ij->i", mean_d, mean_d)
            st[:nloc, _MSD : _MSD + 8] = 0.0
            self.msd_ready = True
        if not self.msd_ready:
            return None
        return st[:nloc, _MSD + 8].copy()

    def _positions(self, v: AtomView, H1, o1, inv1, xloc=None) -> np.ndarray:
        """(M, 3) positions of the local + ghost atoms, each ghost at its owner's position
        now (owners' reduced positions forwarded in transit columns 0..2) plus the image
        shift of LAMMPS's ghost.  When LAMMPS's ghost positions already are exactly that
        (to 1e-9 of the box: everything but a box change at end_of_step, e.g. fix deform
        with remap), they are used in place, without a copy of the (M, 3) array: a view of
        LAMMPS's x, only ever read.  ``xloc``: the local atoms' positions to use (averaged
        positions; default LAMMPS's x)."""
        nloc, m = v.nlocal, v.ntotal
        own = v.x[:nloc] if xloc is None else xloc
        s_own = self._transit(v)[0][nloc:m, 0:3]
        image = np.rint((v.x[nloc:m] - o1) @ inv1 - s_own)
        image += s_own
        ghosts = image @ H1
        del image, s_own
        ghosts += o1
        tol = 1e-9 * float(np.abs(H1).max())
        fresh = (
            xloc is None
            and self._allreduce(
                float(np.abs(ghosts - v.x[nloc:m]).max()) if m > nloc else 0.0, "MAX"
            )
            <= tol
        )
        if fresh and v.x[:m].flags.c_contiguous:
            return v.x[:m]
        x = np.empty((m, 3))
        x[:nloc] = own
        x[nloc:] = ghosts
        return x

    def _store_reference(self, v: AtomView, x, H, o) -> None:
        nloc, m = v.nlocal, v.ntotal
        s_now = (x[:m] - o) @ np.linalg.inv(H)
        v.state[:nloc, 0:3] = s_now[:nloc]
        v.state[:nloc, 3] = v.out[:nloc, 0]
        self.H0, self.o0 = H.copy(), o.copy()
        self.has_ref = True
        self.ref_step = v.step
        if self.R:  # reference neighbour counts of the new reference (ghosts: their s now)
            uniq = self._unique_atoms(v.tag[:m], nloc)
            _d2, counts = self._d2min_present(s_now[uniq], x[uniq], H, nloc)
            v.state[:nloc, _NREF] = counts

    @staticmethod
    def _unique_atoms(tags: np.ndarray, nloc: int) -> np.ndarray:
        """Point indices: the local atoms, then one copy of every other atom present."""
        _u, first = np.unique(tags, return_index=True)
        ghosts = first[first >= nloc]
        return np.concatenate([np.arange(nloc, dtype=np.int64), np.sort(ghosts)])

    def _d2min_present(self, s_ref, x_now, H1, nq: int):
        """D²min and reference neighbour counts of atoms [:nq] among the atoms given (their
        reference reduced positions ``s_ref`` in the reference cell, current positions
        ``x_now``, any image): reference neighbours by a periodic search in the reference
        cell, current vectors by the minimum image in H1 (box flips change nothing)."""
        from softscope.neighbors import cell_walk, image_points
        from softscope.rearrangement import d2min_min_image

        pbc = self._pbc
        pts, point_atom = image_points(s_ref, self.H0, self.o0, pbc, self.R)
        walk = cell_walk(pts, self.R, n_query=nq)
        del pts
        d2, _invalid, counts = d2min_min_image(walk, point_atom, x_now, H1, pbc, nq, self.R)
        return d2, counts

    def _d2min(self, v: AtomView, x, H1, o1, pbc, first: bool = False) -> np.ndarray:
        """D²min since the reference of the local atoms, exactly OVITO's convention
        (reference neighbours within R, current vectors by the minimum image), from the
        atoms present on this rank; reference neighbours that moved beyond the ghost shell
        are fetched from their owners (every atom stores its reference neighbour count, so
        a missing one is noticed)."""
        nloc, m = v.nlocal, v.ntotal
        self._pbc = pbc
        wmin = min(_widths(H1)[pbc].min(initial=np.inf), _widths(self.H0)[pbc].min(initial=np.inf))
        if 2.0 * self.R >= wmin:
            msg = (
                f"d2min {self.R} is not below half the smallest periodic box width "
                f"{wmin:.4g}; D²min needs a larger box (replicate it) or a smaller R"
            )
            if self.n_evals == 0:
                raise SoftscopeError(msg)
            self._warn_once("halfbox", msg + "; D²min is NaN until then")
            return np.full(nloc, np.nan)
        st = v.state
        uniq = self._unique_atoms(v.tag[:m], nloc)
        s_ref = st[uniq, 0:3]
        x_now = x[uniq]
        d2, counts = self._d2min_present(s_ref, x_now, H1, nloc)
        if first:  # the reference was stored in this evaluation: its neighbour counts
            st[:nloc, _NREF] = counts
            return d2
        short = counts < st[:nloc, _NREF]
        if self._allreduce(int(np.count_nonzero(short)), "SUM") == 0:
            return d2
        # some reference neighbours are not among this rank's atoms: fetch them by
        # reference position from their owners (every rank answers for its own atoms)
        rec = self._fetch_reference_neighbours(v, st[:nloc, 0:3][short], x)
        have = set(v.tag[uniq].tolist())
        new = np.array([t not in have for t in rec[:, 0].astype(np.int64).tolist()], bool)
        rec = rec[new]
        if self._prof_path is not None:  # diagnosis: atoms fetched by this rank
            self._prof["n_fetched"] = self._prof.get("n_fetched", 0) + int(rec.shape[0])
        if rec.shape[0]:
            s_ref = np.concatenate([s_ref, rec[:, 1:4]])
            x_now = np.concatenate([x_now, rec[:, 4:7]])
            d2, counts = self._d2min_present(s_ref, x_now, H1, nloc)
        still = counts < st[:nloc, _NREF]
        if still.any():  # cannot happen unless atoms were lost: never a silent number
            self._warn_once(
                "lost",
                f"{int(still.sum())} atom(s) miss reference neighbours that no rank "
                "holds; their D²min is NaN",
            )
            d2[still] = np.nan
        return d2

    def _fetch_reference_neighbours(self, v: AtomView, s_query: np.ndarray, x) -> np.ndarray:
        """Rows (tag, reference s (3), position now (3)) of every atom, on any rank, within
        R in the reference configuration of any rank's query positions ``s_query``."""
        from softscope.neighbors import build_from_points, image_points

        nloc = v.nlocal
        comm = self.comm()
        q = comm.allgather_rows(np.ascontiguousarray(s_query))
        nq = q.shape[0]
        own, own_atom = image_points(v.state[:nloc, 0:3], self.H0, self.o0, self._pbc, self.R)
        qw = q.copy()
        for k in range(3):
            if self._pbc[k]:
                qw[:, k] -= np.floor(qw[:, k])
        qpts = self.o0 + qw @ self.H0
        nl = build_from_points(np.concatenate([qpts, own]), nq, self.R)
        hit = nl.neigh[nl.neigh >= nq].astype(np.int64) - nq
        mine = np.unique(own_atom[hit])
        rows = (
            np.column_stack([v.tag[mine].astype(np.float64), v.state[mine, 0:3], x[mine]])
            if mine.size
            else np.zeros((0, 7))
        )
        return comm.allgather_rows(rows)

    def _warn_once(self, key: str, msg: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        if self.rank == 0:  # on the screen, beside LAMMPS's own warnings
            import sys

            sys.stdout.write(f"WARNING: fix softscope {self.fix_id}: {msg}\n")
            sys.stdout.flush()

    def _global(self, v: AtomView, ing, empty_window: bool = False) -> None:
        nloc = v.nlocal
        out = v.out
        comm = self.comm()
        p_now = out[:nloc, 0][ing]
        mine = np.array([p_now.sum(), np.count_nonzero(p_now > self.model.threshold), p_now.size])
        tot = self._allreduce(mine, "SUM")
        mean = tot[0] / tot[2] if tot[2] else _NAN
        frac = tot[1] / tot[2] if tot[2] else _NAN
        auc = rho = _NAN
        if self.R and not empty_window:
            # a window in which nothing moved (e.g. a second `run 0`): D²min is rounding
            # noise, and ranking noise would report a meaningless ROC-AUC
            d2_loc = out[:nloc, 2][ing]
            d2_loc = d2_loc[np.isfinite(d2_loc)]
            top = self._allreduce(float(d2_loc.max()) if d2_loc.size else 0.0, "MAX")
            empty_window = top <= (_D2_NOISE * self.R) ** 2
        if self.R and not empty_window:
            # rank 0 gets every atom's (frozen prediction, D²min, id) and computes the
            # ROC-AUC (D²min ties at the top-q threshold go to the lower ids, as offline in
            # id order); rank 1 (or rank 0 alone) gets (prediction, D²min) for the Spearman
            # correlation.  Rank order, not id order: both are rank statistics.
            p, d2 = out[:nloc, 1][ing], out[:nloc, 2][ing]
            r_rho = min(1, self.nprocs - 1)
            got = comm.gather_vectors((p, d2, v.tag[:nloc][ing]), root=0)
            if r_rho != 0:
                got_rho = comm.gather_vectors((p, d2), root=r_rho)
                if self.rank == r_rho:
                    got = got_rho
            del p, d2
            if self.rank == 0:
                part = _auc_spearman(got[0], got[1], self.q, True, r_rho == 0, ids=got[2])
            elif self.rank == r_rho:
                part = _auc_spearman(got[0], got[1], self.q, False, True)
            else:
                part = (0.0, 0.0)
            got = None
            auc, rho = comm.allreduce(np.array(part), "SUM") if self.nprocs > 1 else part
        self.vector = [float(auc), float(rho), float(mean), float(frac)]

    def compute_scalar(self) -> float:
        return float(self.n_evals)

    def compute_vector(self, i: int) -> float:
        return self.vector[i]

    # ------------------------------------------------------------------ restart
    def state(self) -> dict:
        return {
            "model_spec": self.dspec.to_json(),
            "model_name": self.model.name,
            "R": self.R,
            "has_ref": self.has_ref,
            "H0": None if self.H0 is None else self.H0.tolist(),
            "o0": None if self.o0 is None else self.o0.tolist(),
            "ref_step": self.ref_step,
            "renew_requested": self.renew_requested,
            "vector": self.vector,
            "n_evals": self.n_evals,
            "msd_ready": self.msd_ready,
            "sample_every": self.sample_every,
            "average": self.average,
            "avg_last_step": self.avg_last_step,
        }

    def set_state(self, st: dict) -> None:
        if st.get("model_spec") != self.dspec.to_json():
            raise SoftscopeError(
                f"restart state was written by fix {self.fix_id} with model "
                f"{st.get('model_name')!r} and another descriptor spec; use the same model"
            )
        if st.get("R") != self.R:
            raise SoftscopeError(f"restart state has d2min {st.get('R')}, fix now has {self.R}")
        self.has_ref = bool(st["has_ref"])
        self.H0 = None if st["H0"] is None else np.array(st["H0"], float)
        self.o0 = None if st["o0"] is None else np.array(st["o0"], float)
        self.ref_step = int(st["ref_step"])
        self.renew_requested = bool(st["renew_requested"])
        self.vector = [float(x) for x in st["vector"]]
        self.n_evals = int(st["n_evals"])
        if int(st.get("sample_every", 0)) != self.sample_every:
            raise SoftscopeError(
                f"restart state has sample {st.get('sample_every')}, fix now has "
                f"{self.sample_every}; use the same sampling interval"
            )
        self.msd_ready = bool(st.get("msd_ready", False))
        if int(st.get("average", 0)) != self.average:
            raise SoftscopeError(
                f"restart state has average {st.get('average', 0)}, fix now has "
                f"{self.average}; use the same averaging window"
            )
        self.avg_last_step = int(st.get("avg_last_step", -1))
