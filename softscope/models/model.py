"""The Model object: a descriptor spec + a stored estimator + a model card.

``Model.predict(frame)`` gives per-atom predictions of a frame through the model's
:class:`~softscope.models.evaluator.Evaluator`, the one route that the LAMMPS fix, the
OVITO modifiers and the evaluation reports share.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from softscope.descriptors.spec import DescriptorSpec
from softscope.errors import ConventionMismatch, ModelFormatError, SoftscopeError
from softscope.frame import Frame
from softscope.models.estimators import (
    THRESHOLDS,
    LinearEstimator,
    MLPEstimator,
    TreeEnsemble,
    estimator_from_arrays,
)
from softscope.models.evaluator import Evaluator
from softscope.models.format import SUFFIX, load_arrays, save_arrays

__all__ = ["Model", "load_model", "resolve", "zoo_dir", "zoo_names", "zoo_path"]


@dataclass(frozen=True, eq=False)
class Model:
    """A pretrained structural indicator.

    Attributes
    ----------
    name : short name, e.g. ``"cuzr-softness"``.
    output_name : per-atom property name, e.g. ``"Softness"``.
    spec : the :class:`DescriptorSpec` the estimator was trained on.
    estimator : :class:`LinearEstimator` (output: signed distance, >0 = likely to
        rearrange), :class:`TreeEnsemble` or :class:`MLPEstimator`; its ``output`` says
        whether it predicts a probability or a raw score (see :attr:`threshold`).
    card : provenance and measured metrics (JSON-serialisable).
    """

    name: str
    output_name: str
    spec: DescriptorSpec
    estimator: LinearEstimator | TreeEnsemble | MLPEstimator
    card: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.estimator.n_features != self.spec.n_features:
            raise ModelFormatError(
                f"model {self.name!r}: estimator expects {self.estimator.n_features} features, "
                f"its descriptor spec gives {self.spec.n_features}"
            )

    # -------------------------------------------------------------- properties
    @property
    def species(self) -> tuple[str, ...]:
        return self.spec.species

    @property
    def units(self) -> str:
        return self.spec.units

    @property
    def expected_input(self) -> str:
        """The configurations the model was trained on: the card's ``input`` where recorded
        (``"minimised"``, ``"thermal snapshot"``, ``"time-averaged"`` ...); ``"minimised"``
        for models trained on AQS shear data (every frame an energy minimum); else
        ``"unknown"``."""
        if self.card.get("input"):
            return str(self.card["input"])
        shear = (self.card.get("data") or {}).get("shear") or {}
        return "minimised" if isinstance(shear, dict) and shear.get("minimize") else "unknown"

    @property
    def cutoff(self) -> float:
        """Neighbour reach an atom's prediction needs (raw cutoff + coarse-graining)."""
        return self.spec.ghost_cutoff

    @property
    def threshold(self) -> float:
        """Decision threshold: 0.5 for probabilities, 0 for signed distances and raw
        scores (from the estimator's ``output``)."""
        return THRESHOLDS[self.estimator.output]

    # -------------------------------------------------------------- prediction
    def check_units(self, units: str | None) -> None:
        if units is not None and units != self.units:
            raise ConventionMismatch(
                f"model {self.name!r} was trained in 'units {self.units}' and cannot be used "
                f"in a 'units {units}' simulation; use a model trained in units {units}"
            )

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        return self.estimator.predict(features)

    def predict(
        self,
        frame: Frame,
        extra: Mapping[str, np.ndarray] | None = None,
        units: str | None = None,
        check: bool = True,
    ) -> np.ndarray:
        """(N,) float64 prediction for every atom of ``frame`` (model's output convention).

        ``units``: the frame's unit style where it is recorded (must be the model's). A
        frame does not record it, so ``check`` also tests the frame's geometry
        (:func:`softscope.plausibility.check_frame`): a nearest-neighbour scale of another
        unit system, or atom sizes contradicting the element names, raise
        :class:`ConventionMismatch`; ``check=False`` skips that test.
        """
        self.check_units(units)
        if check:
            from softscope.plausibility import check_frame

            check_frame(frame, self.units, f"model {self.name!r}")
        return self.evaluator.predict_frame(frame, extra=extra)

    @functools.cached_property
    def evaluator(self) -> Evaluator:
        """The :class:`~softscope.models.evaluator.Evaluator` of this model (the one
        route to its predictions: ``predict``, the OVITO modifiers, the LAMMPS fix)."""
        return Evaluator(self)

    def linear_blocks(self) -> tuple[np.ndarray, np.ndarray, float] | None:
        """``(coef, const, bias)`` when the estimator is linear and its features are the
        spec's raw blocks followed by their coarse-grained copies, else None: then
        S = bias + p_0 + Σ_k cg_{r_k}(p_k) with p_k = coef[k]·raw + const[k]
        (:meth:`LinearEstimator.block_coefficients`), because coarse-graining is a mean."""
        if not isinstance(self.estimator, LinearEstimator):
            return None
        k = 1 + len(self.spec.coarse_grain)
        if self.estimator.n_features != k * len(self.spec.raw_names()):
            return None
        coef, const = self.estimator.block_coefficients(k)
        return coef, const, float(self.estimator.bias)

    # -------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix != SUFFIX:
            path = (
                path.with_suffix(path.suffix + SUFFIX) if path.suffix else path.with_suffix(SUFFIX)
            )
        meta = {
            "name": self.name,
            "output_name": self.output_name,
            "estimator": self.estimator.kind,
            "spec": self.spec.to_dict(),
            "card": self.card,
        }
        return save_arrays(path, meta, self.estimator.to_arrays())

    @classmethod
    def load(cls, path: str | Path) -> Model:
        meta, arrays = load_arrays(path)
        try:
            spec = DescriptorSpec.from_dict(meta["spec"])
            est = estimator_from_arrays(meta["estimator"], arrays)
            return cls(meta["name"], meta["output_name"], spec, est, meta.get("card", {}))
        except KeyError as exc:
            raise ModelFormatError(f"{path}: model metadata lacks {exc}") from exc
        except SoftscopeError as exc:
            if isinstance(exc, ModelFormatError):
                raise
            raise ModelFormatError(f"{path}: invalid model content: {exc}") from exc
        except (TypeError, ValueError, AttributeError, IndexError) as exc:
            # a checksummed file whose content no softscope wrote: one clear error, not a raw one
            raise ModelFormatError(f"{path}: invalid model content: {exc}") from exc

    def __repr__(self) -> str:
        return (
            f"Model(name={self.name!r}, output={self.output_name!r}, estimator={self.estimator.kind}, "
            f"species={list(self.species)}, units={self.units!r}, n_features={self.spec.n_features}, "
            f"cutoff={self.cutoff:g})"
        )


# ------------------------------------------------------------------------- zoo
def zoo_dir() -> Path:
    """The folder of the pretrained models shipped with softscope (``<name>.ssm`` files)."""
    return Path(str(resources.files("softscope.models") / "zoo"))


def zoo_names() -> list[str]:
    """Names of the pretrained models shipped with softscope."""
    d = zoo_dir()
    return sorted(p.name[: -len(SUFFIX)] for p in d.glob(f"*{SUFFIX}")) if d.is_dir() else []


def zoo_path(name: str) -> Path:
    """The file a zoo model of this name would have (it may not exist)."""
    return zoo_dir() / f"{name}{SUFFIX}"


def resolve(name_or_path: str | Path) -> Path:
    """The model file meant by a zoo name (``"cuzr-softness"``) or a path.

    A string is a path when it ends in ``.ssm``, contains a ``/`` or names an existing
    file (``~`` is expanded); a path must exist.  Anything else is looked up in the zoo.
    Raises :class:`ModelFormatError` naming the missing file or listing the zoo."""
    s = str(name_or_path)
    p = Path(s).expanduser()
    if p.suffix == SUFFIX or p.exists() or "/" in s:
        if not p.exists():
            raise ModelFormatError(f"model file not found: {p}")
        return p
    if zoo_path(s).exists():
        return zoo_path(s)
    known = zoo_names()
    raise ModelFormatError(
        f"unknown model {s!r}: not a file and not in the model zoo "
        f"({', '.join(known) if known else 'the zoo is empty'}); run 'softscope models' to list them"
    )


def load_model(name_or_path: str | Path) -> Model:
    """A zoo model by name (``"cuzr-softness"``) or a model file by path (see :func:`resolve`)."""
    return Model.load(resolve(name_or_path))
