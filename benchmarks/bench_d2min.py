"""D²min speed: softscope.rearrangement.d2min vs OVITO's AtomicStrainModifier, same frames.

What each timing includes
-------------------------
- softscope: ``d2min(reference, current, cutoff)`` on in-memory Frames — id matching,
  reduced displacements, the reference neighbour list (periodic images + cell list),
  pair vectors and the D²min kernel.  numba compilation is excluded (one warm-up call).
- OVITO: ``pipeline.compute()`` of a pipeline whose source and ``reference`` are
  ``StaticSource`` objects holding the two DataCollections (no file I/O at all).  The
  modifier's cutoff is nudged by 1e-12 relative each repeat so that OVITO recomputes
  instead of returning its cache.  It includes OVITO's id mapping, displacements, its
  neighbour finder, the strain kernel and writing its output properties (it always
  also computes shear/volumetric strain).  One warm-up compute is excluded.

Both use all cores they are given (numba threads; OVITO's own thread pool).  Run
``python benchmarks/bench_d2min.py`` (default glass replicated 4×4×2 = 65,536 atoms).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

import softscope
from softscope import Frame
from softscope.rearrangement import d2min


def _to_datacollection(frame: Frame):
    from ovito.data import DataCollection, ParticleType

    dc = DataCollection()
    m = np.zeros((3, 4))
    m[:, :3] = frame.cell.T
    m[:, 3] = frame.origin
    dc.create_cell(m, pbc=frame.pbc)
    p = dc.create_particles(count=len(frame))
    p.create_property("Position", data=frame.positions)
    p.create_property("Particle Identifier", data=frame.ids)
    names = sorted(set(frame.species.tolist()))
    tp = p.create_property("Particle Type")
    for k, name in enumerate(names):
        tp.types.append(ParticleType(id=k + 1, name=name))
    lut = {s: k + 1 for k, s in enumerate(names)}
    tp[...] = np.array([lut[s] for s in frame.species.tolist()])
    return dc


def replicate(frame: Frame, reps: tuple[int, int, int]) -> Frame:
    """Periodic replica of ``frame`` (reps along a, b, c) with fresh ids 1..N."""
    shifts = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"), axis=-1).reshape(
        -1, 3
    )
    pos = (frame.positions[None, :, :] + (shifts @ frame.cell)[:, None, :]).reshape(-1, 3)
    species = np.tile(frame.species, len(shifts))
    cell = frame.cell * np.asarray(reps)[:, None]
    return Frame(pos, species, cell, origin=frame.origin)


def sheared_pair(frame: Frame, gamma: float = 0.02, seed: int = 0) -> tuple[Frame, Frame]:
    """(reference, current): simple shear xy of γ, 0.05 Å noise, wrapped and permuted."""
    rng = np.random.default_rng(seed)
    cell1 = frame.cell.copy()
    cell1[1, 0] += gamma * frame.cell[1, 1]
    pos = frame.origin + frame.reduced_positions() @ cell1
    pos += rng.normal(scale=0.05, size=pos.shape)
    cur = Frame(pos, frame.species, cell1, origin=frame.origin, ids=frame.ids).wrapped()
    p = rng.permutation(len(frame))
    cur = Frame(cur.positions[p], cur.species[p], cur.cell, cur.origin, cur.pbc, cur.ids[p])
    return frame, cur


def run(reference: Frame, current: Frame, cutoff: float = 3.7, repeats: int = 5) -> list[dict]:
    """Time softscope and OVITO on the same frames; returns one row per code."""
    from ovito.modifiers import AtomicStrainModifier
    from ovito.pipeline import Pipeline, StaticSource

    n = len(reference)
    rows = []

    d2min(reference, current, cutoff)  # numba warm-up (compilation / cache load)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours = d2min(reference, current, cutoff)
        times.append(time.perf_counter() - t0)
    rows.append(_row("softscope", n, times))

    pipeline = Pipeline(source=StaticSource(data=_to_datacollection(current)))
    mod = AtomicStrainModifier(cutoff=cutoff, output_nonaffine_squared_displacements=True)
    mod.reference = StaticSource(data=_to_datacollection(reference))
    pipeline.modifiers.append(mod)
    data = pipeline.compute()  # warm-up
    times = []
    for k in range(repeats):
        mod.cutoff = cutoff * (1.0 + 1e-12 * (k + 1))  # invalidate OVITO's cache
        t0 = time.perf_counter()
        data = pipeline.compute()
        times.append(time.perf_counter() - t0)
    rows.append(_row("ovito", n, times))

    # agreement on the same frames (OVITO's output is in the current frame's order)
    ids = np.asarray(data.particles["Particle Identifier"])
    theirs = np.asarray(data.particles["Nonaffine Squared Displacement"], dtype=float)
    order = np.argsort(ids)[np.searchsorted(np.sort(ids), reference.ids)]
    theirs = theirs[order]
    ok = np.isfinite(ours)
    rel = float(np.max(np.abs(ours[ok] - theirs[ok]) / np.maximum(np.abs(theirs[ok]), 1e-300)))
    for r in rows:
        r["max_rel_diff_vs_ovito"] = rel
    rows[0]["ratio_vs_ovito"] = rows[1]["median_s"] / rows[0]["median_s"]
    rows[1]["ratio_vs_ovito"] = 1.0
    return rows


def _row(code: str, n: int, times: list[float], **extra) -> dict:
    """A result row: median and min of the repeats, atoms/s, plus ``extra`` fields."""
    med = statistics.median(times)
    return {
        "code": code,
        "n_atoms": n,
        "repeats": len(times),
        "median_s": med,
        "min_s": min(times),
        "atoms_per_s": n / med,
        **extra,
    }


def main() -> None:
    from softscope.data import default_glass

    glass = replicate(default_glass(), (4, 4, 2))
    ref, cur = sheared_pair(glass)
    rows = run(ref, cur, cutoff=3.7, repeats=5)
    print(f"D2min, {len(ref)} atoms, cutoff 3.7 Å, {os.cpu_count()} cores")
    print(f"{'code':<10}{'median s':>10}{'atoms/s':>12}{'speed vs OVITO':>16}")
    for r in rows:
        print(
            f"{r['code']:<10}{r['median_s']:>10.4f}{r['atoms_per_s']:>12.0f}"
            f"{r['ratio_vs_ovito']:>15.2f}x"
        )
    print(f"max relative difference vs OVITO: {rows[0]['max_rel_diff_vs_ovito']:.2e}")
    import numba
    import ovito

    out = Path(__file__).parent / "results" / "d2min.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "softscope": softscope.__version__,
        "ovito": ovito.version_string,
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "cutoff": 3.7,
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
