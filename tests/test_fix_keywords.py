"""The fix's keyword tables and column layouts, without LAMMPS.

Keyword errors must name the keyword and what it allows (LAMMPS prints them as
``ERROR: fix softscope: <message>``); the per-atom column numbers are what restart files
hold, so they are pinned here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from softscope.errors import SoftscopeError
from softscope.lammps_fix.bridge import FIX_STYLES, parse_args
from softscope.lammps_fix.columns import model_columns
from softscope.lammps_fix.debug_fix import DebugCoordFix
from softscope.lammps_fix.keywords import syntax
from softscope.lammps_fix.model_fix import ModelFix
from softscope.lammps_fix.protocol import ForwardComm

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _parse(words: str):
    return parse_args(["soft", "all", "softscope", *words.split()])


def test_each_style_parses_its_own_keywords_with_defaults():
    fix_id, group, n, cls, opts = _parse("10 model m.ssm elements Cu Zr d2min 3.7 q 0.1")
    assert (fix_id, group, n, cls) == ("soft", "all", 10, ModelFix)
    assert opts["elements"] == ["Cu", "Zr"] and opts["d2min"] == 3.7 and opts["q"] == 0.1
    assert (opts["reference"], opts["margin"], opts["average"], opts["sample"]) == (0, 0.0, 0, None)
    assert opts.given == {"model", "elements", "d2min", "q"}
    *_, cls, opts = _parse("5 debug_coord 3.5 debug_raise 1 setup")
    assert cls is DebugCoordFix and opts["debug_raise"] == (1, "setup")


BAD = {
    "10 debug_coord 3.5 colour blue": r"^unknown keyword 'colour'; allowed: debug_coord, debug_raise$",
    "10 model m colour blue": r"^unknown keyword 'colour'; allowed: model, elements, d2min",
    "10 debug_coord 3.5 elements Cu Zr d2min 3": r"^keywords \['d2min', 'elements'\] need 'model'$",
    "10 model m debug_coord 3": r"^give exactly one computation: 'model NAME_OR_PATH' or 'debug_coord R'$",
    "10 elements Cu": r"^give exactly one computation",
    "10 model m reference 10": r"^keywords reference, q and margin need 'd2min R'$",
    "10 model m elements": r"^keyword elements needs one element name \(or NULL\) per atom type$",
    "10 model m d2min": r"^keyword d2min needs 1 value\(s\), got 0$",
    "10 model m d2min -1": r"^d2min must be a positive length, got -1$",
    "10 model m d2min x": r"^d2min needs a number, got 'x'$",
    "10 model m d2min 3 margin 0.0": r"^margin must be a positive length, got 0.0$",
    "10 model m d2min 3 q 1": r"^q must be a fraction in \(0, 1\), got '1'$",
    "10 model m d2min 3 reference -10": r"^reference M must be >= 0, got -10$",
    "10 model m d2min 3 reference x": r"^reference M needs an integer number of steps",
    "10 model m sample 0": r"^sample K \(msd sampling interval in steps\) must be an integer >= 1",
    "10 model m average 1.5": r"^average K \(steps of the position average before each evaluation\)",
    "10 debug_coord 3 debug_raise x init": r"^debug_raise RANK must be an integer, got 'x'$",
    "10 debug_coord 3 debug_raise 0 nowhere": r"^debug_raise HOOK must be one of create, init",
    "0 debug_coord 3": r"^N \(evaluation interval in steps\) must be >= 1, got 0$",
    "x debug_coord 3": r"^N \(evaluation interval in steps\) must be an integer, got 'x'$",
}


@pytest.mark.parametrize("words", list(BAD))
def test_bad_keyword_names_the_keyword_and_what_it_allows(words):
    with pytest.raises(SoftscopeError) as err:
        _parse(words)
    assert re.search(BAD[words], str(err.value)), str(err.value)


def test_every_keyword_of_every_style_is_documented():
    text = (DOCS / "fix.md").read_text()
    documented = text.split("## Syntax")[1].split("## Examples")[0]
    for cls in FIX_STYLES:
        for k in cls.KEYWORDS:
            assert f"{k.name} " in documented, k.name
            assert f"{k.name} {k.values} = " in syntax(cls.KEYWORDS)


def test_model_columns_keep_the_restart_file_layout():
    """State columns are what restart files hold per atom: their numbers do not move."""
    lay = model_columns(n_features=1, msd=True, average=True)
    where = {c.name: (c.block, c.start, c.stop) for c in lay}
    assert where["prediction"] == ("out", 0, 1)
    assert where["prediction_ref"] == ("out", 1, 2)
    assert where["d2min"] == ("out", 2, 3)
    assert where["msd"] == ("out", 3, 4)
    assert where["ref_position"] == ("state", 0, 3)
    assert where["ref_prediction"] == ("state", 3, 4)
    assert where["ref_neighbours"] == ("state", 4, 5)
    assert where["msd_window"] == ("state", 5, 13)
    assert where["msd_last"] == ("state", 13, 14)
    assert where["average_window"] == ("state", 14, 21)
    assert (lay.nout, lay.nstate, lay.nscratch) == (4, 21, 0)
    assert model_columns(1, msd=False, average=False).nstate == 5
    assert model_columns(0, msd=False, average=True).nstate == 12


@pytest.mark.parametrize(
    "n_features, msd, positions, features",
    [
        # linear model, one coarse-graining radius: transit in the output columns
        (1, False, [ForwardComm(0, 6)], [ForwardComm(0, 1)]),
        (1, True, [ForwardComm(0, 7)], [ForwardComm(0, 1)]),
        # 14 raw features: scratch columns after out (3) and state (5 or 14)
        (14, False, [ForwardComm(3, 8)], [ForwardComm(8, 14)]),
        (14, True, [ForwardComm(4, 3), ForwardComm(18, 3)], [ForwardComm(18, 14)]),
    ],
)
def test_forward_requests_join_nearby_columns(n_features, msd, positions, features):
    lay = model_columns(n_features, msd=msd, average=False)
    assert list(lay.forward("positions", "ref_position")) == positions
    assert list(lay.forward("features")) == features
    assert lay.locate(features[0].first) == (lay["positions"].block, 0)
