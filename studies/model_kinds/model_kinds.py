"""Linear SVM vs MLP vs boosted trees on the softness features, and the GlassMLP-style
recipe, on the zoo's Cu-Zr data: held-out ROC-AUC, AP and precision@q.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python studies/model_kinds/model_kinds.py \
        ZOO_DATA OUT [--cache CACHE]

``ZOO_DATA``: the zoo's data folder (``python -m softscope.training.zoo --data ZOO_DATA``).
The split is ``cuzr-softness``'s (``softscope.training.zoo.ZOO_MODELS``): 8 Cu-Zr glasses
of three compositions to train, 4 held out.  Training rows exactly as the zoo builds them
(``build_training_set``: every 1 % AQS window at 0.2 % stride, all top-5 % D²min atoms and
as many random atoms of the bottom half); held-out windows non-overlapping, judged with
``evaluate_scores`` (the zoo's metric).  Nothing is tuned on the held-out glasses: each
estimator has fixed settings or chooses its own on training rows (the SVM's C by
sample-grouped CV, early stopping of the MLP / HGB on a slice of the training rows).

Estimators on the ``softness`` recipe's features (radial + angular, raw and
coarse-grained over 4 and 6 Å):

- ``linear``: ``fit_linear`` (the zoo's: guarded columns, thermal invariance, C by CV);
- ``mlp``: ``fit_mlp`` (the ``softness-mlp`` recipe: relu 32 → 8);
- ``hgb``: scikit-learn ``HistGradientBoostingClassifier`` (300 iterations, learning rate
  0.05, 15 leaves, early stopping);
- ``xgboost``: ``XGBClassifier`` (300 trees, depth 4, learning rate 0.05, subsample 0.8,
  column sample 0.5);

and ``glassmlp``: the ``glassmlp`` recipe (density shells + potential energy,
coarse-grained over 2-6 Å, MLP 32 → 16 → 2).  Every fitted estimator becomes a softscope
model (``fit_*`` directly, ``from_sklearn``, ``from_xgboost``) and is judged through
``Model.predict_features`` on the same held-out features.  Writes OUT/model_kinds.json and
prints a markdown table.  Public API only.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from softscope.models import Model, from_sklearn, from_xgboost
from softscope.training.dataset import find_samples
from softscope.training.evaluate import evaluate_scores, window_d2min
from softscope.training.pipeline import thermal_invariance, windows_of
from softscope.training.recipes import recipe_spec
from softscope.training.train import (
    build_training_set,
    feature_families,
    fit_linear,
    fit_mlp,
)
from softscope.training.zoo import ZOO_MODELS

Q, CUTOFF = 0.05, 3.7


def _features(spec, windows, cache: Path | None, tag: str) -> list[np.ndarray]:
    """Features of each window's reference frame (cached per spec tag and window)."""
    out = []
    for k, w in enumerate(windows):
        f = cache / f"{tag}_{w.sample}_{k}.npy" if cache else None
        if f is not None and f.exists():
            out.append(np.load(f))
            continue
        x = spec.compute(w.reference, extra=w.extra or None)
        if f is not None:
            np.save(f, x)
        out.append(x)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--cache", type=Path)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    z = ZOO_MODELS["cuzr-softness"]
    dirs = sorted(p for p in args.data.iterdir() if p.name.split("_")[0] in z["data"])
    samples = find_samples(dirs)
    test = [s for s in samples if s.name in z["test"]]
    train = [s for s in samples if s.name not in z["test"]]
    species = ("Cu", "Zr")
    tr_w = windows_of(train, 0.01, 0.002, ("pe",))
    te_w = windows_of(test, 0.01, None, ("pe",))
    d2 = [window_d2min(w, CUTOFF) for w in te_w]
    results = {}

    def judge(name: str, model: Model, xs: list[np.ndarray], seconds: float) -> None:
        scores = [model.predict_features(x) for x in xs]
        ev = evaluate_scores(te_w, scores, CUTOFF, Q, d2=d2)
        s = ev.summary
        results[name] = {
            k: s[k]
            for k in ("roc_auc", "roc_auc_std", "average_precision", "average_precision_std")
        }
        results[name]["precision_top_q"] = s["precision_top_q"]
        results[name]["fit_seconds"] = round(seconds, 1)
        results[name]["n_windows"] = s["n_windows"]
        print(name, json.dumps(results[name]), flush=True)

    for recipe in ("softness", "glassmlp"):
        spec = recipe_spec(recipe, species)
        t0 = time.perf_counter()
        ts = build_training_set(tr_w, spec, CUTOFF, Q, 0.5, 0, args.jobs, False)
        print(f"{recipe}: {ts.y.size} training rows ({time.perf_counter() - t0:.0f} s)")
        xs = _features(spec, te_w, args.cache, recipe)
        fam = feature_families(spec.feature_names())
        if recipe == "glassmlp":
            t0 = time.perf_counter()
            est, _ = fit_mlp(ts, hidden=(32, 16, 2), families=fam)
            judge(
                "glassmlp (MLP 32-16-2)", Model("g", "P", spec, est), xs, time.perf_counter() - t0
            )
            continue
        t0 = time.perf_counter()
        inv = thermal_invariance(spec, tr_w, "metal")
        est, info = fit_linear(
            ts, cs=(1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0), families=fam, invariant=inv
        )
        judge("linear SVM", Model("l", "S", spec, est), xs, time.perf_counter() - t0)
        t0 = time.perf_counter()
        est, _ = fit_mlp(ts, families=fam)
        judge("MLP 32-8", Model("m", "P", spec, est), xs, time.perf_counter() - t0)
        from sklearn.ensemble import HistGradientBoostingClassifier

        t0 = time.perf_counter()
        hgb = HistGradientBoostingClassifier(
            max_iter=300, learning_rate=0.05, max_leaf_nodes=15, early_stopping=True, random_state=0
        ).fit(ts.x, ts.y)
        judge(
            "HistGradientBoosting",
            from_sklearn(hgb, spec, name="h", output_name="P"),
            xs,
            time.perf_counter() - t0,
        )
        import xgboost as xgb

        t0 = time.perf_counter()
        xg = xgb.XGBClassifier(
            n_estimators=300,
            max_depth=4,
            learning_rate=0.05,
            subsample=0.8,
            colsample_bytree=0.5,
            n_jobs=args.jobs,
            random_state=0,
        ).fit(ts.x, ts.y)
        judge(
            "XGBoost",
            from_xgboost(xg, spec, name="x", output_name="P"),
            xs,
            time.perf_counter() - t0,
        )
    (args.out / "model_kinds.json").write_text(json.dumps(results, indent=1))
    print("\n| estimator | ROC-AUC | AP | precision@5 % | fit (s) |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['roc_auc']:.3f} ± {r['roc_auc_std']:.3f} | "
            f"{r['average_precision']:.3f} ± {r['average_precision_std']:.3f} | "
            f"{r['precision_top_q']:.3f} | {r['fit_seconds']} |"
        )


if __name__ == "__main__":
    main()
