"""A dense neural network (multi-layer perceptron) stored as plain arrays.

:class:`MLPEstimator` (``kind = "mlp"``): features z-scored, ``z = (x - mean) / scale``,
then layer by layer ``a_{k+1} = act_k(a_k · W_k + b_k)`` with ``W_k`` of shape
(n_in, n_out) as scikit-learn's ``coefs_`` and ``act_k`` one of ``identity``, ``relu``,
``tanh``, ``logistic``, ``exp``; the last layer has one unit.  Output: with a
``logistic`` last layer the probability of the positive class (scikit-learn's binary
``MLPClassifier.predict_proba[:, 1]``, threshold 0.5), else the raw value
(``MLPRegressor.predict``: ``identity``, or ``exp`` for the Poisson loss; threshold 0).  Evaluated by a numba kernel, in parallel over
atoms (ahead-of-time compiled for the LAMMPS ranks); built from scikit-learn by
:func:`softscope.models.importers.from_sklearn`, from other frameworks by
:meth:`MLPEstimator.from_layers`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from softscope._jit import nb
from softscope.errors import ModelFormatError, SoftscopeError

__all__ = ["MLPEstimator", "ACTIVATIONS"]

#: activation names in the order of their codes in the ``mlp_activations`` array
ACTIVATIONS = ("identity", "relu", "tanh", "logistic", "exp")


@dataclass(frozen=True)
class MLPEstimator:
    """Dense network: ``weights[k]`` (n_in, n_out), ``biases[k]`` (n_out,) and
    ``activations[k]`` (a name of :data:`ACTIVATIONS`) per layer, last layer one unit;
    ``mean``/``scale`` (n_features,) z-score the features first."""

    mean: np.ndarray
    scale: np.ndarray
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activations: tuple[str, ...]

    kind = "mlp"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "mean", np.ascontiguousarray(np.asarray(self.mean, dtype=np.float64))
        )
        object.__setattr__(
            self, "scale", np.ascontiguousarray(np.asarray(self.scale, dtype=np.float64))
        )
        object.__setattr__(
            self, "weights", tuple(np.asarray(w, dtype=np.float64) for w in self.weights)
        )
        object.__setattr__(
            self, "biases", tuple(np.asarray(b, dtype=np.float64) for b in self.biases)
        )
        object.__setattr__(self, "activations", tuple(str(a) for a in self.activations))
        n_layers = len(self.weights)
        if n_layers < 1 or len(self.biases) != n_layers or len(self.activations) != n_layers:
            raise SoftscopeError(
                f"an MLP needs as many weight matrices, bias vectors and activations as "
                f"layers (>= 1), got {len(self.weights)}, {len(self.biases)}, "
                f"{len(self.activations)}"
            )
        bad = [a for a in self.activations if a not in ACTIVATIONS]
        if bad:
            raise SoftscopeError(
                f"unknown MLP activation {bad[0]!r}; known: {', '.join(ACTIVATIONS)}"
            )
        n_in = self.mean.shape[0] if self.mean.ndim == 1 else -1
        if self.mean.ndim != 1 or self.scale.shape != (n_in,) or n_in < 1:
            raise SoftscopeError("MLP mean and scale must be two vectors of the feature count")
        if not (np.isfinite(self.scale).all() and np.all(self.scale > 0)):
            raise SoftscopeError("MLP feature scales must be finite and > 0")
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if w.ndim != 2 or w.shape[0] != n_in or b.shape != (w.shape[1],) or w.shape[1] < 1:
                raise SoftscopeError(
                    f"MLP layer {k}: weights {w.shape} and biases {b.shape} do not chain from "
                    f"{n_in} inputs"
                )
            n_in = w.shape[1]
        if n_in != 1:
            raise SoftscopeError(
                f"the last MLP layer must have one unit (binary classifier or single-output "
                f"regressor), got {n_in}"
            )
        arrays = (self.mean, *self.weights, *self.biases)
        if not all(np.isfinite(a).all() for a in arrays):
            raise SoftscopeError("MLP arrays contain NaN or inf")

    # ------------------------------------------------------------------ properties
    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    @property
    def output(self) -> str:
        """``"probability"`` (logistic last layer, in [0, 1]) or ``"raw"``."""
        return "probability" if self.activations[-1] == "logistic" else "raw"

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """(n_features, hidden widths ..., 1)."""
        return (self.n_features, *(int(w.shape[1]) for w in self.weights))

    @functools.cached_property
    def _packed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Kernel arrays: weights flattened layer after layer, each (n_out, n_in) row-major;
        biases concatenated; layer sizes; activation codes."""
        w = np.ascontiguousarray(np.concatenate([m.T.ravel() for m in self.weights]))
        b = np.ascontiguousarray(np.concatenate(self.biases))
        sizes = np.array(self.layer_sizes, dtype=np.int64)
        codes = np.array([ACTIVATIONS.index(a) for a in self.activations], dtype=np.int64)
        return w, b, sizes, codes

    # ------------------------------------------------------------------ prediction
    def predict(self, x: np.ndarray) -> np.ndarray:
        """(N,) network output on the (N, n_features) feature matrix ``x``."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise SoftscopeError(f"features must have shape (N, {self.n_features}), got {x.shape}")
        if not np.isfinite(x).all():
            raise SoftscopeError("features contain NaN or inf")
        w, b, sizes, codes = self._packed
        return _eval_mlp(np.ascontiguousarray(x), self.mean, self.scale, w, b, sizes, codes)

    # ------------------------------------------------------------------ conversion
    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "mlp_mean": self.mean,
            "mlp_scale": self.scale,
            "mlp_activations": np.array(
                [ACTIVATIONS.index(a) for a in self.activations], dtype=np.int64
            ),
        }
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"mlp_weights_{k}"] = w
            arrays[f"mlp_biases_{k}"] = b
        return arrays

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> MLPEstimator:
        codes = np.asarray(a["mlp_activations"])
        if codes.ndim != 1 or codes.dtype.kind not in "iu" or codes.size < 1:
            raise ModelFormatError("mlp_activations must be a non-empty integer vector")
        if np.any(codes < 0) or np.any(codes >= len(ACTIVATIONS)):
            raise ModelFormatError(
                f"mlp_activations holds codes outside 0..{len(ACTIVATIONS) - 1} "
                f"({', '.join(ACTIVATIONS)})"
            )
        n = int(codes.size)
        extra = [k for k in a if k.startswith(("mlp_weights_", "mlp_biases_"))]
        if len(extra) != 2 * n:
            raise ModelFormatError(
                f"the MLP has {n} activations but {len(extra)} weight/bias arrays (want {2 * n})"
            )
        try:
            return cls(
                a["mlp_mean"],
                a["mlp_scale"],
                tuple(a[f"mlp_weights_{k}"] for k in range(n)),
                tuple(a[f"mlp_biases_{k}"] for k in range(n)),
                tuple(ACTIVATIONS[int(c)] for c in codes),
            )
        except ModelFormatError:
            raise
        except SoftscopeError as exc:
            raise ModelFormatError(str(exc)) from exc

    @classmethod
    def from_layers(
        cls,
        weights: Sequence[np.ndarray],
        biases: Sequence[np.ndarray],
        activations: Sequence[str],
        mean: np.ndarray | None = None,
        scale: np.ndarray | None = None,
    ) -> MLPEstimator:
        """From per-layer arrays of any framework (``weights[k]`` (n_in, n_out): transpose a
        PyTorch ``Linear.weight``); no scaler when ``mean``/``scale`` are None."""
        n = int(np.shape(weights[0])[0])
        return cls(
            np.zeros(n) if mean is None else mean,
            np.ones(n) if scale is None else scale,
            tuple(weights),
            tuple(biases),
            tuple(activations),
        )


# --------------------------------------------------------------------------- kernels
@nb.njit(cache=True, inline="always")
def _activate(s, code):
    if code == 1:
        return s if s > 0.0 else 0.0
    if code == 2:
        return np.tanh(s)
    if code == 3:
        return 1.0 / (1.0 + np.exp(-s))
    if code == 4:
        return np.exp(s)
    return s


@nb.njit(
    parallel=True,
    cache=True,
    aot="f8[::1](f8[:,::1], f8[::1], f8[::1], f8[::1], f8[::1], i8[::1], i8[::1])",
)
def _eval_mlp(x, mean, scale, weights, biases, sizes, codes):
    """(N,) output of the network on x (N, F): blocks of 64 atoms in parallel, two
    scratch vectors per block; each unit's sum Σ_i a_i W_ij, then + b_j (NumPy's order)."""
    n = x.shape[0]
    n_feat = sizes[0]
    n_layers = codes.shape[0]
    width = 0
    for k in range(sizes.shape[0]):
        width = max(width, sizes[k])
    out = np.empty(n, dtype=np.float64)
    block = 64
    n_blocks = (n + block - 1) // block
    for c in nb.prange(n_blocks):
        a = np.empty(width, dtype=np.float64)
        b = np.empty(width, dtype=np.float64)
        for i in range(c * block, min(n, (c + 1) * block)):
            for f in range(n_feat):
                a[f] = (x[i, f] - mean[f]) / scale[f]
            wo = 0
            bo = 0
            for k in range(n_layers):
                n_in = sizes[k]
                n_out = sizes[k + 1]
                code = codes[k]
                for j in range(n_out):
                    s = 0.0
                    row = wo + j * n_in
                    for m in range(n_in):
                        s += a[m] * weights[row + m]
                    b[j] = _activate(s + biases[bo + j], code)
                wo += n_in * n_out
                bo += n_out
                a, b = b, a
            out[i] = a[0]
    return out
