"""Small file helpers shared by every writer: atomic writes, so an interrupted run leaves nothing half-written."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from handpose.errors import HandposeError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``, on error removed.

    Example:
        >>> with atomic_path("out.png") as tmp:
        ...     fig.savefig(tmp, format="png")
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise HandposeError(f"cannot write here: {exc.strerror}", path.parent) from None
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates owner-only files; give the result the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        try:
            os.replace(tmp, path)
        except IsADirectoryError:
            raise HandposeError("cannot write here: a folder of that name exists", path) from None
        except OSError as exc:
            raise HandposeError(f"cannot write here: {exc.strerror}", path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int = 2) -> None:
    write_text_atomic(path, json.dumps(obj, indent=indent) + "\n")


def write_with_atomic(path: str | os.PathLike, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and move the result onto ``path`` only if it succeeds."""
    with atomic_path(path) as tmp:
        writer(tmp)


def make_output_folder(path: str | os.PathLike, what: str, label: str = "output") -> Path:
    """Create the output folder ``path`` (and its parents) unless it already exists.

    Args:
        path: Folder to create.
        what: What is written there, for the message when it cannot be created (``"the package"``).
        label: How the messages name ``path``.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        HandposeError: ``path`` exists and is not a folder, or cannot be created.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise HandposeError(f"{label} exists and is not a folder", out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HandposeError(f"cannot write {what} here: {exc.strerror}", out) from None
    return out
