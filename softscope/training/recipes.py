"""Feature specs and estimators of the training recipes ``softness``, ``igd`` and ``qs``.

Lengths follow the unit style: Å for ``metal`` (Cu-Zr), σ_AA for ``lj`` (Kob-Andersen);
the LJ grids are the Cu-Zr ones scaled by ~1/2.5 (σ_AA ≈ 2.5 Å for Cu).

- ``softness``: radial SF (μ = 1.0…8.0 Å step 0.2, σ = 0.2 Å, per species) + angular SF
  (Cubuk form, ξ = 2.0, 2.5, 3.0 Å; λ = ±1; ζ = 1, 2; r_ij, r_ik < 5 Å; no prefactor,
  no cutoff function),
  raw and coarse-grained over 4 and 6 Å → z-score → linear SVM (C by grouped CV).
- ``igd``: radial SF (as softness) + two-body excess entropy s2 (σ = 0.2 Å, r_m = 5 Å) +
  vibrational MSD (external column ``msd``, see :mod:`softscope.data.vibration`),
  raw and coarse-grained over 4 and 6 Å → z-score → linear SVM.
- ``qs``: interstice features (Miracle radii, short + medium range), raw and
  coarse-grained over 4 and 6 Å → gradient-boosted trees (probability of rearranging).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from softscope.descriptors.spec import DescriptorSpec
from softscope.errors import SoftscopeError

__all__ = ["RECIPES", "recipe_spec", "recipe_info", "recipe_feature_names", "D2MIN_CUTOFF"]

RECIPES = ("softness", "igd", "qs")

#: D²min neighbour cutoff (OVITO convention) per unit style: 3.7 Å for Cu-Zr (the first
#: minimum of g(r)); 1.4 σ for KA (near the first minimum of g_AA(r) ≈ 1.4 σ).
D2MIN_CUTOFF = {"metal": 3.7, "lj": 1.4}

#: Output name and estimator per recipe.
_INFO: dict[str, dict[str, str]] = {
    "softness": {"output_name": "Softness", "estimator": "linear"},
    "igd": {"output_name": "IGD", "estimator": "linear"},
    "qs": {"output_name": "QuenchInSoftness", "estimator": "trees"},
}

_SCALE = {"metal": 1.0, "lj": 1.0 / 2.5}


def _check_recipe(recipe: str) -> None:
    if recipe not in RECIPES:
        raise SoftscopeError(f"unknown recipe {recipe!r}; allowed: {', '.join(RECIPES)}")


def recipe_info(recipe: str) -> dict[str, str]:
    """``{"output_name", "estimator"}`` of a recipe (estimator: ``linear`` or ``trees``)."""
    _check_recipe(recipe)
    return dict(_INFO[recipe])


def _r(x: float) -> float:
    return round(float(x), 6)


def _radial(s: float) -> dict[str, Any]:
    centers = np.round(np.arange(1.0, 8.0 + 1e-9, 0.2) * s, 6).tolist()
    return {"kind": "radial", "centers": centers, "sigma": _r(0.2 * s)}


def _angular(s: float) -> dict[str, Any]:
    # r_c = 5 Å truncates the sum (first shell + the start of the second); the Gaussian
    # weight of a triplet at the cutoff is below exp(-50/ξ²) ≈ 0.004 for ξ = 3 Å
    xi = [_r(2.0 * s), _r(2.5 * s), _r(3.0 * s)]
    return {
        "kind": "angular",
        "xi": xi,
        "lambdas": [-1.0, 1.0],
        "zetas": [1.0, 2.0],
        "cutoff": _r(5.0 * s),
        "prefactor": False,
        "cutoff_function": False,
    }


def recipe_spec(
    recipe: str,
    species: Sequence[str],
    units: str = "metal",
    coarse_grain: Sequence[float] | None = None,
) -> DescriptorSpec:
    """The :class:`DescriptorSpec` of a recipe for a species order and unit style.

    ``coarse_grain`` radii default to (4, 6) Å (``metal``) or (1.6, 2.4) σ (``lj``).
    """
    _check_recipe(recipe)
    if units not in _SCALE:
        raise SoftscopeError(f"recipes are defined for units {sorted(_SCALE)}, got {units!r}")
    s = _SCALE[units]
    cg = tuple(coarse_grain) if coarse_grain is not None else (_r(4.0 * s), _r(6.0 * s))
    if recipe == "softness":
        blocks = (_radial(s), _angular(s))
    elif recipe == "igd":
        blocks = (
            _radial(s),
            {"kind": "entropy", "sigma": _r(0.2 * s), "r_max": _r(5.0 * s), "average_cutoff": None},
            {"kind": "external", "names": ["msd"]},
        )
    else:
        blocks = ({"kind": "interstice", "radii": None, "medium_range": True},)
    return DescriptorSpec(tuple(species), units=units, blocks=blocks, coarse_grain=cg)


def recipe_feature_names(recipe: str, species: Sequence[str], units: str = "metal") -> list[str]:
    """Feature names of a recipe (raw blocks, then their coarse-grained copies)."""
    return recipe_spec(recipe, species, units).feature_names()
