"""``fix softscope ... model NAME``: evaluate a softscope model inside a LAMMPS run.

A thin adapter (no science of its own): predictions come from the model's
:class:`~softscope.models.evaluator.Evaluator` (the route of ``Model.predict`` and the
OVITO modifiers): its local step runs on the **local** atoms with the ghosts as
neighbours, its transit columns (per-atom values the neighbours' coarse-graining needs)
go to the ghosts by one forward communication of the ``features`` columns, and its
finishing step gives the predictions, so ghosts need only reach max(raw cutoff, r_cg)
and no ghost features are computed.  D²min from
:func:`softscope.rearrangement.d2min_min_image` (OVITO's convention, no stored pairs), the
live judgement from :func:`softscope.metrics.roc_auc` and Spearman as in
:func:`softscope.metrics.judge`; the msd and averaging windows are
:class:`softscope.position_windows.PositionWindows`.

Per-atom columns: :func:`softscope.lammps_fix.columns.model_columns` (outputs
``f_ID[1..3]`` or ``[1..4]``, state that migrates and goes to restarts, transit columns
valid within one evaluation).  Atoms outside the fix group get NaN in every output.

Vibrational MSD (external block ``msd``): every K steps (keyword ``sample K``, default
10; at end_of_step, before an evaluation on the same step) the fix adds each atom's
unwrapped position r (LAMMPS image flags, ``x + (ix, iy, iz)·H`` as dump ``xu yu zu``)
to a per-atom window.  At an evaluation whose window holds >= 2 samples on every atom,
msd = mean over the window's samples of |r − <r>|² (length²), and the window restarts
empty.  With fewer samples the msd of the previous window is kept; before the first
complete window predictions are NaN and no reference is stored (the first reference is
taken at the first evaluation with an msd).

Reference: stored at the first evaluation; renewed *after* the evaluation at every
step that is a multiple of ``reference M`` (M > 0), and after the next evaluation
following ``fix_modify ID reference now``.  So an evaluation that renews the reference
still reports the window that it closes.
"""

from __future__ import annotations

import math

import numpy as np

from softscope.errors import SoftscopeError
from softscope.frame import cell_widths
from softscope.lammps_fix.base import SoftscopeFix
from softscope.lammps_fix.columns import model_columns
from softscope.lammps_fix.comm import fix_comm
from softscope.lammps_fix.keywords import (
    PER_TYPE,
    Keyword,
    feature_refs,
    fraction,
    positive_float,
    positive_int,
    positive_or_zero_float,
)
from softscope.lammps_fix.outputs import GLOBAL_VECTOR
from softscope.lammps_fix.profiling import PhaseProfiler
from softscope.lammps_fix.protocol import AtomView, PluginLayout, unpack_image
from softscope.position_windows import BlockAverage, CellAverage, PositionWindows

__all__ = ["ModelFix"]

_NAN = float("nan")
#: external per-atom features the fix measures in-run
_PROVIDED_EXTERNAL = ("msd",)
#: D²min at or below (this x R)² everywhere is rounding noise (a re-evaluated configuration)
_D2_NOISE = 1e-9


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
    from softscope.metrics import finite_pairs, roc_auc, spearman
    from softscope.rearrangement import top_fraction

    try:
        p, m = finite_pairs(prediction, measure)
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


# --------------------------------------------------------------------------- keywords
def _model(kw: str, vals: list[str]) -> str:
    return vals[0]


def _elements(kw: str, vals: list[str]) -> list[str]:
    if not vals:
        raise SoftscopeError(f"keyword {kw} needs one element name (or NULL) per atom type")
    return list(vals)


def _reference(kw: str, vals: list[str]) -> int:
    try:
        m = int(vals[0])
    except ValueError:
        raise SoftscopeError(
            f"reference M needs an integer number of steps (0 = only once), got {vals[0]!r}"
        ) from None
    if m < 0:
        raise SoftscopeError(f"reference M must be >= 0, got {m}")
    return m


class ModelFix(SoftscopeFix):
    """Model prediction, frozen reference prediction and D²min per atom; live metrics."""

    selector = "model"
    mode = "model"
    KEYWORDS = (
        Keyword(
            "model",
            1,
            _model,
            None,
            "NAME_OR_PATH",
            "zoo name or path of a softscope model file (.ssm) (required)",
        ),
        Keyword(
            "elements",
            PER_TYPE,
            _elements,
            None,
            "E1 E2 ...",
            "element of each atom type, like pair_coeff (NULL allowed)",
        ),
        Keyword(
            "d2min",
            1,
            positive_float,
            None,
            "R",
            "also compute D²min (OVITO's convention) with neighbours within R (length units) "
            "in the reference configuration",
        ),
        Keyword(
            "reference",
            1,
            _reference,
            0,
            "M",
            "renew the reference every M timesteps (0 = only at the first evaluation)",
            requires="d2min",
        ),
        Keyword(
            "q",
            1,
            fraction,
            0.05,
            "q",
            "fraction of atoms with the highest D²min that count as rearranging (0 < q < 1)",
            requires="d2min",
        ),
        Keyword(
            "margin",
            1,
            positive_or_zero_float,
            0.0,
            "dR",
            "extra ghost reach for D²min beyond R (length units)",
            requires="d2min",
        ),
        Keyword(
            "sample",
            1,
            positive_int("msd sampling interval in steps"),
            None,
            "K",
            "models with an in-run msd feature: add every atom's unwrapped position to its "
            "MSD window every K timesteps (default 10)",
        ),
        Keyword(
            "features",
            PER_TYPE,
            feature_refs,
            None,
            "NAME REF ...",
            "the model's external per-atom features from the run: NAME is a feature of the "
            "model (e.g. pe), REF a per-atom c_ID, c_ID[k], f_ID, f_ID[k] or v_name read at "
            "each evaluation",
        ),
        Keyword(
            "average",
            1,
            positive_int("steps of the position average before each evaluation"),
            0,
            "K",
            "evaluate on each atom's unwrapped position averaged over the K timesteps up to "
            "the evaluation, in the box averaged over the same steps (K <= N, or a "
            "multiple of N)",
        ),
        Keyword(
            "drift",
            1,
            positive_or_zero_float,
            None,
            "dR",
            "with average K: extra ghost reach for averaged positions that lie away from "
            "the current ones (length units; default 0.5 x the model's ghost cutoff)",
            requires="average",
        ),
        *SoftscopeFix.KEYWORDS,
    )

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        from softscope.models.model import load_model

        self.model = load_model(self.opts["model"])
        self.dspec = self.model.spec
        # external features read from the run (features NAME REF ...), the rest measured
        self.feature_refs = dict(self.opts["features"] or {})
        stray = [n for n in self.feature_refs if n not in self.dspec.external]
        if stray:
            raise SoftscopeError(
                f"features {stray}: model {self.model.name!r} has no such external feature "
                f"(its external features: {list(self.dspec.external) or 'none'})"
            )
        unknown = [
            e
            for e in self.dspec.external
            if e not in _PROVIDED_EXTERNAL and e not in self.feature_refs
        ]
        if unknown:
            hint = " ".join(f"{e} c_ID" for e in unknown)
            raise SoftscopeError(
                f"model {self.model.name!r} needs external per-atom features {unknown}; map "
                f"each to a per-atom quantity of the run with 'features {hint}' (c_ID, "
                f"c_ID[k], f_ID, f_ID[k] or v_name; e.g. compute pe/atom for pe)"
            )
        self.use_msd = "msd" in self.dspec.external and "msd" not in self.feature_refs
        if self.use_msd:
            self.msd_every = self.opts["sample"] or 10
            self.sample_every = self.msd_every
        elif "sample" in self.opts.given:
            raise SoftscopeError(
                f"keyword sample is for models with an in-run msd feature; model "
                f"{self.model.name!r} has none"
            )
        # average K: every computation on each atom's position averaged over the K steps
        # up to the evaluation
        # (one block of samples for K <= N, K / N blocks of N steps for longer averages)
        self.average = self.opts["average"]
        self.avg_blocks = 0
        if self.average:
            n, k = self.nevery, self.average
            if k > n and k % n:
                raise SoftscopeError(
                    f"average {k} is longer than the evaluation interval N = {n} and not a "
                    f"multiple of it; use average K with K <= N or K a multiple of N (e.g. "
                    f"{k // n * n} or {-(-k // n) * n})"
                )
            self.avg_blocks = max(1, k // n)
            self.sample_every = 1  # the fix samples each step of a window (cheap)
        self.avg_last_step = -1
        self.avg_cell = CellAverage(max(1, self.avg_blocks))
        self.evaluator = self.model.evaluator
        # columns sent to the ghosts between the evaluator's two steps
        self.layout = model_columns(self.evaluator.transit_width, self.use_msd, self.avg_blocks)
        self.msd_ready = False
        self.profile = PhaseProfiler.from_env()
        self.elements = self.opts["elements"]
        self.R = self.opts["d2min"]
        self.ref_every = self.opts["reference"]
        self.q = self.opts["q"]
        # optional: extra ghost reach beyond R (fewer reference neighbours to fetch by id)
        self.margin = self.opts["margin"]
        # with averaging: extra ghost reach for averaged positions away from current ones
        self.drift = 0.0
        if self.average:
            drift = self.opts["drift"]
            self.drift = 0.5 * self._base_ghost_cutoff() if drift is None else float(drift)
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
        self.vector = [_NAN] * len(GLOBAL_VECTOR)
        self.n_evals = 0
        self._mpi = None
        self._pbc = np.ones(3, bool)

    # ------------------------------------------------------------------ protocol
    def plugin_layout(self) -> PluginLayout:
        """Columns (:attr:`layout`), intervals, ghost reach; 4 global vector entries."""
        return PluginLayout(
            self.nout,
            self.nstate,
            self.nevery,
            self.ghost_cutoff(),
            1,
            len(GLOBAL_VECTOR),
            0,
            self.nscratch,
            self.sample_every,
        )

    def _base_ghost_cutoff(self) -> float:
        """max(raw cutoff, r_cg, R + margin): the reach of one evaluation on positions."""
        need = self.dspec.split_ghost_cutoff
        if self.R:
            need = max(need, self.R + self.margin)
        return float(need)

    def ghost_cutoff(self) -> float:
        """Ghost reach: max(raw cutoff, r_cg, R + margin) (+ drift with ``average K``);
        ghosts get raw features by communication, so the coarse-graining radius does not
        add to the raw cutoff."""
        return self._base_ghost_cutoff() + self.drift

    def model_reach(self) -> float:
        """Distance an atom's outputs depend on (raw cutoff + r_cg, or D²min's R + margin)."""
        need = self.model.cutoff
        if self.R:
            need = max(need, self.R + self.margin)
        return float(need)

    def comm(self):
        """Collectives on the fix's communicator (the plugin's MPI, no mpi4py)."""
        if self._mpi is None:
            self._mpi = fix_comm(self.fortran_comm, self.rank, self.nprocs)
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

    def evaluate(self, v: AtomView):
        prof, lay = self.profile, self.layout
        prof.start()
        nloc, m = v.nlocal, v.ntotal
        H1, o1, pbc = self._box()
        self._check_width(H1, pbc)
        self._pbc = pbc
        msd = None
        xloc = v.x[:nloc]
        incomplete = None
        if self.use_msd:
            msd = self._take_msd(v)
        if self.average:
            got = self._take_average(v, H1, o1)
            if got is None:
                xloc = None
            else:  # every computation on the averaged positions in the averaged box
                xloc, H1, o1, incomplete = got
                self._check_width(H1, pbc)
        inv1 = np.linalg.inv(H1)
        if (self.use_msd and msd is None) or xloc is None:
            # no complete window yet (msd, averaged positions): nothing to predict from
            v.out[:nloc, :] = np.nan  # every output
            self.vector = [_NAN] * len(GLOBAL_VECTOR)
            self.n_evals += 1
            self.renew_requested = self.renew_requested and self.has_ref
            return
        first = not self.has_ref
        pos = lay.of(v, "positions")
        pos[:nloc] = (xloc - o1) @ inv1  # reduced positions now (or averaged)
        if first:
            lay.of(v, "ref_position")[:nloc] = pos[:nloc]
            self.H0, self.o0 = H1.copy(), o1.copy()
        # ghosts get their owners' reduced positions now (and reference positions):
        # ghost x may be stale here, e.g. after fix deform remapped the owners this step
        prof.tick("prepare")
        for req in lay.forward("positions", "ref_position"):
            v = yield req
        prof.tick("comm_positions")
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
        if self.feature_refs:
            extra = extra or {}
            capi = self.capi()
            for name, ref in self.feature_refs.items():
                vals = capi.peratom(ref, nloc)
                if not np.all(np.isfinite(vals)):
                    raise SoftscopeError(f"features {name} {ref}: non-finite per-atom values")
                extra[name] = np.concatenate([vals, np.full(m - nloc, np.nan)])
        prof.tick("ghost_positions")
        ev = self.evaluator
        transit, partial = ev.local(x, tcodes, nloc, density=density, extra=extra)
        del tcodes, extra
        if incomplete is not None:
            # outputs that may depend on incomplete neighbourhoods: NaN, never a wrong
            # number (their raw features are finite placeholders here)
            if ev.transit_width:
                transit[incomplete] = 0.0
            incomplete = self._affected(v, x, H1, o1, incomplete)
        prof.tick("raw_features")
        if ev.transit_width:
            lay.of(v, "features")[:nloc] = transit
            del transit
            for req in lay.forward("features"):
                v = yield req
            prof.tick("comm_raw")
            transit = lay.of(v, "features")[:m]
        pred = ev.finish(x, transit, nloc, partial)
        del transit, partial
        if incomplete is not None:
            pred[incomplete] = np.nan
        prof.tick("coarse_grain")
        ing = (v.mask[:nloc] & self.groupbit) != 0
        if msd is not None:
            lay.of(v, "msd")[:nloc] = np.where(ing, msd, np.nan)
        prediction = lay.of(v, "prediction")
        prediction[:nloc] = np.where(ing, pred, np.nan)
        ref_prediction = lay.of(v, "ref_prediction")
        if first:
            ref_prediction[:nloc] = prediction[:nloc]
            self.has_ref = True
            self.ref_step = v.step
        lay.of(v, "prediction_ref")[:nloc] = np.where(ing, ref_prediction[:nloc], np.nan)
        if self.R:
            prof.tick()
            d2 = self._d2min(v, x, H1, o1, pbc, first)
            lay.of(v, "d2min")[:nloc] = np.where(ing, d2, np.nan)
            prof.tick("d2min")
        else:
            lay.of(v, "d2min")[:nloc] = np.nan
        self._global(v, ing, empty_window=first)
        prof.tick("global_metrics")
        self.n_evals += 1
        step = v.step
        renew = self.renew_requested or (
            self.ref_every > 0 and step % self.ref_every == 0 and step != self.ref_step
        )
        if renew and not first:
            self._store_reference(v, x, H1, o1)
        self.renew_requested = False
        prof.tick("finish")
        prof.flush(
            {"step": v.step, "rank": self.rank, "nlocal": v.nlocal, "nghost": v.nghost},
            modules=self.n_evals <= 1,  # which heavy packages the embedded interpreter holds
        )

    # ------------------------------------------------------------------ position windows
    def sample(self, v: AtomView):
        """Per-step sampling: the msd window (every ``sample`` steps) and the averaging
        window (every step of the K steps up to an evaluation)."""
        if self.use_msd and v.step % self.msd_every == 0:
            self._sample_msd(v)
        if self.average:
            self._sample_average(v)

    def _unwrapped(self, v: AtomView, H: np.ndarray) -> np.ndarray:
        """(nloc, 3) unwrapped positions x + (ix, iy, iz)·H (as dump ``xu yu zu``)."""
        nloc = v.nlocal
        return v.x[:nloc] + unpack_image(v.image[:nloc]) @ H

    def _msd_window(self, v: AtomView) -> PositionWindows:
        """The local atoms' msd window (with second moment)."""
        return PositionWindows(self.layout.of(v, "msd_window")[: v.nlocal], True)

    def _check_width(self, H: np.ndarray, pbc: np.ndarray) -> None:
        widths = cell_widths(H)
        reach = self.model_reach()
        if np.any(pbc & (widths < reach)):
            raise SoftscopeError(
                f"the fix needs neighbours within {reach:.4g} (model cutoff "
                f"{self.model.cutoff:.4g}, d2min {self.R}), larger than the periodic box width "
                f"{widths[pbc].min():.4g}; use a larger box (replicate) or a model with a "
                "shorter cutoff"
            )

    def _affected(self, v: AtomView, x, H, o, bad: np.ndarray) -> np.ndarray:
        """Local atoms whose outputs depend on an atom of ``bad`` (on any rank): the bad
        ones and those within the coarse-graining radius of one (minimum image in H)."""
        nloc = v.nlocal
        r_cg = max(self.dspec.coarse_grain) if self.dspec.coarse_grain else 0.0
        out = bad.copy()
        if r_cg <= 0.0:
            return out
        inv = np.linalg.inv(H)
        s_loc = (x[:nloc] - o) @ inv
        s_bad = self.comm().allgather_rows(np.ascontiguousarray(s_loc[bad]))
        for lo in range(0, s_bad.shape[0], 32):
            ds = s_loc[:, None, :] - s_bad[None, lo : lo + 32, :]
            ds -= np.where(self._pbc, np.rint(ds), 0.0)
            r2 = np.einsum("ijk,ijk->ij", ds @ H, ds @ H)
            out |= (r2 <= r_cg * r_cg).any(axis=1)
        return out

    def _averages(self, v: AtomView) -> BlockAverage:
        return BlockAverage(self.layout.of(v, "average_window")[: v.nlocal], self.avg_blocks)

    def _sample_average(self, v: AtomView) -> None:
        """Add each local atom's unwrapped position (and the box) to the averaging window
        when this step is one of the K steps (t - K, t] before an evaluation step t.  The
        window is a ring of blocks, block (t / N) mod (K / N) for the steps (t - N, t]
        (one block, the steps (t - K, t], for K <= N); a block restarts at its first step,
        and every block whenever a step was missed (a new run, a restart elsewhere): such
        a window is incomplete until K steps were sampled again and gives no evaluation."""
        step, n = v.step, self.nevery
        t = -(-step // n) * n
        first = t - min(self.average, n) + 1
        if step < first:
            return
        H, o, _pbc = self._box()
        avg = self._averages(v)
        b = (t // n) % self.avg_blocks
        if self.avg_last_step != step - 1:
            avg.clear()
            self.avg_cell.clear()
        if step == first:
            avg.window(b).clear()
            self.avg_cell.clear(b)
        avg.window(b).add(self._unwrapped(v, H))
        self.avg_cell.add(b, H, o)
        self.avg_last_step = step

    def _take_average(self, v: AtomView, H: np.ndarray, o: np.ndarray):
        """(positions (nloc, 3), cell, origin, incomplete) of the window that ends at this
        step: each local atom's averaged position (at the periodic image of its current
        position) in the averaged box, and the local atoms whose neighbours in that frame
        may lie beyond the ghost shell (their outputs are NaN, with a warning); None when
        the window is incomplete (e.g. at the setup of the first run).

        Completeness: an atom's averaged and current positions differ by d (after the
        box's own change), pair vectors by at most d_i + d_j plus the box change e·|r|
        (e: the norm of H_now⁻¹·H_avg − 1), so the neighbours within the base reach r_c
        of an averaged position are ghosts if (r_c + d_i + d_max) / (1 − e) <= r_c + drift.
        """
        nloc = v.nlocal
        avg = self._averages(v)
        cnt = avg.count
        ok = self.avg_last_step == v.step and (cnt.min() if nloc else self.average) >= self.average
        if self._allreduce(0 if ok else 1, "SUM") > 0:
            return None
        Ha, oa = self.avg_cell.mean(H)
        # the unwrapped average less the atom's image in the averaged box: the periodic
        # copy of the averaged position next to the atom's current one
        x = avg.mean() - unpack_image(v.image[:nloc]) @ Ha
        s_now = (v.x[:nloc] - o) @ np.linalg.inv(H)
        s_avg = (x - oa) @ np.linalg.inv(Ha)
        d = np.linalg.norm((s_avg - s_now) @ Ha, axis=1)
        dmax = float(self._allreduce(float(d.max()) if nloc else 0.0, "MAX"))
        e = float(np.linalg.norm(np.linalg.inv(H) @ Ha - np.eye(3), 2))
        rc = self._base_ghost_cutoff()
        bad = (rc + d + dmax) > (rc + self.drift) * (1.0 - e)
        nbad = int(self._allreduce(int(np.count_nonzero(bad)), "SUM"))
        incomplete = None
        if nbad:
            incomplete = bad
            self._warn_once(
                "drift",
                f"{nbad} atom(s) have averaged positions up to {dmax:.3g} away from their "
                f"current ones (box change {e:.3g}), beyond the ghost reach (drift "
                f"{self.drift:.3g}); their outputs (and those coarse-grained over them) are "
                "NaN. Use a larger drift or a shorter average",
            )
        return x, Ha, oa, incomplete

    def _sample_msd(self, v: AtomView) -> None:
        """Add every local atom's unwrapped position to its msd window."""
        H, _o, _pbc = self._box()
        self._msd_window(v).add(self._unwrapped(v, H))

    def _take_msd(self, v: AtomView):
        """msd (nloc,) of the current window (then emptied), the previous one, or None."""
        nloc = v.nlocal
        win = self._msd_window(v)
        last = self.layout.of(v, "msd_last")
        cnt = win.count
        full = int(self._allreduce(int(cnt.min()) if nloc else 1 << 30, "MIN")) >= 2
        if full:
            last[:nloc] = win.msd()
            win.clear()
            self.msd_ready = True
        if not self.msd_ready:
            return None
        return last[:nloc].copy()

    # ------------------------------------------------------------------ positions, D²min
    def _positions(self, v: AtomView, H1, o1, inv1, xloc=None) -> np.ndarray:
        """(M, 3) positions of the local + ghost atoms, each ghost at its owner's position
        now (owners' reduced positions forwarded in the ``positions`` columns) plus the
        image shift of LAMMPS's ghost.  When LAMMPS's ghost positions already are exactly
        that (to 1e-9 of the box: everything but a box change at end_of_step, e.g. fix
        deform with remap), they are used in place, without a copy of the (M, 3) array: a
        view of LAMMPS's x, only ever read.  ``xloc``: the local atoms' positions to use
        (averaged positions; default LAMMPS's x)."""
        nloc, m = v.nlocal, v.ntotal
        own = v.x[:nloc] if xloc is None else xloc
        s_own = self.layout.of(v, "positions")[nloc:m]
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
        lay = self.layout
        s_now = (x[:m] - o) @ np.linalg.inv(H)
        lay.of(v, "ref_position")[:nloc] = s_now[:nloc]
        lay.of(v, "ref_prediction")[:nloc] = lay.of(v, "prediction")[:nloc]
        self.H0, self.o0 = H.copy(), o.copy()
        self.has_ref = True
        self.ref_step = v.step
        if self.R:  # reference neighbour counts of the new reference (ghosts: their s now)
            uniq = self._unique_atoms(v.tag[:m], nloc)
            _d2, counts = self._d2min_present(s_now[uniq], x[uniq], H, nloc)
            lay.of(v, "ref_neighbours")[:nloc] = counts

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
        from softscope.rearrangement import d2min_since_reference

        d2, _invalid, counts = d2min_since_reference(
            s_ref, self.H0, self.o0, x_now, H1, self._pbc, nq, self.R
        )
        return d2, counts

    def _d2min(self, v: AtomView, x, H1, o1, pbc, first: bool = False) -> np.ndarray:
        """D²min since the reference of the local atoms, exactly OVITO's convention
        (reference neighbours within R, current vectors by the minimum image), from the
        atoms present on this rank; reference neighbours that moved beyond the ghost shell
        are fetched from their owners (every atom stores its reference neighbour count, so
        a missing one is noticed)."""
        nloc, m = v.nlocal, v.ntotal
        self._pbc = pbc
        wmin = min(
            cell_widths(H1)[pbc].min(initial=np.inf), cell_widths(self.H0)[pbc].min(initial=np.inf)
        )
        if 2.0 * self.R >= wmin:
            msg = (
                f"d2min {self.R} is not below half the smallest periodic box width "
                f"{wmin:.4g}; D²min needs a larger box (replicate it) or a smaller R"
            )
            if self.n_evals == 0:
                raise SoftscopeError(msg)
            self._warn_once("halfbox", msg + "; D²min is NaN until then")
            return np.full(nloc, np.nan)
        ref_position = self.layout.of(v, "ref_position")
        n_ref = self.layout.of(v, "ref_neighbours")
        uniq = self._unique_atoms(v.tag[:m], nloc)
        s_ref = ref_position[uniq]
        x_now = x[uniq]
        d2, counts = self._d2min_present(s_ref, x_now, H1, nloc)
        if first:  # the reference was stored in this evaluation: its neighbour counts
            n_ref[:nloc] = counts
            return d2
        short = counts < n_ref[:nloc]
        if self._allreduce(int(np.count_nonzero(short)), "SUM") == 0:
            return d2
        # some reference neighbours are not among this rank's atoms: fetch them by
        # reference position from their owners (every rank answers for its own atoms)
        rec = self._fetch_reference_neighbours(v, ref_position[:nloc][short], x)
        have = set(v.tag[uniq].tolist())
        new = np.array([t not in have for t in rec[:, 0].astype(np.int64).tolist()], bool)
        rec = rec[new]
        self.profile.count("n_fetched", int(rec.shape[0]))  # diagnosis: atoms fetched
        if rec.shape[0]:
            s_ref = np.concatenate([s_ref, rec[:, 1:4]])
            x_now = np.concatenate([x_now, rec[:, 4:7]])
            d2, counts = self._d2min_present(s_ref, x_now, H1, nloc)
        still = counts < n_ref[:nloc]
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
        ref_position = self.layout.of(v, "ref_position")
        q = comm.allgather_rows(np.ascontiguousarray(s_query))
        nq = q.shape[0]
        own, own_atom = image_points(ref_position[:nloc], self.H0, self.o0, self._pbc, self.R)
        qw = q.copy()
        for k in range(3):
            if self._pbc[k]:
                qw[:, k] -= np.floor(qw[:, k])
        qpts = self.o0 + qw @ self.H0
        nl = build_from_points(np.concatenate([qpts, own]), nq, self.R)
        hit = nl.neigh[nl.neigh >= nq].astype(np.int64) - nq
        mine = np.unique(own_atom[hit])
        rows = (
            np.column_stack([v.tag[mine].astype(np.float64), ref_position[mine], x[mine]])
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

    # ------------------------------------------------------------------ global outputs
    def _global(self, v: AtomView, ing, empty_window: bool = False) -> None:
        nloc = v.nlocal
        lay = self.layout
        comm = self.comm()
        p_now = lay.of(v, "prediction")[:nloc][ing]
        mine = np.array([p_now.sum(), np.count_nonzero(p_now > self.model.threshold), p_now.size])
        tot = self._allreduce(mine, "SUM")
        mean = tot[0] / tot[2] if tot[2] else _NAN
        frac = tot[1] / tot[2] if tot[2] else _NAN
        auc = rho = _NAN
        d2min = lay.of(v, "d2min")
        if self.R and not empty_window:
            # a window in which nothing moved (e.g. a second `run 0`): D²min is rounding
            # noise, and ranking noise would report a meaningless ROC-AUC
            d2_loc = d2min[:nloc][ing]
            d2_loc = d2_loc[np.isfinite(d2_loc)]
            top = self._allreduce(float(d2_loc.max()) if d2_loc.size else 0.0, "MAX")
            empty_window = top <= (_D2_NOISE * self.R) ** 2
        if self.R and not empty_window:
            # rank 0 gets every atom's (frozen prediction, D²min, id) and computes the
            # ROC-AUC (D²min ties at the top-q threshold go to the lower ids, as offline in
            # id order); rank 1 (or rank 0 alone) gets (prediction, D²min) for the Spearman
            # correlation.  Rank order, not id order: both are rank statistics.
            p, d2 = lay.of(v, "prediction_ref")[:nloc][ing], d2min[:nloc][ing]
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
            "avg_cell": self.avg_cell.state(),
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
        if self.average:
            if "avg_cell" in st:
                self.avg_cell = CellAverage.from_state(st["avg_cell"])
            else:  # a restart written before the box was averaged: start a new window
                self.avg_last_step = -1
