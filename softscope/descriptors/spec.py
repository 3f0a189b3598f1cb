"""DescriptorSpec: every parameter and convention of a feature set, serialisable to JSON.

A spec is an ordered list of feature **blocks** plus optional **coarse-graining**
radii.  The feature vector of atom i is

    [ raw blocks (in order) | cg(r_1)(raw) | cg(r_2)(raw) | ... ]

where ``cg(r)`` is :func:`softscope.descriptors.coarse_grain` of every raw column (the
mean over the atom and its neighbours within r, CONVENTIONS.md; with
``coarse_grain_taper`` δ > 0 the neighbours' weights fall smoothly to 0 over the last δ
before r, so features are continuous in the positions).  With ``raw_bounds`` (lower,
upper) every raw column is clamped to [lower, upper] before coarse-graining: a trained
model's descriptor never leaves the range of its training structures (a linear model does
not extrapolate an exponentially sensitive function of a compressed triplet).

A block is a mapping ``{"kind": NAME, **parameters}``; each kind is defined by the module
that computes it and registered in :mod:`softscope.descriptors.registry`:

- ``radial``: centers, sigma, cutoff, cutoff_function (:mod:`~softscope.descriptors.radial`)
- ``angular``: xi, lambdas, zetas, cutoff, prefactor, cutoff_function
  (:mod:`~softscope.descriptors.angular`)
- ``entropy``: sigma, r_max, average_cutoff (species-blind, LAMMPS ``entropy/atom``;
  :mod:`~softscope.descriptors.entropy`)
- ``interstice``: radii, medium_range (:mod:`~softscope.descriptors.interstice`)
- ``external``: per-atom columns that a single frame cannot give (e.g. the
  vibrational mean-square displacement ``msd`` from a thermal window); supplied by
  the caller (``extra={"msd": ...}``) — the LAMMPS fix accumulates them in-run
  (:mod:`~softscope.descriptors.external`).

A spec records its species order and unit style; computing it on a frame with a
species outside that order is an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from softscope.descriptors.coarse_grain import (
    coarse_grain_diagonal,
    coarse_grain_from_neighbors,
    coarse_grain_names,
    coarse_grain_points,
)
from softscope.descriptors.registry import PointSet, block_kind, normalise_block
from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.neighbors import neighbor_list

__all__ = ["DescriptorSpec", "SPEC_VERSION", "UNIT_STYLES"]

SPEC_VERSION = 1
UNIT_STYLES = ("metal", "lj", "real", "si", "cgs", "electron", "micro", "nano")


@dataclass(frozen=True)
class DescriptorSpec:
    """A feature set: species order, unit style, blocks, coarse-graining radii (length
    unit of ``units``)."""

    species: tuple[str, ...]
    units: str = "metal"
    blocks: tuple[Mapping[str, Any], ...] = ()
    coarse_grain: tuple[float, ...] = ()
    version: int = field(default=SPEC_VERSION)
    #: width δ (length unit) of the cosine taper of the coarse-graining weights; 0: the
    #: convention's plain mean within each radius
    coarse_grain_taper: float = 0.0
    #: (lower, upper): per raw column (``raw_names()`` order) the range every raw feature
    #: is clamped to before coarse-graining; None: no clamping
    raw_bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "species", tuple(str(s) for s in self.species))
        object.__setattr__(self, "coarse_grain", tuple(float(r) for r in self.coarse_grain))
        object.__setattr__(self, "blocks", tuple(normalise_block(b) for b in self.blocks))
        if not self.species or len(set(self.species)) != len(self.species):
            raise SoftscopeError(f"spec species must be non-empty and unique, got {self.species}")
        if self.units not in UNIT_STYLES:
            raise SoftscopeError(f"unknown unit style {self.units!r}; one of {UNIT_STYLES}")
        if not self.blocks:
            raise SoftscopeError("a descriptor spec needs at least one block")
        if any(r <= 0 or not np.isfinite(r) for r in self.coarse_grain):
            raise SoftscopeError(f"coarse-graining radii must be positive, got {self.coarse_grain}")
        t = float(self.coarse_grain_taper)
        object.__setattr__(self, "coarse_grain_taper", t)
        if not np.isfinite(t) or t < 0 or (t > 0 and t >= min(self.coarse_grain, default=0.0)):
            raise SoftscopeError(
                f"coarse_grain_taper must be >= 0 and below the smallest coarse-graining "
                f"radius {list(self.coarse_grain)}, got {self.coarse_grain_taper}"
            )
        if self.version != SPEC_VERSION:
            raise SoftscopeError(
                f"descriptor spec version {self.version} is not supported (this softscope: {SPEC_VERSION})"
            )
        if self.raw_bounds is not None:
            self._set_bounds()

    def _set_bounds(self) -> None:
        try:
            lo, hi = (tuple(float(v) for v in side) for side in self.raw_bounds)
        except (TypeError, ValueError):
            raise SoftscopeError(
                "raw_bounds must be (lower, upper), two sequences of numbers"
            ) from None
        n = len(self.raw_names())
        if len(lo) != n or len(hi) != n:
            raise SoftscopeError(
                f"raw_bounds must give {n} lower and upper values (one per raw column), "
                f"got {len(lo)} and {len(hi)}"
            )
        a, b = np.array(lo), np.array(hi)
        if np.isnan(a).any() or np.isnan(b).any() or np.any(a > b):
            raise SoftscopeError("raw_bounds: every lower bound must be <= its upper bound")
        object.__setattr__(self, "raw_bounds", (lo, hi))

    # ------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        d = {
            "version": self.version,
            "species": list(self.species),
            "units": self.units,
            "blocks": [dict(b) for b in self.blocks],
            "coarse_grain": list(self.coarse_grain),
        }
        if self.coarse_grain_taper:  # absent: the plain mean (specs written before it)
            d["coarse_grain_taper"] = self.coarse_grain_taper
        if self.raw_bounds is not None:  # absent: no clamping
            d["raw_bounds"] = {"lower": list(self.raw_bounds[0]), "upper": list(self.raw_bounds[1])}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DescriptorSpec:
        try:
            rb = d.get("raw_bounds")
            bounds = None if rb is None else (tuple(rb["lower"]), tuple(rb["upper"]))
            return cls(
                species=tuple(d["species"]),
                units=d.get("units", "metal"),
                blocks=tuple(d["blocks"]),
                coarse_grain=tuple(d.get("coarse_grain", ())),
                version=int(d.get("version", SPEC_VERSION)),
                coarse_grain_taper=float(d.get("coarse_grain_taper", 0.0)),
                raw_bounds=bounds,
            )
        except KeyError as exc:
            raise SoftscopeError(f"descriptor spec lacks the field {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DescriptorSpec:
        return cls.from_dict(json.loads(text))

    # ------------------------------------------------------------------ geometry
    @property
    def cutoff(self) -> float:
        """Largest neighbour distance any raw block needs (length unit)."""
        return max(block_kind(b["kind"]).cutoff(b, self.species) for b in self.blocks)

    @property
    def ghost_cutoff(self) -> float:
        """Reach needed around an atom when raw features of neighbours are coarse-grained
        without communication: cutoff + max(coarse_grain)."""
        return self.cutoff + (max(self.coarse_grain) if self.coarse_grain else 0.0)

    @property
    def split_ghost_cutoff(self) -> float:
        """Reach needed around an atom when the raw features of ghost atoms are supplied
        by their owners (communicated): max(cutoff, max(coarse_grain))."""
        return max(self.cutoff, max(self.coarse_grain) if self.coarse_grain else 0.0)

    @property
    def external(self) -> tuple[str, ...]:
        """Names of the per-atom columns the caller supplies (``extra``), in block order."""
        out: list[str] = []
        for b in self.blocks:
            out.extend(block_kind(b["kind"]).inputs(b))
        return tuple(out)

    # ------------------------------------------------------------------ features
    def raw_names(self) -> list[str]:
        """Names of the raw block columns, in column order."""
        names: list[str] = []
        for b in self.blocks:
            names.extend(block_kind(b["kind"]).names(b, self.species))
        return names

    def feature_names(self) -> list[str]:
        """Names of all feature columns: the raw ones, then their coarse-grained copies."""
        raw = self.raw_names()
        names = list(raw)
        for r in self.coarse_grain:
            names.extend(coarse_grain_names(raw, r))
        return names

    @property
    def n_features(self) -> int:
        return len(self.feature_names())

    def with_raw_bounds(self, lower: np.ndarray | None, upper: np.ndarray | None = None):
        """This spec with raw columns clamped to [lower, upper] ((n_raw,) each); ``None``:
        without clamping."""
        if lower is None:
            return replace(self, raw_bounds=None)
        return replace(self, raw_bounds=(tuple(np.ravel(lower)), tuple(np.ravel(upper))))

    def clamp(self, raw: np.ndarray) -> np.ndarray:
        """``raw`` (N, n_raw) clamped in place to :attr:`raw_bounds` (unchanged without)."""
        if self.raw_bounds is not None:
            np.clip(raw, self.raw_bounds[0], self.raw_bounds[1], out=raw)
        return raw

    def check_frame(self, frame: Frame) -> None:
        """Raise unless every species of ``frame`` is one of the spec's."""
        frame.species_index(self.species)

    def check_points(
        self, points: np.ndarray, point_species_codes: np.ndarray, n_query: int
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Validated local + ghost inputs: ``points`` as (M, 3) contiguous float64, the
        species codes as (M,) contiguous int64 in [0, len(species)), and ``n_query`` as an
        int in [0, M]."""
        pts = np.ascontiguousarray(points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 3:
            raise SoftscopeError(f"points must have shape (M, 3), got {pts.shape}")
        m = pts.shape[0]
        n_query = int(n_query)
        if not 0 <= n_query <= m:
            raise SoftscopeError(f"n_query={n_query} must lie in [0, {m}]")
        codes = np.ascontiguousarray(point_species_codes, dtype=np.int64)
        if codes.shape != (m,):
            raise SoftscopeError(f"point_species_codes must have shape ({m},), got {codes.shape}")
        if m and (codes.min() < 0 or codes.max() >= len(self.species)):
            raise SoftscopeError(
                f"species codes must lie in [0, {len(self.species)}) ({', '.join(self.species)})"
            )
        return pts, codes, n_query

    # ---------------------------------------------------------- periodic frame
    def compute_raw(
        self, frame: Frame, extra: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """(N, n_raw) float64 raw block features of ``frame`` (clamped to
        :attr:`raw_bounds`); ``extra``: per-atom columns named by :attr:`external`."""
        self.check_frame(frame)
        cols = [block_kind(b["kind"]).compute(b, frame, self.species, extra) for b in self.blocks]
        return self.clamp(np.ascontiguousarray(np.concatenate(cols, axis=1)))

    def compute(self, frame: Frame, extra: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """(N, n_features) float64: raw blocks followed by their coarse-grained copies."""
        raw = self.compute_raw(frame, extra)
        if not self.coarse_grain:
            return raw
        nl = neighbor_list(frame, max(self.coarse_grain))
        point_raw = raw[nl.point_atom]
        t = self.coarse_grain_taper
        parts = [raw] + [
            coarse_grain_from_neighbors(nl, point_raw, r, t) for r in self.coarse_grain
        ]
        return np.ascontiguousarray(np.concatenate(parts, axis=1))

    # ------------------------------------------------ local + ghost points (LAMMPS)
    def compute_raw_points(
        self,
        points: np.ndarray,
        point_species_codes: np.ndarray,
        n_query: int,
        density: float | None = None,
        extra: Mapping[str, np.ndarray] | None = None,
        owner: np.ndarray | None = None,
    ) -> np.ndarray:
        """(n_query, n_raw) float64 raw block features of ``points[:n_query]`` only
        (clamped to :attr:`raw_bounds`).

        ``points`` (M, 3) are local then ghost atoms (no periodicity is added); ghosts need
        only reach :attr:`cutoff` beyond the query points.  ``point_species_codes`` (M,)
        int codes in the spec's species order, ``density`` the number density N/V of the
        **whole** system (length unit⁻³; needed by entropy blocks), ``extra`` per-point
        columns (M rows) for :attr:`external`, ``owner`` (M,) the query point each point is
        an image of, when the points are a periodic frame's (:class:`PointSet`).  The
        caller communicates the rows of the owners to their ghosts and calls
        :meth:`coarse_grain_points`.
        """
        pts, codes, n_query = self.check_points(points, point_species_codes, n_query)
        if owner is not None:
            owner = np.asarray(owner, dtype=np.int64)
            if owner.shape != (pts.shape[0],) or (
                owner.size and (owner.min() < 0 or owner.max() >= n_query)
            ):
                raise SoftscopeError(
                    f"owner must map each of the {pts.shape[0]} points to a query point"
                )
        ps = PointSet(pts, codes, n_query, self.species, density, extra, owner)
        cols = [block_kind(b["kind"]).compute_points(b, ps) for b in self.blocks]
        return self.clamp(np.ascontiguousarray(np.concatenate(cols, axis=1)))

    def coarse_grain_points(
        self, points: np.ndarray, point_raw: np.ndarray, n_query: int
    ) -> np.ndarray:
        """(n_query, n_features) float64: raw rows of the query points followed by their
        coarse-grained copies, from ``point_raw`` (M, n_raw) = raw features of every point
        (ghost rows copied from their owners).  Ghosts must reach max(coarse_grain)."""
        pts = np.ascontiguousarray(points, dtype=np.float64)
        raw = np.asarray(point_raw, dtype=np.float64)
        n_raw = len(self.raw_names())
        if raw.ndim != 2 or raw.shape[0] != pts.shape[0] or raw.shape[1] != n_raw:
            raise SoftscopeError(
                f"point_raw must have shape ({pts.shape[0]}, {n_raw}), got {raw.shape}"
            )
        if not self.coarse_grain:
            return np.ascontiguousarray(raw[: int(n_query)])
        return coarse_grain_points(
            pts, raw, n_query, self.coarse_grain, taper=self.coarse_grain_taper
        )

    def coarse_grain_diagonal(
        self, points: np.ndarray, point_values: np.ndarray, n_query: int
    ) -> np.ndarray:
        """Σ_k of column k of ``point_values`` (M, K) coarse-grained over the k-th radius of
        :attr:`coarse_grain` (K = number of radii), for the query points: (n_query,).
        The coarse-grained terms of a linear model (one projection per radius); see
        :func:`~softscope.descriptors.coarse_grain.coarse_grain_diagonal`."""
        if not self.coarse_grain:
            raise SoftscopeError("this spec has no coarse-graining radii")
        return coarse_grain_diagonal(
            points, point_values, n_query, self.coarse_grain, self.coarse_grain_taper
        )
