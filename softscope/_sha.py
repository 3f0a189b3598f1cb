"""SHA-256 without OpenSSL where possible.

``hashlib`` loads OpenSSL's libcrypto (~4 MB of resident memory in every process that
imports it); CPython's built-in ``_sha2``/``_sha256`` modules compute the same digest
without it.  The LAMMPS fix's ranks hash the model file and the kernel sources, so they
use this; the digests are identical to ``hashlib.sha256``.
"""

from __future__ import annotations

try:  # CPython >= 3.12
    from _sha2 import sha256
except ImportError:  # pragma: no cover - depends on the interpreter
    try:  # CPython <= 3.11
        from _sha256 import sha256
    except ImportError:
        from hashlib import sha256

__all__ = ["sha256"]
