"""DescriptorSpec: every parameter and convention of a feature set, serialisable to JSON.

A spec is an ordered list of feature **blocks** plus optional **coarse-graining**
radii.  The feature vector of atom i is

    [ raw blocks (in order) | cg(r_1)(raw) | cg(r_2)(raw) | ... ]

where ``cg(r)`` is :func:`softscope.descriptors.coarse_grain` of every raw column.

Block kinds (parameters as in the descriptor functions of the same name):

- ``radial``: centers, sigma, cutoff, cutoff_function
- ``angular``: xi, lambdas, zetas, cutoff, prefactor, cutoff_function
- ``entropy``: sigma, r_max, average_cutoff (species-blind, LAMMPS ``entropy/atom``)
- ``interstice``: radii, medium_range
- ``external``: per-atom columns that a single frame cannot give (e.g. the
  vibrational mean-square displacement ``msd`` from a thermal window); supplied by
  the caller (``extra={"msd": ...}``) — the LAMMPS fix accumulates them in-run.

A spec records its species order and unit style; computing it on a frame with a
species outside that order is an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from softscope._jit import nb
from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.neighbors import _gather, cell_walk

__all__ = ["DescriptorSpec", "SPEC_VERSION"]

SPEC_VERSION = 1
UNIT_STYLES = ("metal", "lj", "real", "si", "cgs", "electron", "micro", "nano")
_KINDS = ("radial", "angular", "entropy", "interstice", "external")


def _f(x) -> float:
    return float(x)


@dataclass(frozen=True)
class DescriptorSpec:
    """A feature set: species order, unit style, blocks, coarse-graining radii."""

    species: tuple[str, ...]
    units: str = "metal"
    blocks: tuple[Mapping[str, Any], ...] = ()
    coarse_grain: tuple[float, ...] = ()
    version: int = field(default=SPEC_VERSION)

    def __post_init__(self) -> None:
        object.__setattr__(self, "species", tuple(str(s) for s in self.species))
        object.__setattr__(self, "coarse_grain", tuple(_f(r) for r in self.coarse_grain))
        object.__setattr__(self, "blocks", tuple(_normalise_block(b) for b in self.blocks))
        if not self.species or len(set(self.species)) != len(self.species):
            raise SoftscopeError(f"spec species must be non-empty and unique, got {self.species}")
        if self.units not in UNIT_STYLES:
            raise SoftscopeError(f"unknown unit style {self.units!r}; one of {UNIT_STYLES}")
        if not self.blocks:
            raise SoftscopeError("a descriptor spec needs at least one block")
        if any(r <= 0 or not np.isfinite(r) for r in self.coarse_grain):
            raise SoftscopeError(f"coarse-graining radii must be positive, got {self.coarse_grain}")
        if self.version != SPEC_VERSION:
            raise SoftscopeError(
                f"descriptor spec version {self.version} is not supported (this softscope: {SPEC_VERSION})"
            )

    # ------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "species": list(self.species),
            "units": self.units,
            "blocks": [dict(b) for b in self.blocks],
            "coarse_grain": list(self.coarse_grain),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DescriptorSpec:
        try:
            return cls(
                species=tuple(d["species"]),
                units=d.get("units", "metal"),
                blocks=tuple(d["blocks"]),
                coarse_grain=tuple(d.get("coarse_grain", ())),
                version=int(d.get("version", SPEC_VERSION)),
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
        return max(_block_cutoff(b, self.species) for b in self.blocks)

    @property
    def ghost_cutoff(self) -> float:
        """Reach needed around an atom when raw features of neighbours are coarse-grained
        without communication: cutoff + max(coarse_grain)."""
        return self.cutoff + (max(self.coarse_grain) if self.coarse_grain else 0.0)

    @property
    def external(self) -> tuple[str, ...]:
        """Names of externally supplied per-atom columns."""
        out: list[str] = []
        for b in self.blocks:
            if b["kind"] == "external":
                out.extend(b["names"])
        return tuple(out)

    # ------------------------------------------------------------------ features
    def raw_names(self) -> list[str]:
        names: list[str] = []
        for b in self.blocks:
            names.extend(_block_names(b, self.species))
        return names

    def feature_names(self) -> list[str]:
        raw = self.raw_names()
        names = list(raw)
        from softscope.descriptors.coarse_grain import coarse_grain_names

        for r in self.coarse_grain:
            names.extend(coarse_grain_names(raw, r))
        return names

    @property
    def n_features(self) -> int:
        return len(self.feature_names())

    def check_frame(self, frame: Frame) -> None:
        frame.species_index(self.species)  # raises on unknown species

    def compute_raw(
        self, frame: Frame, extra: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """(N, n_raw) raw block features of ``frame``."""
        self.check_frame(frame)
        cols = [_compute_block(b, frame, self.species, extra) for b in self.blocks]
        return np.ascontiguousarray(np.concatenate(cols, axis=1))

    def compute(self, frame: Frame, extra: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """(N, n_features) float64: raw blocks followed by their coarse-grained copies."""
        raw = self.compute_raw(frame, extra)
        if not self.coarse_grain:
            return raw
        from softscope.descriptors.coarse_grain import coarse_grain_from_neighbors
        from softscope.neighbors import neighbor_list

        nl = neighbor_list(frame, max(self.coarse_grain))
        point_raw = raw[nl.point_atom]
        parts = [raw] + [coarse_grain_from_neighbors(nl, point_raw, r) for r in self.coarse_grain]
        return np.ascontiguousarray(np.concatenate(parts, axis=1))

    def compute_points(
        self,
        points: np.ndarray,
        point_species_codes: np.ndarray,
        n_query: int,
        density: float | None = None,
        extra: Mapping[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Features of ``points[:n_query]`` from local + ghost points (no periodicity added).

        The LAMMPS face of :meth:`compute`: ``points`` (M, 3) are local then ghost atoms
        (ghosts must reach :attr:`ghost_cutoff` beyond every query point),
        ``point_species_codes`` (M,) int codes in the spec's species order, ``density``
        the number density N/V of the **whole** system (length unit⁻³; needed by entropy
        blocks), ``extra`` per-point columns (M rows) for external blocks.  Raw features
        are computed for all M points (ghost rows near the outer edge are incomplete but
        only rows within the coarse-graining radius of a query point are used), then
        coarse-grained for the query points.  Returns (n_query, n_features) float64.
        """
        pts, codes, n_query = self._check_points(points, point_species_codes, n_query)
        m = pts.shape[0]
        n_raw = m if self.coarse_grain else n_query
        cols = [
            _points_block(b, pts, codes, n_raw, self.species, density, extra) for b in self.blocks
        ]
        raw = np.ascontiguousarray(np.concatenate(cols, axis=1))
        if not self.coarse_grain:
            return raw
        from softscope.descriptors.coarse_grain import coarse_grain_from_neighbors
        from softscope.neighbors import build_from_points

        nl = build_from_points(pts, n_query, max(self.coarse_grain))
        parts = [raw[:n_query]] + [
            coarse_grain_from_neighbors(nl, raw, r) for r in self.coarse_grain
        ]
        return np.ascontiguousarray(np.concatenate(parts, axis=1))

    # ------------------------------------------------ split LAMMPS face (additive)
    @property
    def split_ghost_cutoff(self) -> float:
        """Reach needed around an atom when the raw features of ghost atoms are supplied
        by their owners (communicated): max(cutoff, max(coarse_grain))."""
        return max(self.cutoff, max(self.coarse_grain) if self.coarse_grain else 0.0)

    def compute_raw_points(
        self,
        points: np.ndarray,
        point_species_codes: np.ndarray,
        n_query: int,
        density: float | None = None,
        extra: Mapping[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """(n_query, n_raw) float64 raw block features of ``points[:n_query]`` only.

        First half of the split LAMMPS face: ghosts need only reach :attr:`cutoff`
        beyond the query points.  The caller communicates the rows of the owners to
        their ghosts and calls :meth:`coarse_grain_points`.  Arguments as in
        :meth:`compute_points`.
        """
        pts, codes, n_query = self._check_points(points, point_species_codes, n_query)
        cols = [
            _radial_points_fused(b, pts, codes, n_query, len(self.species))
            if b["kind"] == "radial"
            else _points_block(b, pts, codes, n_query, self.species, density, extra)
            for b in self.blocks
        ]
        return np.ascontiguousarray(np.concatenate(cols, axis=1))

    def coarse_grain_points(
        self, points: np.ndarray, point_raw: np.ndarray, n_query: int
    ) -> np.ndarray:
        """(n_query, n_features) float64: raw rows of the query points followed by their
        coarse-grained copies, from ``point_raw`` (M, n_raw) = raw features of every point
        (ghost rows copied from their owners).  Ghosts must reach max(coarse_grain)."""
        pts = np.ascontiguousarray(points, dtype=np.float64)
        raw = np.asarray(point_raw, dtype=np.float64)
        n_query = int(n_query)
        if raw.ndim != 2 or raw.shape[0] != pts.shape[0] or raw.shape[1] != len(self.raw_names()):
            raise SoftscopeError(
                f"point_raw must have shape ({pts.shape[0]}, {len(self.raw_names())}), "
                f"got {raw.shape}"
            )
        if not self.coarse_grain:
            return np.ascontiguousarray(raw[:n_query])
        if not np.isfinite(raw[:n_query]).all():
            raise SoftscopeError("values to coarse-grain contain NaN or inf")
        return _coarse_grain_points_fused(pts, raw, n_query, self.coarse_grain)

    def coarse_grain_columns(
        self, points: np.ndarray, point_values: np.ndarray, n_query: int
    ) -> list[np.ndarray]:
        """Coarse-grained ``point_values`` (M, k) of the query points, one (n_query, k)
        array per radius of :attr:`coarse_grain` (same convention as the features)."""
        pts = np.ascontiguousarray(points, dtype=np.float64)
        vals = np.asarray(point_values, dtype=np.float64)
        if vals.ndim != 2 or vals.shape[0] != pts.shape[0]:
            raise SoftscopeError(
                f"point_values must have shape ({pts.shape[0]}, k), got {vals.shape}"
            )
        if not self.coarse_grain:
            raise SoftscopeError("this spec has no coarse-graining radii")
        if not np.isfinite(vals[: int(n_query)]).all():
            raise SoftscopeError("values to coarse-grain contain NaN or inf")
        k = vals.shape[1]
        out = _coarse_grain_points_fused(pts, vals, int(n_query), self.coarse_grain, False)
        return [out[:, k * i : k * (i + 1)] for i in range(len(self.coarse_grain))]

    def coarse_grain_diagonal(
        self, points: np.ndarray, point_values: np.ndarray, n_query: int
    ) -> np.ndarray:
        """Σ_k of column k of ``point_values`` (M, K) coarse-grained over the k-th radius of
        :attr:`coarse_grain` (K = number of radii), for the query points: (n_query,).
        The coarse-grained terms of a linear model (one projection per radius), as the
        diagonal of :meth:`coarse_grain_columns` summed over k, bit for bit, without its
        (n_query, K²) array and with K× less accumulation work."""
        pts = np.ascontiguousarray(points, dtype=np.float64)
        vals = np.asarray(point_values, dtype=np.float64)
        nr = len(self.coarse_grain)
        if not nr:
            raise SoftscopeError("this spec has no coarse-graining radii")
        if vals.ndim != 2 or vals.shape != (pts.shape[0], nr):
            raise SoftscopeError(
                f"point_values must have shape ({pts.shape[0]}, {nr}) (one column per "
                f"coarse-graining radius), got {vals.shape}"
            )
        n_query = int(n_query)
        if not np.isfinite(vals[:n_query]).all():
            raise SoftscopeError("values to coarse-grain contain NaN or inf")
        out = np.zeros(n_query)
        if n_query == 0:
            return out
        cell_start, cell_points, bin_of, nb3, xyz, slot, max_cand, st = cell_walk(
            pts, max(self.coarse_grain), n_query=n_query
        )
        r2 = np.array([r * r for r in self.coarse_grain], dtype=np.float64)
        _cg_diagonal(
            xyz,
            vals,
            cell_points,
            slot[:n_query],
            bin_of[:n_query],
            cell_start,
            nb3,
            st,
            max_cand,
            r2,
            out,
        )
        return out

    def _check_points(self, points, point_species_codes, n_query):
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


# ------------------------------------------------------ fused kernels (LAMMPS face)
# One cell-list walk per evaluation and no stored pair list: the split LAMMPS face
# computes raw radial features of the local atoms and coarse-grains them over all
# radii in one pass.  Same pairs as the neighbour engine (d² < r²), summed in cell order.
def _radial_points_fused(b, points, codes, n_query, n_species) -> np.ndarray:
    from softscope.descriptors.radial import (
        WINDOW,
        _check_params,
        _grid,
        _radial_fused,
        _to_caller_order,
    )

    mu, s = _check_params(b["centers"], b["sigma"])
    rc = float(b["cutoff"])
    if n_query == 0:
        return np.zeros((0, n_species * len(mu)))
    cell_start, cell_points, bin_of, nb3, xyz, slot, max_cand, st = cell_walk(points, rc)
    sorted_species = np.ascontiguousarray(codes[cell_points])
    ms, order, step = _grid(mu, s)
    out = _radial_fused(
        xyz,
        sorted_species,
        points[:n_query],
        slot[:n_query],
        bin_of[:n_query],
        cell_start,
        nb3,
        st,
        max_cand,
        n_species,
        ms,
        float(step),
        s,
        rc,
        bool(b["cutoff_function"]),
        WINDOW,
    )
    return _to_caller_order(out, n_species, order)


def _coarse_grain_points_fused(points, raw, n_query, radii, with_raw: bool = True) -> np.ndarray:
    """[raw[:n_query] | cg(r_1) | cg(r_2) ...] (without the raw block when ``with_raw`` is
    False): mean over the point and all other points with d² < r_k² (the neighbour
    engine's pairs; self included once)."""
    nf = raw.shape[1]
    rmax = max(radii)
    out = np.empty((n_query, nf * (int(with_raw) + len(radii))))
    if with_raw:
        out[:, :nf] = raw[:n_query]
    if n_query == 0:
        return out
    cell_start, cell_points, bin_of, nb3, xyz, slot, max_cand, st = cell_walk(
        points, rmax, n_query=n_query
    )
    raw_sorted = np.ascontiguousarray(raw[cell_points], dtype=np.float64)
    r2 = np.array([r * r for r in radii], dtype=np.float64)
    _cg_fused(
        xyz,
        raw_sorted,
        points[:n_query],
        slot[:n_query],
        bin_of[:n_query],
        cell_start,
        nb3,
        st,
        max_cand,
        r2,
        out,
    )
    return out


@nb.njit(
    parallel=True,
    cache=True,
    aot="void(f8[:,::1], f8[:,::1], f8[:,::1], i8[::1], i8[::1], i8[::1], i8[::1], i8, i8, "
    "f8[::1], f8[:,::1])",
)
def _cg_fused(xyz, raw_sorted, qpos, qslot, qbin, cell_start, nb3, st, max_cand, r2, out):
    """Per query point: the neighbours within max r (branch-free gather), then the means."""
    n = qpos.shape[0]
    nf = raw_sorted.shape[1]
    nr = r2.shape[0]
    r2max = r2.max()
    x = xyz[0]
    y = xyz[1]
    z = xyz[2]
    chunk = 256
    nchunk = (n + chunk - 1) // chunk
    for ch in nb.prange(nchunk):
        cand = np.empty(max_cand + 1, dtype=np.int64)
        cd2 = np.empty(max_cand + 1, dtype=np.float64)
        acc = np.empty((nr, nf))
        cnt = np.empty(nr)
        for i in range(ch * chunk, min((ch + 1) * chunk, n)):
            me = qslot[i]
            m = _gather(
                x,
                y,
                z,
                qpos[i, 0],
                qpos[i, 1],
                qpos[i, 2],
                me,
                qbin[i],
                cell_start,
                nb3,
                st,
                r2max,
                cand,
                cd2,
            )
            for k in range(nr):
                cnt[k] = 1.0
                for f in range(nf):
                    acc[k, f] = raw_sorted[me, f]
            for t in range(m):
                q = cand[t]
                d2 = cd2[t]
                for k in range(nr):
                    if d2 < r2[k]:
                        cnt[k] += 1.0
                        for f in range(nf):
                            acc[k, f] += raw_sorted[q, f]
            for k in range(nr):
                inv = 1.0 / cnt[k]
                base = out.shape[1] - nf * (nr - k)  # the cg blocks are the last nr * nf
                for f in range(nf):
                    out[i, base + f] = acc[k, f] * inv


@nb.njit(
    parallel=True,
    cache=True,
    aot="void(f8[:,::1], f8[:,:], i8[::1], i8[::1], i8[::1], i8[::1], i8[::1], i8, i8, "
    "f8[::1], f8[::1])",
)
def _cg_diagonal(xyz, vals, cell_points, qslot, qbin, cell_start, nb3, st, max_cand, r2, out):
    """out[i] = Σ_k mean of column k over the query point and its points with d² < r2[k]
    (the terms and their order of :func:`_cg_fused`'s diagonal: sum, then × 1/count).
    ``vals`` (M, K), any strides (e.g. the LAMMPS fix's transit columns, read in place),
    read by point index through the cell order."""
    n = qslot.shape[0]
    nr = r2.shape[0]
    r2max = r2.max()
    x = xyz[0]
    y = xyz[1]
    z = xyz[2]
    chunk = 256
    nchunk = (n + chunk - 1) // chunk
    for ch in nb.prange(nchunk):
        cand = np.empty(max_cand + 1, dtype=np.int64)
        cd2 = np.empty(max_cand + 1, dtype=np.float64)
        acc = np.empty(nr)
        cnt = np.empty(nr)
        for i in range(ch * chunk, min((ch + 1) * chunk, n)):
            me = qslot[i]
            m = _gather(
                x, y, z, x[me], y[me], z[me], me, qbin[i], cell_start, nb3, st, r2max, cand, cd2
            )
            pi = cell_points[me]
            for k in range(nr):
                cnt[k] = 1.0
                acc[k] = vals[pi, k]
            for t in range(m):
                pq = cell_points[cand[t]]
                d2 = cd2[t]
                for k in range(nr):
                    if d2 < r2[k]:
                        cnt[k] += 1.0
                        acc[k] += vals[pq, k]
            s = 0.0
            for k in range(nr):
                s += acc[k] * (1.0 / cnt[k])
            out[i] = s


# ---------------------------------------------------------------------- blocks
def _normalise_block(b: Mapping[str, Any]) -> dict[str, Any]:
    b = dict(b)
    kind = b.get("kind")
    if kind not in _KINDS:
        raise SoftscopeError(f"unknown descriptor block kind {kind!r}; known: {_KINDS}")
    if kind == "radial":
        centers = [float(c) for c in b["centers"]]
        sigma = float(b["sigma"])
        if not centers or sigma <= 0:
            raise SoftscopeError("radial block needs non-empty centers and sigma > 0")
        cutoff = float(b.get("cutoff") or (max(centers) + 4 * sigma))
        return {
            "kind": "radial",
            "centers": centers,
            "sigma": sigma,
            "cutoff": cutoff,
            "cutoff_function": bool(b.get("cutoff_function", False)),
        }
    if kind == "angular":
        return {
            "kind": "angular",
            "xi": [float(x) for x in np.atleast_1d(b["xi"])],
            "lambdas": [float(x) for x in np.atleast_1d(b["lambdas"])],
            "zetas": [float(x) for x in np.atleast_1d(b["zetas"])],
            "cutoff": float(b["cutoff"]),
            "prefactor": bool(b.get("prefactor", False)),
            "cutoff_function": bool(b.get("cutoff_function", False)),
        }
    if kind == "entropy":
        avg = b.get("average_cutoff")
        return {
            "kind": "entropy",
            "sigma": float(b["sigma"]),
            "r_max": float(b["r_max"]),
            "average_cutoff": None if avg is None else float(avg),
        }
    if kind == "interstice":
        radii = b.get("radii")
        return {
            "kind": "interstice",
            "radii": None if radii is None else {str(k): float(v) for k, v in radii.items()},
            "medium_range": bool(b.get("medium_range", True)),
        }
    names = [str(n) for n in b["names"]]
    return {"kind": "external", "names": names, "cutoff": float(b.get("cutoff", 0.0))}


def _block_cutoff(b: Mapping[str, Any], species: tuple[str, ...] = ()) -> float:
    kind = b["kind"]
    if kind in ("radial", "angular"):
        return b["cutoff"]
    if kind == "entropy":
        # the neighbour average needs the neighbours' own r_max neighbourhoods
        return b["r_max"] + (b["average_cutoff"] or 0.0)
    if kind == "interstice":
        # Delaunay circumradii of dense metallic glasses stay below ~1.6x the largest
        # atomic radius (2.37 Å in Cu64Zr36); the LAMMPS path verifies exactness at run time.
        from softscope.descriptors.interstice import MIRACLE_RADII, interstice_ghost_cutoff

        radii = dict(MIRACLE_RADII, **(b["radii"] or {}))
        r_big = max(radii.get(s, 0.0) for s in species) if species else 0.0
        return interstice_ghost_cutoff(1.6 * r_big, b["medium_range"])
    return b.get("cutoff", 0.0)


def _block_names(b: Mapping[str, Any], species: tuple[str, ...]) -> list[str]:
    kind = b["kind"]
    if kind == "radial":
        from softscope.descriptors.radial import radial_names

        return radial_names(list(species), b["centers"])
    if kind == "angular":
        from softscope.descriptors.angular import angular_names

        return angular_names(list(species), b["xi"], b["lambdas"], b["zetas"])
    if kind == "entropy":
        from softscope.descriptors.entropy import entropy_names

        return entropy_names(b["sigma"], b["r_max"], average_cutoff=b["average_cutoff"])
    if kind == "interstice":
        from softscope.descriptors.interstice import interstice_names

        return interstice_names(b["medium_range"])
    return list(b["names"])


def _compute_block(b, frame: Frame, species, extra) -> np.ndarray:
    kind = b["kind"]
    if kind == "radial":
        from softscope.descriptors.radial import radial

        return radial(
            frame,
            b["centers"],
            b["sigma"],
            species=list(species),
            cutoff=b["cutoff"],
            cutoff_function=b["cutoff_function"],
        )
    if kind == "angular":
        from softscope.descriptors.angular import angular

        return angular(
            frame,
            b["xi"],
            b["lambdas"],
            b["zetas"],
            species=list(species),
            cutoff=b["cutoff"],
            prefactor=b["prefactor"],
            cutoff_function=b["cutoff_function"],
        )
    if kind == "entropy":
        from softscope.descriptors.entropy import entropy

        return entropy(frame, b["sigma"], b["r_max"], average_cutoff=b["average_cutoff"])[:, None]
    if kind == "interstice":
        from softscope.descriptors.interstice import interstice

        return interstice(frame, radii=b["radii"], medium_range=b["medium_range"])
    cols = []
    for name in b["names"]:
        if extra is None or name not in extra:
            raise SoftscopeError(
                f"feature {name!r} is not computed from one frame and must be supplied "
                f"(extra={{'{name}': per-atom array}}); the LAMMPS fix accumulates it in-run"
            )
        v = np.asarray(extra[name], dtype=np.float64).reshape(-1)
        if v.shape[0] != len(frame):
            raise SoftscopeError(
                f"extra feature {name!r} has {v.shape[0]} values for {len(frame)} atoms"
            )
        cols.append(v[:, None])
    return np.concatenate(cols, axis=1)


def _points_block(b, points, codes, n_raw, species, density, extra) -> np.ndarray:
    """One raw block for points[:n_raw] among local + ghost ``points`` (LAMMPS face)."""
    from softscope.neighbors import build_from_points

    kind = b["kind"]
    ns = len(species)
    if kind == "radial":
        from softscope.descriptors.radial import radial_from_neighbors

        nl = build_from_points(points, n_raw, b["cutoff"])
        return radial_from_neighbors(
            nl, codes, ns, b["centers"], b["sigma"], b["cutoff"], b["cutoff_function"]
        )
    if kind == "angular":
        from softscope.descriptors.angular import angular_from_neighbors

        nl = build_from_points(points, n_raw, b["cutoff"])
        return angular_from_neighbors(
            nl,
            codes,
            ns,
            b["xi"],
            b["lambdas"],
            b["zetas"],
            b["cutoff"],
            prefactor=b["prefactor"],
            cutoff_function=b["cutoff_function"],
        )
    if kind == "entropy":
        from softscope.descriptors.entropy import entropy_from_neighbors

        if density is None:
            raise SoftscopeError("an entropy block needs the system's number density N/V")
        avg = b["average_cutoff"]
        # the neighbour average needs s2 of every point within average_cutoff of a query
        n_e = points.shape[0] if avg else n_raw
        nl = build_from_points(points, n_e, max(b["r_max"], avg or 0.0))
        out = entropy_from_neighbors(
            nl, codes, b["sigma"], b["r_max"], float(density), average_cutoff=avg
        )
        return out[:n_raw, None]
    if kind == "interstice":
        from softscope.descriptors.interstice import interstice_from_points, radii_by_code

        return interstice_from_points(
            points, codes, n_raw, radii_by_code(list(species), b["radii"]), b["medium_range"]
        )
    cols = []
    for name in b["names"]:
        if extra is None or name not in extra:
            raise SoftscopeError(
                f"feature {name!r} is not computed from one frame and must be supplied "
                f"per point (extra={{'{name}': array of {points.shape[0]} values}})"
            )
        v = np.asarray(extra[name], dtype=np.float64).reshape(-1)
        if v.shape[0] != points.shape[0]:
            raise SoftscopeError(
                f"extra feature {name!r} has {v.shape[0]} values for {points.shape[0]} points"
            )
        cols.append(v[:n_raw, None])
    return np.concatenate(cols, axis=1)
