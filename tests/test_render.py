"""Pictures: OVITO's offscreen renderer (Vulkan) and matplotlib, through the function and CLI.

The PNG is read back with matplotlib (independent of OVITO): it must exist, have the
requested size, not be blank (colour variance), and show both colour maps: the
diverging blue-white-red prediction on the left, the viridis D²min on the right.
"""

from __future__ import annotations

import numpy as np
import pytest

import softscope
from softscope.cli import main
from softscope.render import render_window, vulkan_available

needs_vulkan = pytest.mark.skipif(
    not vulkan_available(),
    reason="OVITO's renderer needs libvulkan1 + mesa-vulkan-drivers (apt-get install ...)",
)


@pytest.fixture(scope="module")
def small_dump(tmp_path_factory, small_cuzr) -> str:
    """Two-frame LAMMPS dump (id type x y z Softness): a small glass and a sheared, noisy copy.

    "Softness" is a smooth made-up field (so both signs appear), not a model.
    """
    f = small_cuzr
    rng = np.random.default_rng(7)
    cell1 = f.cell.copy()
    cell1[1, 0] += 0.03 * f.cell[1, 1]
    pos1 = f.reduced_positions() @ cell1 + rng.normal(scale=0.08, size=f.positions.shape)
    soft = np.sin(f.positions[:, 0] / f.cell[0, 0] * 2 * np.pi) * 2.0
    types = np.where(f.species == "Cu", 1, 2)
    path = tmp_path_factory.mktemp("render") / "small.dump"
    lines = []
    for step, (cell, pos) in enumerate([(f.cell, f.positions), (cell1, pos1)]):
        xy = float(cell[1, 0])
        lx, ly, lz = (float(v) for v in np.diag(cell))
        pos = pos.tolist()
        lines += [
            "ITEM: TIMESTEP",
            str(step),
            "ITEM: NUMBER OF ATOMS",
            str(len(f)),
            "ITEM: BOX BOUNDS xy xz yz pp pp pp",
            f"{min(0.0, xy)!r} {lx + max(0.0, xy)!r} {xy!r}",
            f"0.0 {ly!r} 0.0",
            f"0.0 {lz!r} 0.0",
            "ITEM: ATOMS id type x y z Softness",
        ]
        lines += [
            f"{i + 1} {types[i]} {pos[i][0]!r} {pos[i][1]!r} {pos[i][2]!r} {float(soft[i])!r}"
            for i in range(len(f))
        ]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _check_png(path, width: int, height: int) -> np.ndarray:
    import matplotlib.image as mpimg

    img = mpimg.imread(path)[..., :3]
    assert img.shape == (height, width, 3)
    assert img.reshape(-1, 3).std(axis=0).mean() > 0.05, "image is blank"
    return img


@needs_vulkan
def test_render_window_png_has_requested_size_and_both_color_maps(small_dump, tmp_path):
    out = tmp_path / "pic.png"
    res = render_window(small_dump, reference_frame=0, frame=1, out=out, size=(480, 240))
    assert res["image"] == out
    img = _check_png(out, 480, 240)
    left, right = img[:, :240].reshape(-1, 3), img[:, 240:].reshape(-1, 3)
    r, g, b = left.T
    assert ((r > b + 0.3) & (g < 0.7)).sum() > 50, "no red (positive prediction) particles"
    assert ((b > r + 0.3) & (g < 0.7)).sum() > 50, "no blue (negative prediction) particles"
    r, g, b = right.T
    assert ((g > r + 0.2) & (g > 0.3)).sum() > 50, "no viridis-colored particles"
    assert left.std(axis=0).mean() > 0.05 and right.std(axis=0).mean() > 0.05
    # ROC and P_R(S) figure, and the window metrics
    assert res["plots"].exists() and res["plots"].stat().st_size > 5000
    assert 0.0 <= res["metrics"]["roc_auc"] <= 1.0
    assert res["frames"] == {"reference": 0, "current": 1}


@needs_vulkan
def test_render_cli_writes_the_picture(small_dump, tmp_path, capsys):
    out = tmp_path / "cli.png"
    rc = main(
        [
            "render",
            small_dump,
            "--property",
            "Softness",
            "--size",
            "320x160",
            "--out",
            str(out),
            "--no-plots",
        ]
    )
    assert rc == 0
    _check_png(out, 320, 160)
    text = capsys.readouterr().out
    assert "image written to" in text and "roc_auc" in text
    assert not (tmp_path / "cli_metrics.png").exists()


def test_render_cli_bad_input_is_a_clean_error(small_dump, tmp_path, capsys):
    assert main(["render", str(tmp_path / "missing.dump"), "--out", str(tmp_path / "x.png")]) == 2
    assert "no such trajectory file" in capsys.readouterr().err
    assert main(["render", small_dump, "--size", "big", "--out", str(tmp_path / "x.png")]) == 2
    assert "bad --size 'big'" in capsys.readouterr().err
    assert main(["render", small_dump, "--frame", "5", "--out", str(tmp_path / "x.png")]) == 2
    assert "frame 5 is outside the trajectory" in capsys.readouterr().err
    assert main(["render", small_dump, "--property", "Nope", "--out", str(tmp_path / "x.png")]) == 2
    assert "no particle property 'Nope'" in capsys.readouterr().err


assert softscope  # libmpi preload before ovito
