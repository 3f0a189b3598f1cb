"""Cheaper softness descriptor grids: held-out ROC-AUC vs single-thread evaluation cost.

    NUMBA_NUM_THREADS=1 python studies/descriptor_grid/descriptor_grid.py ZOO_DATA
        [--prefix cuzr64] [--test 2] [--transfer cuzr50] [--cs 0.001 0.01] [--only a,b,...]
        [--out out/spec_study]

``ZOO_DATA`` is the zoo's data folder (``scripts/make_zoo.sh DATA_DIR``).

Each variant is a :class:`~softscope.descriptors.spec.DescriptorSpec` (Cu, Zr; metal
units).  Training follows ``studies/learning_curve``: the first samples by name train
(balanced rows of every 0.2 %-stride 1 % window: all top-5 % D²min atoms and as many of
the bottom half, the same atoms and seeds for every variant), StandardScaler + LinearSVC
at a fixed C (no CV); the last ``--test`` samples are judged on their non-overlapping 1 %
windows (ROC-AUC of the prediction at the window start vs top 5 % D²min, OVITO
convention, 3.7 Å; CONVENTIONS.md), and so is the transfer composition.  Reported: mean ±
std of the per-window AUC, the paired difference to the reference variant (a) on the same
windows (mean ± standard error), and the cost = single-thread CPU time per atom
(``time.process_time``, median of 3 after a warm-up) of
`softscope.models.linear_projection.projection` on ``softscope.data.default_glass()``
with random coefficients of shape (1 + len(coarse_grain), n_raw) -- the work the LAMMPS
fix does per evaluation before coarse-graining the projections.  Variant (h) is the
cheapest variant (coarse-grained over 4 and 6 Å) whose best-C held-out AUC is within
0.01 of (a)'s, re-run with coarse-graining over 4 Å only.
Prints a table, writes ``spec_study.json``.
"""

from __future__ import annotations

import os

# single-threaded numba for the whole study (cost = one core; the machine is shared)
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SPECIES = ("Cu", "Zr")
CG = (4.0, 6.0)


def radial(lo: float, hi: float, step: float = 0.2, sigma: float = 0.2) -> dict:
    """Radial block μ = lo..hi (Å) every ``step``, width σ, cutoff max(μ) + 4σ."""
    centers = np.round(np.arange(lo, hi + 1e-9, step), 6).tolist()
    return {
        "kind": "radial",
        "centers": centers,
        "sigma": sigma,
        "cutoff": round(max(centers) + 4 * sigma, 6),
        "cutoff_function": False,
    }


def angular(xi=(2.0, 2.5, 3.0), cutoff: float = 5.0) -> dict:
    """Angular block (Cubuk form), λ = ±1, ζ = 1, 2, no prefactor, no cutoff function."""
    return {
        "kind": "angular",
        "xi": list(xi),
        "lambdas": [-1.0, 1.0],
        "zetas": [1.0, 2.0],
        "cutoff": cutoff,
        "prefactor": False,
        "cutoff_function": False,
    }


def variants() -> dict[str, tuple[str, list[dict], tuple[float, ...]]]:
    """label -> (description, blocks, coarse_grain)."""
    r8, r6 = radial(1.0, 8.0), radial(1.0, 6.0)
    a5, a4 = angular(), angular((2.0, 3.0), 4.0)
    return {
        "a": ("reference: radial 1-8/0.2 + angular rc5 xi{2,2.5,3}", [r8, a5], CG),
        "b": ("radial 1-8/0.2 only", [r8], CG),
        "c": ("radial 1-6/0.2 + angular rc5 xi{2,2.5,3}", [r6, a5], CG),
        "d": ("radial 1-6/0.2 only", [r6], CG),
        "e": ("radial 1-8/0.2 + angular rc4 xi{2,3}", [r8, a4], CG),
        "f": ("radial 1-6/0.2 + angular rc4 xi{2,3}", [r6, a4], CG),
        "g": ("radial 1-6/0.4 s0.3 only", [radial(1.0, 6.0, 0.4, 0.3)], CG),
        "g2": ("radial 1-6/0.4 s0.3 + angular rc4 xi{2,3}", [radial(1.0, 6.0, 0.4, 0.3), a4], CG),
        "i": ("radial 1-5/0.2 only", [radial(1.0, 5.0)], CG),
        "j": ("radial 2-5.2/0.4 s0.3 only", [radial(2.0, 5.2, 0.4, 0.3)], CG),
        "k": ("angular rc5 xi{2,2.5,3} only", [a5], CG),
        "l": ("radial 1-4/0.2 only", [radial(1.0, 4.0)], CG),
        "m": ("angular rc4 xi{2,3} only", [a4], CG),
        "d4": ("radial 1-6/0.2 only, cg 4 Å only", [r6], (4.0,)),
        "d6": ("radial 1-6/0.2 only, cg 6 Å only", [r6], (6.0,)),
        "d0": ("radial 1-6/0.2 only, no coarse-graining", [r6], ()),
    }


def replicated(frame, n: int = 2):
    """``frame`` repeated n×n×n (less periodic-image overhead per atom than 2048 atoms)."""
    from softscope.frame import Frame

    shifts = np.array([(i, j, k) for i in range(n) for j in range(n) for k in range(n)], float)
    pos = (frame.positions[None] + (shifts @ frame.cell)[:, None]).reshape(-1, 3)
    return Frame(pos, np.tile(frame.species, len(shifts)), frame.cell * n, frame.origin)


def projection_cost(spec, glass, repeats: int = 3, big=None) -> dict:
    """Single-thread CPU µs per atom of projection() (median of ``repeats`` after
    one warm-up), total and per block; ``big``: also the total on that (larger) frame."""
    from softscope.descriptors.spec import DescriptorSpec
    from softscope.models.linear_projection import projection

    rng = np.random.default_rng(1)

    def timed(s, frame=glass) -> float:
        coef = rng.normal(size=(1 + len(s.coarse_grain), len(s.raw_names())))
        const = rng.normal(size=coef.shape[0])
        projection(frame, s, coef, const)  # warm-up (JIT / cache load)
        ts = []
        for _ in range(repeats):
            t0 = time.process_time()
            projection(frame, s, coef, const)
            ts.append(time.process_time() - t0)
        return float(np.median(ts)) / len(frame)

    out = {"total_us_per_atom": 1e6 * timed(spec)}
    if big is not None:
        out["total_us_per_atom_big"] = 1e6 * timed(spec, big)
    if len(spec.blocks) > 1:
        for b in spec.blocks:
            one = DescriptorSpec(
                spec.species, units=spec.units, blocks=[b], coarse_grain=spec.coarse_grain
            )
            out[f"{b['kind']}_us_per_atom"] = 1e6 * timed(one)
    return out


def cg_cost(radii: tuple[float, ...], glass, k: int, repeats: int = 3) -> float:
    """Single-thread µs/atom of coarse-graining k projection columns over ``radii``
    (the fix's second step), from periodic images of ``glass``."""
    from softscope.descriptors.coarse_grain import coarse_grain_points
    from softscope.neighbors import periodic_images

    vals = np.random.default_rng(2).normal(size=(len(glass), k))
    ts = []
    for it in range(repeats + 1):
        t0 = time.process_time()
        pts, pa = periodic_images(glass, max(radii))
        coarse_grain_points(pts, vals[pa], len(glass), radii, with_raw=False)
        if it:
            ts.append(time.process_time() - t0)
    return 1e6 * float(np.median(ts)) / len(glass)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--prefix", default="cuzr64")
    ap.add_argument("--test", type=int, default=2, help="held-out samples (the last by name)")
    ap.add_argument("--transfer", default="cuzr50", help="transfer sample prefix ('' = none)")
    ap.add_argument("--cs", type=float, nargs="+", default=[1e-3, 1e-2])
    ap.add_argument(
        "--seeds", type=int, default=3, help="draws of the balanced stable rows (one SVM fit each)"
    )
    ap.add_argument("--only", default="", help="comma-separated variant labels")
    ap.add_argument("--tolerance", type=float, default=0.01, help="AUC tolerance for (h)")
    ap.add_argument("--out", default="out/spec_study")
    args = ap.parse_args(argv)

    import softscope  # noqa: F401  (libmpi preload)
    from softscope.data import default_glass
    from softscope.descriptors.spec import DescriptorSpec
    from softscope.metrics import roc_auc
    from softscope.rearrangement import labels, top_fraction
    from softscope.training.dataset import find_samples, split_samples
    from softscope.training.pipeline import windows_of
    from softscope.training.recipes import D2MIN_CUTOFF
    from softscope.training.train import TrainingSet, fit_linear

    t_start = time.process_time()
    samples = find_samples([args.data])
    own = [s for s in samples if s.name.startswith(args.prefix + "_")]
    train, test = split_samples(own, args.test)
    transfer = [s for s in samples if args.transfer and s.name.startswith(args.transfer + "_")]
    cutoff = D2MIN_CUTOFF[own[0].units]
    print(
        f"train {[s.name for s in train]}  test {[s.name for s in test]}  "
        f"transfer {[s.name for s in transfer]}",
        flush=True,
    )

    # labels once (identical rows/seeds for every variant, as build_training_set(seed=0))
    tr_w = windows_of(train, 0.01, 0.002)
    tr_rows: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(args.seeds)]
    for k, w in enumerate(tr_w):
        lab = labels(w.d2min(cutoff), q=0.05, stable_q=0.5)
        pos, neg = np.flatnonzero(lab == 1), np.flatnonzero(lab == 0)
        for sd in range(args.seeds):
            rng = np.random.default_rng(k + 1000 * sd)  # sd = 0: build_training_set(seed=0)
            n = min(pos.size, neg.size)
            pick = np.concatenate(
                [rng.choice(pos, n, replace=False), rng.choice(neg, n, replace=False)]
            )
            tr_rows[sd].append((pick, (lab[pick] == 1).astype(np.int8)))

    def judged(ws):
        out = []
        for w in ws:
            d2 = w.d2min(cutoff)
            ok = np.isfinite(d2)
            out.append((ok, top_fraction(d2[ok])))
        return out

    te_w = windows_of(test, 0.01, None)
    te_lab = judged(te_w)
    tf_w = windows_of(transfer, 0.01, None) if transfer else []
    tf_lab = judged(tf_w)
    print(
        f"{len(tr_w)} training windows, {len(te_w)} held-out, {len(tf_w)} transfer "
        f"(labels {time.process_time() - t_start:.0f} s CPU)",
        flush=True,
    )

    glass = default_glass()
    big = replicated(glass, 2)
    cg_us = {}
    vs = variants()
    if args.only:
        vs = {k: v for k, v in vs.items() if k in args.only.split(",")}

    def study(label: str, desc: str, blocks, cg) -> dict:
        spec = DescriptorSpec(SPECIES, units="metal", blocks=blocks, coarse_grain=cg)
        t0 = time.process_time()
        cache: dict[int, np.ndarray] = {}

        def feats(frame):
            if id(frame) not in cache:
                cache[id(frame)] = spec.compute(frame)
            return cache[id(frame)]

        sets = []
        for rows in tr_rows:
            x = np.concatenate(
                [feats(w.reference)[p] for w, (p, _) in zip(tr_w, rows, strict=True)]
            )
            y = np.concatenate([yy for _, yy in rows])
            g = np.concatenate(
                [np.full(yy.size, w.sample) for w, (_, yy) in zip(tr_w, rows, strict=True)]
            )
            sets.append(TrainingSet(x, y, g))
        te_x = [feats(w.reference)[ok] for w, (ok, _) in zip(te_w, te_lab, strict=True)]
        tf_x = [feats(w.reference)[ok] for w, (ok, _) in zip(tf_w, tf_lab, strict=True)]
        t_feat = time.process_time() - t0
        by_c = {}
        for c in args.cs:
            h_s, t_s = [], []
            for ts in sets:  # one fit per draw of the stable rows; AUC averaged over draws
                est, _ = fit_linear(ts, cs=(c,))
                h_s.append(
                    [roc_auc(est.predict(xx), yy) for xx, (_, yy) in zip(te_x, te_lab, strict=True)]
                )
                t_s.append(
                    [roc_auc(est.predict(xx), yy) for xx, (_, yy) in zip(tf_x, tf_lab, strict=True)]
                )
            held = np.mean(h_s, axis=0).tolist()
            tran = np.mean(t_s, axis=0).tolist() if tf_x else []
            by_c[str(c)] = {
                "held_out_auc_std_over_draws": float(np.std(np.mean(h_s, axis=1))),
                "held_out_auc_per_window": held,
                "held_out_auc": float(np.mean(held)),
                "held_out_auc_std": float(np.std(held)),
                "transfer_auc_per_window": tran,
                "transfer_auc": float(np.mean(tran)) if tran else None,
                "transfer_auc_std": float(np.std(tran)) if tran else None,
            }
        cost = projection_cost(spec, glass, big=big)
        key = tuple(cg)
        if key not in cg_us:
            cg_us[key] = cg_cost(key, glass, 1 + len(key)) if key else 0.0
        rec = {
            "label": label,
            "description": desc,
            "spec": spec.to_dict(),
            "n_raw": len(spec.raw_names()),
            "n_features": spec.n_features,
            "cutoff": spec.cutoff,
            "by_C": by_c,
            "cost": cost,
            "cg_projection_us_per_atom": cg_us[key],
            "study_cpu_s": {"features": t_feat, "total": time.process_time() - t0},
        }
        best = max(by_c.values(), key=lambda r: r["held_out_auc"])
        print(
            f"  ({label}) {desc}: {spec.n_features} features, held-out "
            + ", ".join(
                f"C={c}: {r['held_out_auc']:.3f}±{r['held_out_auc_std']:.3f} "
                f"(transfer {r['transfer_auc']:.3f})"
                for c, r in by_c.items()
            )
            + f", cost {cost['total_us_per_atom']:.2f} µs/atom "
            f"[best {best['held_out_auc']:.3f}; {rec['study_cpu_s']['total']:.0f} s CPU]",
            flush=True,
        )
        return rec

    results = {lab: study(lab, *v) for lab, v in vs.items()}

    def best_auc(r):
        return max(v["held_out_auc"] for v in r["by_C"].values())

    if "a" in results:
        ref = results["a"]
        ok = [
            r
            for r in results.values()
            if tuple(r["spec"]["coarse_grain"]) == CG
            and best_auc(r) >= best_auc(ref) - args.tolerance
        ]
        cheap = min(ok, key=lambda r: r["cost"]["total_us_per_atom"])
        d, blocks, _ = vs[cheap["label"]]
        results["h"] = study(
            "h",
            f"({cheap['label']}) {d}, coarse-grained over 4 Å only",
            cheap["spec"]["blocks"],
            (4.0,),
        )
        # paired differences to the reference on the same held-out windows
        for r in results.values():
            for c, v in r["by_C"].items():
                dd = np.subtract(
                    v["held_out_auc_per_window"], ref["by_C"][c]["held_out_auc_per_window"]
                )
                v["delta_vs_a"] = float(dd.mean())
                v["delta_vs_a_se"] = float(dd.std(ddof=1) / np.sqrt(dd.size))
                if v["transfer_auc"] is not None:
                    dt = np.subtract(
                        v["transfer_auc_per_window"], ref["by_C"][c]["transfer_auc_per_window"]
                    )
                    v["transfer_delta_vs_a"] = float(dt.mean())
                    v["transfer_delta_vs_a_se"] = float(dt.std(ddof=1) / np.sqrt(dt.size))

    cs = [str(c) for c in args.cs]
    head = (
        "| var | description | n_feat | cut Å | "
        + " | ".join(f"held-out AUC C={c} | Δ vs (a) | transfer C={c}" for c in cs)
        + " | proj µs/atom (radial, angular) | cg µs/atom | proj rel. (a) | proj+cg µs/atom"
        + " | proj µs/atom, 16k atoms |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    ref_cost = results["a"]["cost"]["total_us_per_atom"] if "a" in results else np.nan
    for r in results.values():
        cells = []
        for c in cs:
            v = r["by_C"][c]
            dl = f"{v['delta_vs_a']:+.3f}±{v['delta_vs_a_se']:.3f}" if "delta_vs_a" in v else "–"
            tr = "–"
            if v["transfer_auc"] is not None:
                tr = f"{v['transfer_auc']:.3f}"
                if "transfer_delta_vs_a" in v:
                    tr += f" ({v['transfer_delta_vs_a']:+.3f}±{v['transfer_delta_vs_a_se']:.3f})"
            cells.append(f"{v['held_out_auc']:.3f}±{v['held_out_auc_std']:.3f} | {dl} | {tr}")
        co = r["cost"]
        parts = ", ".join(
            f"{co[k]:.2f}" for k in ("radial_us_per_atom", "angular_us_per_atom") if k in co
        )
        lines.append(
            f"| {r['label']} | {r['description']} | {r['n_features']} | {r['cutoff']:g} | "
            + " | ".join(cells)
            + f" | {co['total_us_per_atom']:.2f}"
            + (f" ({parts})" if parts else "")
            + f" | {r['cg_projection_us_per_atom']:.2f}"
            + f" | {co['total_us_per_atom'] / ref_cost:.2f}"
            + f" | {co['total_us_per_atom'] + r['cg_projection_us_per_atom']:.2f}"
            + f" | {co.get('total_us_per_atom_big', np.nan):.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rep = {
        "data": str(args.data),
        "train_samples": [s.name for s in train],
        "test_samples": [s.name for s in test],
        "transfer_samples": [s.name for s in transfer],
        "n_windows": {"train": len(tr_w), "held_out": len(te_w), "transfer": len(tf_w)},
        "C": args.cs,
        "stable_row_draws": args.seeds,
        "labels": "top 5 % D2min (OVITO, 3.7 Å) over 1 % AQS strain; "
        "training rows balanced with the bottom half (stride 0.2 %)",
        "cost": "single-thread process_time per atom of projection(default_glass(), spec, "
        "coef (1+n_cg, n_raw), const), median of 3 after warm-up; cg = coarse-graining of "
        "the 1+n_cg projection columns incl. periodic images; *_big: the same on the glass "
        "replicated 2x2x2 (less periodic-image overhead per atom)",
        "numba_threads": int(os.environ.get("NUMBA_NUM_THREADS", "0")),
        "n_atoms_cost_glass": len(glass),
        "n_atoms_cost_glass_big": len(big),
        "variants": results,
        "table_markdown": table,
        "study_cpu_s": time.process_time() - t_start,
    }
    (out / "spec_study.json").write_text(json.dumps(rep, indent=1))
    (out / "spec_study.md").write_text(table + "\n")
    print(f"wrote {out / 'spec_study.json'} ({rep['study_cpu_s']:.0f} s CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
