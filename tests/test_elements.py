"""The type-mass check that catches a swapped 'elements' order."""

from softscope.elements import STANDARD_MASSES, check_type_masses


def test_matching_masses_pass():
    assert check_type_masses(["Cu", "Zr"], [63.546, 91.224], "metal") is None


def test_swapped_order_is_named_and_the_fix_is_proposed():
    msg = check_type_masses(["Zr", "Cu"], [63.546, 91.224], "metal")
    assert "type 1 has mass 63.546 but is mapped to Zr" in msg
    assert "did you mean 'elements Cu Zr'" in msg


def test_lj_units_and_unknown_names_are_not_checked():
    assert check_type_masses(["A", "B"], [1.0, 1.0], "lj") is None
    assert check_type_masses(["Xx", "NULL"], [5.0, 7.0], "metal") is None


def test_masses_are_standard_atomic_weights():
    # independent spot checks (IUPAC): Cu 63.546, Zr 91.224, Al 26.982, Ni 58.693
    assert abs(STANDARD_MASSES["Cu"] - 63.546) < 1e-3 and abs(STANDARD_MASSES["Zr"] - 91.224) < 1e-3
    assert (
        abs(STANDARD_MASSES["Al"] - 26.9815) < 1e-2 and abs(STANDARD_MASSES["Ni"] - 58.6934) < 1e-2
    )
