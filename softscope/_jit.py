"""numba kernels: JIT-compiled on first use, or ahead-of-time (AOT) compiled for LAMMPS.

Kernel modules write ``from softscope._jit import nb`` and decorate as with numba
(``@nb.njit(parallel=True, cache=True)``, ``nb.prange``); numba itself is imported only
when a kernel is first JIT-compiled.  A kernel that declares ``aot="<numba signature>"``
is also compiled ahead of time, at install time (``setup.py``, beside the LAMMPS plugin)
or by hand (``python -m softscope._jit``), into the extension module
``softscope._kernels_aot``, which needs numpy only.

The LAMMPS fix runs every call from LAMMPS inside :func:`aot_kernels` so that, inside the MPI ranks' embedded
interpreters, its hot kernels run from that module: no numba/LLVM in those processes
(~125 MB per rank) and no compilation in every rank on first use.  AOT kernels are
single-threaded (one MPI rank per core is LAMMPS's own model); everything else (OVITO
modifiers, training, ``Model.predict``) keeps numba's parallel JIT.  The AOT module is
used only when it was built from the current kernel sources (a hash of every kernel
module's source, recorded beside it) and the call's argument types match its signature
exactly; otherwise the JIT kernel runs and a warning says why.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import sys
import types
import warnings
from pathlib import Path
from typing import Any

from softscope._sha import sha256

__all__ = ["nb", "prefer_aot", "aot_kernels", "aot_status", "build_aot", "KERNEL_MODULES"]

AOT_MODULE = "softscope._kernels_aot"
AOT_META = "_kernels_aot.json"

#: every module of softscope that defines kernels (imported by :func:`build_aot`, hashed
#: for staleness); a new descriptor module with kernels is added here (tests/test_aot.py
#: checks that every kernel's module is listed)
KERNEL_MODULES = (
    "softscope.neighbors",
    "softscope.rearrangement",
    "softscope.descriptors.radial",
    "softscope.descriptors.angular",
    "softscope.descriptors.coarse_grain",
    "softscope.descriptors.entropy",
    "softscope.descriptors.interstice",
    "softscope.models.linear_projection",
    "softscope.models.estimators",
    "softscope.models.mlp",
    "softscope.metrics",
)

_REGISTRY: list[Kernel] = []
_STATE: dict[str, Any] = {"prefer_aot": False, "aot": None, "why_not": None}


class Kernel:
    """A numba kernel, compiled lazily; callable like the numba dispatcher it wraps."""

    def __init__(self, py_func, options: dict[str, Any], aot: str | None) -> None:
        functools.update_wrapper(self, py_func)
        self.py_func = py_func
        self.options = options
        self.aot_signature = aot
        self._dispatcher = None
        self._function = None
        self._aot = None  # (function, argument spec) once resolved, False if unusable
        _REGISTRY.append(self)

    @property
    def aot_name(self) -> str:
        """Name of this kernel in the AOT module (module path + function name)."""
        return f"{self.py_func.__module__.replace('.', '_')}__{self.py_func.__name__}"

    def dispatcher(self):
        """The numba dispatcher (created on first use; numba compiles it on first call)."""
        if self._dispatcher is None:
            import numba

            self._dispatcher = numba.njit(**self.options)(self.numba_function(numba))
        return self._dispatcher

    def numba_function(self, numba):
        """The kernel's Python function re-bound to a copy of its module's namespace in
        which ``nb`` is numba itself and every :class:`Kernel` is its numba dispatcher
        (so kernels call kernels natively).  The module keeps its own names, so Python
        callers always go through :meth:`__call__` (and its AOT choice)."""
        if self._function is None:
            f = self.py_func
            g = dict(f.__globals__)
            self._function = types.FunctionType(
                f.__code__, g, f.__name__, f.__defaults__, f.__closure__
            )
            self._function.__qualname__ = f.__qualname__
            self._function.__module__ = f.__module__
            for k, v in list(g.items()):
                if isinstance(v, _NumbaFacade):
                    g[k] = numba
                elif isinstance(v, Kernel):
                    g[k] = v.dispatcher()
        return self._function

    def __call__(self, *args):
        if _STATE["prefer_aot"] and self.aot_signature is not None:
            if self._aot is None:
                self._aot = _aot_function(self)
            if self._aot:
                fn, argspec = self._aot
                conv = _convert_args(args, argspec)
                if conv is not None:
                    return fn(*conv)
                _warn_once(
                    self, f"argument types differ from its AOT signature {self.aot_signature}"
                )
        return self.dispatcher()(*args)

    def __repr__(self) -> str:
        return f"<softscope kernel {self.py_func.__module__}.{self.py_func.__name__}>"


class _NumbaFacade:
    """What kernel modules see as ``nb`` until numba is loaded: ``njit`` and ``prange``.

    A kernel is compiled from a copy of its function whose ``nb`` is numba itself (see
    :meth:`Kernel.numba_function`)."""

    prange = range

    @staticmethod
    def njit(*args, aot: str | None = None, **options):
        if args and callable(args[0]) and len(args) == 1:
            return Kernel(args[0], options, aot)
        if args:
            raise TypeError("nb.njit: pass options as keywords (signatures go in aot=...)")
        return lambda f: Kernel(f, options, aot)


nb = _NumbaFacade()


def _warn_once(kernel: Kernel, why: str) -> None:
    key = (kernel.aot_name, why)
    seen = _STATE.setdefault("warned", set())
    if key not in seen:
        seen.add(key)
        warnings.warn(
            f"softscope: {kernel.py_func.__name__} runs JIT-compiled (numba), not ahead of "
            f"time: {why}",
            RuntimeWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------- AOT use
def prefer_aot(on: bool = True) -> None:
    """Run kernels from the AOT module where possible (process-wide switch).

    ``SOFTSCOPE_JIT=1`` in the environment keeps numba's JIT regardless."""
    _STATE["prefer_aot"] = bool(on) and os.environ.get("SOFTSCOPE_JIT", "") in ("", "0")


@contextlib.contextmanager
def aot_kernels():
    """Within the block, kernels run ahead-of-time compiled where possible (the LAMMPS
    fix wraps every call from LAMMPS in it; Python code around it keeps the JIT)."""
    before = _STATE["prefer_aot"]
    prefer_aot(True)
    try:
        yield
    finally:
        _STATE["prefer_aot"] = before


def _source_hash() -> str:
    h = sha256()
    for name in KERNEL_MODULES:
        spec = importlib.util.find_spec(name)
        h.update(name.encode())
        h.update(Path(spec.origin).read_bytes())
    return h.hexdigest()


def _aot_module():
    """(module, metadata) of the AOT kernels, or None with the reason in _STATE."""
    if _STATE["aot"] is None:
        _STATE["aot"] = False
        try:
            mod = importlib.import_module(AOT_MODULE)
            meta = json.loads(Path(mod.__file__).with_name(AOT_META).read_text())
        except (ImportError, OSError, ValueError) as exc:
            _STATE["why_not"] = f"no AOT kernel module ({exc}); build it: python -m softscope._jit"
            return None
        if meta.get("source_hash") != _source_hash():
            _STATE["why_not"] = (
                "the AOT kernels were built from other kernel sources (stale); rebuild: "
                "python -m softscope._jit"
            )
            return None
        _STATE["aot"] = (mod, meta)
    return _STATE["aot"] or None


def _aot_function(kernel: Kernel):
    got = _aot_module()
    if got is None:
        _warn_once(kernel, _STATE["why_not"])
        return False
    mod, meta = got
    entry = meta["kernels"].get(kernel.aot_name)
    fn = getattr(mod, kernel.aot_name, None)
    if entry is None or fn is None or entry["signature"] != kernel.aot_signature:
        _warn_once(kernel, "not in the AOT module (rebuild: python -m softscope._jit)")
        return False
    return fn, entry["args"]


def _convert_args(args, argspec):
    """Arguments checked against the AOT signature (a mismatch would crash the compiled
    code, it does not check types), scalars converted; None on any mismatch."""
    import numpy as np

    if len(args) != len(argspec):
        return None
    out = []
    for a, s in zip(args, argspec, strict=True):
        kind = s[0]
        if kind == "array":
            if not isinstance(a, np.ndarray) or a.dtype != np.dtype(s[1]) or a.ndim != s[2]:
                return None
            if s[3] == "C" and not a.flags.c_contiguous:
                return None
            if not a.flags.aligned:
                return None
            out.append(a)
        elif kind == "int":
            if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
                return None
            out.append(int(a))
        elif kind == "float":
            if not isinstance(a, (int, float, np.integer, np.floating)) or isinstance(a, bool):
                return None
            out.append(float(a))
        elif kind == "bool":
            if not isinstance(a, (bool, np.bool_)):
                return None
            out.append(bool(a))
        else:
            return None
    return out


def aot_status() -> dict[str, Any]:
    """Whether the AOT kernels are usable here, and which kernels they hold."""
    got = _aot_module()
    if got is None:
        return {"usable": False, "reason": _STATE["why_not"], "kernels": []}
    mod, meta = got
    return {"usable": True, "path": mod.__file__, "kernels": sorted(meta["kernels"])}


# --------------------------------------------------------------------------- AOT build
def _argspec(signature: str) -> list[list]:
    from numba.core import sigutils, types

    args, _ret = sigutils.normalize_signature(signature)
    spec: list[list] = []
    for t in args:
        if isinstance(t, types.Array):
            spec.append(["array", str(t.dtype), t.ndim, t.layout])
        elif isinstance(t, types.Boolean):
            spec.append(["bool"])
        elif isinstance(t, types.Integer):
            spec.append(["int"])
        elif isinstance(t, types.Float):
            spec.append(["float"])
        else:
            raise TypeError(f"AOT signature {signature!r}: unsupported argument type {t}")
    return spec


def build_aot(output_dir: str | Path | None = None, verbose: bool = False) -> Path:
    """Compile every kernel with an ``aot`` signature into ``softscope._kernels_aot``.

    ``output_dir``: the folder of the ``softscope`` package to put it in (default: the
    imported package's).  Needs numba and a C compiler; takes about a minute.
    Returns the path of the extension module."""
    import numba

    with warnings.catch_warnings():  # pycc is "pending deprecation" since numba 0.57
        warnings.simplefilter("ignore")
        from numba.pycc import CC
    for name in KERNEL_MODULES:
        importlib.import_module(name)
    out = Path(output_dir) if output_dir is not None else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    cc = CC(AOT_MODULE.rsplit(".", 1)[1])
    cc.output_dir = str(out)
    cc.verbose = verbose
    meta: dict[str, Any] = {
        "source_hash": _source_hash(),
        "numba": numba.__version__,
        "kernels": {},
    }
    for k in _REGISTRY:
        if k.aot_signature is None:
            continue
        cc.export(k.aot_name, k.aot_signature)(k.numba_function(numba))
        meta["kernels"][k.aot_name] = {
            "signature": k.aot_signature,
            "args": _argspec(k.aot_signature),
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cc.compile()
    (out / AOT_META).write_text(json.dumps(meta, indent=1))
    built = sorted(out.glob("_kernels_aot*.so"))
    if not built:
        raise RuntimeError(f"AOT compilation produced no module in {out}")
    return built[-1]


def main(argv: list[str] | None = None) -> int:
    """``python -m softscope._jit [OUTPUT_DIR]``: (re)build the AOT kernels."""
    argv = sys.argv[1:] if argv is None else argv
    path = build_aot(argv[0] if argv else None, verbose=False)
    print(f"softscope: AOT kernels written to {path}")
    return 0


if __name__ == "__main__":  # run as a script: use the package's registry, not __main__'s
    from softscope._jit import main as _main

    raise SystemExit(_main())
