"""The safe, portable model file format.

A model file is a ZIP archive (written with :func:`numpy.savez_compressed`) holding

- ``__meta__``: the UTF-8 bytes of a JSON document (uint8 array) — format version,
  model kind, name, descriptor spec, species order, unit style, card (provenance
  and metrics), and the checksum;
- named float64/int64 arrays (scaler, weights, exported tree arrays, ...).

Nothing is unpickled: arrays are read with ``allow_pickle=False`` and object
dtypes are refused, so loading never executes code and does not depend on the
scikit-learn version.  The checksum is the SHA-256 of the canonical JSON (without
the checksum field) followed by every array's name, dtype, shape and bytes in
sorted-name order; a tampered or truncated file fails to load with a clear error.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from softscope._sha import sha256
from softscope.errors import ModelFormatError

FORMAT_NAME = "softscope-model"
FORMAT_VERSION = 1
SUFFIX = ".ssm"

__all__ = ["save_arrays", "load_arrays", "FORMAT_NAME", "FORMAT_VERSION", "SUFFIX"]

_ALLOWED_KINDS = "fiub"  # float, int, unsigned, bool


def _checksum(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    h = sha256()
    body = {k: v for k, v in meta.items() if k != "checksum"}
    h.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(a.dtype.str.encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_arrays(path: str | Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write ``meta`` (JSON-serialisable) and numeric ``arrays`` to ``path`` with a checksum."""
    path = Path(path)
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for k, a in arrays.items():
        if k.startswith("__"):
            raise ModelFormatError(f"array name {k!r} is reserved")
        if a.dtype.kind not in _ALLOWED_KINDS:
            raise ModelFormatError(
                f"array {k!r} has dtype {a.dtype}; only numeric arrays are stored"
            )
    meta = dict(meta)
    meta["format"] = FORMAT_NAME
    meta["format_version"] = FORMAT_VERSION
    meta["checksum"] = _checksum(meta, arrays)
    blob = np.frombuffer(json.dumps(meta, sort_keys=True, indent=1).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, __meta__=blob, **arrays)
    path.write_bytes(buf.getvalue())
    return path


def load_arrays(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a model file; returns (meta, arrays).

    Raises ModelFormatError for a missing, truncated, tampered or wrong-version file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"model file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if "__meta__" not in names:
                raise ModelFormatError(f"{path} is not a softscope model file (no metadata)")
            raw = z["__meta__"]
            arrays = {k: z[k] for k in names if k != "__meta__"}
    except ModelFormatError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ModelFormatError(
                f"{path} contains pickled Python objects; softscope never unpickles (unsafe)"
            ) from exc
        raise ModelFormatError(f"{path} is not a readable softscope model file: {exc}") from exc
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as exc:
        raise ModelFormatError(
            f"{path} is not a readable softscope model file (truncated or corrupted?): {exc}"
        ) from exc
    try:
        meta = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"{path}: model metadata is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFormatError(f"{path} is not a softscope model file")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFormatError(
            f"{path} has model format version {version}; this softscope reads version "
            f"{FORMAT_VERSION} — upgrade softscope or re-export the model"
        )
    for k, a in arrays.items():
        if a.dtype.kind not in _ALLOWED_KINDS:
            raise ModelFormatError(f"{path}: array {k!r} has non-numeric dtype {a.dtype}")
    expected = meta.get("checksum")
    actual = _checksum(meta, arrays)
    if expected != actual:
        raise ModelFormatError(
            f"{path}: checksum mismatch — the file was modified or damaged after it was written"
        )
    return meta, arrays
