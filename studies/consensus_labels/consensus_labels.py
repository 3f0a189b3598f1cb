"""Does training on direction-averaged labels help the isotropic softness model?

    python studies/consensus_labels/consensus_labels.py ZOO_DATA --aniso ANISO_OUT
        --cache SPECIES_CACHE --out OUT

``ZOO_DATA`` is the zoo's data folder (``scripts/make_zoo.sh DATA_DIR``), ``ANISO_OUT`` the
output folder of ``studies/anisotropy`` and ``SPECIES_CACHE`` the feature cache of
``studies/species_models`` (its ``--cache``; filled here where missing).

``studies/anisotropy`` found that the rearrangements under five other loading
directions predict a direction's top-5 % D²min at ROC-AUC ~0.84 (an isotropic ceiling),
while ``cuzr-softness`` reaches ~0.71: a single-direction label is a noisy sample of the
direction-averaged propensity an isotropic model can learn.  Here the zoo recipe's model
(StandardScaler + LinearSVC, balanced rows: all top-5 % atoms + as many random bottom-half
atoms, :func:`softscope.rearrangement.labels`) is trained on the same four samples with
different labels of the unsheared glass (frame 0) and judged on the two held-out samples
of each of the three rotated folds:

- ``zoo``: the zoo's 21 +xy windows per sample (0.2 % stride; the shipped recipe);
- ``xy0``: frame 0 with its +xy label only (one window per sample);
- ``cons0``: frame 0 with the consensus label (top 5 % of the mean rank of D²min over the
  six directions +-xy, +-xz, +-yz);
- ``dirs0``: frame 0 six times, once per direction's label;
- ``zoo+dirs``: ``zoo`` and ``dirs0`` together.

Judged on: ``dir6`` the six directions of window 0-1 %, ``xy_zoo`` the zoo's own +xy
windows 0-1 %, ..., 4-5 % (the zoo card's metric), ``cons`` the consensus label.  Inputs:
the per-direction D²min of ``studies/anisotropy`` (``<aniso>/cache``) and the zoo-spec
features of ``studies/species_models``'s cache (computed here if missing).  Writes
``results.json`` and ``summary.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

SAMPLES = ["cuzr64_s41", "cuzr64_s42", "cuzr64_s43", "cuzr64_s44", "cuzr64_s45", "cuzr64_s47"]
VARIANTS = ["zoo", "xy0", "cons0", "dirs0", "zoo+dirs"]
C_VALUES = (1e-4, 1e-3, 1e-2)
Q, STABLE_Q = 0.05, 0.5


def rank_norm(v: np.ndarray) -> np.ndarray:
    """Rank / N (ties in index order), the per-direction scale of the consensus."""
    r = np.empty(v.size)
    r[np.argsort(v, kind="stable")] = np.arange(v.size)
    return r / v.size


def balanced_rows(x: np.ndarray, target: np.ndarray, seed: int):
    """All top-q atoms of ``target`` and as many random bottom-half atoms (zoo recipe)."""
    from softscope.rearrangement import labels

    lab = labels(target, q=Q, stable_q=STABLE_Q)
    pos, neg = np.flatnonzero(lab == 1), np.flatnonzero(lab == 0)
    rng = np.random.default_rng(seed)
    n = min(pos.size, neg.size)
    pick = np.concatenate([rng.choice(pos, n, replace=False), rng.choice(neg, n, replace=False)])
    return x[pick], (lab[pick] == 1).astype(np.int8)


def training_items(variant: str, feats, d2_xy, d2_dirs, cons) -> list:
    """(features, target) pairs of one training sample for ``variant``."""
    items = []
    if variant in ("zoo", "zoo+dirs"):
        items += [(feats[j], d2_xy[j]) for j in range(feats.shape[0])]
    if variant == "xy0":
        items.append((feats[0], d2_dirs[0]))
    if variant == "cons0":
        items.append((feats[0], cons))
    if variant in ("dirs0", "zoo+dirs"):
        items += [(feats[0], d2_dirs[d]) for d in range(d2_dirs.shape[0])]
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="the zoo's data folder (cuzr64_sNN samples)")
    ap.add_argument("--aniso", required=True, help="output folder of studies/anisotropy")
    ap.add_argument("--cache", required=True, help="feature cache of studies/species_models")
    ap.add_argument("--out", required=True, help="output folder")
    args = ap.parse_args(argv)

    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    import softscope  # noqa: F401  (libmpi preload)
    from softscope import load_model
    from softscope.metrics import roc_auc
    from softscope.rearrangement import top_fraction
    from softscope.training.dataset import find_samples
    from softscope.training.recipes import D2MIN_CUTOFF

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "species_models"))
    from species_models import FOLDS, cache_sample

    warnings.filterwarnings("ignore", message=".*invalid.*")
    spec = load_model("cuzr-softness").spec
    samples = {s.name: s for s in find_samples([args.data]) if s.name in SAMPLES}
    cutoff = D2MIN_CUTOFF[samples[SAMPLES[0]].units]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    feats, d2_xy, d2_dirs, cons = {}, {}, {}, {}
    for name in SAMPLES:
        c = cache_sample(samples[name], spec, cutoff, cache)
        a = np.load(Path(args.aniso) / "cache" / f"{name}.npz")
        feats[name], d2_xy[name], d2_dirs[name] = c["x"], c["d2"], a["d2min"][0]
        # the +xy direction of the anisotropy study is the zoo's own first window
        np.testing.assert_allclose(d2_dirs[name][0], d2_xy[name][0], rtol=1e-9, atol=1e-9)
        cons[name] = np.mean([rank_norm(v) for v in d2_dirs[name]], axis=0)

    def auc(score, measure) -> float:
        return float(roc_auc(score, top_fraction(measure, Q)))

    res: dict = {"folds": [list(f) for f in FOLDS], "C": list(C_VALUES), "variants": {}}
    lines = [
        "| variant | C | dir6 (window 0-1 %, 6 directions) | xy_zoo (+xy windows, zoo metric)"
        " | cons (consensus label) |",
        "|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        for c_val in C_VALUES:
            m: dict[str, list[float]] = {"dir6": [], "xy_zoo": [], "cons": []}
            for test in FOLDS:
                xs, ys, k = [], [], 0
                for name in SAMPLES:
                    if name in test:
                        continue
                    items = training_items(
                        variant, feats[name], d2_xy[name], d2_dirs[name], cons[name]
                    )
                    for x, t in items:
                        a, b = balanced_rows(x, t, k)
                        xs.append(a)
                        ys.append(b)
                        k += 1
                x, y = np.concatenate(xs), np.concatenate(ys)
                sc = StandardScaler().fit(x)
                clf = LinearSVC(C=c_val, max_iter=20000).fit(sc.transform(x), y)
                for name in test:
                    p0 = clf.decision_function(sc.transform(feats[name][0]))
                    m["dir6"] += [auc(p0, d) for d in d2_dirs[name]]
                    m["cons"].append(auc(p0, cons[name]))
                    for j in range(0, feats[name].shape[0], 5):  # non-overlapping 1 % windows
                        p = clf.decision_function(sc.transform(feats[name][j]))
                        m["xy_zoo"].append(auc(p, d2_xy[name][j]))
            r = {
                k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "n": len(v)}
                for k, v in m.items()
            }
            res["variants"][f"{variant} C={c_val:g}"] = r
            cells = " | ".join(f"{r[k]['mean']:.3f} ± {r[k]['std']:.3f}" for k in m)
            lines.append(f"| {variant} | {c_val:g} | {cells} |")
            print(lines[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=1))
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
