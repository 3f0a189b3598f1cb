"""Trajectories of any origin → frames → labelled :class:`~softscope.training.windows.Window` s.

A *trajectory* is any multi-frame file OVITO reads (LAMMPS text dump, also gzipped, with
``x y z``, ``xs ys zs`` or ``xu yu zu``, with or without image flags, atoms in any order;
extended XYZ; ...), or a wildcard pattern of one-frame files (``frame_*.dump``).  One
trajectory is one glass sample: the unit of train/test splits.  Frames are AQS strain steps
or MD times alike; a label window spans ``K`` frames.

Atoms are matched across frames by their ids (``Particle Identifier``; files without ids
must list atoms in the same order in every frame).  Species come from element names in
the file, or from ``elements`` mapping types 1, 2, ... to names (as LAMMPS ``pair_coeff``).
Per-atom columns named ``pe``/``c_pe`` (potential energy) or ``msd``/``c_msd`` are carried
as the windows' ``extra`` columns (external features of models).

Labels (CONVENTIONS.md):

- ``d2min``: D²min (OVITO convention) between frame t and t + K; top-q rearranging.
- ``phop``: p_hop (Candelier et al.) over K frames.  For evaluation the label window
  starts at the prediction frame (frames t … t + K, p_hop centred at t + K/2), so no
  model sees part of the event it predicts.  For training, the classic protocol of the
  softness papers: p_hop centred at t (frames t − K/2 … t + K/2); positives have
  p_hop > p_c, negatives stay below p_c over ``stable_frames`` frames either side.
"""

from __future__ import annotations

import glob as _glob
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from softscope.errors import SoftscopeError
from softscope.frame import Frame
from softscope.training.windows import Window

__all__ = [
    "Trajectory",
    "open_trajectory",
    "parse_frames",
    "d2min_windows",
    "phop_windows",
    "phop_threshold",
    "EXTRA_COLUMNS",
]

#: external feature name -> per-atom property names looked up in a trajectory, in order
EXTRA_COLUMNS: dict[str, tuple[str, ...]] = {
    "pe": ("pe", "c_pe", "PotentialEnergy", "Potential Energy"),
    "msd": ("msd", "c_msd", "v_msd", "f_msd"),
}


@dataclass(frozen=True, eq=False)
class Trajectory:
    """The frames of one trajectory, sorted by atom id, wrapped into the cell."""

    name: str
    source: str
    frames: tuple[Frame, ...]
    extra: tuple[dict[str, np.ndarray], ...]
    timesteps: tuple[int, ...]

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    @property
    def n_atoms(self) -> int:
        return len(self.frames[0])

    @property
    def species(self) -> list[str]:
        return self.frames[0].species_names


def _natural(path: str) -> list:
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", path)]


def _files_of(path: str | Path) -> list[str]:
    """The files of one trajectory: a file, a pattern, or a folder of ``*.dump`` files
    (in natural order: ``frame_2`` before ``frame_10``)."""
    p = str(path)
    if Path(p).is_dir():
        p = str(Path(p) / "*.dump")
    elif not any(c in p for c in "*?["):
        if not Path(p).is_file():
            raise SoftscopeError(f"no such trajectory file: {p}")
        return [p]
    hits = sorted((h for h in _glob.glob(p) if Path(h).is_file()), key=_natural)
    if not hits:
        raise SoftscopeError(f"no file matches the trajectory pattern {p!r}")
    folders = sorted({str(Path(h).parent) for h in hits})
    if len(folders) > 1:
        raise SoftscopeError(
            f"the pattern {str(path)!r} matches files in {len(folders)} folders; one "
            "trajectory is one glass sample: give one pattern per folder"
        )
    return hits


def parse_frames(text: str | None, n_frames: int) -> range:
    """Frame indices of ``START:STOP[:STEP]`` (Python slice, negatives from the end) within a
    trajectory of ``n_frames``; None or ``:`` is every frame."""
    if text is None or text.strip() in ("", ":"):
        return range(n_frames)
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise SoftscopeError(f"--frames {text!r}: expected START:STOP or START:STOP:STEP")
    try:
        vals = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise SoftscopeError(f"--frames {text!r}: START, STOP, STEP must be integers") from None
    for v in vals[:2]:
        if v is not None and not -n_frames <= v <= n_frames:
            raise SoftscopeError(
                f"--frames {text!r} is out of range: the trajectory has {n_frames} frames"
            )
    r = range(n_frames)[slice(*vals)]
    if len(r) == 0:
        raise SoftscopeError(f"--frames {text!r} selects no frame of {n_frames}")
    return r


#: OVITO particle properties that are never external features
_STANDARD = {"Position", "Particle Type", "Particle Identifier", "Periodic Image", "Velocity"}


def _extra_of(data) -> dict[str, np.ndarray]:
    """Per-atom columns of a frame usable as external features: those of
    :data:`EXTRA_COLUMNS` under their aliases, and every other scalar numeric property
    under its own name (a dump column ``sxy`` is the feature ``sxy``)."""
    out: dict[str, np.ndarray] = {}
    keys = list(data.particles.keys())
    for name, cands in EXTRA_COLUMNS.items():
        for c in cands:
            if c in keys:
                out[name] = np.asarray(data.particles[c], dtype=np.float64).copy()
                break
    for k in keys:
        if k in _STANDARD or k in out:
            continue
        v = np.asarray(data.particles[k])
        if v.ndim == 1 and v.dtype.kind in "fiu":
            out[k] = v.astype(np.float64)
    return out


def open_trajectory(
    path: str | Path,
    elements: Sequence[str] | Mapping[int, str] | None = None,
    name: str | None = None,
    progress: bool = False,
) -> Trajectory:
    """Read every frame of a trajectory (see the module docstring).

    ``elements`` maps types to names where the file has no element names; every frame must
    hold the same atoms (same count and ids).  ``name`` (default: the file name, or the
    folder of a pattern) names the glass sample.
    """
    from ovito.io import import_file

    files = _files_of(path)
    src = files[0] if len(files) == 1 else str(path)
    try:
        pipe = import_file(files[0] if len(files) == 1 else files, multiple_frames=True)
    except Exception as exc:
        raise SoftscopeError(f"OVITO cannot read {src}: {exc}") from exc
    n = pipe.source.num_frames
    frames, extras, steps = [], [], []
    it = range(n)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=f"read {Path(src).name}", unit="frame")
    ids0 = None
    for k in it:
        data = pipe.compute(k)
        f = Frame.from_ovito(data, elements=elements)
        ex = _extra_of(data)
        has_ids = "Particle Identifier" in data.particles
        if has_ids:
            order = np.argsort(f.ids, kind="stable")  # the order of Frame.sorted_by_id
            f = f.sorted_by_id()
            ex = {c: v[order] for c, v in ex.items()}
        if ids0 is None:
            ids0, species0 = f.ids, f.species
        elif len(f) != len(ids0) or not np.array_equal(f.ids, ids0):
            raise SoftscopeError(
                f"{src}: frame {k} holds {len(f)} atoms (ids differ from frame 0, which holds "
                f"{len(ids0)}); a trajectory must keep the same atoms in every frame"
            )
        elif not has_ids and not np.array_equal(f.species, species0):
            raise SoftscopeError(
                f"{src}: frame {k} lists the atoms in another order than frame 0 and the file "
                "has no atom ids to match them; write ids (a dump 'id' column, an 'id' "
                "property in extended XYZ) or keep the order fixed (dump_modify sort id)"
            )
        frames.append(f.wrapped())
        extras.append(ex)
        steps.append(int(data.attributes.get("Timestep", k)))
    if name is None:
        p = Path(files[0])
        name = p.name if len(files) == 1 else p.parent.name
        if name in ("shear_aqs", "shear_md", "md"):  # a softscope dataset: name the sample
            name = p.parent.parent.name
    return Trajectory(name, src, tuple(frames), tuple(extras), tuple(steps))


def _check_window(traj: Trajectory, window: int, what: str) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise SoftscopeError(f"--window must be a whole number of frames >= 1, got {window!r}")
    if window >= traj.n_frames:
        raise SoftscopeError(
            f"--window {window} frames does not fit in {traj.name!r}, which has "
            f"{traj.n_frames} frames ({what})"
        )
    return int(window)


def d2min_windows(
    traj: Trajectory, window: int, frames: range | None = None, stride: int | None = None
) -> list[Window]:
    """Windows (t, t + ``window``) for t in ``frames`` every ``stride`` frames (default:
    ``window``, non-overlapping) with t + window inside the trajectory."""
    window = _check_window(traj, window, "d2min label: frames t and t + K")
    frames = range(traj.n_frames) if frames is None else frames
    stride = window if stride is None else int(stride)
    if stride < 1:
        raise SoftscopeError(f"stride must be >= 1 frame, got {stride}")
    out = []
    for t in list(frames)[::stride]:
        if t + window >= traj.n_frames:
            break
        out.append(_window(traj, t, t + window))
    if not out:
        raise SoftscopeError(
            f"no window of {window} frames starts in the selected frames of {traj.name!r} "
            f"({traj.n_frames} frames)"
        )
    return out


def _window(traj: Trajectory, i: int, j: int, **kw) -> Window:
    return Window(
        traj.name,
        traj.frames[i],
        traj.frames[j],
        (float(traj.timesteps[i]), float(traj.timesteps[j])),
        traj.extra[i],
        (i, j),
        **kw,
    )


def _phop_series(traj: Trajectory, window: int) -> tuple[np.ndarray, np.ndarray]:
    from softscope.rearrangement import phop

    if window % 2:
        raise SoftscopeError(f"p_hop needs an even --window (frames), got {window}")
    return phop(list(traj.frames), window)


def phop_threshold(trajectories: Sequence[Trajectory], window: int, q: float = 0.05) -> float:
    """Default p_c (length²): the (1 − q) quantile of p_hop over every atom and time of the
    trajectories (the top q fraction of atom-times counts as hopping)."""
    vals = [_phop_series(t, window)[1].ravel() for t in trajectories]
    return float(np.quantile(np.concatenate(vals), 1.0 - q))


def phop_windows(
    traj: Trajectory,
    window: int,
    frames: range | None = None,
    stride: int | None = None,
    centred: bool = False,
    threshold: float | None = None,
    stable_frames: int | None = None,
) -> list[Window]:
    """p_hop windows: prediction at frame t, measure = p_hop (length²) of every atom.

    ``centred=False`` (evaluation): p_hop over frames t … t + K (centred at t + K/2).
    ``centred=True`` (classic training set): p_hop centred at t; with ``threshold`` p_c,
    each window carries ``train_labels``: +1 where p_hop(t) > p_c, 0 where p_hop stays
    below p_c at every time within ``stable_frames`` (default K) of t, −1 otherwise.
    """
    window = _check_window(traj, window, "p_hop label")
    times, values = _phop_series(traj, window)
    h = window // 2
    frames = range(traj.n_frames) if frames is None else frames
    stride = window if stride is None else int(stride)
    if stride < 1:
        raise SoftscopeError(f"stride must be >= 1 frame, got {stride}")
    lo, hi = int(times[0]), int(times[-1])
    sf = window if stable_frames is None else int(stable_frames)
    out = []
    for t in list(frames)[::stride]:
        c = t if centred else t + h
        if c < lo or c > hi:
            continue
        if centred and threshold is not None and (c - sf < lo or c + sf > hi):
            continue
        v = values[c - lo]
        kw: dict = {"measure": v}
        if centred and threshold is not None:
            lab = np.full(v.size, -1, dtype=np.int8)
            quiet = values[c - sf - lo : c + sf + 1 - lo].max(axis=0) < threshold
            lab[quiet] = 0
            lab[v > threshold] = 1
            kw["train_labels"] = lab
        out.append(_window(traj, t, min(t + (h if centred else window), traj.n_frames - 1), **kw))
    if not out:
        need = f"{window // 2} frames before and {window // 2} after" if centred else "K after"
        raise SoftscopeError(
            f"no p_hop window fits in the selected frames of {traj.name!r} "
            f"({traj.n_frames} frames; each prediction frame needs {need}"
            + (f", and {sf} more either side for stable negatives" if threshold else "")
            + ")"
        )
    return out
