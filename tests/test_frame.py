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
