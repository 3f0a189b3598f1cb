"""PNG plots and text tables of evaluations (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from softscope.metrics import pr_of_s, roc_curve

__all__ = [
    "plot_roc",
    "plot_pr_of_s",
    "plot_histograms",
    "plot_indicator_bars",
    "format_summary",
    "format_table",
]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_roc(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | Path) -> Path:
    """ROC curves of pooled (prediction, label) pairs, one line per name."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    for name, (p, y) in curves.items():
        fpr, tpr = roc_curve(p, y)
        from softscope.metrics import roc_auc

        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc(p, y):.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_pr_of_s(p: np.ndarray, y: np.ndarray, path: str | Path, label: str = "prediction") -> Path:
    """P_R(S): fraction of rearranging atoms per bin of the prediction, log y-axis."""
    plt = _plt()
    c, f, n = pr_of_s(p, y, n_bins=25, min_count=20)
    fig, ax = plt.subplots(figsize=(4.5, 3.6))
    ok = np.isfinite(f) & (f > 0)
    ax.semilogy(c[ok], f[ok], "o-", ms=3)
    ax.axhline(float(np.mean(y)), color="k", lw=0.8, ls="--", label="base rate")
    ax.set_xlabel(label)
    ax.set_ylabel("P_R (fraction rearranging)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_histograms(
    p: np.ndarray, y: np.ndarray, path: str | Path, label: str = "prediction"
) -> Path:
    """Normalised histograms of the prediction for rearranging and stable atoms."""
    plt = _plt()
    y = np.asarray(y, dtype=bool)
    fig, ax = plt.subplots(figsize=(4.5, 3.6))
    bins = np.linspace(float(np.min(p)), float(np.max(p)) + 1e-12, 50)
    ax.hist(p[~y], bins=bins, density=True, alpha=0.6, label=f"stable ({(~y).sum()})")
    ax.hist(p[y], bins=bins, density=True, alpha=0.6, label=f"rearranging ({y.sum()})")
    ax.set_xlabel(label)
    ax.set_ylabel("probability density")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_indicator_bars(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Horizontal bars of ROC-AUC (expected sign) per indicator / model."""
    plt = _plt()
    names = [r["name"] for r in rows]
    auc = [r["roc_auc"] for r in rows]
    colors = [
        "C2" if r.get("kind") == "model" else ("C1" if "(cg" in r["name"] else "C0") for r in rows
    ]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(names) + 1.2))
    ax.barh(names, auc, color=colors)
    ax.axvline(0.5, color="k", lw=0.8, ls="--")
    ax.set_xlim(min(0.3, min(auc) - 0.02), 1.0)
    ax.set_xlabel("ROC-AUC vs top-q D²min (green: models, orange: coarse-grained)")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def format_summary(name: str, s: Mapping[str, Any]) -> str:
    """One line of the main metrics (mean ± std over windows)."""
    return (
        f"{name}: ROC-AUC {s['roc_auc']:.3f} ± {s['roc_auc_std']:.3f}  "
        f"AP {s['average_precision']:.3f}  precision@q {s['precision_top_q']:.3f}  "
        f"Pearson {s['pearson']:.3f}  Spearman {s['spearman']:.3f}  "
        f"({s['n_windows']} windows, {s['n_samples']} samples)"
    )


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Text table of indicator/model rows."""
    head = (
        f"{'indicator / model':40s} {'AUC':>6s} {'best':>6s} {'AP':>6s} {'P@q':>6s} {'Spear':>6s}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['name'][:40]:40s} {r['roc_auc']:6.3f} {r['auc_best_sign']:6.3f} "
            f"{r['average_precision']:6.3f} {r['precision_top_q']:6.3f} {r['spearman']:6.3f}"
        )
    return "\n".join(lines)
