"""Feature specs and estimators of the training recipes ``softness``, ``igd`` and ``qs``.

Lengths follow the unit style: Å for ``metal`` (Cu-Zr), σ_AA for ``lj`` (Kob-Andersen);
the LJ grids are the Cu-Zr ones scaled by ~1/2.5 (σ_AA ≈ 2.5 Å for Cu).

- ``softness``: radial SF (μ = 1.0…8.0 Å step 0.2, σ = 0.2 Å, per species) + angular SF
  (Cubuk form, ξ = 2.0, 2.5, 3.0 Å; λ = ±1; ζ = 1, 2; r_ij, r_ik < 5 Å; no prefactor,
  no cutoff function),
  raw and coarse-grained over 4 and 6 Å → z-score → linear SVM (C by grouped CV).
- ``igd``: radial SF (as softness) + two-body excess entropy s2 (σ = 0.2 Å, r_m = 5 Å) +
  vibrational MSD (external column ``msd``, see :mod:`softscope.simulate.vibration`),
  raw and coarse-grained over 4 and 6 Å → z-score → linear SVM.
- ``softness-mlp``: the ``softness`` features → z-score → a small dense network
  (``MLPClassifier``, relu 32 → 8, L2 1e-2, early stopping): probability of rearranging.
- ``glassmlp`` (after Jung, Biroli & Berthier, PRL 2023): physics-inspired local
  descriptors coarse-grained over several lengths — the local density per species (radial
  SF with broad shells: μ = 2.5, 3.0, 3.5, 4.5, 5.5 Å, σ = 0.5 Å) and the potential energy
  per atom (external column ``pe``: dump ``c_pe``, in the fix ``features pe c_pe``), raw
  and coarse-grained over 2, 3, 4, 5 and 6 Å → z-score → a dense network with a
  bottleneck (relu 32 → 16 → 2): probability of rearranging.  Substitutes: the local
  variance of the energy is left to the network (the coarse-grained means at five
  lengths), and the Voronoi perimeter to the density shells.
- ``qs``: interstice features (Miracle radii, short + medium range), raw and
  coarse-grained over 4 and 6 Å → gradient-boosted trees (probability of rearranging).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from softscope.descriptors.spec import DescriptorSpec
from softscope.errors import SoftscopeError

__all__ = [
    "RECIPES",
    "recipe_spec",
    "recipe_info",
    "recipe_feature_names",
    "grid_scale",
    "D2MIN_CUTOFF",
    "R_PEAK_REFERENCE",
]

RECIPES = ("softness", "softness-radial", "softness-mlp", "glassmlp", "igd", "qs")

#: D²min neighbour cutoff (OVITO convention) per unit style: 3.7 Å for Cu-Zr (the first
#: minimum of g(r)); 1.4 σ for KA (near the first minimum of g_AA(r) ≈ 1.4 σ).
D2MIN_CUTOFF = {"metal": 3.7, "lj": 1.4}

#: Output name and estimator per recipe.
_INFO: dict[str, dict[str, Any]] = {
    "softness": {"output_name": "Softness", "estimator": "linear"},
    "softness-radial": {"output_name": "Softness", "estimator": "linear"},
    "softness-mlp": {"output_name": "RearrangementProbability", "estimator": "mlp"},
    "glassmlp": {
        "output_name": "RearrangementProbability",
        "estimator": "mlp",
        "hidden": (32, 16, 2),
    },
    "igd": {"output_name": "IGD", "estimator": "linear"},
    "qs": {"output_name": "QuenchInSoftness", "estimator": "trees"},
}

_SCALE = {"metal": 1.0, "real": 1.0, "lj": 1.0 / 2.5}

#: First peak of the total g(r) of the Cu64Zr36 training glasses (Å; measured with
#: :func:`softscope.pair_distribution.first_shell` on the zoo's AQS frames: 2.73 Å).
#: The recipes' grids are written for it; other systems scale them by r_peak / this.
R_PEAK_REFERENCE = 2.73


#: Width of the coarse-graining taper of ``smooth`` recipes on the Cu-Zr grid (Å): the
#: weights fall from 1 at 3.5 Å to 0 at the 4 Å radius, across the first minimum of the
#: Cu64Zr36 g(r) (3.69 Å), where pairs are fewest.
SMOOTH_TAPER = 0.5


def grid_scale(r_peak: float) -> float:
    """Factor on the recipes' Cu-Zr Å grids for a system whose total g(r) peaks first at
    ``r_peak`` (its length unit): ``r_peak / R_PEAK_REFERENCE``, rounded to 4 digits."""
    if not r_peak > 0:
        raise SoftscopeError(f"r_peak must be > 0, got {r_peak}")
    return round(float(r_peak) / R_PEAK_REFERENCE, 4)


def _check_recipe(recipe: str) -> None:
    if recipe not in RECIPES:
        raise SoftscopeError(f"unknown recipe {recipe!r}; allowed: {', '.join(RECIPES)}")


def recipe_info(recipe: str) -> dict[str, Any]:
    """``{"output_name", "estimator"[, "hidden"]}`` of a recipe (estimator: ``linear``,
    ``trees`` or ``mlp``; ``hidden``: an MLP recipe's hidden layer sizes)."""
    _check_recipe(recipe)
    return dict(_INFO[recipe])


def _r(x: float) -> float:
    return round(float(x), 6)


def _radial(s: float, r_max: float = 8.0) -> dict[str, Any]:
    centers = np.round(np.arange(1.0, r_max + 1e-9, 0.2) * s, 6).tolist()
    return {"kind": "radial", "centers": centers, "sigma": _r(0.2 * s)}


def _angular(s: float, cutoff: float = 4.0, xi: Sequence[float] = (2.0, 3.0)) -> dict[str, Any]:
    # the Gaussian weight exp(-(r_ij² + r_ik² + r_jk²)/ξ²) of a triplet with both
    # neighbours at the cutoff is below exp(-32/9) ≈ 0.03 for ξ = 3 Å at r_c = 4 Å
    return {
        "kind": "angular",
        "xi": [_r(x * s) for x in xi],
        "lambdas": [-1.0, 1.0],
        "zetas": [1.0, 2.0],
        "cutoff": _r(cutoff * s),
        "prefactor": False,
        "cutoff_function": False,
    }


def recipe_spec(
    recipe: str,
    species: Sequence[str],
    units: str = "metal",
    coarse_grain: Sequence[float] | None = None,
    length_scale: float | None = None,
    smooth: bool = False,
) -> DescriptorSpec:
    """The :class:`DescriptorSpec` of a recipe for a species order and unit style.

    Every length of the Cu-Zr grids (Å) is multiplied by ``length_scale`` (default: 1 for
    ``metal``/``real``, 1/2.5 for ``lj``; for another system :func:`grid_scale` of its
    g(r)).  ``coarse_grain`` radii default to (4, 6) Å (``metal``) or (1.6, 2.4) σ (``lj``);
    ``softness-radial`` (the fast softness of the LAMMPS fix) to 4 Å / 1.6 σ only.

    ``smooth``: the angular block's cosine cutoff function and coarse-graining weights
    tapered over the last :data:`SMOOTH_TAPER` (× the length scale) before each radius, so
    structure-function features are continuous in the positions (the radial block's reach,
    max μ + 4σ, already is: a pair there weighs e⁻⁸; the entropy block keeps LAMMPS's
    hard r_max, the interstice block its Delaunay neighbours).
    """
    _check_recipe(recipe)
    if units not in _SCALE:
        raise SoftscopeError(f"recipes are defined for units {sorted(_SCALE)}, got {units!r}")
    s = _SCALE[units] if length_scale is None else float(length_scale)
    if not s > 0:
        raise SoftscopeError(f"length_scale must be > 0, got {length_scale}")
    default_cg = (_r(4.0 * s),) if recipe == "softness-radial" else (_r(4.0 * s), _r(6.0 * s))
    if recipe == "glassmlp":
        default_cg = tuple(_r(x * s) for x in (2.0, 3.0, 4.0, 5.0, 6.0))
    cg = tuple(coarse_grain) if coarse_grain is not None else default_cg
    if recipe in ("softness", "softness-mlp"):
        # μ ≤ 6 Å and an angular cutoff of 4 Å (ξ = 2, 3 Å): the same held-out ROC-AUC as
        # μ ≤ 8 Å + angular 5 Å with ξ = 2, 2.5, 3 Å (0.722 vs 0.709 on the zoo's Cu-Zr
        # data, studies/descriptor_grid) at 2.6x less evaluation cost (docs/training.md)
        blocks = (_radial(s, r_max=6.0), _angular(s))
    elif recipe == "softness-radial":
        # radial μ ≤ 6 Å only, coarse-grained over 4 Å: held-out ROC-AUC as the softness
        # recipe's (angular functions add -0.002 ± 0.004; studies/descriptor_grid) at ~1/3
        # of its evaluation cost, for in-run use at short evaluation intervals
        blocks = (_radial(s, r_max=6.0),)
    elif recipe == "glassmlp":
        shells = {
            "kind": "radial",
            "centers": [_r(x * s) for x in (2.5, 3.0, 3.5, 4.5, 5.5)],
            "sigma": _r(0.5 * s),
        }
        blocks = (shells, {"kind": "external", "names": ["pe"]})
    elif recipe == "igd":
        blocks = (
            _radial(s),
            {"kind": "entropy", "sigma": _r(0.2 * s), "r_max": _r(5.0 * s), "average_cutoff": None},
            {"kind": "external", "names": ["msd"]},
        )
    else:
        blocks = ({"kind": "interstice", "radii": None, "medium_range": True},)
    if smooth:
        blocks = tuple(
            dict(b, cutoff_function=True) if b["kind"] == "angular" else b for b in blocks
        )
    taper = _r(SMOOTH_TAPER * s) if smooth and cg else 0.0
    return DescriptorSpec(
        tuple(species), units=units, blocks=blocks, coarse_grain=cg, coarse_grain_taper=taper
    )


def recipe_feature_names(recipe: str, species: Sequence[str], units: str = "metal") -> list[str]:
    """Feature names of a recipe (raw blocks, then their coarse-grained copies)."""
    return recipe_spec(recipe, species, units).feature_names()
