"""Readers for joint files: predictions and ground truth of the depth benchmarks.

Every reader returns a :class:`JointFile` holding ``(N, J, 3)`` float64 joints, one row per frame, and
what the file itself says about its coordinates (``"uvd"``, ``"xyz"`` or unknown). Deciding what
unknown coordinates are, and checking the frame count against the ground truth, is the evaluator's job.

Formats (``detect_container`` picks one from the file name and first line):

- ``text``: the public tables' layout, one frame per line, ``J*3`` whitespace-separated numbers
  (``u v d`` per joint in the tables; some files hold ``x y z``).
- ``named text``: the same with a leading image-name column (``*_denseReg_ori.txt``, ICVL's
  ``test_seq_*.txt``; separators may be tabs, names may contain backslashes). The name is dropped.
- ``mat``: MATLAB files (v5 through scipy, v7.3 through h5py); the one numeric array of ``N*J*3``
  values is used, or the one whose key names it (``joint_est_wld_xyz``, ``xyz_estimation``,
  ``keypoints3D`` ...).
- ``npy`` / ``npz``: numpy arrays of shape ``(N, J, 3)`` or ``(N, J*3)``, read without pickle.

Blank lines in text files are ignored; every other line is a frame. Problems (missing file, wrong
number of values on a line, non-numeric tokens, NaN or infinity) raise :class:`HandposeError` naming
the file and line.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from handpose.datasets.matfile import check_mat_file
from handpose.errors import HandposeError
from handpose.safe_read import check_npz, check_regular, open_regular, read_bytes

Space = Literal["uvd", "xyz"]
Container = Literal["text", "named text", "mat", "npy", "npz"]

# Arrays beyond this are not joint files; refusing them avoids loading something huge by mistake.
MAX_ARRAY_BYTES = 2 * 1024**3
# Joint coordinates (mm or pixels) beyond a kilometre are nonsense, and squaring them overflows to inf.
MAX_COORDINATE = 1e6
_SNIFF_BYTES = 1 << 16
# What compressed .mat / .npz joint files may inflate to: the largest published test set
# (HANDS 2017, 295k frames x 21 joints) is 150 MB as float64.
MAX_INFLATED_BYTES = 512 * 1024**2

_FIRST_TOKEN = re.compile(rb"(?m)^[ \t]*\S+")
# Key words that say what a .mat/.npz array holds, most specific first.
_XYZ_HINTS = ("xyz", "wld", "world")
_UVD_HINTS = ("uvd", "pixel")
_PREDICTION_HINTS = ("xyz", "uvd", "est", "pred", "joint", "keypoint", "label", "gt")


@dataclass(frozen=True)
class JointFile:
    """Joints read from one file.

    Attributes:
        path: The file, as given.
        joints: ``(N, J, 3)`` float64, in the file's own coordinates and joint order.
        space: ``"uvd"`` or ``"xyz"`` when an array key states it (``joint_est_wld_xyz``), else ``None``.
        container: How it was read: ``"text"``, ``"named text"``, ``"mat:<key>"``, ``"npy"``, ``"npz:<key>"``.
    """

    path: str
    joints: np.ndarray
    space: Space | None
    container: str

    @property
    def frames(self) -> int:
        return int(self.joints.shape[0])


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def detect_container(path: str | Path) -> Container:
    """Guess the container from the suffix, and for text whether a name column leads each line."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".mat", ".npy", ".npz"):
        return suffix[1:]  # type: ignore[return-value]
    first = _first_tokens(p)
    return "text" if not first or _is_number(first[0]) else "named text"


def _first_tokens(path: Path) -> list[bytes]:
    try:
        with open_regular(path, "joint file") as fh:
            # Only the first non-blank line matters; a file of endless blank bytes stops at the cap.
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise HandposeError(f"cannot read: {exc.strerror or exc}", path) from None
    for line in head.splitlines():
        tokens = line.split()
        if tokens:
            return tokens
    return []


def _check_readable(path: Path) -> None:
    check_regular(path, "joint file")


def _read_bytes(path: Path) -> bytes:
    return read_bytes(path, "predictions", "joint file")


def read_text_joints(path: str | Path, num_joints: int, named: bool | None = None) -> JointFile:
    """Read a text joint file (``J*3`` numbers per line, optionally after an image-name column).

    Args:
        path: The file.
        num_joints: ``J``; every frame line must carry exactly ``J*3`` numbers.
        named: Whether lines start with an image name; ``None`` decides from the first line.
    """
    p = Path(path)
    raw = _read_bytes(p)
    if named is None:
        first = raw.split(maxsplit=1)[:1]
        named = bool(first) and not _is_number(first[0])
    body, names = _FIRST_TOKEN.subn(b"", raw) if named else (raw, 0)
    width = num_joints * 3
    values = _fast_parse(body, raw, width)
    if values is not None and named and len(values) != names:
        values = None  # a line holding only a name: the careful reader reports it
    if values is None:
        values = _careful_parse(p, raw, width, named)
    _check_magnitude(values.reshape(len(values), -1), p, "values")
    return JointFile(str(path), values.reshape(-1, num_joints, 3), None, _container(named))


def _container(named: bool) -> str:
    return "named text" if named else "text"


def _fast_parse(body: bytes, raw: bytes, width: int) -> np.ndarray | None:
    """Vectorised decimals, else numpy's C reader; ``None`` whenever anything is unusual (the careful reader says what)."""
    values = parse_plain_decimals(body, width)
    if values is not None:
        return values
    lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") or not raw else 1)
    if lines == 0:
        return None
    try:
        values = np.loadtxt(io.BytesIO(body), dtype=np.float64, comments=None, ndmin=2)
    except ValueError:
        return None
    # A row count below the line count means blank lines, which the careful reader skips and numbers correctly.
    if values.shape != (lines, width) or not np.isfinite(values).all():
        return None
    return values


_MAX_INT_DIGITS = 9
_MAX_DIGITS = 18  # integer and fraction digits together still fit an int64 mantissa
_POW10 = 10.0 ** np.arange(_MAX_DIGITS + 1)
_PAD = b" " * (_MAX_DIGITS + 2)  # lets every gather run past a token without bounds checks


def parse_plain_decimals(body: bytes, width: int) -> np.ndarray | None:
    """Parse text made only of ``-?digits.digits`` tokens, ``width`` per non-blank line, with array operations.

    Every token is anchored on its decimal point: digits are gathered left and right of each point,
    the integer mantissa is divided by a power of ten (one correctly rounded division, so the value
    equals ``float(token)`` whenever the mantissa has at most 15-16 digits). Returns ``None`` when the
    text is anything else (integers without a point, exponents, NaN, names, wrong line lengths), for
    a general reader to handle. Faster than ``np.loadtxt`` on the public tables' files.

    Returns:
        ``(rows, width)`` float64, or ``None``.
    """
    u = np.frombuffer(_PAD + body + _PAD, dtype=np.uint8)
    dots = np.flatnonzero(u == ord("."))
    if dots.size == 0 or dots.size % width:
        return None
    zero = np.uint8(ord("0"))
    mantissa = np.zeros(dots.size, dtype=np.int64)
    int_len = np.zeros(dots.size, dtype=np.int64)
    running = np.ones(dots.size, dtype=bool)
    pos = dots.copy()
    for k in range(_MAX_INT_DIGITS + 1):
        pos -= 1
        digit = u[pos] - zero  # wraps around for non-digits, so "< 10" tests digit-ness
        running &= digit < 10
        if not running.any():
            break
        if k == _MAX_INT_DIGITS:
            return None
        digit *= running
        mantissa += digit.astype(np.int64) * 10**k
        int_len += running
    frac_len = np.zeros(dots.size, dtype=np.int64)
    running[:] = True
    pos = dots.copy()
    for k in range(_MAX_DIGITS + 1):
        pos += 1
        digit = u[pos] - zero
        running &= digit < 10
        if not running.any():
            break
        if k == _MAX_DIGITS:
            return None
        mantissa = np.where(running, mantissa * 10 + digit, mantissa)
        frac_len += running
    if int_len.min() < 1 or frac_len.min() < 1 or (int_len + frac_len).max() > _MAX_DIGITS:
        return None
    negative = u[dots - int_len - 1] == ord("-")
    if not (u[dots - int_len - 1 - negative] <= 32).all() or not (u[dots + frac_len + 1] <= 32).all():
        return None
    # Every non-space byte must belong to one of the anchored tokens: nothing else hides in the text.
    if int((int_len + frac_len + 1 + negative).sum()) != u.size - np.count_nonzero(u <= 32):
        return None
    # Tokens per line: the dots (sorted) that fall between consecutive newlines.
    bounds = np.searchsorted(dots, np.flatnonzero(u == ord("\n")))
    per_line = np.diff(bounds, prepend=0, append=dots.size)
    if not (per_line[per_line > 0] == width).all():
        return None
    values = mantissa / _POW10[frac_len]
    values[negative] = -values[negative]
    return values.reshape(-1, width)


def _careful_parse(path: Path, raw: bytes, width: int, named: bool) -> np.ndarray:
    rows: list[list[float]] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if named:
            tokens = tokens[1:]
        if len(tokens) != width:
            what = "values after the image name" if named else "values"
            raise HandposeError(f"expected {width} {what} ({width // 3} joints x 3), found {len(tokens)}", path, number)
        row = []
        for column, token in enumerate(tokens, start=2 if named else 1):
            try:
                value = float(token)
            except ValueError:
                text = token.decode("utf-8", "replace")
                raise HandposeError(f"non-numeric value {text!r} in column {column}", path, number) from None
            if not math.isfinite(value):
                raise HandposeError(f"{token.decode()} in column {column}; every value must be finite", path, number)
            row.append(value)
        rows.append(row)
    if not rows:
        raise HandposeError("no frames: the file is empty", path)
    return np.asarray(rows, dtype=np.float64)


# ------------------------------------------------------------------------------------------------
# Arrays: .mat, .npy, .npz
# ------------------------------------------------------------------------------------------------
def _space_from_key(key: str) -> Space | None:
    k = key.lower()
    if any(h in k for h in _XYZ_HINTS):
        return "xyz"
    if any(h in k for h in _UVD_HINTS):
        return "uvd"
    return None


def _as_joints(array: np.ndarray, num_joints: int, path: Path, what: str) -> np.ndarray | None:
    """``(N, J, 3)`` float64 from ``(N, J, 3)``, ``(N, J*3)``, or MATLAB-transposed ``(3, J, N)``; else None."""
    if array.dtype.kind not in "iuf" or array.ndim not in (2, 3):
        return None
    if array.ndim == 3 and array.shape[1:] == (num_joints, 3):
        out = array
    elif array.ndim == 3 and array.shape[:2] == (3, num_joints):
        out = np.transpose(array, (2, 1, 0))
    elif array.ndim == 2 and array.shape[1] == num_joints * 3:
        out = array.reshape(-1, num_joints, 3)
    elif array.ndim == 2 and array.shape[0] == num_joints * 3:
        out = array.T.reshape(-1, num_joints, 3)
    else:
        return None
    out = np.asarray(out, dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        frame = int(np.argwhere(bad)[0][0])
        raise HandposeError(f"{what}: frame {frame} (0-based) holds NaN or infinity; every value must be finite", path)
    _check_magnitude(out, path, what)
    return out


def _check_magnitude(values: np.ndarray, path: Path, what: str) -> None:
    huge = np.abs(values) > MAX_COORDINATE
    if huge.any():
        frame = int(np.argwhere(huge)[0][0])
        raise HandposeError(
            f"{what}: frame {frame} (0-based) holds a coordinate beyond +-{MAX_COORDINATE:g}; not a joint position",
            path,
        )


def _pick(
    arrays: dict[str, np.ndarray], num_joints: int, path: Path, kind: str
) -> tuple[str, np.ndarray, Space | None]:
    candidates = {}
    for key, array in arrays.items():
        joints = _as_joints(array, num_joints, path, f"{kind} key {key!r}")
        if joints is not None:
            candidates[key] = joints
    if not candidates:
        shapes = ", ".join(f"{k} {tuple(a.shape)}" for k, a in arrays.items()) or "no arrays"
        raise HandposeError(f"no array of {num_joints} joints x 3 coordinates per frame (found {shapes})", path)
    if len(candidates) > 1:
        named = [k for k in candidates if any(h in k.lower() for h in _PREDICTION_HINTS)]
        if len(named) != 1:
            raise HandposeError(
                f"several joint arrays, cannot tell which to use: {', '.join(sorted(candidates))}", path
            )
        candidates = {named[0]: candidates[named[0]]}
    key, joints = next(iter(candidates.items()))
    return key, joints, _space_from_key(key)


def read_mat_joints(path: str | Path, num_joints: int) -> JointFile:
    """Read joints from a MATLAB file (v4-v7 via scipy, v7.3 via h5py)."""
    import scipy.io

    p = Path(path)
    _check_readable(p)
    try:
        major, _ = scipy.io.matlab.matfile_version(str(p))
    except Exception as exc:  # scipy raises several types for non-MAT input
        raise HandposeError(f"not a MATLAB file ({exc})", p) from None
    if major == 2:
        arrays = _read_mat73(p)
    else:
        check_mat_file(p, MAX_INFLATED_BYTES)  # bound what compressed variables inflate to before scipy does
        try:
            content = scipy.io.loadmat(str(p))
        except Exception as exc:
            raise HandposeError(f"unreadable MATLAB file ({exc})", p) from None
        arrays = {k: v for k, v in content.items() if not k.startswith("__") and isinstance(v, np.ndarray)}
    key, joints, space = _pick(arrays, num_joints, p, "MATLAB")
    return JointFile(str(path), joints, space, f"mat:{key}")


def _read_mat73(path: Path) -> dict[str, np.ndarray]:
    import h5py

    arrays: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as f:
            for key, item in f.items():
                if isinstance(item, h5py.Dataset) and item.dtype.kind in "iuf":
                    if item.size * item.dtype.itemsize > MAX_ARRAY_BYTES:
                        raise HandposeError(f"array {key!r} is too large for a joint file", path)
                    # HDF5 stores MATLAB arrays column-major: reverse the axes to get MATLAB's shape back.
                    arrays[key] = np.asarray(item[()]).T
    except OSError as exc:
        raise HandposeError(f"unreadable MATLAB v7.3 file ({exc})", path) from None
    return arrays


def read_npy_joints(path: str | Path, num_joints: int) -> JointFile:
    """Read joints from a ``.npy`` array (no pickle)."""
    p = Path(path)
    _check_readable(p)
    try:
        array = np.load(p, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise HandposeError(f"not a readable .npy array ({exc})", p) from None
    if array.nbytes > MAX_ARRAY_BYTES:
        raise HandposeError(f"array of shape {array.shape} is too large for a joint file", p)
    _, joints, _ = _pick({"array": array}, num_joints, p, ".npy")
    return JointFile(str(path), joints, None, "npy")


def read_npz_joints(path: str | Path, num_joints: int) -> JointFile:
    """Read joints from a ``.npz`` archive: its one joint array, or the one whose key names it."""
    p = Path(path)
    _check_readable(p)
    try:
        check_npz(p, MAX_INFLATED_BYTES, "joint archive")
        with np.load(p, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise HandposeError(f"not a readable .npz archive ({exc})", p) from None
    key, joints, space = _pick(arrays, num_joints, p, ".npz")
    return JointFile(str(path), joints, space, f"npz:{key}")


def read_joints(path: str | Path, num_joints: int) -> JointFile:
    """Read any supported joint file; the container is detected (:func:`detect_container`)."""
    p = Path(path)
    if not p.exists():
        raise HandposeError("no such file", p)
    container = detect_container(p)
    if container == "mat":
        return read_mat_joints(p, num_joints)
    if container == "npy":
        return read_npy_joints(p, num_joints)
    if container == "npz":
        return read_npz_joints(p, num_joints)
    return read_text_joints(p, num_joints, named=container == "named text")


__all__ = [
    "JointFile",
    "detect_container",
    "parse_plain_decimals",
    "read_joints",
    "read_mat_joints",
    "read_npy_joints",
    "read_npz_joints",
    "read_text_joints",
]
