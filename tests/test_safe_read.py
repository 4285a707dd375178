"""The bounded-reading layer: pipes, devices, escaping symlinks, caps, nesting and alias bombs are one line each."""

from __future__ import annotations

import os

import pytest

from handpose.errors import HandposeError
from handpose.safe_read import (
    MAX_NESTING,
    check_npz,
    inside_root,
    loads_json,
    loads_yaml,
    read_bytes,
    read_text,
)


def test_regular_file_reads_and_cap_is_stated(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("hello")
    assert read_text(path, "label") == "hello"
    with pytest.raises(HandposeError, match=r"over the 4 bytes cap for a label file"):
        read_bytes(path, "label", cap=4)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(HandposeError, match=r"not a regular file") as exc:
        read_bytes(fifo, "label")
    assert str(fifo) in str(exc.value)


def test_symlink_to_a_device_and_out_of_the_root(tmp_path):
    (tmp_path / "root").mkdir()
    zero = tmp_path / "root" / "labels.txt"
    zero.symlink_to("/dev/zero")
    with pytest.raises(HandposeError, match=r"not a regular file"):
        read_bytes(zero, "label")
    (tmp_path / "secret.txt").write_text("x")
    escape = tmp_path / "root" / "link.txt"
    escape.symlink_to(tmp_path / "secret.txt")
    with pytest.raises(HandposeError, match=r"leads outside the dataset root"):
        read_bytes(escape, "label", root=tmp_path / "root")
    assert read_bytes(escape, "label") == b"x"  # without a root, a symlink is the user's choice


def test_inside_root(tmp_path):
    assert inside_root(tmp_path, "a/b.png", "labels.txt") == (tmp_path / "a/b.png").resolve()
    for name in ("../x.png", "a/../../x.png", "/etc/passwd"):
        with pytest.raises(HandposeError, match=r"outside the dataset root"):
            inside_root(tmp_path, name, "labels.txt", 3)


def test_json_nesting_bounded():
    assert loads_json("[[[1]]]", "f.json") == [[[1]]]
    for depth in (MAX_NESTING + 1, 200_000):
        with pytest.raises(HandposeError, match=r"nested more than"):
            loads_json("[" * depth + "]" * depth, "f.json")
    with pytest.raises(HandposeError, match=r"cannot parse JSON"):
        loads_json("{", "f.json")


def test_yaml_alias_bomb_and_nesting_bounded():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    previous = "a"
    for name in "bcdefghi":
        bomb += f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]\n"
        previous = name
    with pytest.raises(HandposeError, match=r"expands to more than"):
        loads_yaml(bomb, "c.yaml")
    with pytest.raises(HandposeError, match=r"nested more than"):
        loads_yaml("k: " + "[" * 5000 + "]" * 5000, "c.yaml")
    assert loads_yaml("base: &b {x: 1}\nother: *b\n", "c.yaml") == {"base": {"x": 1}, "other": {"x": 1}}
    with pytest.raises(HandposeError, match=r"c\.yaml"):
        loads_yaml("!!python/object/apply:os.system ['true']", "c.yaml")


def test_npz_header_claiming_a_terabyte(tmp_path):
    import zipfile

    import numpy as np

    good = tmp_path / "good.npz"
    np.savez(good, a=np.zeros(10))
    check_npz(good, 1 << 20)
    bad = tmp_path / "bad.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros(3))
    header["shape"] = (10**12,)
    with zipfile.ZipFile(bad, "w") as zf, zf.open("a.npy", "w") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(bytes(24))
    with pytest.raises(HandposeError, match=r"declares"):
        check_npz(bad, 1 << 20)


def test_dataset_root_holds_files_under_it_inside_it(tmp_path):
    from handpose.safe_read import dataset_root

    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("secret")
    (root / "labels.txt").symlink_to(tmp_path / "outside.txt")
    (root / "inner.txt").write_text("ok")
    with dataset_root(root):
        assert read_text(root / "inner.txt", "label") == "ok"
        assert read_text(tmp_path / "outside.txt", "label") == "secret"  # named outside the root: the user's file
        with pytest.raises(HandposeError, match=r"leads outside the dataset root"):
            read_text(root / "labels.txt", "label")
