"""How strongly must a linear zoo model's response to tiny perturbations be penalised, and
what does it cost?

For a zoo model (``softscope.training.zoo.ZOO_MODELS``; its recipe, data and held-out
split), the training rows are built as the zoo builds them; C is chosen by the zoo's
sample-grouped CV without the penalty; then, for each penalty strength
(``softscope.training.perturbation_guard``), the model is refitted and reported:

- ``train_response_p999``: the guard's criterion, the 99.9th percentile of |ΔP| / spread under
  the criterion's perturbations of the training glasses (an xy shear and noise of 1e-4,
  independent of the penalty's; first window of each training sample);
- ``cv_auc``: the sample-grouped CV ROC-AUC at that strength (training glasses only);
- ``glass``: :func:`softscope.models.stability.stability` of the shipped glass (1e-4 noise,
  thermal noise, 1e-4 shear);
- ``held_out``: ROC-AUC / AP of the held-out glasses (reported, never used to choose).

    python studies/perturbation_guard/perturbation_guard.py ZOO_DATA OUT [--models cuzr-igd cuzr-softness]

Writes OUT/perturbation_guard.json and prints a markdown table.  Public API only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from softscope.data import default_glass
from softscope.models import Model
from softscope.models.stability import stability
from softscope.training.dataset import find_samples, split_samples
from softscope.training.evaluate import evaluate_scores, window_d2min
from softscope.training.pipeline import perturbation_guard, thermal_invariance, windows_of
from softscope.training.recipes import D2MIN_CUTOFF, recipe_info, recipe_spec
from softscope.training.train import build_training_set, feature_families, fit_linear
from softscope.training.zoo import ZOO_MODELS

CS = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)
STRENGTHS = (0.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7)


def study(data: Path, name: str, jobs: int) -> dict:
    z = ZOO_MODELS[name]
    kinds = z["data"] if isinstance(z["data"], list) else [z["data"]]
    samples = find_samples(sorted(p for p in data.iterdir() if p.name.split("_")[0] in kinds))
    train, test = split_samples(samples, z["test"])
    spec = recipe_spec(z["recipe"], samples[0].elements)
    require = tuple(spec.external)
    cutoff = D2MIN_CUTOFF["metal"]
    tr_w = windows_of(train, 0.01, 0.002, require)
    te_w = windows_of(test, 0.01, None, require)
    ts = build_training_set(tr_w, spec, cutoff, 0.05, 0.5, 0, jobs, False)
    fam = feature_families(spec.feature_names())
    inv = thermal_invariance(spec, tr_w, "metal")
    guard = perturbation_guard(spec, tr_w, "metal")
    _, info = fit_linear(ts, cs=CS, families=fam, invariant=inv)
    c = info["C"]
    te_x = [spec.compute(w.reference, extra=w.extra or None) for w in te_w]
    d2 = [window_d2min(w, cutoff) for w in te_w]
    glass = default_glass()
    extra = {"msd": np.full(len(glass), 0.02)} if require else None
    rows = {}
    for s in STRENGTHS:
        g = dataclasses.replace(guard, strengths=(s,), target=np.inf, thermal_target=np.inf)
        est, fi = fit_linear(ts, cs=(c,), families=fam, invariant=inv, guard=g)
        model = Model(name, recipe_info(z["recipe"])["output_name"], spec, est)
        tried = fi["perturbation_penalty"]["tried"][str(s)]
        f = stability(model, glass, extra=extra)
        scores = [model.predict_features(x) for x in te_x]
        ev = evaluate_scores(te_w, scores, cutoff, 0.05, d2=d2).summary
        rows[str(s)] = {
            "C": c,
            "train_response_p999": tried["response_p999"],
            "cv_auc": tried.get("cv_auc", info["cv_auc_by_C"].get(str(c))),
            "glass": {k: f[k] for k in ("noise_1e-4", "noise_thermal", "shear_1e-4")},
            "max_raw_coefficient": fi["max_raw_coefficient"],
            "held_out": {k: ev[k] for k in ("roc_auc", "average_precision", "precision_top_q")},
        }
        print(name, s, json.dumps(rows[str(s)]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--models", nargs="+", default=["cuzr-igd", "cuzr-softness"])
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = {m: study(args.data, m, args.jobs) for m in args.models}
    (args.out / "perturbation_guard.json").write_text(json.dumps(results, indent=1))
    print(
        "\n| model | strength | train response p999 | CV AUC | glass shear p999 | "
        "glass 1e-4 noise p999 | held-out AUC | held-out AP |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for m, rows in results.items():
        for s, r in rows.items():
            g = r["glass"]
            print(
                f"| {m} | {float(s):g} | {r['train_response_p999']:.4f} | {r['cv_auc']:.3f} | "
                f"{g['shear_1e-4']['p999']:.4f} | {g['noise_1e-4']['p999']:.4f} | "
                f"{r['held_out']['roc_auc']:.3f} | {r['held_out']['average_precision']:.3f} |"
            )


if __name__ == "__main__":
    main()
