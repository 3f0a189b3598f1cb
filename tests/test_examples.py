"""Every script in examples/ runs (a fast version), so examples never rot."""

from __future__ import annotations

import json
import math
import runpy
import sys


def test_indicator_tour_runs_and_reports_aucs(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["indicator_tour.py", "--out", str(tmp_path), "--steps", "2"])
    runpy.run_path("examples/indicator_tour.py", run_name="__main__")
    rep = json.loads((tmp_path / "indicators.json").read_text())
    assert rep["n_atoms"] > 1000
    assert len(rep["indicators"]) == 6
    for v in rep["indicators"].values():
        assert 0.0 <= v["roc_auc"] <= 1.0 and not math.isnan(v["roc_auc"])
    assert (tmp_path / "indicators.png").stat().st_size > 5000
