"""One evaluator of a model: per-atom predictions from points, for every route.

``Model.predict`` (a periodic frame), the OVITO modifiers (through ``Model.predict``) and
the LAMMPS fix (a rank's local + ghost atoms) all evaluate a model through
:class:`Evaluator`, in two steps, because coarse-graining needs values of neighbours:

1. :meth:`Evaluator.local` on ``points`` (M, 3) whose first ``n_query`` are the atoms to
   predict for and the rest their neighbours (ghost atoms, or periodic images) within
   :attr:`Evaluator.reach`: returns ``transit`` (n_query, :attr:`~Evaluator.transit_width`),
   the per-atom values the neighbours' predictions need, and ``partial``, the rest;
2. the caller gives every point its owner's ``transit`` row (the fix: a forward
   communication to the ghosts; a frame: indexing images by their atom), then
   :meth:`Evaluator.finish` returns the (n_query,) predictions.

The model chooses the strategy (never the caller):

- ``"projection"``: a linear model whose features are raw blocks followed by their
  coarse-grained copies.  Coarse-graining is a mean, so S = b + p_0 + Σ_k cg_{r_k}(p_k)
  with one projection p_k = coef_k · raw + const_k per radius
  (:meth:`~softscope.models.model.Model.linear_blocks`); ``transit`` = p_1..p_K, and no
  (N, F) feature matrix exists (fused kernels of :mod:`softscope.models.linear_projection`);
- ``"coarse_grain"``: any other model with coarse-graining radii; ``transit`` = the raw
  features, ``finish`` coarse-grains them and applies the estimator;
- ``"features"``: no coarse-graining; ``local`` computes the prediction, ``transit`` is
  empty (width 0) and ``finish`` returns ``partial``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from softscope.descriptors.registry import frame_points
from softscope.errors import SoftscopeError
from softscope.frame import Frame

if TYPE_CHECKING:
    from softscope.models.model import Model

__all__ = ["Evaluator", "STRATEGIES"]

STRATEGIES = ("projection", "coarse_grain", "features")


class Evaluator:
    """Evaluates ``model`` on points (see the module docstring for the protocol)."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.spec = model.spec
        self.n_raw = len(self.spec.raw_names())
        blocks = model.linear_blocks() if self.spec.coarse_grain else None
        self._linear = blocks
        if blocks is not None:
            self.strategy = "projection"
            self.transit_width = len(self.spec.coarse_grain)
        elif self.spec.coarse_grain:
            self.strategy = "coarse_grain"
            self.transit_width = self.n_raw
        else:
            self.strategy = "features"
            self.transit_width = 0

    @property
    def reach(self) -> float:
        """How far beyond the query atoms the points must reach (length unit):
        max(raw cutoff, largest coarse-graining radius)."""
        return self.spec.split_ghost_cutoff

    def local(
        self,
        points: np.ndarray,
        codes: np.ndarray,
        n_query: int,
        density: float | None = None,
        extra: Mapping[str, np.ndarray] | None = None,
        owner: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Step 1: ``(transit, partial)`` for ``points[:n_query]``.

        ``codes`` (M,) species codes in the spec's order; ``density`` the number density
        N/V of the whole system (length unit⁻³); ``extra`` per-point columns (M rows) for
        the spec's external features; ``owner`` (M,) the query point each point is a
        periodic image of (frames only).  ``transit`` is (n_query, transit_width) float64;
        ``partial`` is (n_query,) (projection: b + p_0; features: the prediction) or the
        raw features (coarse_grain)."""
        if self.strategy == "projection":
            from softscope.models.linear_projection import projection_from_points

            coef, const, bias = self._linear
            proj = projection_from_points(
                self.spec, points, codes, n_query, coef, const, density=density, extra=extra
            )
            return np.ascontiguousarray(proj[:, 1:]), bias + proj[:, 0]
        raw = self.spec.compute_raw_points(
            points, codes, n_query, density=density, extra=extra, owner=owner
        )
        if self.strategy == "coarse_grain":
            return raw, raw
        return np.zeros((n_query, 0)), self.model.predict_features(raw)

    def finish(
        self, points: np.ndarray, transit: np.ndarray, n_query: int, partial: np.ndarray
    ) -> np.ndarray:
        """Step 2: (n_query,) predictions, from ``transit`` (M, transit_width) = every
        point's owner's transit row and ``partial`` from :meth:`local`."""
        if self.strategy == "features":
            return partial
        if self.strategy == "projection":
            return partial + self.spec.coarse_grain_diagonal(points, transit, n_query)
        feats = self.spec.coarse_grain_points(points, transit, n_query)
        return self.model.predict_features(feats)

    def predict_frame(
        self, frame: Frame, extra: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """(N,) predictions for every atom of a periodic ``frame``: the two steps on the
        wrapped atoms followed by their periodic images within :attr:`reach`."""
        ps, owner = frame_points(frame, self.reach, self.spec.species, extra)
        transit, partial = self.local(
            ps.points, ps.codes, ps.n_query, density=ps.density, extra=ps.extra, owner=owner
        )
        pred = self.finish(ps.points, transit[owner], ps.n_query, partial)
        if not np.isfinite(pred).all():
            raise SoftscopeError("prediction contains NaN or inf (check the features' input)")
        return pred
