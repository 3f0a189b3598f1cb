"""Damaged or foreign model files: one clear SoftscopeError, never a raw exception.

A zoo file is damaged by single-bit flips (a deterministic spread over the whole file,
plus every bit of the zip's local headers, the first bytes of every member's compressed
data and the central directory) and by truncations.  Every load either succeeds with a
model that predicts exactly what the original predicts (the flip hit bytes that carry no
model content, e.g. a timestamp) or raises SoftscopeError saying the file is corrupted.
Files that are not softscope models at all say so.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from softscope.errors import SoftscopeError
from softscope.models.format import save_arrays
from softscope.models.model import Model, load_model, zoo_names, zoo_path

NOT_A_MODEL = "is not a softscope model file ("
CORRUPTED = "is corrupted: "


def _smallest_zoo_file() -> Path:
    """The smallest Cu-Zr zoo model file (cuzr-softness-radial.ssm, ~5 KB)."""
    names = [n for n in zoo_names() if n.startswith("cuzr-")]
    if not names:
        pytest.skip("the model zoo has no Cu-Zr model")
    return min((zoo_path(n) for n in names), key=lambda p: (p.stat().st_size, p.name))


def _fingerprint(m: Model) -> str:
    """Everything a prediction depends on (equal fingerprints -> equal predictions)."""
    h = hashlib.sha256()
    h.update(json.dumps([m.name, m.output_name, m.spec.to_dict()], sort_keys=True).encode())
    for k, a in sorted(m.estimator.to_arrays().items()):
        a = np.ascontiguousarray(a)
        h.update(f"{k}{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _damage_cases(data: bytes) -> list[tuple[str, bytes]]:
    """Deterministic single-bit flips and truncations of a model file's bytes."""
    n = len(data)
    flips: set[tuple[int, int]] = set()
    for i, pos in enumerate(np.linspace(0, n - 1, 300).astype(int)):
        flips.add((int(pos), i % 8))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        infos = z.infolist()
        start_dir = z.start_dir
    regions = [range(start_dir, n)]  # central directory + end-of-archive record
    for info in infos:
        h = data[info.header_offset : info.header_offset + 30]
        name_len = int.from_bytes(h[26:28], "little")
        extra_len = int.from_bytes(h[28:30], "little")
        body = info.header_offset + 30 + name_len + extra_len
        regions.append(range(info.header_offset, body + 32))  # header + start of member data
    for region in regions:
        for pos in region:
            flips.update((pos, bit) for bit in range(8))
    cases = []
    for pos, bit in sorted(flips):
        b = bytearray(data)
        b[pos] ^= 1 << bit
        cases.append((f"flip byte {pos} bit {bit}", bytes(b)))
    cuts = set(np.linspace(0, n - 1, 30).astype(int).tolist())
    cuts.update({1, 4, 30, start_dir, start_dir + 1, n - 22, n - 21, n - 1})
    cases.extend((f"truncated to {k} bytes", data[:k]) for k in sorted(cuts))
    return cases


def test_damaged_zoo_file_loads_identically_or_says_corrupted(tmp_path, cuzr_glass):
    src = _smallest_zoo_file()
    data = src.read_bytes()
    original = load_model(src)
    frame = cuzr_glass  # the shipped Cu-Zr glass: 4000 atoms, metal units
    reference = original.predict(frame)
    assert np.isfinite(reference).all()
    expected = _fingerprint(original)
    path = tmp_path / "damaged.ssm"
    loaded: dict[str, tuple[Model, list[str]]] = {}
    problems: list[str] = []
    for what, blob in _damage_cases(data):
        path.write_bytes(blob)
        try:
            m = load_model(path)
        except SoftscopeError as exc:
            msg = str(exc)
            if not msg.startswith(str(path)) or (NOT_A_MODEL not in msg and CORRUPTED not in msg):
                problems.append(f"{what}: unclear message: {msg}")
            elif "\n" in msg:
                problems.append(f"{what}: message is not one line: {msg!r}")
        except Exception as exc:  # noqa: BLE001 - the point of the test
            problems.append(f"{what}: raw {type(exc).__name__}: {exc}")
        else:
            loaded.setdefault(_fingerprint(m), (m, []))[1].append(what)
            if m.card != original.card:
                problems.append(f"{what}: loaded with a different model card")
    for fp, (m, whats) in loaded.items():
        if fp != expected:
            problems.append(f"{whats[0]} (+{len(whats) - 1}): loaded a different model")
        elif not np.array_equal(m.predict(frame), reference):
            problems.append(f"{whats[0]} (+{len(whats) - 1}): predictions differ")
    problems.sort(key=lambda s: ": raw " not in s)  # raw exceptions first
    assert not problems, f"{len(problems)} bad outcome(s), e.g.\n" + "\n".join(problems[:15])


def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, b in members.items():
            z.writestr(name, b)
    return buf.getvalue()


FOREIGN = {
    "text": (b"name: cuzr-softness\nweights: 1 2 3\n", "text file"),
    "empty": (b"", "empty file"),
    "random": (np.random.default_rng(3).bytes(4096), "binary data"),
    "zip": (_zip_bytes({"readme.txt": b"hello", "data/x.csv": b"1,2\n"}), "zip archive"),
    "npz": (_npz_bytes(a=np.arange(5.0), b=np.eye(3)), "NumPy .npz"),
    "npy": (b"\x93NUMPY" + b"\x01\x00v\x00" + b" " * 118, "NumPy .npy"),
    "pickle": (b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00]\x94.", "pickle"),
    "gzip": (b"\x1f\x8b\x08\x00" + bytes(20), "gzip"),
}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_foreign_file_is_not_a_softscope_model(tmp_path, kind):
    blob, looks_like = FOREIGN[kind]
    p = tmp_path / f"{kind}.ssm"
    p.write_bytes(blob)
    with pytest.raises(SoftscopeError) as info:
        load_model(p)
    msg = str(info.value)
    assert msg.startswith(f"{p} is not a softscope model file ("), msg
    assert looks_like in msg, msg
    assert "pickled" not in msg or kind == "pickle", msg


def test_npz_with_metadata_of_another_program_is_not_a_softscope_model(tmp_path):
    p = tmp_path / "other.ssm"
    meta = np.frombuffer(json.dumps({"format": "other"}).encode(), dtype=np.uint8)
    p.write_bytes(_npz_bytes(__meta__=meta, w=np.arange(3.0)))
    with pytest.raises(SoftscopeError, match="is not a softscope model file"):
        load_model(p)


def test_modified_array_names_the_checksum_mismatch(tmp_path):
    p = save_arrays(tmp_path / "m.ssm", {"name": "x"}, {"w": np.arange(5.0)})
    with zipfile.ZipFile(p) as z:
        members = {n: z.read(n) for n in z.namelist()}
    buf = io.BytesIO()
    np.save(buf, np.arange(5.0) + 1)
    members["w.npy"] = buf.getvalue()
    p.write_bytes(_zip_bytes(members))
    with pytest.raises(SoftscopeError, match=r"is corrupted: checksum mismatch") as info:
        load_model(p)
    assert "re-download or re-save the model" in str(info.value)


def test_bit_flip_in_member_data_names_the_member(tmp_path):
    src = _smallest_zoo_file()
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.infolist()[-1]
    # flip a bit in the last byte of the member's compressed data: the zip CRC catches it
    # (or the deflate stream breaks); either way the message names the member
    end = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size
    data[end - 1] ^= 0x01
    p = tmp_path / "m.ssm"
    p.write_bytes(bytes(data))
    with pytest.raises(SoftscopeError, match="is corrupted") as info_exc:
        load_model(p)
    assert info.filename in str(info_exc.value)
