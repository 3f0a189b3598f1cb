"""Keeping a linear model's response to tiny perturbations small.

Features with hard cutoffs jump when a pair crosses a cutoff: the coarse-grained copies
(the mean over an atom's neighbours within r_cg, a hard cutoff by ``CONVENTIONS.md``: one
neighbour crossing moves every cg feature of the atom by (f_j − cg_i)/n_i), and raw
features with a hard reach (e.g. the excess entropy's r_max).  Any deformation, however
small, moves some pairs across; a model with large, alternating weights (which cancel in a
mean but not in one neighbour) then moves those atoms' predictions by a sizeable fraction
of their spread, while the deformation moves everything else by nothing.

The guard measures that response on the training glasses and penalises it:

- :func:`perturbation_changes`: the features of each frame and their change under tiny
  perturbations (Gaussian noise of ``amplitude`` per axis, affine shears of ``amplitude``
  of cell and positions); under such perturbations the change is dominated by the jumps;
- the **penalty** M = mean over atoms of Δx Δxᵀ (raw features) of one set of
  perturbations: wᵀ M w is the mean-square change of a linear prediction with raw
  coefficients w; :func:`~softscope.training.train.fit_linear` adds strength · wᵀ M̂ w to
  the SVM's ridge term (generalised Tikhonov, M̂ standardised and normalised).  With a
  thermal amplitude a, the changes under noise of amplitude a join it, scaled by 1e-4/a
  (per 1e-4 of displacement, like the rest): for features smooth in the positions both
  measure the same linear response, and features that change more than linearly at the
  thermal scale (pairs on the steep wall of a rarely reached radial shell) are penalised
  for it;
- the **criterion**, on perturbations of other configurations of the training glasses
  (other pairs sit next to a cutoff there): the 99.9th percentile of |ΔP| / spread over
  all atoms perturbed one way, the largest over the ways (as
  :func:`softscope.models.stability.stability` reports it for one frame), and with a
  thermal amplitude the largest |ΔP| / spread under noise of that amplitude.

The weakest strength that meets the target is chosen, unless it costs more than
:data:`MAX_CV_LOSS` of cross-validated ROC-AUC: then the strongest that does not (the
target is then recorded as not met).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from softscope.descriptors.spec import DescriptorSpec
from softscope.frame import Frame

__all__ = [
    "PerturbationGuard",
    "perturbation_changes",
    "percentile_response",
    "guard_for",
    "PENALTY_STRENGTHS",
    "MAX_CV_LOSS",
    "PENALTY_PERTURBATIONS",
    "CRITERION_PERTURBATIONS",
    "THERMAL_PENALTY_DRAWS",
]

#: Penalty strengths tried in order, half decades (dimensionless: multiples of the ridge
#: term of the standardised SVM, after normalising the penalty to unit mean diagonal; a
#: weak ridge, large C, needs a large strength).
PENALTY_STRENGTHS = (
    0.0,
    10.0,
    31.6,
    100.0,
    316.0,
    1e3,
    3.16e3,
    1e4,
    3.16e4,
    1e5,
    3.16e5,
    1e6,
    3.16e6,
    1e7,
)

#: The guard never costs more CV ROC-AUC than this (the strength backs off instead and the
#: card says the target was not met).
MAX_CV_LOSS = 0.01

#: Perturbations whose feature changes make the penalty: noise draws and shears of the
#: cell planes xz and yz.
PENALTY_PERTURBATIONS = ("noise", "noise", "noise", "shear_xz", "shear_yz")

#: Thermal-scale noise draws per penalty frame (with a thermal amplitude).
THERMAL_PENALTY_DRAWS = 3

#: Independent perturbations judging the penalised fit: the xy shear and fresh noise.
CRITERION_PERTURBATIONS = ("shear_xy", "noise")

_SHEAR = {"shear_xy": (1, 0), "shear_xz": (2, 0), "shear_yz": (2, 1)}


def _perturbed(frame: Frame, kind: str, amplitude: float, rng: np.random.Generator) -> Frame:
    if kind == "noise":
        return frame.replace(
            positions=frame.positions + rng.normal(0.0, amplitude, (len(frame), 3))
        )
    return frame.sheared(*_SHEAR[kind], amplitude)


def perturbation_changes(
    spec: DescriptorSpec,
    frames: Sequence[Frame],
    kinds: Sequence[str],
    extras: Sequence[Mapping[str, np.ndarray] | None] | None = None,
    amplitude: float = 1e-4,
    seed: int = 0,
    features: Sequence[np.ndarray] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """For each frame and each perturbation of ``kinds`` (``noise``: Gaussian of standard
    deviation ``amplitude`` per axis, length unit; ``shear_xy``/``shear_xz``/``shear_yz``:
    affine shear of ``amplitude`` of the cell vector's plane and the positions): the
    frame's features (N, F) and their change (N, F); external inputs held fixed.
    ``features``: the frames' features when already computed."""
    rng = np.random.default_rng(seed)
    extras = list(extras) if extras is not None else [None] * len(frames)
    xs, dxs = [], []
    for k, (fr, ex) in enumerate(zip(frames, extras, strict=True)):
        x = features[k] if features is not None else spec.compute(fr, extra=ex)
        for kind in kinds:
            xs.append(x)
            dxs.append(spec.compute(_perturbed(fr, kind, amplitude, rng), extra=ex) - x)
    return xs, dxs


def percentile_response(
    coef: np.ndarray, xs: Sequence[np.ndarray], dxs: Sequence[np.ndarray], q: float = 99.9
) -> float:
    """The ``q``-th percentile over the atoms of all pairs (x, dx) of |dx·coef| /
    std(x·coef): the change of a linear prediction (raw coefficients ``coef``) in spreads
    of its frame's predictions."""
    parts = []
    for x, dx in zip(xs, dxs, strict=True):
        spread = float(np.std(x @ coef))
        if spread > 0.0:
            parts.append(np.abs(dx @ coef) / spread)
    return float(np.percentile(np.concatenate(parts), q)) if parts else 0.0


@dataclass(frozen=True)
class PerturbationGuard:
    """What :func:`~softscope.training.train.fit_linear` needs to keep the response to tiny
    perturbations small (module docstring): the penalty (F, F), the criterion's
    (features, change) pairs and their kinds, its target (99.9th percentile of |ΔP| in
    spreads), the strengths to try, weakest first, and the largest loss of CV ROC-AUC
    the penalty may cost."""

    penalty: np.ndarray
    xs: tuple[np.ndarray, ...]
    dxs: tuple[np.ndarray, ...]
    kinds: tuple[str, ...]
    target: float
    strengths: tuple[float, ...] = PENALTY_STRENGTHS
    max_cv_loss: float = MAX_CV_LOSS
    #: (features, change) pairs under thermal-scale noise and the target of their largest
    #: |ΔP| in spreads (none: no thermal criterion)
    thermal_xs: tuple[np.ndarray, ...] = ()
    thermal_dxs: tuple[np.ndarray, ...] = ()
    thermal_target: float = float("inf")

    def response(self, coef: np.ndarray) -> float:
        """The criterion of raw coefficients ``coef`` (spreads): the largest over the kinds
        of perturbation of the percentile over all atoms perturbed that way (a shear moves
        more pairs across a cutoff than noise of the same amplitude)."""
        return max(
            percentile_response(
                coef,
                [x for x, k in zip(self.xs, self.kinds, strict=True) if k == kind],
                [d for d, k in zip(self.dxs, self.kinds, strict=True) if k == kind],
            )
            for kind in set(self.kinds)
        )

    def figures(self, coef: np.ndarray) -> dict[str, float]:
        """The criterion's figures of raw coefficients ``coef``: ``response_p999``
        (:meth:`response`) and, with a thermal criterion, ``thermal_max``."""
        out = {"response_p999": self.response(coef)}
        if self.thermal_xs:
            out["thermal_max"] = percentile_response(
                coef, self.thermal_xs, self.thermal_dxs, q=100.0
            )
        return out

    def met(self, figures: Mapping[str, float]) -> bool:
        """Whether :meth:`figures` meet the targets."""
        return (
            figures["response_p999"] <= self.target
            and figures.get("thermal_max", 0.0) <= self.thermal_target
        )


def guard_for(
    spec: DescriptorSpec,
    penalty_frames: Sequence[Frame],
    criterion_frames: Sequence[Frame],
    target: float,
    penalty_extras: Sequence[Mapping[str, np.ndarray] | None] | None = None,
    criterion_extras: Sequence[Mapping[str, np.ndarray] | None] | None = None,
    seed: int = 0,
    penalty_features: Sequence[np.ndarray] | None = None,
    thermal_amplitude: float | None = None,
    thermal_target: float = float("inf"),
) -> PerturbationGuard:
    """The guard of ``spec``: penalty from :data:`PENALTY_PERTURBATIONS` of
    ``penalty_frames``, criterion from :data:`CRITERION_PERTURBATIONS` of other
    configurations, ``criterion_frames`` (the jumps belong to the pairs that sit next to a
    cutoff, which differ between configurations: a criterion on the penalty's own frames
    would judge the penalty on the pairs it was made from); amplitude 1e-4 (length
    unit).  ``penalty_features``: the penalty frames' features when already computed.
    ``thermal_amplitude``: add :data:`THERMAL_PENALTY_DRAWS` thermal-scale noise draws per
    penalty frame to the penalty (scaled by 1e-4 / amplitude) and one per criterion frame
    to the criterion (largest |ΔP| within ``thermal_target`` spreads)."""
    _, pdx = perturbation_changes(
        spec,
        penalty_frames,
        PENALTY_PERTURBATIONS,
        penalty_extras,
        seed=seed,
        features=penalty_features,
    )
    xs, dxs = perturbation_changes(
        spec, criterion_frames, CRITERION_PERTURBATIONS, criterion_extras, seed=seed + 1
    )
    kinds = tuple(CRITERION_PERTURBATIONS) * len(criterion_frames)
    txs, tdxs = (), ()
    if thermal_amplitude is not None:
        a = float(thermal_amplitude)
        _, hot = perturbation_changes(
            spec,
            penalty_frames,
            ("noise",) * THERMAL_PENALTY_DRAWS,
            penalty_extras,
            amplitude=a,
            seed=seed + 2,
            features=penalty_features,
        )
        pdx = list(pdx) + [h * (1e-4 / a) for h in hot]
        txs, tdxs = perturbation_changes(
            spec,
            criterion_frames,
            ("noise",),
            criterion_extras,
            amplitude=a,
            seed=seed + 3,
            features=xs[:: len(CRITERION_PERTURBATIONS)],  # each frame's, computed above
        )
    d = np.concatenate(pdx)
    return PerturbationGuard(
        d.T @ d / len(d),
        tuple(xs),
        tuple(dxs),
        kinds,
        target,
        thermal_xs=tuple(txs),
        thermal_dxs=tuple(tdxs),
        thermal_target=float(thermal_target),
    )
