import os

import pytest

from handpose.errors import HandposeError
from handpose.io import make_output_folder, write_json_atomic, write_text_atomic


def test_atomic_write_replaces_and_uses_umask(tmp_path):
    target = tmp_path / "out.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2})
    assert target.read_text().strip().endswith("}")
    assert '"a": 2' in target.read_text()
    umask = os.umask(0)
    os.umask(umask)
    assert (target.stat().st_mode & 0o777) == (0o666 & ~umask)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_failed_write_leaves_nothing(tmp_path):
    from handpose.io import atomic_path

    target = tmp_path / "half.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    write_text_atomic(target, "whole")
    assert target.read_text() == "whole"


def test_writing_onto_a_folder_or_under_a_file_is_one_error(tmp_path):
    from handpose.errors import HandposeError

    (tmp_path / "taken").mkdir()
    with pytest.raises(HandposeError, match=r"a folder of that name exists") as exc:
        write_json_atomic(tmp_path / "taken", {"a": 1})
    assert "taken" in str(exc.value)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(HandposeError, match=r"cannot write here"):
        write_text_atomic(tmp_path / "afile" / "out.txt", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "taken"]


def test_output_folder_is_created_with_parents_and_a_file_there_is_refused(tmp_path):
    made = make_output_folder(str(tmp_path / "a" / "b"), "the package")
    assert made == tmp_path / "a" / "b" and made.is_dir()
    assert make_output_folder(made, "the package") == made
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(HandposeError, match="demo output exists and is not a folder"):
        make_output_folder(blocker, "the demo", label="demo output")
    with pytest.raises(HandposeError, match="cannot write the demo here"):
        make_output_folder(blocker / "inner", "the demo")
