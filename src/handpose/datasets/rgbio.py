"""File reading shared by the RGB dataset readers: images, label images, text, JSON, .mat, plausibility.

Every function turns a problem with a file into one :class:`~handpose.errors.HandposeError` line that
names the file, so a broken download never surfaces as a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from handpose.datasets.matfile import check_mat_file
from handpose.errors import HandposeError
from handpose.safe_read import check_regular, quiet_native_stderr, read_bytes
from handpose.safe_read import read_json as read_bounded_json

# Largest image side accepted; a corrupt header claiming more is refused before decoding.
MAX_IMAGE_SIDE = 8192

# Label values (mm, metres, pixels, intrinsics) beyond a kilometre are nonsense that squares to inf.
MAX_LABEL_VALUE = 1e6

# Per-frame label text files hold a few hundred numbers.
MAX_TEXT_BYTES = 1 << 20

# Hand extent (bounding-box diagonal of the labelled joints) in mm that real hands have. A full hand
# spans ~150-250 mm, five fingertips ~60-200 mm; the bounds are loose so odd poses pass.
MIN_HAND_EXTENT_MM = 15.0
MAX_HAND_EXTENT_MM = 800.0


def _require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise HandposeError(f"missing {what}", path)
    check_regular(path, what)


def image_size_from_header(data: bytes | np.ndarray) -> tuple[int, int] | None:
    """``(width, height)`` a PNG or JPEG header declares, or ``None`` when it cannot be told."""
    head = bytes(data[:65536])
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24 and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if head.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 <= len(head):
            if head[i] != 0xFF:
                return None
            marker = head[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            length = int.from_bytes(head[i + 2 : i + 4], "big")
            # Start-of-frame markers (baseline, progressive, lossless, ...) carry the size.
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(head[i + 7 : i + 9], "big"), int.from_bytes(head[i + 5 : i + 7], "big")
            i += 2 + length
    return None


def _decode(path: Path, flags: int, what: str) -> np.ndarray:
    import cv2

    _require_file(path, what)
    data = np.frombuffer(read_bytes(path, "image", what), dtype=np.uint8)
    if data.size == 0:
        raise HandposeError(f"empty {what} file", path)
    size = image_size_from_header(data)
    # Refuse oversized headers before OpenCV allocates for them.
    if size is not None and max(size) > MAX_IMAGE_SIDE:
        raise HandposeError(f"{what} claims {size[0]}x{size[1]} pixels; larger than {MAX_IMAGE_SIDE} px", path)
    with quiet_native_stderr():
        img = cv2.imdecode(data, flags)
    if img is None:
        raise HandposeError(f"cannot decode {what} (corrupt or not a PNG/JPG)", path)
    if max(img.shape[:2]) > MAX_IMAGE_SIDE:
        raise HandposeError(f"{what} is {img.shape[1]}x{img.shape[0]}; larger than {MAX_IMAGE_SIDE} px", path)
    return img


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode a colour image (PNG/JPG) as ``(H, W, 3)`` uint8 RGB."""
    import cv2

    path = Path(path)
    img = _decode(path, cv2.IMREAD_COLOR, "image")
    if img.ndim != 3 or img.shape[2] != 3:
        raise HandposeError(f"expected a colour image, got shape {img.shape}", path)
    return np.ascontiguousarray(img[:, :, ::-1])


def read_label_image(path: str | Path) -> np.ndarray:
    """Decode a single-channel label or mask image (PNG/JPG) as ``(H, W)`` uint8, unchanged values."""
    import cv2

    img = _decode(Path(path), cv2.IMREAD_UNCHANGED, "mask image")
    if img.ndim == 3:
        # Label maps saved as colour images carry the label in every channel.
        img = img[:, :, 0]
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return img


def read_numbers(path: str | Path, count: int | None = None) -> np.ndarray:
    """All numbers of a small text file (separated by commas, semicolons or white space) as float64.

    Args:
        path: The text file.
        count: Exact number of values expected, if known.
    """
    path = Path(path)
    _require_file(path, "label file")
    data = read_bytes(path, "label", "label file", cap=MAX_TEXT_BYTES)
    try:
        text = data.decode("ascii", errors="strict")
    except UnicodeDecodeError as exc:
        raise HandposeError(f"cannot read label text ({type(exc).__name__})", path) from None
    tokens = [t for t in re.split(r"[\s,;]+", text.strip()) if t]
    try:
        values = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError as exc:
        raise HandposeError(f"non-numeric value in label file: {exc}", path) from None
    if count is not None and values.size != count:
        raise HandposeError(f"expected {count} numbers, found {values.size}", path)
    if not np.all(np.isfinite(values)):
        raise HandposeError("label file holds NaN or infinite values", path)
    if np.any(np.abs(values) > MAX_LABEL_VALUE):
        raise HandposeError(f"label file holds a value beyond +-{MAX_LABEL_VALUE:g} (not a joint position)", path)
    return values


def read_json(path: str | Path) -> Any:
    """Parse a JSON annotation file (bounded size and nesting)."""
    path = Path(path)
    _require_file(path, "annotation file")
    return read_bounded_json(path, "json", "annotation file")


def as_array(value: Any, shape: tuple[int | None, ...], what: str, path: str | Path) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape`` (``None`` = any length), or one clear error.

    Numbers written as strings are refused rather than converted: an annotation that stores
    ``"0.1"`` is not the format the dataset publishes.
    """
    try:
        raw = np.asarray(value)
    except (ValueError, TypeError):
        raw = np.asarray([], dtype=object)
    if raw.dtype.kind not in "iuf":
        raise HandposeError(
            f"{what}: not a numeric array of shape {_fmt(shape)} (holds {raw.dtype.kind!r} values)", path
        )
    arr = raw.astype(np.float64)
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        raise HandposeError(f"{what}: expected shape {_fmt(shape)}, got {arr.shape}", path)
    if not np.all(np.isfinite(arr)):
        raise HandposeError(f"{what}: holds NaN or infinite values", path)
    if np.any(np.abs(arr) > MAX_LABEL_VALUE):
        raise HandposeError(f"{what}: holds a value beyond +-{MAX_LABEL_VALUE:g}", path)
    return arr


def _fmt(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"


def load_mat_variable(path: str | Path, key: str) -> np.ndarray:
    """One variable of a MATLAB .mat file."""
    import scipy.io

    path = Path(path)
    _require_file(path, "label file")
    check_mat_file(path)
    try:
        mat = scipy.io.loadmat(str(path), variable_names=[key])
    except (OSError, ValueError, TypeError, NotImplementedError, MemoryError) as exc:
        raise HandposeError(f"cannot read .mat file: {exc}", path) from None
    except Exception as exc:  # scipy raises assorted private errors on garbage input
        raise HandposeError(f"cannot read .mat file ({type(exc).__name__})", path) from None
    if key not in mat:
        raise HandposeError(f"variable {key!r} not found", path)
    value = np.asarray(mat[key])
    if value.dtype.kind not in "iuf":
        raise HandposeError(f"variable {key!r} is not a numeric array (a cell or struct array?)", path)
    return value


def check_hand_size(joints_mm: np.ndarray, path: str | Path, frame: str = "") -> None:
    """Refuse labels whose size says they are not camera-space millimetres.

    Args:
        joints_mm: ``(J, 3)`` or ``(N, J, 3)`` joints that should be mm; NaN rows are ignored.
        path: File the labels came from (named in the error).
        frame: Which frame, for the message.
    """
    j = np.asarray(joints_mm, dtype=np.float64)
    if j.ndim == 2:
        j = j[None]
    finite = np.all(np.isfinite(j), axis=-1)
    lo = np.where(finite[..., None], j, np.inf).min(axis=1)
    hi = np.where(finite[..., None], j, -np.inf).max(axis=1)
    has = finite.sum(axis=1) >= 2
    extent = np.where(has, np.linalg.norm(np.where(has[:, None], hi - lo, 0.0), axis=-1), np.nan)
    where = f"{frame}: " if frame else ""
    small = np.flatnonzero(extent < MIN_HAND_EXTENT_MM)
    if small.size:
        i = int(small[0])
        hint = " (the labels look like metres)" if extent[i] < 1.0 else ""
        raise HandposeError(
            f"{where}hand spans {extent[i]:.3g} mm in frame {i}; expected {MIN_HAND_EXTENT_MM:g}-"
            f"{MAX_HAND_EXTENT_MM:g} mm{hint}",
            path,
        )
    large = np.flatnonzero(extent > MAX_HAND_EXTENT_MM)
    if large.size:
        i = int(large[0])
        hint = " (the labels look 1000x too large: already millimetres?)" if extent[i] > 20000 else ""
        raise HandposeError(
            f"{where}hand spans {extent[i]:.4g} mm in frame {i}; expected {MIN_HAND_EXTENT_MM:g}-"
            f"{MAX_HAND_EXTENT_MM:g} mm{hint}",
            path,
        )
    z = np.where(finite, j[..., 2], np.nan)
    with np.errstate(all="ignore"):
        behind = np.flatnonzero(np.nanmedian(np.where(has[:, None], z, 1.0), axis=1) <= 0)
    if behind.size:
        raise HandposeError(f"{where}hand is behind the camera (z <= 0) in frame {int(behind[0])}", path)
