"""CLI commands check their inputs before they create --out.

A failed call leaves no output folder behind, and its one-line error names the argument
that is wrong (``--data``, ``--model``, ``--property``, ``--np``) and says what to do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_training_cli import _fake_sample, _write_dump

import softscope
from softscope.cli import main
from softscope.frame import Frame


@pytest.fixture(scope="module")
def cuzr_data(tmp_path_factory, small_cuzr) -> Path:
    root = tmp_path_factory.mktemp("data")
    for k in range(2):
        _fake_sample(root, f"g{k}", small_cuzr, seed=20 + k, n_frames=3)
    return root


@pytest.fixture(scope="module")
def dump_without_softness(tmp_path_factory, small_cuzr) -> Path:
    """Two frames, columns id type x y z ix iy iz c_pe: no 'Softness' property."""
    f: Frame = small_cuzr
    ids = np.arange(1, len(f) + 1)
    d = tmp_path_factory.mktemp("traj")
    _write_dump(d / "a.dump", f, ids, ids * 1e-3, 0)
    moved = f.replace(positions=np.mod(f.positions + 0.05, np.diag(f.cell)))
    _write_dump(d / "b.dump", moved, ids, ids * 1e-3, 1)
    path = d / "traj.dump"
    path.write_text((d / "a.dump").read_text() + (d / "b.dump").read_text())
    return path


def _fails(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("softscope: error: ") and err.count("\n") == 1, err
    return err


# ------------------------------------------------------------------------- evaluate
def test_evaluate_missing_data_path_creates_no_output(tmp_path, capsys):
    out = tmp_path / "ev" / "nested"
    missing = tmp_path / "no-such-data"
    err = _fails(
        ["evaluate", "--model", "cuzr-softness", "--data", str(missing), "--out", str(out)], capsys
    )
    assert not (tmp_path / "ev").exists()
    assert f"--data {missing}: no such folder" in err and "softscope data sample" in err


def test_evaluate_data_folder_without_samples_creates_no_output(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "ev"
    err = _fails(
        ["evaluate", "--indicators", "--data", str(tmp_path / "empty"), "--out", str(out)], capsys
    )
    assert not out.exists()
    assert "--data: no AQS shear dataset under" in err


@pytest.mark.parametrize("model", ["missing.ssm", "no-such-zoo-model"])
def test_evaluate_missing_model_creates_no_output(cuzr_data, tmp_path, capsys, model):
    out = tmp_path / "ev"
    name = str(tmp_path / model) if model.endswith(".ssm") else model
    err = _fails(["evaluate", "--model", name, "--data", str(cuzr_data), "--out", str(out)], capsys)
    assert not out.exists()
    assert f"--model {name}: " in err and "softscope models" in err


def test_evaluate_model_of_other_units_creates_no_output(cuzr_data, tmp_path, capsys):
    out = tmp_path / "ev"
    err = _fails(
        ["evaluate", "--model", "ka-softness", "--data", str(cuzr_data), "--out", str(out)], capsys
    )
    assert not out.exists()
    assert "--model ka-softness: " in err and "units" in err


# ---------------------------------------------------------------------------- train
def test_train_missing_data_path_names_the_argument(tmp_path, capsys):
    out = tmp_path / "models" / "m.ssm"
    missing = tmp_path / "no-such-data"
    err = _fails(
        ["train", "--recipe", "softness", "--data", str(missing), "--out", str(out), "--quiet"],
        capsys,
    )
    assert not (tmp_path / "models").exists()
    assert f"--data {missing}: no such folder" in err


# --------------------------------------------------------------------------- render
def test_render_missing_property_creates_no_output(dump_without_softness, tmp_path, capsys):
    out = tmp_path / "pictures" / "w.png"
    err = _fails(["render", str(dump_without_softness), "--out", str(out)], capsys)
    assert not (tmp_path / "pictures").exists()
    assert "no particle property 'Softness'" in err and "'model'" in err


def test_render_missing_model_names_the_argument(dump_without_softness, tmp_path, capsys):
    out = tmp_path / "pictures" / "w.png"
    model = tmp_path / "missing.ssm"
    err = _fails(
        ["render", str(dump_without_softness), "--model", str(model), "--out", str(out)], capsys
    )
    assert not (tmp_path / "pictures").exists()
    assert f"--model {model}: model file not found" in err and "softscope models" in err


# ----------------------------------------------------------------------------- demo
def test_demo_bad_np_creates_no_output(tmp_path, capsys):
    out = tmp_path / "demo"
    err = _fails(["demo", "--np", "0", "--out", str(out)], capsys)
    assert not out.exists()
    assert "--np must be at least 1, got 0" in err


# --------------------------------------------------------------------- output guard
def test_output_guard_removes_only_the_empty_folders_it_saw_missing(tmp_path):
    from softscope.cli import output_guard

    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(RuntimeError), output_guard(kept / "a" / "b" / "c"):
        (kept / "a" / "b" / "c").mkdir(parents=True)
        raise RuntimeError
    assert kept.is_dir() and not (kept / "a").exists()
    with pytest.raises(RuntimeError), output_guard(kept / "x" / "y"):
        (kept / "x" / "y").mkdir(parents=True)
        (kept / "x" / "log.txt").write_text("keep me")
        raise RuntimeError
    assert not (kept / "x" / "y").exists() and (kept / "x" / "log.txt").is_file()
    with output_guard(kept / "ok"):
        (kept / "ok").mkdir()
    assert (kept / "ok").is_dir()


assert softscope  # libmpi preload before ovito
