"""Benchmark models of every estimator kind on the same features (issue 15's speed table).

Writes into OUT, all on the ``softness-radial`` recipe's features (radial SF μ ≤ 6 Å,
coarse-grained over 4 Å; 104 features) of the shipped glass, with synthetic labels (the
cost does not depend on them):

- ``mlp.ssm``: StandardScaler + MLPClassifier (relu 32 → 8), the ``mlp`` kind (numba);
- ``trees300.ssm``: GradientBoostingClassifier, 300 trees of depth 3, the ``trees`` kind;
- ``onnx-mlp.ssm``: the same MLP through skl2onnx, the ``onnx`` kind (onnxruntime), when
  skl2onnx and onnxruntime are installed.

    python benchmarks/kind_models.py OUT
    python benchmarks/lammps_overhead.py --layouts mpi2 --model OUT/mlp.ssm \
        --also-model OUT/trees300.ssm --out benchmarks/results/lammps_overhead_kinds.json
    python benchmarks/ovito_modifiers.py --model OUT/mlp.ssm --out ...
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

from softscope.data import default_glass
from softscope.models import from_onnx, from_sklearn
from softscope.training.recipes import recipe_spec


def main() -> None:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    spec = recipe_spec("softness-radial", ("Cu", "Zr"))
    x = spec.compute(default_glass())
    score = x[:, 20] - 0.5 * x[:, 70]
    y = (score >= np.quantile(score, 0.9)).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = make_pipeline(StandardScaler(), MLPClassifier((32, 8), max_iter=50, random_state=0))
        mlp.fit(x, y)
    from_sklearn(mlp, spec, name="bench-mlp", output_name="P").save(out / "mlp")
    gb = GradientBoostingClassifier(n_estimators=300, max_depth=3, random_state=0).fit(x, y)
    from_sklearn(gb, spec, name="bench-trees300", output_name="P").save(out / "trees300")
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType
    except ImportError:
        print("skl2onnx not installed: no onnx-mlp.ssm")
    else:
        graph = convert_sklearn(
            mlp,
            initial_types=[("x", FloatTensorType([None, x.shape[1]]))],
            options={"zipmap": False},
        )
        m = from_onnx(graph, spec, name="bench-onnx-mlp", output_name="P", output="probability")
        m.save(out / "onnx-mlp")
    print(f"wrote {sorted(p.name for p in out.glob('*.ssm'))} to {out}")


if __name__ == "__main__":
    main()
