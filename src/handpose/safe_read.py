"""Bounded reading: the one way every reader opens a file it did not write.

A file handed to handpose may be hostile: a named pipe that never ends, a symlink to ``/dev/zero``, a
label line naming ``../../etc/passwd``, a few kilobytes of YAML aliases that expand to gigabytes, JSON
nested a hundred thousand levels deep. The helpers here turn each of those into one
:class:`~handpose.errors.HandposeError` line naming the file, before any large allocation:

- :func:`open_regular` refuses anything but a regular file (FIFOs, devices, sockets, folders) and,
  given a dataset root, a symlink that resolves outside it;
- :func:`read_bytes` / :func:`read_text` stop at a cap per kind of file (:data:`CAPS`) and say the cap;
- :func:`inside_root` resolves a path named inside a label file and refuses one that leaves the root;
- :func:`loads_json` / :func:`loads_yaml` bound nesting depth, and YAML alias expansion.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, BinaryIO

from handpose.errors import HandposeError

MiB = 1 << 20
# Byte caps per kind of file, each far above the largest published file of that kind.
CAPS: dict[str, int] = {
    "label": 2048 * MiB,  # text label tables (HANDS 2017 training: ~1 GB)
    "predictions": 1024 * MiB,  # prediction / ground-truth tables
    "json": 512 * MiB,  # FreiHAND annotations (~100 MB), synthetic meta, package descriptions
    "pickle": 1024 * MiB,  # RHD annotations (~150 MB), HO-3D meta files
    "image": 64 * MiB,  # one PNG / JPEG / binary depth frame
    "config": 1 * MiB,  # a YAML run configuration
    "list": 64 * MiB,  # file lists, centre files
    "checkpoint": 4096 * MiB,  # torch checkpoints and package weights
}
MAX_NESTING = 64  # JSON / YAML depth; every handpose file is under 10 levels
MAX_YAML_NODES = 100_000  # nodes after alias expansion (a config has a few hundred)


# The dataset root being read, if any: files under it must stay under it once symlinks resolve.
_DATASET_ROOT: ContextVar[Path | None] = ContextVar("handpose_dataset_root", default=None)


@contextlib.contextmanager
def dataset_root(root: str | os.PathLike) -> Iterator[None]:
    """Inside the block, every file read from under ``root`` must resolve inside ``root``.

    Files named outside the root (a centre file, a checkpoint) are not affected; a symlink inside the
    dataset that leads out of it (to ``/etc``, to ``/dev/zero``) is refused.
    """
    token = _DATASET_ROOT.set(Path(root))
    try:
        yield
    finally:
        _DATASET_ROOT.reset(token)


def _enforce_root(path: Path, root: str | os.PathLike | None) -> None:
    root = root if root is not None else _DATASET_ROOT.get()
    if root is None:
        return
    lexical_root = os.path.abspath(root)
    lexical = os.path.abspath(path)
    if lexical == lexical_root or lexical.startswith(lexical_root.rstrip(os.sep) + os.sep):
        inside_root(root, path, path)


def _cap_text(cap: int) -> str:
    return f"{cap // MiB} MiB" if cap >= MiB else f"{cap} bytes"


def check_regular(path: str | os.PathLike, what: str = "file", root: str | os.PathLike | None = None) -> int:
    """Refuse ``path`` unless it is a regular file (inside ``root`` once symlinks resolve); return its size.

    Raises:
        HandposeError: Missing, a folder, a FIFO / device / socket, or a symlink leaving ``root``.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise HandposeError(f"{what} not found", path) from None
    except OSError as exc:
        raise HandposeError(f"cannot read {what}: {exc.strerror}", path) from None
    _check_mode(st, path, what)
    _enforce_root(path, root)
    return st.st_size


def _check_mode(st: os.stat_result, path: Path, what: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise HandposeError(f"{what} is a folder, expected a file", path)
    if not stat.S_ISREG(st.st_mode):
        raise HandposeError(f"{what} is not a regular file (a pipe, device or socket); refusing to read it", path)


def open_regular(path: str | os.PathLike, what: str = "file", root: str | os.PathLike | None = None) -> BinaryIO:
    """Open ``path`` for binary reading, refusing non-regular files without blocking on a FIFO.

    The file is opened non-blocking and checked with ``fstat`` on the open descriptor, so a pipe
    swapped in after a check cannot make the read hang.
    """
    path = Path(path)
    _enforce_root(path, root)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise HandposeError(f"{what} not found", path) from None
    except IsADirectoryError:
        raise HandposeError(f"{what} is a folder, expected a file", path) from None
    except OSError as exc:
        raise HandposeError(f"cannot read {what}: {exc.strerror}", path) from None
    try:
        _check_mode(os.fstat(fd), path, what)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_bytes(
    path: str | os.PathLike,
    kind: str,
    what: str = "file",
    root: str | os.PathLike | None = None,
    cap: int | None = None,
) -> bytes:
    """All bytes of a regular file, refused (with the cap in the message) when it exceeds ``CAPS[kind]``."""
    limit = CAPS[kind] if cap is None else cap
    path = Path(path)
    with open_regular(path, what, root) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise HandposeError(
                f"{what} is {_size_text(size)}, over the {_cap_text(limit)} cap for a {kind} file", path
            )
        try:
            # read(n) allocates n bytes up front: ask for what fstat says is there (one byte more, to see growth).
            data = fh.read(min(size, limit) + 1)
        except OSError as exc:
            raise HandposeError(f"cannot read {what}: {exc.strerror}", path) from None
    if len(data) > limit:  # grew while being read
        raise HandposeError(f"{what} is over the {_cap_text(limit)} cap for a {kind} file", path)
    return data


def _size_text(size: int) -> str:
    return f"{size / MiB:.1f} MiB" if size >= MiB else f"{size} bytes"


def read_text(
    path: str | os.PathLike,
    kind: str,
    what: str = "file",
    root: str | os.PathLike | None = None,
    encoding: str = "utf-8",
    cap: int | None = None,
) -> str:
    """:func:`read_bytes` decoded; invalid text is one line naming the file."""
    data = read_bytes(path, kind, what, root, cap)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise HandposeError(f"{what} is not {encoding} text (byte {exc.start})", path) from None


def inside_root(
    root: str | os.PathLike, name: str | os.PathLike, source: str | os.PathLike, line: int | None = None
) -> Path:
    """``root / name`` with symlinks resolved, refused when it is absolute or leads outside ``root``.

    Args:
        root: The dataset root.
        name: A path relative to ``root`` (or already joined to it), as named by a label or list file.
        source: The file that named it (for the message).
        line: Line in ``source``, if known.
    """
    root_path = Path(root).resolve()
    candidate = Path(name)
    if not candidate.is_absolute():
        candidate = Path(root) / candidate
    resolved = candidate.resolve()
    if resolved != root_path and root_path not in resolved.parents:
        raise HandposeError(f"path {str(name)[:120]!r} leads outside the dataset root {root}; refusing", source, line)
    return resolved


def check_nesting(value: Any, source: str | os.PathLike, what: str) -> None:
    """Walk parsed data iteratively; refuse nesting beyond :data:`MAX_NESTING` (recursive code later would crash)."""
    containers = (Mapping, list, tuple)
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            raise HandposeError(f"{what} is nested more than {MAX_NESTING} levels deep; refusing", source)
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, containers))
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item if isinstance(v, containers))


def loads_json(text: str | bytes, source: str | os.PathLike, what: str = "JSON") -> Any:
    """``json.loads`` with nesting bounded and every failure one line naming ``source``."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise HandposeError(f"{what} is nested more than {MAX_NESTING} levels deep; refusing", source) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HandposeError(f"cannot parse JSON: {exc}", source) from None
    check_nesting(value, source, what)
    return value


def read_json(path: str | os.PathLike, kind: str = "json", what: str = "JSON file", root: Any = None) -> Any:
    """Read and :func:`loads_json` a file under the ``kind`` cap."""
    return loads_json(read_bytes(path, kind, what, root), path, what)


def _yaml_nodes(node: Any, source: str | os.PathLike, what: str) -> None:
    """Count the nodes of a composed YAML graph as if its aliases were expanded, without expanding them."""
    import yaml

    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    # Post-order over the graph (shared alias targets visited once): expanded size and depth per node.
    order: list[Any] = []
    seen: set[int] = set()
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        current, done = stack.pop()
        if done:
            order.append(current)
            continue
        if id(current) in seen:
            continue
        seen.add(id(current))
        stack.append((current, True))
        for child in _children(current, yaml):
            if id(child) not in seen:
                stack.append((child, False))
    for current in order:
        children = list(_children(current, yaml))
        sizes[id(current)] = 1 + sum(sizes.get(id(c), 0) for c in children)
        depths[id(current)] = 1 + max((depths.get(id(c), 0) for c in children), default=0)
        if sizes[id(current)] > MAX_YAML_NODES:
            raise HandposeError(
                f"{what} expands to more than {MAX_YAML_NODES} values through aliases; refusing", source
            )
        if depths[id(current)] > MAX_NESTING:
            raise HandposeError(f"{what} is nested more than {MAX_NESTING} levels deep; refusing", source)


def _children(node: Any, yaml: Any) -> Iterator[Any]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def compose_yaml(text: str, source: str | os.PathLike, what: str = "YAML") -> Any:
    """The YAML node graph of ``text`` (safe loader), refused when nested or alias-expanded beyond the bounds."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise HandposeError(f"{what} is nested more than {MAX_NESTING} levels deep; refusing", source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise HandposeError(f"invalid YAML: {problem}", source, mark.line + 1 if mark else None) from None
    if node is not None:
        _yaml_nodes(node, source, what)
    return node


def loads_yaml(text: str, source: str | os.PathLike, what: str = "YAML") -> Any:
    """``yaml.safe_load`` after :func:`compose_yaml`'s bounds: no code, no alias bomb, no deep nesting."""
    import yaml

    compose_yaml(text, source, what)
    try:
        return yaml.safe_load(text)
    except RecursionError:  # pragma: no cover - compose already refused it
        raise HandposeError(f"{what} is nested too deeply; refusing", source) from None
    except yaml.YAMLError as exc:
        raise HandposeError(f"not valid {what}: {' '.join(str(exc).split())}", source) from None


def check_npz(path: str | os.PathLike, cap: int, what: str = ".npz archive") -> None:
    """Refuse an ``.npz`` whose arrays, as their headers declare them, exceed ``cap`` bytes in total.

    ``np.load`` allocates the shape an array header declares before reading its data, so a few bytes
    claiming a terabyte must be refused from the headers, before any array is loaded.
    """
    import zipfile

    from numpy.lib import format as npy_format

    path = Path(path)
    check_regular(path, what)
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > 10_000:
                raise HandposeError(f"{what} holds {len(members)} members; refusing", path)
            for member in members:
                total += member.file_size
                if total > cap:
                    raise HandposeError(f"{what} inflates to more than {_cap_text(cap)}; refusing", path)
                if not member.filename.endswith(".npy"):
                    continue
                with archive.open(member) as fh:
                    version = npy_format.read_magic(fh)
                    if version == (1, 0):
                        shape, _, dtype = npy_format.read_array_header_1_0(fh)
                    else:
                        shape, _, dtype = npy_format.read_array_header_2_0(fh)
                declared = dtype.itemsize
                for side in shape:
                    declared *= side
                if declared > min(cap, member.file_size):
                    raise HandposeError(
                        f"array {member.filename!r} declares {_size_text(declared)}, more than its data or the "
                        f"{_cap_text(cap)} cap; refusing",
                        path,
                    )
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise HandposeError(f"unreadable {what} ({exc})", path) from None


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what C libraries (libpng, libjpeg) print straight to file descriptor 2 inside the block.

    A corrupt image makes libpng print its own complaint before OpenCV returns nothing; the reader then
    raises the one :class:`~handpose.errors.HandposeError` line, so the library's text is only noise.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to silence
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
