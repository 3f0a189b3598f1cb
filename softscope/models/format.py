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

Loading reads the whole file, lets :mod:`zipfile` verify every member's CRC before any
array header is parsed, and turns every failure into one :class:`ModelFormatError`:
``"<path> is not a softscope model file (<what it looks like>)"`` for a foreign file
(text, empty, another zip or .npz, a pickle, ...) and ``"<path> is corrupted: <reason>;
re-download or re-save the model"`` for a damaged one (bit flips, truncation).
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
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


_ZIP_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"
_META = "__meta__.npy"
_ADVICE = "re-download or re-save the model"

#: leading bytes of common non-model files -> what the file looks like
_SIGNATURES = (
    (_NPY_MAGIC, "a single NumPy .npy array, not a model archive"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "an executable (ELF)"),
)


class _Corrupted(Exception):
    """Internal: a model file is damaged (message: the short reason)."""


class _Foreign(Exception):
    """Internal: a file is not a softscope model (message: what it looks like)."""


def _short(exc: BaseException, limit: int = 80) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _looks_like(data: bytes) -> str:
    """What a file that is not a zip archive looks like, in a few words."""
    if not data:
        return "an empty file"
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            return what
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle (softscope never unpickles: unsafe)"
    if data.startswith(_ZIP_MAGIC):
        return f"an incomplete or damaged zip archive of {len(data)} bytes"
    head = data[:4096]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = head[: exc.start].decode("utf-8") if exc.start > len(head) - 4 else ""
    if text and all(c.isprintable() or c in "\t\r\n" for c in text):
        first = text.strip().splitlines()[0] if text.strip() else ""
        return f"a text file starting {first[:40]!r}" if first else "a text file of blanks"
    return f"binary data starting {data[:8].hex(' ')}"


def _describe_zip(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:3]) + (", ..." if len(names) > 3 else "")
    if names and all(n.endswith(".npy") for n in names):
        return f"a NumPy .npz archive of {shown} without softscope metadata"
    return f"a zip archive of {len(names)} file(s) ({shown or 'none'}) without softscope metadata"


def _member(name: str) -> str:
    """A member name as it goes into a one-line message (repr if it has odd characters)."""
    return name if name.isascii() and name.isprintable() else repr(name)


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One verified .npy member (zip CRC checked before the array header is parsed)."""
    name = info.filename
    try:
        raw = z.read(info)
    except zlib.error as exc:
        raise _Corrupted(f"compressed data of {_member(name)} is damaged") from exc
    except Exception as exc:  # BadZipFile, EOFError, NotImplementedError, RuntimeError, ...
        text = str(exc)
        if text.startswith("Bad CRC-32"):
            reason = f"checksum mismatch in {_member(name)}"
        elif text.startswith("File name in directory"):
            reason = f"the zip header of {_member(name)} does not match the zip directory"
        else:
            reason = f"damaged zip entry {_member(name)} ({_short(exc, 60)})"
        raise _Corrupted(reason) from exc
    if not name.endswith(".npy") or not raw.startswith(_NPY_MAGIC):
        raise _Foreign(f"a zip archive whose entry {_member(name)} is not a NumPy array")
    try:
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise _Foreign(
                f"entry {_member(name)} holds pickled Python objects; softscope never unpickles "
                "(unsafe)"
            ) from exc
        raise _Corrupted(f"{_member(name)} is not a valid NumPy array ({_short(exc)})") from exc
    except Exception as exc:
        raise _Corrupted(f"{_member(name)} is not a valid NumPy array ({_short(exc)})") from exc


def _read_zip(data: bytes) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The metadata array and the named arrays of a model file's bytes."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:
        if _META.encode() not in data:
            raise _Foreign(_looks_like(data)) from exc
        if isinstance(exc, zipfile.BadZipFile) and str(exc) == "File is not a zip file":
            raise _Corrupted(
                "the zip end-of-archive record is missing (truncated or corrupted)"
            ) from exc
        raise _Corrupted(f"damaged zip directory ({_short(exc)})") from exc
    with z:
        infos = z.infolist()
        names = [i.filename for i in infos]
        if _META not in names:
            if _META.encode() in data:
                raise _Corrupted("damaged zip directory (no intact metadata entry)")
            raise _Foreign(_describe_zip(names))
        members = {i.filename: _read_member(z, i) for i in infos}
    meta = members.pop(_META)
    return meta, {k[: -len(".npy")]: a for k, a in members.items()}


def load_arrays(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a model file; returns (meta, arrays).

    Raises ModelFormatError for a missing or wrong-version file, for a file that is not a
    softscope model ("<path> is not a softscope model file (...)") and for a damaged one
    ("<path> is corrupted: <reason>; re-download or re-save the model").
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"model file not found: {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFormatError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    try:
        raw, arrays = _read_zip(data)
        try:
            meta = json.loads(raw.tobytes().decode())
        except Exception as exc:  # UnicodeDecodeError, JSONDecodeError, RecursionError
            raise _Corrupted(f"the metadata is not valid JSON ({_short(exc)})") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
            raise _Foreign(f"its metadata does not name the {FORMAT_NAME!r} format")
    except _Foreign as exc:
        raise ModelFormatError(f"{path} is not a softscope model file ({exc})") from exc.__cause__
    except _Corrupted as exc:
        raise ModelFormatError(f"{path} is corrupted: {exc}; {_ADVICE}") from exc.__cause__
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFormatError(
            f"{path} has model format version {version}; this softscope reads version "
            f"{FORMAT_VERSION} — upgrade softscope or re-export the model"
        )
    for k, a in arrays.items():
        if a.dtype.kind not in _ALLOWED_KINDS:
            raise ModelFormatError(
                f"{path} is not a softscope model file (array {k!r} has non-numeric dtype "
                f"{a.dtype})"
            )
    try:
        actual = _checksum(meta, arrays)
    except Exception as exc:  # metadata that JSON-loads but does not re-serialise
        raise ModelFormatError(f"{path} is corrupted: {_short(exc)}; {_ADVICE}") from None
    if meta.get("checksum") != actual:
        raise ModelFormatError(
            f"{path} is corrupted: checksum mismatch in the model content (metadata or "
            f"arrays were modified after it was written); {_ADVICE}"
        )
    return meta, arrays
