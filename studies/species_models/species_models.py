"""Per-species softness models vs the zoo's single SVM: held-out ROC-AUC.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python studies/species_models/species_models.py \
        ZOO_DATA --cache CACHE --out OUT [--prefix cuzr64] [--transfer cuzr50] \
        [--folds zoo|all]

``ZOO_DATA`` is the zoo's data folder (``scripts/make_zoo.sh DATA_DIR``); ``CACHE`` keeps
the features per sample (``studies/consensus_labels`` and ``studies/oriented_features``
read it too).

Features: the zoo model ``cuzr-softness``'s own DescriptorSpec (radial + angular, raw +
coarse-grained over 4 and 6 Å; ``softscope.load_model('cuzr-softness').spec``), computed
once per window start and cached (``<cache>/<sample>.npz``: features, D²min of the 1 %
window (OVITO convention, 3.7 Å), number of neighbours within 3.7 Å in the reference frame,
species).  Training rows exactly like the zoo (``build_training_set(seed=0)``): every
0.2 %-stride 1 % window of the training samples, all top-5 % D²min atoms and as many
random atoms of the bottom half (rng seed = window index).  Estimator: ``fit_linear``
(StandardScaler + LinearSVC, C from the zoo's grid by GroupKFold-by-sample CV).  Judged
like the zoo (``evaluate_scores``) on the held-out samples' non-overlapping 1 % windows.

Variants:

- (a) one SVM on all rows (the zoo's ``cuzr-softness``; on the zoo split it must
  reproduce 0.720);
- (b) one SVM per centre species, trained on that species' rows (the same balanced
  rows, split by species; C chosen per species); every atom scored by its species' model:
  (b1) raw decision values pooled, (b2) each species' decision value mapped to a
  probability by a logistic (Platt) fit on its own training rows;
- (c) one SVM on species-interaction features [x·1_Cu, x·1_Zr, 1_Cu, 1_Zr];
- (d) diagnostics: per-species ROC-AUC of every variant (label = the global top 5 %,
  restricted to one species), fraction of Zr among label-positive atoms vs all atoms,
  ROC-AUC of the trivial predictors "is Zr" and coordination number within 3.7 Å (and a
  LinearSVC on just [is Zr, CN], same CV), and the Zr fraction of the top 5 % of D²min / CN
  (the per-neighbour convention) for comparison;
- (e) transfer: every variant (trained on the fold's samples) on the ``--transfer``
  composition's non-overlapping windows.

Folds: :data:`FOLDS`, the folds of ``studies/annealing`` (three held-out pairs; the last
one is the zoo split s45, s47); ``--folds zoo`` runs that one only.  Reported per fold and pooled over
folds (mean ± std of the per-window AUC; paired difference to (a) on the same windows,
mean ± standard error).  Prints a markdown table, writes ``species_study.json`` and
``species_study.md`` to ``--out``.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

MODEL = "cuzr-softness"
Q, STABLE_Q, WINDOW, STRIDE = 0.05, 0.5, 0.01, 0.002
VARIANTS = {
    "a": "one SVM (zoo control)",
    "b1": "per-species SVMs, raw decision values pooled",
    "b2": "per-species SVMs, Platt probabilities pooled",
    "c": "one SVM, features x one-hot species (+ one-hot)",
    "d_zr": "trivial: is Zr",
    "d_cn": "trivial: coordination number (3.7 Å)",
    "d_zrcn": "LinearSVC on [is Zr, CN]",
}


#: Held-out sample pairs, the same as ``studies/annealing``'s ``folds`` stage.
FOLDS = [("cuzr64_s41", "cuzr64_s42"), ("cuzr64_s43", "cuzr64_s44"), ("cuzr64_s45", "cuzr64_s47")]


# ----------------------------------------------------------------------------- cache
def cache_sample(sample, spec, cutoff: float, cache: Path) -> dict[str, np.ndarray]:
    """Features / D²min / CN of every 0.2 %-stride 1 % window start of ``sample``."""
    from softscope.neighbors import neighbor_list
    from softscope.training.evaluate import window_d2min
    from softscope.training.pipeline import windows_of

    path = cache / f"{sample.name}.npz"
    key = json.dumps(
        {"spec": spec.to_dict(), "cutoff": cutoff, "window": WINDOW, "stride": STRIDE},
        sort_keys=True,
    )
    if path.exists():
        z = np.load(path, allow_pickle=False)
        if str(z["key"]) == key:
            return {k: z[k] for k in z.files}
    t0 = time.process_time()
    ws = windows_of([sample], WINDOW, STRIDE)
    x = np.stack([spec.compute(w.reference) for w in ws])
    d2 = np.stack([window_d2min(w, cutoff) for w in ws])
    cn = np.stack([neighbor_list(w.reference, cutoff).counts() for w in ws])
    out = {
        "x": x,
        "d2": d2,
        "cn": cn.astype(np.int32),
        "start": np.array([w.index[0] for w in ws]),
        "strain": np.array([w.strain for w in ws]),
        "species": ws[0].reference.species.astype(str),
        "key": np.array(key),
    }
    np.savez(path, **out)
    print(f"  cached {sample.name}: {x.shape} in {time.process_time() - t0:.0f} s CPU", flush=True)
    return out


# ----------------------------------------------------------------------------- helpers
def train_rows(cached: list[tuple[str, dict]]) -> list:
    """Balanced rows of every training window, exactly as ``build_training_set(seed=0)``:
    window k (in sample order) draws with ``default_rng(k)``."""
    from softscope.rearrangement import labels

    rows, k = [], 0
    for name, c in cached:
        for j in range(c["x"].shape[0]):
            lab = labels(c["d2"][j], q=Q, stable_q=STABLE_Q)
            pos, neg = np.flatnonzero(lab == 1), np.flatnonzero(lab == 0)
            rng = np.random.default_rng(k)
            n = min(pos.size, neg.size)
            pick = np.concatenate(
                [rng.choice(pos, n, replace=False), rng.choice(neg, n, replace=False)]
            )
            rows.append((name, c, j, pick, (lab[pick] == 1).astype(np.int8)))
            k += 1
    return rows


def interaction(x: np.ndarray, is_zr: np.ndarray) -> np.ndarray:
    z = is_zr.astype(np.float64)[:, None]
    return np.hstack([x * (1.0 - z), x * z, 1.0 - z, z])


def platt(dec: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e6, max_iter=1000).fit(dec[:, None], y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def mean_std(v) -> tuple[float, float]:
    v = np.asarray(v, dtype=np.float64)
    v = v[np.isfinite(v)]
    return (float(v.mean()), float(v.std())) if v.size else (float("nan"), float("nan"))


def paired(v, ref) -> tuple[float, float]:
    d = np.subtract(v, ref)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))


# ----------------------------------------------------------------------------- one fold
def run_fold(
    test_names, own, transfer, cache_of, spec_species, cs, zoo_model, cutoff, with_c: bool = True
):
    from softscope.metrics import roc_auc
    from softscope.rearrangement import top_fraction
    from softscope.training.evaluate import evaluate_scores
    from softscope.training.pipeline import windows_of
    from softscope.training.train import TrainingSet, fit_linear

    t0 = time.process_time()
    train = [s for s in own if s.name not in test_names]
    test = [s for s in own if s.name in test_names]
    zr = spec_species.index("Zr")
    rows = train_rows([(s.name, cache_of[s.name]) for s in train])
    x = np.concatenate([c["x"][j][p] for _, c, j, p, _ in rows])
    y = np.concatenate([yy for *_, yy in rows])
    sp = np.concatenate([c["species"][p] for _, c, _, p, _ in rows])
    cnr = np.concatenate([c["cn"][j][p] for _, c, j, p, _ in rows]).astype(np.float64)
    g = np.concatenate([np.full(yy.size, n) for n, *_, yy in rows])
    is_zr = sp == spec_species[zr]
    info: dict = {
        "train_samples": [s.name for s in train],
        "test_samples": list(test_names),
        "n_train_windows": len(rows),
        "n_rows": int(y.size),
        "rows_frac_zr": float(is_zr.mean()),
        "rows_frac_zr_pos": float(is_zr[y == 1].mean()),
        "rows_frac_zr_neg": float(is_zr[y == 0].mean()),
    }

    # --- fits
    est_a, fit_a = fit_linear(TrainingSet(x, y, g), cs=cs)
    per_sp, fit_b, platt_b = {}, {}, {}
    for name in spec_species:
        m = sp == name
        e, f = fit_linear(TrainingSet(x[m], y[m], g[m]), cs=cs)
        per_sp[name], fit_b[name] = e, f
        platt_b[name] = platt(e.predict(x[m]), y[m])
        f["n_pos"], f["n_neg"] = int(y[m].sum()), int((1 - y[m]).sum())
    est_c, fit_c = (
        fit_linear(TrainingSet(interaction(x, is_zr), y, g), cs=cs) if with_c else (None, None)
    )
    xz = np.stack([is_zr.astype(np.float64), cnr], axis=1)
    est_d, fit_d = fit_linear(TrainingSet(xz, y, g), cs=cs)
    info["fits"] = {
        "a": fit_a,
        "b": fit_b,
        "b_platt_slope_intercept": platt_b,
        "c": fit_c,
        "d_zrcn": fit_d,
    }
    info["fit_cpu_s"] = time.process_time() - t0

    def scores(c, j) -> dict[str, np.ndarray]:
        xx, spc = c["x"][j], c["species"]
        z = spc == spec_species[zr]
        cn = c["cn"][j].astype(np.float64)
        b1 = np.empty(xx.shape[0])
        b2 = np.empty(xx.shape[0])
        for name in spec_species:
            m = spc == name
            d = per_sp[name].predict(xx[m])
            a_, b_ = platt_b[name]
            b1[m] = d
            b2[m] = 1.0 / (1.0 + np.exp(-(a_ * d + b_)))
        out = {
            "a": est_a.predict(xx),
            "b1": b1,
            "b2": b2,
            "d_zr": z.astype(np.float64),
            "d_cn": cn,
            "d_zrcn": est_d.predict(np.stack([z.astype(np.float64), cn], axis=1)),
        }
        if est_c is not None:
            out["c"] = est_c.predict(interaction(xx, z))
        if zoo_model is not None:
            out["zoo"] = zoo_model.predict_features(xx)
        return out

    def judge_set(samples) -> dict:
        ws = windows_of(samples, WINDOW, None)
        res: dict = {}
        diag = {
            "frac_zr_all": [],
            "frac_zr_pos": [],
            "frac_zr_top_d2_per_cn": [],
            "mean_cn_cu": [],
            "mean_cn_zr": [],
        }
        per_sc: dict[str, list] = {}
        d2s = []
        for w in ws:
            c = cache_of[w.sample]
            j = int(np.flatnonzero(c["start"] == w.index[0])[0])
            assert tuple(c["strain"][j]) == w.strain, (w.sample, w.strain)
            d2 = c["d2"][j]
            d2s.append(d2)
            ok = np.isfinite(d2)
            lab = top_fraction(d2[ok], Q)
            z = (c["species"] == spec_species[zr])[ok]
            cn = c["cn"][j][ok]
            diag["frac_zr_all"].append(float(z.mean()))
            diag["frac_zr_pos"].append(float(z[lab].mean()))
            diag["frac_zr_top_d2_per_cn"].append(
                float(z[top_fraction(d2[ok] / np.maximum(cn, 1), Q)].mean())
            )
            diag["mean_cn_cu"].append(float(cn[~z].mean()))
            diag["mean_cn_zr"].append(float(cn[z].mean()))
            for k, s in scores(c, j).items():
                per_sc.setdefault(k, []).append(s)
                r = res.setdefault(k, {"auc_cu": [], "auc_zr": []})
                s_ok = s[ok]
                r["auc_cu"].append(roc_auc(s_ok[~z], lab[~z]))
                r["auc_zr"].append(roc_auc(s_ok[z], lab[z]))
        for k, sc in per_sc.items():
            ev = evaluate_scores(ws, sc, cutoff, Q, d2s)
            r = res[k]
            r["summary"] = {kk: v for kk, v in ev.summary.items() if isinstance(v, (int, float))}
            r["auc_per_window"] = [p["roc_auc"] for p in ev.per_window]
            r["auc"], r["auc_std"] = mean_std(r["auc_per_window"])
            r["auc_cu_mean"], r["auc_cu_std"] = mean_std(r["auc_cu"])
            r["auc_zr_mean"], r["auc_zr_std"] = mean_std(r["auc_zr"])
        for r in res.values():
            r["delta_vs_a"], r["delta_vs_a_se"] = paired(
                r["auc_per_window"], res["a"]["auc_per_window"]
            )
        return {
            "windows": [[w.sample, list(w.strain)] for w in ws],
            "variants": res,
            "diagnostics": {k: float(np.mean(v)) for k, v in diag.items()},
            "diagnostics_per_window": diag,
        }

    info["held_out"] = judge_set(test)
    info["transfer"] = judge_set(transfer) if transfer else None
    info["cpu_s"] = time.process_time() - t0
    return info


# ----------------------------------------------------------------------------- report
def table(folds: dict) -> str:
    names = list(folds)
    head = (
        "| variant | "
        + " | ".join(f"held-out {n}" for n in names)
        + " | all folds (mean ± std, windows) | Δ vs (a) all folds (± SE) | AUC Cu only"
        + " | AUC Zr only | transfer (zoo split) | transfer all folds | Δ transfer vs (a) |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for v, desc in VARIANTS.items():
        cells, allw, alla, cu, zr, tr, tra = [], [], [], [], [], [], []
        for f in folds.values():
            if v not in f["held_out"]["variants"]:
                cells.append("–")
                continue
            r = f["held_out"]["variants"][v]
            cells.append(f"{r['auc']:.3f}±{r['auc_std']:.3f}")
            allw += r["auc_per_window"]
            alla += f["held_out"]["variants"]["a"]["auc_per_window"]
            cu += r["auc_cu"]
            zr += r["auc_zr"]
            if f["transfer"]:
                tr.append(f["transfer"]["variants"][v]["auc"])
                tra.append(
                    np.subtract(
                        f["transfer"]["variants"][v]["auc_per_window"],
                        f["transfer"]["variants"]["a"]["auc_per_window"],
                    )
                )
        m, s = mean_std(allw)
        dm, dse = paired(allw, alla) if v != "a" else (0.0, 0.0)
        zoo_fold = next(
            (f for f in folds.values() if f["test_samples"] == ["cuzr64_s45", "cuzr64_s47"]), None
        )
        tz = (
            f"{zoo_fold['transfer']['variants'][v]['auc']:.3f}"
            if zoo_fold and zoo_fold["transfer"] and v in zoo_fold["transfer"]["variants"]
            else "–"
        )
        if tra:
            dd = np.concatenate(tra)
            dtr = f"{dd.mean():+.3f}±{dd.std(ddof=1) / np.sqrt(dd.size):.3f}"
        else:
            dtr = "–"
        lines.append(
            f"| ({v}) {desc} | "
            + " | ".join(cells)
            + f" | {m:.3f}±{s:.3f} ({len(allw)} windows) | "
            + ("–" if v == "a" else f"{dm:+.3f}±{dse:.3f}")
            + f" | {mean_std(cu)[0]:.3f} | {mean_std(zr)[0]:.3f} | {tz}"
            + (f" | {np.mean(tr):.3f} | {dtr} |" if tr else " | – | – |")
        )
    lines.append("")
    lines.append(
        "| fold (held out) | frac Zr all atoms | frac Zr among top-5 % D²min | "
        "frac Zr among top-5 % D²min/CN | mean CN Cu | mean CN Zr | C (a) | "
        "C (b) Cu, Zr | C (c) |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for n, f in folds.items():
        d = f["held_out"]["diagnostics"]
        fi = f["fits"]
        lines.append(
            f"| {n} | {d['frac_zr_all']:.3f} | {d['frac_zr_pos']:.3f} | "
            f"{d['frac_zr_top_d2_per_cn']:.3f} | {d['mean_cn_cu']:.2f} | {d['mean_cn_zr']:.2f} | "
            f"{fi['a']['C']:g} | {fi['b']['Cu']['C']:g}, {fi['b']['Zr']['C']:g} | "
            f"{fi['c']['C'] if fi['c'] else '–'} |"
        )
    for n, f in folds.items():
        if f["transfer"]:
            d = f["transfer"]["diagnostics"]
            lines.append(
                f"| transfer ({n} models) | {d['frac_zr_all']:.3f} | {d['frac_zr_pos']:.3f} | "
                f"{d['frac_zr_top_d2_per_cn']:.3f} | {d['mean_cn_cu']:.2f} | "
                f"{d['mean_cn_zr']:.2f} | | | |"
            )
            break
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--prefix", default="cuzr64")
    ap.add_argument("--transfer", default="cuzr50", help="transfer sample prefix ('' = none)")
    ap.add_argument("--folds", choices=("zoo", "all"), default="all")
    ap.add_argument(
        "--resume",
        action="store_true",
        help="keep the folds already in <out>/species_study.json, run the others",
    )
    ap.add_argument(
        "--no-c",
        action="store_true",
        help="skip variant (c) (its C-grid CV on 458 features is the slow part)",
    )
    ap.add_argument("--cache", required=True, help="feature cache folder (reused by reruns)")
    ap.add_argument("--out", required=True, help="output folder")
    args = ap.parse_args(argv)

    import softscope  # noqa: F401  (libmpi preload)
    from softscope import load_model
    from softscope.training.dataset import find_samples
    from softscope.training.pipeline import train_recipe
    from softscope.training.recipes import D2MIN_CUTOFF

    warnings.filterwarnings("ignore", message=".*invalid.*")
    t_start = time.process_time()
    zoo = load_model(MODEL)
    spec = zoo.spec
    cs = tuple(inspect.signature(train_recipe).parameters["cs"].default)
    samples = find_samples([args.data])
    own = [s for s in samples if s.name.startswith(args.prefix + "_")]
    transfer = [s for s in samples if args.transfer and s.name.startswith(args.transfer + "_")]
    cutoff = D2MIN_CUTOFF[own[0].units]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache_of = {s.name: cache_sample(s, spec, cutoff, cache) for s in own + transfer}
    folds = [tuple(f) for f in FOLDS]
    folds = [folds[-1]] + folds[:-1]  # the zoo split first
    if args.folds == "zoo":
        folds = folds[:1]
    rep: dict = {
        "data": args.data,
        "model": MODEL,
        "spec": spec.to_dict(),
        "C_grid": list(cs),
        "labels": "top 5 % D2min (OVITO convention, 3.7 Å) over 1 % AQS strain, prediction "
        "at the window start; training rows: 0.2 %-stride windows, all top-5 % + "
        "as many random bottom-half atoms (build_training_set seed=0)",
        "zoo_card_held_out": zoo.card.get("metrics", {}).get("held_out"),
        "folds": {},
    }
    old = out / "species_study.json"
    if args.resume and old.exists():
        rep["folds"] = json.loads(old.read_text())["folds"]
    for f in folds:
        name = "+".join(n.split("_")[-1] for n in f)
        if name in rep["folds"]:
            print(f"fold {name}: kept from {old}", flush=True)
            continue
        print(f"fold: held out {list(f)}", flush=True)
        rep["folds"][name] = run_fold(
            list(f),
            own,
            transfer,
            cache_of,
            tuple(spec.species),
            cs,
            zoo if set(f) == {"cuzr64_s45", "cuzr64_s47"} else None,
            cutoff,
            with_c=not args.no_c,
        )
        r = rep["folds"][name]["held_out"]["variants"]
        print(
            "  "
            + ", ".join(f"{k} {v['auc']:.3f}" for k, v in r.items())
            + f"  [{rep['folds'][name]['cpu_s']:.0f} s CPU]",
            flush=True,
        )
        rep["table_markdown"] = table(rep["folds"])
        rep["study_cpu_s"] = time.process_time() - t_start
        (out / "species_study.json").write_text(json.dumps(rep, indent=1, default=float))
    print(rep["table_markdown"])
    (out / "species_study.md").write_text(rep["table_markdown"] + "\n")
    print(f"wrote {out / 'species_study.json'} ({rep['study_cpu_s']:.0f} s CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
