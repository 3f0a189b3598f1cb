"""Dataset folders (``softscope data``) → glass samples → labelled :class:`Window` s.

A *sample* is one glass and its AQS shear run: a ``shear_aqs`` dataset folder (manifest
kind ``shear_aqs``), usually ``<sample>/shear_aqs`` as written by
:func:`softscope.simulate.make_training_sample`; the sample is named after ``<sample>``.
Every window carries, in ``Window.extra``, the per-atom columns that a single
configuration cannot give but the dataset has:

- ``pe``: potential energy per atom of the reference frame (dump column ``c_pe``; energy unit);
- ``msd``: vibrational mean-square displacement of the reference frame (length²), when
  :func:`softscope.simulate.vibrational_msd` was run for that frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.simulate import read_manifest
from softscope.training.windows import Window, windows_by_strain

__all__ = ["Sample", "find_samples", "sample_windows", "read_dump_column", "split_samples"]


@dataclass(frozen=True)
class Sample:
    """One glass sample: its AQS shear dataset and the recipe that made it."""

    name: str
    path: Path  # the shear_aqs dataset folder
    system: str
    units: str
    elements: tuple[str, ...]
    n_atoms: int
    strains: tuple[float, ...]
    files: tuple[str, ...]
    indices: tuple[int, ...]
    glass_recipe: dict[str, Any] | None

    @property
    def composition(self) -> dict[str, float] | None:
        r = self.glass_recipe or {}
        return r.get("composition")


def _sample_from(shear: Path, name: str) -> Sample:
    man = read_manifest(shear)
    if man.get("kind") != "shear_aqs":
        raise SoftscopeError(
            f"{shear} is a {man.get('kind')!r} dataset; training uses AQS shear datasets "
            "(softscope data shear --mode aqs, or softscope data sample)"
        )
    fr = man["frames"]
    return Sample(
        name=name,
        path=shear,
        system=man["system"],
        units=man["units"],
        elements=tuple(man["elements"]),
        n_atoms=int(man["n_atoms"]),
        strains=tuple(float(f["strain"]) for f in fr),
        files=tuple(str(shear / f["file"]) for f in fr),
        indices=tuple(int(f["index"]) for f in fr),
        glass_recipe=(man.get("glass") or {}).get("recipe"),
    )


def _is_shear(p: Path) -> bool:
    if not (p / "manifest.json").is_file():
        return False
    return read_manifest(p).get("kind") == "shear_aqs"


def find_samples(paths: Iterable[str | Path]) -> list[Sample]:
    """Samples in the given folders, sorted by name.

    Each path may be a ``shear_aqs`` folder, a sample folder holding ``shear_aqs/``, or a
    folder of sample folders.  Names must be unique.
    """
    found: list[Sample] = []
    for raw in paths:
        p = Path(raw)
        if not p.is_dir():
            raise SoftscopeError(f"data path {p} is not a folder")
        if _is_shear(p):
            name = p.parent.name if p.name == "shear_aqs" else p.name
            found.append(_sample_from(p, name))
        elif _is_shear(p / "shear_aqs"):
            found.append(_sample_from(p / "shear_aqs", p.name))
        else:
            kids = [c for c in sorted(p.iterdir()) if c.is_dir() and _is_shear(c / "shear_aqs")]
            if not kids:
                raise SoftscopeError(
                    f"no AQS shear dataset under {p}: expected a shear_aqs folder, "
                    "a sample folder holding shear_aqs/, or a folder of such samples"
                )
            found.extend(_sample_from(c / "shear_aqs", c.name) for c in kids)
    names = [s.name for s in found]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SoftscopeError(f"sample names must be unique; repeated: {dup}")
    return sorted(found, key=lambda s: s.name)


def split_samples(
    samples: Sequence[Sample], test: int | Sequence[str]
) -> tuple[list[Sample], list[Sample]]:
    """(train, test) split **by glass sample**: the last ``test`` samples by name, or the
    named ones."""
    if isinstance(test, (int, np.integer)):
        k = int(test)
        if not 0 <= k < len(samples):
            raise SoftscopeError(
                f"--test-samples {k}: need 0 <= K < number of samples ({len(samples)})"
            )
        return list(samples[: len(samples) - k]), list(samples[len(samples) - k :])
    names = set(test)
    missing = names - {s.name for s in samples}
    if missing:
        raise SoftscopeError(f"test samples {sorted(missing)} not found in the data")
    tr = [s for s in samples if s.name not in names]
    if not tr:
        raise SoftscopeError("every sample is a test sample; nothing left to train on")
    return tr, [s for s in samples if s.name in names]


@lru_cache(maxsize=64)
def _read_frame(path: str, elements: tuple[str, ...]) -> Frame:
    return Frame.from_file(path, elements=list(elements)).sorted_by_id()


def read_dump_column(path: str | Path, column: str) -> np.ndarray | None:
    """A per-atom column of a one-frame LAMMPS text dump, in order of atom id (or None)."""
    with open(path) as fh:
        lines = fh.readlines()
    try:
        k = next(i for i, ln in enumerate(lines) if ln.startswith("ITEM: ATOMS"))
    except StopIteration:
        raise SoftscopeError(f"{path} is not a LAMMPS text dump (no ITEM: ATOMS)") from None
    cols = lines[k].split()[2:]
    if column not in cols or "id" not in cols:
        return None
    tab = np.loadtxt(lines[k + 1 :], usecols=(cols.index("id"), cols.index(column)), ndmin=2)
    return np.ascontiguousarray(tab[np.argsort(tab[:, 0], kind="stable"), 1])


class _LazyFrames(Sequence):
    def __init__(self, sample: Sample):
        self.sample = sample

    def __len__(self) -> int:
        return len(self.sample.files)

    def __getitem__(self, i):  # type: ignore[override]
        return _read_frame(self.sample.files[i], self.sample.elements)


def sample_windows(
    sample: Sample,
    window: float = 0.01,
    stride: float | None = None,
    require: Sequence[str] = (),
) -> list[Window]:
    """Windows of one sample (``window`` strain, a new one every ``stride``; default
    non-overlapping), with ``extra`` columns ``pe`` and ``msd`` where the dataset has them.

    Windows whose reference frame lacks a column named in ``require`` are dropped (an
    error if none is left).
    """
    from softscope.simulate import read_vibrational_msd

    ws = windows_by_strain(sample.name, _LazyFrames(sample), sample.strains, window, stride)
    out: list[Window] = []
    for w in ws:
        i, j = w.index
        extra: dict[str, np.ndarray] = {}
        pe = read_dump_column(sample.files[i], "c_pe")
        if pe is not None:
            extra["pe"] = pe
        msd = read_vibrational_msd(sample.path, sample.indices[i])
        if msd is not None:
            extra["msd"] = msd
        if any(r not in extra for r in require):
            continue
        out.append(
            Window(w.sample, w.reference, w.current, w.strain, extra, (i, j), sample.files[i])
        )
    if not out:
        raise SoftscopeError(
            f"sample {sample.name!r} has no window with {list(require)}; for 'msd' run the "
            "vibration recipe (softscope.simulate.vibrational_msd) on its window starts"
        )
    return out


def previous_window_start(sample: Sample, w: Window, window: float) -> int | None:
    """Index of the frame ``window`` strain before ``w``'s reference (None if absent)."""
    s = np.asarray(sample.strains)
    i = w.index[0]
    target = s[i] - window
    if target < s[0] - 1e-9:
        return None
    k = int(np.argmin(np.abs(s - target)))
    return k if abs(s[k] - target) < 1e-6 + 0.5 * np.min(np.diff(s)) and k < i else None


def frame_of(sample: Sample, index: int) -> Frame:
    """The frame at position ``index`` of the sample's trajectory (cached)."""
    return _read_frame(sample.files[index], sample.elements)
