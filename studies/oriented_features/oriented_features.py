"""Direction-aware features vs the isotropic ceiling.

    python studies/oriented_features/oriented_features.py ZOO_DATA --aniso ANISO_OUT
        --cache SPECIES_CACHE --out OUT

``ZOO_DATA`` is the zoo's data folder (``scripts/make_zoo.sh DATA_DIR``), ``ANISO_OUT`` the
output folder of ``studies/anisotropy`` and ``SPECIES_CACHE`` the feature cache written by
``studies/species_models``.  Training rows are drawn like ``studies/consensus_labels``.

``studies/anisotropy`` showed that which atoms rearrange depends on the loading
direction, and that an isotropic indicator is capped near the orientation-averaged
response (ROC-AUC ~0.84).  Can per-atom quantities that *know* the loading direction add
to the zoo's isotropic features?  Two candidates, each evaluated for direction d = (a, b,
sign) of the six simple-shear directions of the anisotropy study, at frame 0 (the
minimized glass), raw and coarse-grained over 4 and 6 Å (mean over the atom and its
neighbours):

- ``fabric``: signed local fabric, Σ_j g_μ(r_ij) · sign · 2 (r̂_ij)_a (r̂_ij)_b per
  neighbour species and Gaussian shell (μ = 2.0 ... 6.5 Å, step 0.5, σ = 0.3 Å);
- ``stress``: the atom's signed shear stress sign · σ_ab (LAMMPS ``compute stress/atom``,
  pressure × volume units, at the zoo minimizer's frame 0), plus the isotropic
  invariants pressure and von Mises stress.

Models (zoo recipe rows; all six directions of the four training samples, each with its
own rotated features) are judged on the held-out pairs of the three rotated folds:
``dir6`` = mean ROC-AUC over the 6 directions x 2 held-out samples x 3 folds, ``+xy`` =
the +xy direction only.  Writes ``results.json`` to ``--out``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SAMPLES = ["cuzr64_s41", "cuzr64_s42", "cuzr64_s43", "cuzr64_s44", "cuzr64_s45", "cuzr64_s47"]
FOLDS = [("cuzr64_s41", "cuzr64_s42"), ("cuzr64_s43", "cuzr64_s44"), ("cuzr64_s45", "cuzr64_s47")]
#: +xy -xy +xz -xz +yz -yz as (axis a, axis b, sign); LAMMPS stress/atom column of ab
DIRS = [(0, 1, 1), (0, 1, -1), (0, 2, 1), (0, 2, -1), (1, 2, 1), (1, 2, -1)]
STRESS_COL = {(0, 1): 3, (0, 2): 4, (1, 2): 5}
MU = np.arange(2.0, 6.51, 0.5)
SIGMA, RC, CG = 0.3, 7.0, (4.0, 6.0)
KINDS = {
    "iso": ("iso",),
    "fabric": ("fabric",),
    "iso+fabric": ("iso", "fabric"),
    "stress": ("stress_iso", "stress_dir"),
    "iso+stress": ("iso", "stress_iso", "stress_dir"),
}


def coarse_grain(frame, v: np.ndarray, radius: float) -> np.ndarray:
    """Mean of ``v`` (N, ...) over each atom and its neighbours within ``radius``."""
    from softscope.neighbors import neighbor_list

    nl = neighbor_list(frame, radius)
    n = nl.n_query
    i = np.repeat(np.arange(n), np.diff(nl.offsets))
    flat = v.reshape(n, -1)
    acc = flat.copy()
    np.add.at(acc, i, flat[nl.point_atom[nl.neigh]])
    return (acc / (np.bincount(i, minlength=n) + 1.0)[:, None]).reshape(v.shape)


def fabric(frame) -> np.ndarray:
    """(N, 6 directions, 3 x 2 x len(MU)) signed fabric features, raw + coarse-grained."""
    from softscope.neighbors import neighbor_list

    nl = neighbor_list(frame, RC)
    n = nl.n_query
    codes = frame.species_index(("Cu", "Zr"))[0][nl.point_atom]
    u = nl.vectors() / nl.dist[:, None]
    i = np.repeat(np.arange(n), np.diff(nl.offsets))
    sj = codes[nl.neigh]
    g = np.exp(-0.5 * ((nl.dist[:, None] - MU[None, :]) / SIGMA) ** 2)
    out = np.zeros((n, len(DIRS), 2 * MU.size))
    for s in (0, 1):
        m = sj == s
        for k in range(MU.size):
            for di, (a, b, sign) in enumerate(DIRS):
                w = g[m, k] * sign * 2.0 * u[m, a] * u[m, b]
                out[:, di, s * MU.size + k] = np.bincount(i[m], w, minlength=n)
    return np.concatenate([out] + [coarse_grain(frame, out, r) for r in CG], axis=2)


def atom_stress(zoo: Path, sample: str, cache: Path, x_ref: np.ndarray) -> np.ndarray:
    """(N, 6) per-atom stress (xx yy zz xy xz yz) at the zoo's minimized frame 0."""
    path = cache / f"{sample}_stress.npz"
    if path.exists():
        return np.load(path)["stress"]
    from softscope.simulate import open_lammps, read_manifest, setup_shear

    par = read_manifest(zoo / sample / "shear_aqs")["parameters"]["minimize"]
    lmp, _ = open_lammps(cache / f"{sample}_stress.log", 1)
    try:
        setup_shear(lmp, zoo / sample / "glass" / "glass.data", "cuzr")
        lmp.command(f"min_style {par['style']}")
        lmp.command(
            f"minimize {float(par['etol'])!r} {float(par['ftol'])!r} "
            f"{int(par['maxiter'])} {int(par['maxeval'])}"
        )
        lmp.command("compute sa all stress/atom NULL")
        lmp.command("run 0")
        n = int(lmp.get_natoms())
        st = np.ctypeslib.as_array(lmp.gather("c_sa", 1, 6)).reshape(n, 6).copy()
        x = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3)).reshape(n, 3).copy()
    finally:
        lmp.close()
    if np.abs(x - x_ref).max() > 1e-9:
        raise RuntimeError(f"{sample}: frame 0 differs from the anisotropy study's")
    np.savez(path, stress=st)
    return st


def stress_features(frame, st: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic (N, 6): pressure, von Mises, both coarse-grained; directed (N, 6 dirs, 3)."""
    shear = np.stack([sign * st[:, STRESS_COL[(a, b)]] for a, b, sign in DIRS], axis=1)
    p = -st[:, :3].sum(axis=1) / 3.0
    dev = st[:, :3] + p[:, None]
    vm = np.sqrt(0.5 * (2.0 * (dev**2).sum(axis=1) + 6.0 * (st[:, 3:] ** 2).sum(axis=1)))
    iso = np.stack([p, vm], axis=1)
    iso = np.hstack([iso] + [coarse_grain(frame, iso, r) for r in CG])
    directed = np.stack([shear] + [coarse_grain(frame, shear, r) for r in CG], axis=2)
    return iso, directed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zoo", type=Path, help="the zoo's data folder (cuzr64_sNN samples)")
    ap.add_argument("--aniso", type=Path, required=True, help="output of studies/anisotropy")
    ap.add_argument(
        "--cache", type=Path, required=True, help="feature cache of studies/species_models"
    )
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "consensus_labels"))
    from consensus_labels import balanced_rows
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    import softscope  # noqa: F401  (libmpi preload)
    from softscope.frame import Frame
    from softscope.metrics import roc_auc
    from softscope.rearrangement import top_fraction

    warnings.filterwarnings("ignore", message=".*invalid.*")
    args.out.mkdir(parents=True, exist_ok=True)
    data = {}
    for s in SAMPLES:
        a = np.load(args.aniso / "cache" / f"{s}.npz")
        frame = Frame(
            a["positions"][0, 0], a["species"], a["cells"][0, 0], origin=a["origins"][0, 0]
        )
        st_iso, st_dir = stress_features(
            frame, atom_stress(args.zoo, s, args.out, a["positions"][0, 0])
        )
        data[s] = {
            "iso": np.load(args.cache / f"{s}.npz")["x"][0],  # the zoo spec's features
            "fabric": fabric(frame),
            "stress_iso": st_iso,
            "stress_dir": st_dir,
            "d2": a["d2min"][0],
        }
        print(f"features {s}", flush=True)

    def x_of(s: str, di: int, kind: str) -> np.ndarray:
        parts = [data[s][p] for p in KINDS[kind]]
        return np.hstack([p[:, di] if p.ndim == 3 else p for p in parts])

    res = {}
    for kind in KINDS:
        aucs, xy = [], []
        for test in FOLDS:
            xs, ys, k = [], [], 0
            for s in SAMPLES:
                if s in test:
                    continue
                for di in range(len(DIRS)):
                    a, b = balanced_rows(x_of(s, di, kind), data[s]["d2"][di], k)
                    xs.append(a)
                    ys.append(b)
                    k += 1
            x, y = np.concatenate(xs), np.concatenate(ys)
            sc = StandardScaler().fit(x)
            clf = LinearSVC(C=1e-3, max_iter=20000).fit(sc.transform(x), y)
            for s in test:
                for di in range(len(DIRS)):
                    p = clf.decision_function(sc.transform(x_of(s, di, kind)))
                    aucs.append(roc_auc(p, top_fraction(data[s]["d2"][di], 0.05)))
                    if di == 0:
                        xy.append(aucs[-1])
        res[kind] = {
            "dir6": float(np.mean(aucs)),
            "dir6_std": float(np.std(aucs)),
            "xy": float(np.mean(xy)),
            "n": len(aucs),
        }
        print(
            f"{kind:12s} dir6 {np.mean(aucs):.3f} ± {np.std(aucs):.3f}   +xy {np.mean(xy):.3f}",
            flush=True,
        )
    (args.out / "results.json").write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
