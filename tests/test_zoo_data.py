"""The zoo's data stage: samples made in parallel worker processes are complete and
bit-identical to the same seeds made serially (reproducibility does not depend on --jobs)."""

from __future__ import annotations

import pytest

from softscope.training import zoo

TINY_KA = {**zoo._KA, "n_atoms": 250, "melt_steps": 500, "quench_rate": 0.2, "relax_steps": 200}
TINY_SHEAR = {"ftol": None, "n_steps": 2}


@pytest.fixture
def tiny_zoo(monkeypatch):
    monkeypatch.setattr(zoo, "ZOO_SAMPLES", {f"ka_s{s}": (TINY_KA, TINY_SHEAR) for s in (3, 4)})


def test_parallel_data_stage_equals_serial_for_the_same_seeds(tiny_zoo, tmp_path):
    par = zoo.make_data(tmp_path / "par", progress=False, n_jobs=2)
    assert set(par) == {"ka_s3", "ka_s4"} and all(v > 0 for v in par.values())
    ser = zoo.make_data(tmp_path / "ser", ["ka_s4"], progress=False, n_jobs=1)
    assert set(ser) == {"ka_s4"}
    for name in ("ka_s3", "ka_s4"):
        frames = sorted((tmp_path / "par" / name / "shear_aqs").glob("frame_*.dump"))
        assert len(frames) == 3
    a = (tmp_path / "par" / "ka_s4" / "shear_aqs" / "frame_0002.dump").read_bytes()
    b = (tmp_path / "ser" / "ka_s4" / "shear_aqs" / "frame_0002.dump").read_bytes()
    assert a == b
    assert zoo._complete(tmp_path / "par" / "ka_s3")
    # finished samples are skipped: nothing left to do
    assert zoo.make_data(tmp_path / "par", progress=False, n_jobs=2) == {}


def test_unknown_sample_name_is_refused(tiny_zoo, tmp_path):
    with pytest.raises(SystemExit, match="unknown zoo samples"):
        zoo.make_data(tmp_path, ["cuzr64_s999"], progress=False)
