"""Fallback when the plugin cannot load: ``fix softscope`` driven through ``fix external``.

    lmp = lammps()
    soft = softscope.lammps_fix.attach_external(
        lmp, "soft all 20 model cuzr-softness elements Cu Zr d2min 3.7 reference 60")
    lmp.command("dump d all custom 20 out.dump id x y z d2_soft[1] d2_soft[2] d2_soft[3]")
    soft.run(100)          # = lmp.command("run 100") + re-raise an error of the fix

Same arguments as the fix command (``ID group N keyword value ...``) and the same Python
object (:class:`~softscope.lammps_fix.model_fix.ModelFix`) computes the outputs, so they
equal the plugin's on a single-rank run.  What LAMMPS gets:

- ``fix ID_ext all external pf/callback G 1`` (G = gcd(N, sample K)): the callback;
- ``fix ID_out all property/atom d2_ID nout``: per-atom outputs, dump as ``d2_ID[k]``
  (the plugin's ``f_ID[k]``); columns as in ``docs/fix.md``;
- internal variables ``ID_<name>`` for the global vector's names
  (:data:`~softscope.lammps_fix.outputs.GLOBAL_VECTOR`: ``ID_roc_auc``, ``ID_spearman``,
  ``ID_mean_prediction``, ``ID_fraction_positive``) and the scalar's (``ID_evaluations``);
  thermo: ``v_ID_roc_auc`` ...;
- ``fix ID_halt all halt 1 v_ID_error > 0 error soft``: ``fix external`` swallows
  Python exceptions, so the callback stores the exception, sets ``ID_error`` and LAMMPS
  stops the run cleanly at the end of that step; :meth:`ExternalSoftscope.run` (or
  :meth:`~ExternalSoftscope.check`) then raises it.

Differences from the plugin (documented in docs/fix.md): one MPI rank only (ghost atoms
are periodic images built in Python); evaluations at steps that are multiples of N,
including the start of a run only when its step is one (the plugin evaluates at every
run's setup); the callback runs at ``post_force``, i.e. before ``end_of_step`` fixes such
as ``fix deform`` remap the box, so with ``fix deform`` the outputs refer to the
configuration one box update earlier; no evaluation during ``minimize``; no restart
support (per-atom state lives in Python, keyed by atom ID).
"""

from __future__ import annotations

import math

import numpy as np

from softscope.errors import SoftscopeError
from softscope.lammps_fix.bridge import create, parse_args
from softscope.lammps_fix.outputs import GLOBAL_SCALAR, GLOBAL_VECTOR
from softscope.lammps_fix.protocol import AtomView, ForwardComm, unpack_image

__all__ = ["ExternalSoftscope", "attach_external"]


def _pack_image(img: np.ndarray) -> np.ndarray:
    return ((img[:, 0] + 512) | ((img[:, 1] + 512) << 10) | ((img[:, 2] + 512) << 20)).astype(
        np.int32
    )


class ExternalSoftscope:
    """A ``fix softscope`` evaluated from a ``fix external`` callback (one rank)."""

    def __init__(self, lmp, args: str):
        from softscope.frame import Frame  # noqa: F401  (fail early if the core is broken)

        words = args.split()
        if len(words) < 3:
            raise SoftscopeError("attach_external needs 'ID group N keyword value ...'")
        fix_id, group, _n, _style, _opts = parse_args([words[0], words[1], "softscope", *words[2:]])
        if int(lmp.extract_setting("world_size")) != 1:
            raise SoftscopeError(
                "the fix external fallback runs on one MPI rank only; use the plugin "
                "('fix ID group softscope ...') for parallel runs"
            )
        groups = lmp.available_ids("group")
        if group not in groups:
            raise SoftscopeError(
                f"group {group!r} does not exist (known: {[g for g in groups if g]})"
            )
        self.lmp = lmp
        self.fix_id = fix_id
        self.error: BaseException | None = None
        self.fix = create(
            [fix_id, group, "softscope", *words[2:]],
            None,
            0,
            0,
            1,
            0,
            1 << groups.index(group),
        )
        self.fix._lmp = lmp
        self._nvec = len(GLOBAL_VECTOR) if self.fix.mode == "model" else 0
        self.nout, self.nstate, self.nscratch = self.fix.nout, self.fix.nstate, self.fix.nscratch
        k = self.fix.sample_every
        self.every = math.gcd(self.fix.nevery, k) if k else self.fix.nevery
        self._store: np.ndarray | None = None  # (max tag + 1, nout + nstate), by atom ID
        self._initialised = False
        self._last_step: int | None = None
        self._run_start: int | None = None
        cmds = [
            f"fix {fix_id}_out all property/atom d2_{fix_id} {self.nout}",
            f"variable {fix_id}_error internal 0",
            *(f"variable {fix_id}_{n} internal 0" for n in GLOBAL_VECTOR),
            f"variable {fix_id}_{GLOBAL_SCALAR} internal 0",
            f"fix {fix_id}_halt all halt 1 v_{fix_id}_error > 0 error soft",
            f"fix {fix_id}_ext all external pf/callback {self.every} 1",
        ]
        for c in cmds:
            lmp.command(c)
        for n in GLOBAL_VECTOR:  # NaN until the first evaluation, like the plugin
            lmp.set_internal_variable(f"{fix_id}_{n}", float("nan"))
        lmp.set_fix_external_callback(f"{fix_id}_ext", self._callback, self)

    # ------------------------------------------------------------------ public
    def run(self, nsteps: int, extra: str = "") -> None:
        """``run nsteps [extra]``; the first callback counts as the run's setup.
        Raises the fix's error, if any, after LAMMPS stopped."""
        self._run_start = int(self.lmp.extract_global("ntimestep"))
        self.lmp.command(f"run {int(nsteps)} {extra}".strip())
        self.check()

    def check(self) -> None:
        """Raise the exception the callback caught (the run was halted), if any."""
        if self.error is not None:
            err, self.error = self.error, None
            self.lmp.set_internal_variable(f"{self.fix_id}_error", 0.0)
            from softscope.lammps_fix.bridge import error_message

            raise SoftscopeError(f"fix softscope (external): {error_message(err)}") from err

    @property
    def vector(self) -> list[float]:
        """Global vector (ROC-AUC, Spearman, mean prediction, fraction positive)."""
        return [self.fix.compute_vector(i) for i in range(self._nvec)]

    # ------------------------------------------------------------------ callback
    def _callback(self, _caller, step, nlocal, tag, x, _f) -> None:
        if self.error is not None:
            return
        try:
            self._step(int(step), int(nlocal), np.asarray(tag), np.asarray(x))
        except BaseException as exc:  # noqa: BLE001 - fix external would swallow it
            self.error = exc
            self.lmp.set_internal_variable(f"{self.fix_id}_error", 1.0)

    def _step(self, step: int, nloc: int, tag: np.ndarray, x: np.ndarray) -> None:
        # the run's first call (fix external calls back in setup when step % G == 0) or a
        # repeat of the last step (the next run's setup) is the plugin's setup hook
        setup = step == self._run_start or step == self._last_step
        self._run_start = None
        self._last_step = step
        fix = self.fix
        do_sample = (not setup) and fix.sample_every and step % fix.sample_every == 0
        do_eval = setup or step % fix.nevery == 0
        if not (do_sample or do_eval):
            return
        view, point_atom = self._view(step, nloc, tag, x)
        if not self._initialised:
            fix.init(view)
            self._initialised = True
        if do_sample:
            fix.sample(view)
        if do_eval:
            self._drive(fix.setup(view) if setup else fix.end_of_step(view), view, point_atom)
        # local rows back to the per-ID store; outputs to LAMMPS
        self._store[tag[:nloc]] = np.concatenate([view.out[:nloc], view.state[:nloc]], axis=1)
        d2 = self.lmp.numpy.extract_atom(f"d2_{self.fix_id}")
        d2[:nloc] = view.out[:nloc]
        if do_eval:
            for i, n in enumerate(GLOBAL_VECTOR[: self._nvec]):
                self.lmp.set_internal_variable(f"{self.fix_id}_{n}", fix.compute_vector(i))
            self.lmp.set_internal_variable(f"{self.fix_id}_{GLOBAL_SCALAR}", fix.compute_scalar())

    def _drive(self, gen, view: AtomView, point_atom: np.ndarray) -> None:
        """Run a hook; serve its ForwardComm requests by copying owners' rows to images."""
        if gen is None or not hasattr(gen, "send"):
            return
        nloc = view.nlocal
        try:
            req = gen.send(None)
            while True:
                if not isinstance(req, ForwardComm):
                    raise SoftscopeError(f"a hook may only yield ForwardComm, got {req!r}")
                own = point_atom[nloc:]
                for k in range(req.first, req.first + req.n):
                    block, c = self.fix.layout.locate(k)
                    arr = getattr(view, block)
                    arr[nloc:, c] = arr[own, c]
                req = gen.send(view)
        except StopIteration:
            return

    def _view(self, step: int, nloc: int, tag: np.ndarray, x: np.ndarray):
        """Local atoms (wrapped into the box) + periodic images as ghosts."""
        from softscope.frame import Frame
        from softscope.neighbors import periodic_images

        lmp = self.lmp
        boxlo, boxhi, xy, yz, xz, periodicity, _ = lmp.extract_box()
        lo, hi = np.array(boxlo, float), np.array(boxhi, float)
        L = hi - lo
        H = np.array([[L[0], 0.0, 0.0], [xy, L[1], 0.0], [xz, yz, L[2]]])
        pbc = np.array(periodicity, bool)
        types = np.array(lmp.numpy.extract_atom("type")[:nloc], dtype=np.int32)
        mask = np.array(lmp.numpy.extract_atom("mask")[:nloc], dtype=np.int32)
        image = unpack_image(np.array(lmp.numpy.extract_atom("image")[:nloc]))
        x = np.array(x[:nloc], dtype=np.float64)
        frame = Frame(
            positions=x,
            species=np.array(["X"] * nloc),
            cell=H,
            origin=lo,
            pbc=tuple(pbc),
            ids=np.asarray(tag[:nloc], dtype=np.int64),
        )
        points, point_atom = periodic_images(frame, self.fix.ghost_cutoff())
        # the engine wraps atoms into the cell: fold that shift into the image flags so
        # that x + image·H stays LAMMPS' unwrapped position
        image = image + np.rint((x - points[:nloc]) @ np.linalg.inv(H)).astype(np.int64)
        m = points.shape[0]
        ntag = int(tag[:nloc].max(initial=0)) + 1
        if self._store is None or self._store.shape[0] < ntag:
            old = self._store
            new = np.zeros((ntag, self.nout + self.nstate))
            if old is not None:
                new[: old.shape[0]] = old
            self._store = new
        rows = self._store[tag[:nloc]]
        out = np.zeros((m, self.nout))
        state = np.zeros((m, self.nstate))
        out[:nloc], state[:nloc] = rows[:, : self.nout], rows[:, self.nout :]
        view = AtomView(
            step=step,
            nlocal=nloc,
            nghost=m - nloc,
            x=points,
            type=types[point_atom],
            tag=np.asarray(tag[:nloc], np.int32)[point_atom],
            mask=mask[point_atom],
            out=out,
            state=state,
            scratch=np.zeros((m, max(self.nscratch, 0))),
            image=_pack_image(image),
        )
        return view, point_atom


def attach_external(lmp, args: str) -> ExternalSoftscope:
    """Evaluate ``fix softscope`` through ``fix external`` (plugin-free fallback, 1 rank).

    ``args``: the fix command without ``fix`` and ``softscope``: ``"ID group N keyword
    value ..."``.  Returns the :class:`ExternalSoftscope`; run with its ``run(n)`` (or
    ``lmp.command('run n')`` followed by ``check()``) so a Python error in the fix is
    raised instead of being lost inside ``fix external``.
    """
    return ExternalSoftscope(lmp, args)
