"""``fix softscope ... model NAME``: evaluate a softscope model inside a LAMMPS run.

A thin adapter (no science of its own): features come from
:meth:`DescriptorSpec.compute_points` on local + ghost atoms, predictions from
:meth:`Model.predict_features`, D²min from :func:`softscope.rearrangement.d2min_from_vectors`
(OVITO's convention), the live judgement from :func:`softscope.metrics.judge`.

Per-atom outputs ``f_ID[1..3]``: (1) prediction now, (2) prediction frozen at the
reference, (3) D²min (length²) since the reference, NaN for invalid atoms and without
``d2min``.  Atoms outside the fix group get NaN in all three.
State columns (migrate, go to restarts): reference position in reduced coordinates of
the reference cell (3), prediction at the reference (1), current reduced position (3,
scratch: sent to ghosts, whose positions may be stale at end_of_step after fix deform).

Reference: stored at the first evaluation; renewed *after* the evaluation at every
step that is a multiple of ``reference M`` (M > 0), and after the next evaluation
following ``fix_modify ID reference now``.  So an evaluation that renews the reference
still reports the window that it closes.
"""

from __future__ import annotations

import math

import numpy as np

from softscope.errors import SoftscopeError
from softscope.lammps_fix.bridge import AtomView, ForwardComm, SoftscopeFix

__all__ = ["ModelFix", "global_vector_names"]

_NAN = float("nan")


def global_vector_names() -> list[str]:
    """Names of the fix's global vector entries ``f_ID[1..4]``."""
    return ["roc_auc", "spearman", "mean_prediction", "fraction_positive"]


class _SerialComm:
    """The few mpi4py calls used, for one rank (no mpi4py import needed)."""

    def allreduce(self, x, op=None):
        return x

    def gather(self, x, root=0):
        return [x]

    def bcast(self, x, root=0):
        return x


class ModelFix(SoftscopeFix):
    """Model prediction, frozen reference prediction and D²min per atom; live metrics."""

    mode = "model"
    nout = 3
    nstate = 7

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        from softscope.models.model import load_model

        self.model = load_model(self.opts["model"])
        self.dspec = self.model.spec
        self.elements = self.opts.get("elements")
        self.R = self.opts.get("d2min")
        self.ref_every = int(self.opts.get("reference", 0))
        self.q = float(self.opts.get("q", 0.05))
        self.margin = float(self.opts.get("margin", 0.25 * self.R if self.R else 0.0))
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

    # ------------------------------------------------------------------ protocol
    def spec(self) -> tuple:  # noqa: D102 - see bridge protocol
        return (self.nout, self.nstate, self.nevery, self.ghost_cutoff(), 1, 4, 0)

    def ghost_cutoff(self) -> float:
        need = self.model.cutoff
        if self.R:
            need = max(need, self.R + self.margin)
        return float(need)

    def comm(self):
        if self._mpi is None:
            if self.nprocs == 1:
                self._mpi = _SerialComm()
            else:
                import mpi4py

                mpi4py.rc.initialize = False
                mpi4py.rc.finalize = False
                from mpi4py import MPI

                self._mpi = MPI.Comm.f2py(self.fortran_comm)
        return self._mpi

    def _allreduce(self, x, op: str):
        if self.nprocs == 1:
            return x
        from mpi4py import MPI

        return self.comm().allreduce(x, op=getattr(MPI, op))

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
        lmp = self.lammps()
        self.model.check_units(lmp.extract_global("units"))
        ntypes = int(lmp.extract_global("ntypes"))
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
        self.type_codes = codes
        n_in = int(np.count_nonzero(v.mask[: v.nlocal] & self.groupbit))
        if self._allreduce(n_in, "SUM") == 0:
            raise SoftscopeError(f"fix group {self.group!r} is empty")

    def setup(self, v: AtomView):
        super().setup(v)
        return self.evaluate(v)

    def end_of_step(self, v: AtomView):
        super().end_of_step(v)
        return self.evaluate(v)

    # ------------------------------------------------------------------ evaluation
    def _box(self):
        boxlo, boxhi, xy, yz, xz, periodicity, _ = self.lammps().extract_box()
        lo, hi = np.array(boxlo, float), np.array(boxhi, float)
        L = hi - lo
        H = np.array([[L[0], 0.0, 0.0], [xy, L[1], 0.0], [xz, yz, L[2]]])
        return H, lo, np.array(periodicity, bool)

    def evaluate(self, v: AtomView):
        nloc, m = v.nlocal, v.ntotal
        H1, o1, pbc = self._box()
        widths = abs(np.linalg.det(H1)) / np.linalg.norm(
            np.cross(H1[[1, 2, 0]], H1[[2, 0, 1]]), axis=1
        )
        reach = self.ghost_cutoff()
        if np.any(pbc & (widths < reach)):
            raise SoftscopeError(
                f"the fix needs neighbours within {reach:.4g} (model cutoff "
                f"{self.model.cutoff:.4g}, d2min {self.R}), larger than the periodic box width "
                f"{widths[pbc].min():.4g}; use a larger box (replicate) or a model with a "
                "shorter cutoff"
            )
        inv1 = np.linalg.inv(H1)
        out, state = v.out, v.state
        first = not self.has_ref
        state[:nloc, 4:7] = (v.x[:nloc] - o1) @ inv1
        if first:
            state[:nloc, 0:3] = state[:nloc, 4:7]
            self.H0, self.o0 = H1.copy(), o1.copy()
        # ghosts get their owners' reduced positions now (and reference positions):
        # ghost x may be stale here, e.g. after fix deform remapped the owners this step
        v = yield ForwardComm(self.nout, 7)
        out, state = v.out, v.state
        x = np.empty((m, 3))
        x[:nloc] = v.x[:nloc]
        s_own = state[nloc:m, 4:7]
        image = np.rint((v.x[nloc:m] - o1) @ inv1 - s_own)
        x[nloc:] = (s_own + image) @ H1 + o1
        tcodes = self.type_codes[v.type[:m]]
        if np.any(tcodes < 0):
            raise SoftscopeError("an atom has a type mapped to NULL in 'elements'")
        natoms = self.lammps().get_natoms()
        density = natoms / abs(np.linalg.det(H1))
        feats = self.dspec.compute_points(x, tcodes, nloc, density=density)
        pred = self.model.predict_features(feats)
        ing = (v.mask[:nloc] & self.groupbit) != 0
        out[:nloc, 0] = np.where(ing, pred, np.nan)
        if first:
            state[:nloc, 3] = out[:nloc, 0]
            self.has_ref = True
            self.ref_step = v.step
        out[:nloc, 1] = np.where(ing, state[:nloc, 3], np.nan)
        if self.R:
            d2 = self._d2min(v, x, H1, o1, pbc)
            out[:nloc, 2] = np.where(ing, d2, np.nan)
        else:
            out[:nloc, 2] = np.nan
        self._global(v, ing, empty_window=first)
        self.n_evals += 1
        step = v.step
        renew = self.renew_requested or (
            self.ref_every > 0 and step % self.ref_every == 0 and step != self.ref_step
        )
        if renew and not first:
            self._store_reference(v, x, H1, o1)
        self.renew_requested = False

    def _store_reference(self, v: AtomView, x, H, o) -> None:
        nloc = v.nlocal
        v.state[:nloc, 0:3] = (x[:nloc] - o) @ np.linalg.inv(H)
        v.state[:nloc, 3] = v.out[:nloc, 0]
        self.H0, self.o0 = H.copy(), o.copy()
        self.has_ref = True
        self.ref_step = v.step

    def _d2min(self, v: AtomView, x, H1, o1, pbc) -> np.ndarray:
        from softscope.neighbors import build_from_points
        from softscope.rearrangement import d2min_from_vectors

        nloc, m = v.nlocal, v.ntotal
        s1 = (x - o1) @ np.linalg.inv(H1)
        ds = s1 - v.state[:m, 0:3]
        for k in range(3):
            if pbc[k]:
                ds[:, k] -= np.floor(ds[:, k] + 0.5)
        # every point's reference position, for the image of its atom nearest to it now
        x0 = (s1 - ds) @ self.H0 + self.o0
        # ghosts must hold every reference neighbour: |d(t)| <= |A| R + 2 max |non-affine u|
        a_norm = np.linalg.norm(np.linalg.inv(self.H0) @ H1, 2)
        u = float(np.sqrt(((ds[:nloc] @ H1) ** 2).sum(axis=1).max())) if nloc else 0.0
        umax = self._allreduce(u, "MAX")
        need = a_norm * self.R + 2.0 * umax
        if need > self.ghost_cutoff() + 1e-12:
            raise SoftscopeError(
                f"D²min since the reference (step {self.ref_step}) needs ghost atoms within "
                f"{need:.4g} (|H1 H0^-1| R + 2 x max non-affine displacement {umax:.4g}), the "
                f"fix provides {self.ghost_cutoff():.4g}; set the fix keyword 'margin "
                f"{math.ceil((need - self.R) * 1.2 * 100) / 100}' or renew the reference more "
                "often ('reference M')"
            )
        nl0 = build_from_points(x0, nloc, self.R)
        i = np.repeat(np.arange(nloc), nl0.counts())
        j = nl0.neigh
        d2, _invalid = d2min_from_vectors(nl0.offsets, x0[j] - x0[i], x[j] - x[i])
        return d2

    def _global(self, v: AtomView, ing, empty_window: bool = False) -> None:
        from softscope.metrics import judge

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
            loc = np.column_stack([v.tag[:nloc][ing], out[:nloc, 1][ing], out[:nloc, 2][ing]])
            parts = comm.gather(loc, root=0)
            res = None
            if self.rank == 0:
                allv = np.concatenate(parts)
                allv = allv[np.argsort(allv[:, 0], kind="stable")]  # id order: deterministic ties
                try:
                    import warnings

                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        j = judge(allv[:, 1], allv[:, 2], self.q)
                    res = (j["roc_auc"], j["spearman"])
                except SoftscopeError:
                    res = (_NAN, _NAN)
            auc, rho = comm.bcast(res, root=0)
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
