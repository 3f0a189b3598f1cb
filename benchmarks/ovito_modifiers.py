"""PredictModifier speed on a 64,000-atom frame, against OVITO's AtomicStrainModifier.

What each timing includes (median of ``--repeats`` after one warm-up call)
------------------------------------------------------------------------
- ``PredictModifier``: ``pipeline.compute()`` of a pipeline whose source is a
  ``StaticSource`` holding the frame: OVITO DataCollection -> softscope Frame,
  descriptor spec (neighbour list, radial structure functions, coarse-graining),
  the estimator, and writing the particle property. The modifier's ``elements``
  parameter alternates between two equivalent mappings so that OVITO recomputes.
- ``Model.predict``: the same prediction on the in-memory Frame (no OVITO), to show
  the adapter's overhead.
- ``AtomicStrainModifier``: OVITO's own D²min (3.7 Å, ``output_nonaffine_squared_
  displacements``) on the same frame against a sheared copy (both ``StaticSource``),
  cutoff nudged by 1e-12 each repeat to defeat the cache. A per-frame cost users know.

The model is the zoo's ``cuzr-softness`` when it is installed, else a linear model
with the FINDINGS.md feature set (radial SF μ = 1.0…8.0 Å step 0.2, σ = 0.2 Å, per
species, coarse-grained over 4 and 6 Å; 216 features) trained on the shipped glass
(the timing does not depend on the weights).

    python benchmarks/ovito_modifiers.py              # 64,000 atoms (default glass 4x2x2)
    python benchmarks/ovito_modifiers.py --quick      # the 4,000-atom glass, 1 repeat
    python benchmarks/ovito_modifiers.py --model M.ssm --out results/X.json   # any model
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

import softscope

sys.path.insert(0, str(Path(__file__).parent))
from bench_d2min import _row, _to_datacollection, replicate, sheared_pair  # noqa: E402


def _model(name: str | None = None):
    from softscope.models import load_model, zoo_names

    if name is not None:
        return load_model(name), f"given: {Path(name).name}"
    if "cuzr-softness" in zoo_names():
        return load_model("cuzr-softness"), "zoo:cuzr-softness"
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from softscope.data import default_glass
    from softscope.descriptors.spec import DescriptorSpec
    from softscope.models.estimators import LinearEstimator
    from softscope.models.model import Model

    spec = DescriptorSpec(
        species=("Cu", "Zr"),
        units="metal",
        blocks=(
            {
                "kind": "radial",
                "centers": list(np.round(np.arange(1.0, 8.01, 0.2), 10)),
                "sigma": 0.2,
            },
        ),
        coarse_grain=(4.0, 6.0),
    )
    x = spec.compute(default_glass())
    y = (x[:, 10] >= np.quantile(x[:, 10], 0.95)).astype(int)
    sc = StandardScaler().fit(x)
    svc = LinearSVC(C=0.01, max_iter=2000).fit(sc.transform(x), y)
    return Model("bench-softness", "Softness", spec, LinearEstimator.from_sklearn(sc, svc)), (
        f"trained here: {spec.n_features} features"
    )


def _time(fn, repeats: int) -> list[float]:
    fn(0)  # warm-up (numba cache load, OVITO start-up)
    out = []
    for k in range(repeats):
        t0 = time.perf_counter()
        fn(k + 1)
        out.append(time.perf_counter() - t0)
    return out


def run(frame, model, repeats: int) -> list[dict]:
    import tempfile

    from ovito.modifiers import AtomicStrainModifier
    from ovito.pipeline import Pipeline, StaticSource

    from softscope.ovito_modifiers import PredictModifier

    n = len(frame)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = model.save(Path(tmp) / "model")
        pipe = Pipeline(source=StaticSource(data=_to_datacollection(frame)))
        mod = PredictModifier(model=str(path))
        pipe.modifiers.append(mod)
        maps = ("", "1=Cu, 2=Zr")  # the DataCollection's types: 1 = Cu, 2 = Zr (sorted names)
        result = {}

        def predict_modifier(k):
            mod.elements = maps[k % 2]
            result["data"] = pipe.compute()

        rows.append(_row("PredictModifier", n, _time(predict_modifier, repeats)))
        via_ovito = np.asarray(result["data"].particles[model.output_name])

    core = {}

    def core_predict(k):
        core["p"] = model.predict(frame)

    rows.append(_row("Model.predict (no OVITO)", n, _time(core_predict, repeats)))
    diff = float(np.max(np.abs(via_ovito - core["p"])))

    ref, cur = sheared_pair(frame)
    spipe = Pipeline(source=StaticSource(data=_to_datacollection(cur)))
    strain = AtomicStrainModifier(cutoff=3.7, output_nonaffine_squared_displacements=True)
    strain.reference = StaticSource(data=_to_datacollection(ref))
    spipe.modifiers.append(strain)

    def atomic_strain(k):
        strain.cutoff = 3.7 * (1.0 + 1e-12 * (k + 1))
        spipe.compute()

    rows.append(_row("AtomicStrainModifier (OVITO, D2min 3.7 A)", n, _time(atomic_strain, repeats)))
    peer = rows[-1]["median_s"]
    for r in rows:
        r["time_vs_atomic_strain"] = r["median_s"] / peer
    rows[0]["max_abs_diff_vs_model_predict"] = diff
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4,000 atoms, 1 repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", help="zoo name or .ssm file (default: cuzr-softness)")
    ap.add_argument("--out", help="JSON file (default: results/ovito_modifiers[_quick].json)")
    args = ap.parse_args()
    from softscope.data import default_glass

    glass = default_glass()
    frame = glass if args.quick else replicate(glass, (4, 2, 2))
    repeats = 1 if args.quick else args.repeats
    model, origin = _model(args.model)
    load0 = os.getloadavg()
    rows = run(frame, model, repeats)
    load1 = os.getloadavg()
    print(
        f"per-frame time, {len(frame)} atoms, model {model.name} ({origin}), "
        f"{model.spec.n_features} features, {os.cpu_count()} cores"
    )
    print(f"{'code':<44}{'median s':>10}{'atoms/s':>12}{'x AtomicStrain':>16}")
    for r in rows:
        print(
            f"{r['code']:<44}{r['median_s']:>10.3f}{r['atoms_per_s']:>12.0f}"
            f"{r['time_vs_atomic_strain']:>15.2f}x"
        )
    print(f"max |PredictModifier - Model.predict| = {rows[0]['max_abs_diff_vs_model_predict']:.2e}")
    import numba
    import ovito

    name = "ovito_modifiers_quick.json" if args.quick else "ovito_modifiers.json"
    out = Path(args.out) if args.out else Path(__file__).parent / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "softscope": softscope.__version__,
        "ovito": ovito.version_string,
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "model": model.name,
        "model_origin": origin,
        "n_features": model.spec.n_features,
        "loadavg_start": load0,
        "loadavg_end": load1,
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
