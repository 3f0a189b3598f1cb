"""ONNX networks as softscope estimators (``kind = "onnx"``).

A network trained anywhere (PyTorch ``torch.onnx.export``, skl2onnx, onnxmltools, ...) on
the feature matrix of a :class:`~softscope.descriptors.spec.DescriptorSpec` is stored as
its serialized ONNX graph: protobuf **data**, not code, kept in the ``.ssm`` file as a
uint8 array beside the other arrays (so the file keeps its checksum and never unpickles).
Evaluation goes through onnxruntime (the optional extra ``softscope[onnx]``), in
``Model.predict``, the OVITO modifiers and the LAMMPS fix alike; without onnxruntime the
model loads (its card can be read) and evaluating it raises an error naming the extra.

The graph takes one input, a (N, F) float32 or float64 tensor (F = the spec's feature
count; the batch dimension may be dynamic); the per-atom output is column ``column`` of
output number ``output_index`` (a (N,), (N, 1) or (N, C) tensor), as float64.
``output``: ``"probability"`` (threshold 0.5) or ``"raw"`` (threshold 0).  skl2onnx
classifiers must be converted with ``options={"zipmap": False}`` (plain probability
tensors instead of lists of dicts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from softscope.errors import ModelFormatError, SoftscopeError

__all__ = ["OnnxEstimator", "ONNX_EXTRA"]

#: what to install for ONNX models
ONNX_EXTRA = "pip install 'softscope[onnx]' (onnxruntime)"

_OUTPUTS = ("probability", "raw")


@lru_cache(maxsize=16)
def _session(digest: str, graph: bytes):
    """One onnxruntime session per graph (keyed by its sha256), single-threaded: the fix
    runs one per MPI rank."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise SoftscopeError(f"this model is an ONNX network: {ONNX_EXTRA}") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(graph, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise SoftscopeError(f"onnxruntime cannot load the model's ONNX graph: {exc}") from None


@dataclass(frozen=True)
class OnnxEstimator:
    """A serialized ONNX graph with the choice of its per-atom output (module docstring)."""

    graph: bytes
    n_features_in: int
    output: str = "raw"
    output_index: int = 0
    column: int = -1

    kind = "onnx"

    def __post_init__(self) -> None:
        if self.output not in _OUTPUTS:
            raise SoftscopeError(f"unknown ONNX output {self.output!r}; known: {_OUTPUTS}")
        if not self.graph:
            raise SoftscopeError("an ONNX estimator needs a non-empty graph")

    @property
    def n_features(self) -> int:
        return self.n_features_in

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.graph).hexdigest()

    def session(self):
        """The onnxruntime InferenceSession of the graph (cached)."""
        return _session(self.digest, self.graph)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(N,) the selected output column for features ``x`` (N, F), as float64."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise SoftscopeError(
                f"features have shape {x.shape}; this ONNX model takes (N, {self.n_features})"
            )
        sess = self.session()
        inp = sess.get_inputs()[0]
        dtype = np.float64 if inp.type == "tensor(double)" else np.float32
        if x.shape[0] == 0:
            return np.zeros(0)
        outs = sess.run(None, {inp.name: np.ascontiguousarray(x, dtype=dtype)})
        if not 0 <= self.output_index < len(outs):
            raise SoftscopeError(
                f"the ONNX graph has {len(outs)} outputs; output_index {self.output_index}"
            )
        y = outs[self.output_index]
        if isinstance(y, list):
            raise SoftscopeError(
                "the ONNX output is a list of maps (skl2onnx's ZipMap); convert the "
                "classifier with options={'zipmap': False}"
            )
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[0] == x.shape[0]:
            col = y.shape[1] - 1 if self.column < 0 else self.column
            if not 0 <= col < y.shape[1]:
                raise SoftscopeError(f"the ONNX output has {y.shape[1]} columns; column {col}")
            y = y[:, col]
        if y.shape != (x.shape[0],):
            raise SoftscopeError(
                f"the ONNX output has shape {y.shape}; one value per atom ({x.shape[0]}) needed"
            )
        return y.astype(np.float64)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "onnx_graph": np.frombuffer(self.graph, dtype=np.uint8).copy(),
            "onnx_meta": np.array(
                [
                    self.n_features_in,
                    self.output_index,
                    self.column,
                    _OUTPUTS.index(self.output),
                ],
                dtype=np.int64,
            ),
        }

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> OnnxEstimator:
        graph = np.asarray(a["onnx_graph"])
        meta = np.asarray(a["onnx_meta"])
        if graph.dtype != np.uint8 or graph.ndim != 1:
            raise ModelFormatError("onnx_graph must be a 1-D uint8 array (the ONNX bytes)")
        if meta.shape != (4,) or meta.dtype.kind not in "iu" or not 0 <= meta[3] < len(_OUTPUTS):
            raise ModelFormatError(
                "onnx_meta must hold (n_features, output_index, column, output code)"
            )
        return cls(
            graph.tobytes(), int(meta[0]), _OUTPUTS[int(meta[3])], int(meta[1]), int(meta[2])
        )
