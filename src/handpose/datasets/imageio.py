"""Depth image files, read safely: PNG headers are checked before anything is decoded.

A depth PNG is validated chunk by chunk (signature, ``IHDR`` first with a sane size, every chunk
inside the file, an ``IDAT`` and a closing ``IEND``) so truncated downloads, other formats and
headers claiming absurd sizes are refused with one line before OpenCV allocates anything. Decoding
itself uses ``cv2.imdecode`` (fast, no extra dependency).

Encodings:

- 16-bit greyscale PNG in millimetres (ICVL, HANDS 2017, HANDS 2019): :func:`read_depth_png16`.
- NYU's RGB PNG, depth = ``(G << 8) | B`` mm: :func:`read_nyu_depth`.
- HO-3D's RGB PNG, depth = ``(R + 256 G) * 0.00012498664727900177`` m: :func:`read_ho3d_depth`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handpose.errors import HandposeError
from handpose.safe_read import quiet_native_stderr, read_bytes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE_SIDE = 8192
MAX_IMAGE_PIXELS = 4096 * 4096
MAX_FILE_BYTES = 256 << 20
# Real depth PNGs have tens of chunks; a file of millions of empty chunks would make the walk slow.
MAX_PNG_CHUNKS = 100_000
# HO-3D's depth scale (shreyashampali/ho3d utils/vis_utils.py read_depth_img), metres per unit.
HO3D_DEPTH_SCALE_M = 0.00012498664727900177

_COLOR_TYPES = {0: "greyscale", 2: "RGB", 3: "palette", 4: "greyscale+alpha", 6: "RGBA"}


@dataclass(frozen=True)
class PngInfo:
    """What a PNG's ``IHDR`` chunk declares."""

    width: int
    height: int
    bit_depth: int
    color_type: int

    @property
    def kind(self) -> str:
        return f"{self.bit_depth}-bit {_COLOR_TYPES.get(self.color_type, f'type-{self.color_type}')}"


def read_file_bytes(path: str | Path, what: str = "image") -> bytes:
    """The bytes of ``path``, refusing missing, empty and implausibly large files."""
    path = Path(path)
    if not path.exists():
        raise HandposeError(f"missing {what}", path)
    data = read_bytes(path, "image", what, cap=MAX_FILE_BYTES)
    if not data:
        raise HandposeError(f"empty {what} file", path)
    return data


def png_info(data: bytes, path: str | Path = "<bytes>") -> PngInfo:
    """Validate the PNG container structure and return its header.

    Raises:
        HandposeError: Not a PNG, truncated, or declaring an implausible size.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise HandposeError("not a PNG file (bad signature)", path)
    pos, end = len(PNG_SIGNATURE), len(data)
    info: PngInfo | None = None
    seen_idat = False
    for _ in range(MAX_PNG_CHUNKS):
        if pos + 8 > end:
            raise HandposeError("truncated PNG (ends before its IEND chunk)", path)
        length, ctype = struct.unpack_from(">I4s", data, pos)
        if pos + 12 + length > end:
            raise HandposeError(f"truncated PNG ({ctype.decode('latin1')!r} chunk runs past the end of the file)", path)
        if info is None:
            if ctype != b"IHDR" or length != 13:
                raise HandposeError("corrupt PNG (first chunk is not a 13-byte IHDR)", path)
            width, height, bit_depth, color_type = struct.unpack_from(">IIBB", data, pos + 8)
            if width == 0 or height == 0 or width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
                raise HandposeError(f"PNG header declares {width}x{height} pixels; refusing", path)
            if width * height > MAX_IMAGE_PIXELS:
                raise HandposeError(f"PNG header declares {width}x{height} = {width * height} pixels; refusing", path)
            info = PngInfo(width, height, bit_depth, color_type)
        elif ctype == b"IDAT":
            seen_idat = True
        elif ctype == b"IEND":
            break
        pos += 12 + length
    else:
        raise HandposeError(f"corrupt PNG (more than {MAX_PNG_CHUNKS} chunks)", path)
    if not seen_idat:
        raise HandposeError("corrupt PNG (no image data)", path)
    return info


def _decode(data: bytes, path: str | Path) -> np.ndarray:
    import cv2

    with quiet_native_stderr():
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise HandposeError("corrupt PNG (image data does not decode)", path)
    return img


def decode_png(data: bytes, path: str | Path) -> np.ndarray:
    """Decode PNG bytes (already checked by :func:`png_info`) unchanged: depth, grey, BGR or BGRA."""
    return _decode(data, path)


def _check_size(img: np.ndarray, size: tuple[int, int] | None, path: str | Path) -> None:
    if size is not None and (img.shape[1], img.shape[0]) != tuple(size):
        raise HandposeError(f"image is {img.shape[1]}x{img.shape[0]}, expected {size[0]}x{size[1]}", path)


def read_depth_png16(path: str | Path, size: tuple[int, int] | None = None, invalid: int | None = None) -> np.ndarray:
    """A 16-bit single-channel PNG in millimetres as ``(H, W)`` float32 (0 = missing).

    Args:
        path: The PNG.
        size: Expected ``(width, height)``, checked when given.
        invalid: A raw value that marks missing depth (ICVL uses 32001); set to 0.
    """
    data = read_file_bytes(path)
    info = png_info(data, path)
    if info.color_type != 0 or info.bit_depth != 16:
        raise HandposeError(f"expected a 16-bit greyscale depth PNG, got {info.kind}", path)
    img = _decode(data, path)
    if img.dtype != np.uint16 or img.ndim != 2:
        raise HandposeError(f"decoded to {img.dtype} {img.shape}, expected 16-bit greyscale", path)
    _check_size(img, size, path)
    depth = img.astype(np.float32)
    if invalid is not None:
        depth[img == invalid] = 0.0
    return depth


def _read_rgb8(path: str | Path, size: tuple[int, int] | None, what: str) -> np.ndarray:
    """An 8-bit RGB(A) PNG decoded as OpenCV's BGR(A) ``(H, W, C)`` uint8."""
    data = read_file_bytes(path)
    info = png_info(data, path)
    if info.color_type not in (2, 6) or info.bit_depth != 8:
        raise HandposeError(f"expected an 8-bit RGB PNG ({what}), got {info.kind}", path)
    img = _decode(data, path)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] < 3:
        raise HandposeError(f"decoded to {img.dtype} {img.shape}, expected 8-bit RGB", path)
    _check_size(img, size, path)
    return img


def read_nyu_depth(path: str | Path, size: tuple[int, int] | None = (640, 480)) -> np.ndarray:
    """NYU depth packed in an RGB PNG: ``(G << 8) | B`` mm, red unused; ``(H, W)`` float32."""
    img = _read_rgb8(path, size, "NYU packs depth as (G << 8) | B")
    # OpenCV decodes to BGR: channel 0 is blue, 1 green.
    return ((img[:, :, 1].astype(np.uint16) << 8) | img[:, :, 0]).astype(np.float32)


def read_ho3d_depth(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """HO-3D depth packed in an RGB PNG, ``(R + 256 G)`` times the HO-3D scale, returned in mm (float32)."""
    img = _read_rgb8(path, size, "HO-3D packs depth as R + 256 G")
    raw = img[:, :, 2].astype(np.float32) + 256.0 * img[:, :, 1].astype(np.float32)
    return raw * np.float32(HO3D_DEPTH_SCALE_M * 1000.0)


def encode_nyu_depth(depth_mm: np.ndarray) -> np.ndarray:
    """Pack depth mm into NYU's BGR layout (for writing NYU-format frames)."""
    d = np.clip(np.rint(depth_mm), 0, 65535).astype(np.uint16)
    bgr = np.zeros((*d.shape, 3), np.uint8)
    bgr[:, :, 0] = d & 0xFF
    bgr[:, :, 1] = d >> 8
    return bgr


def encode_ho3d_depth(depth_mm: np.ndarray) -> np.ndarray:
    """Pack depth mm into HO-3D's BGR layout (red = low byte, green = high byte of the scaled value)."""
    raw = np.clip(np.rint(np.asarray(depth_mm) / (HO3D_DEPTH_SCALE_M * 1000.0)), 0, 65535).astype(np.uint16)
    bgr = np.zeros((*raw.shape, 3), np.uint8)
    bgr[:, :, 2] = raw & 0xFF
    bgr[:, :, 1] = raw >> 8
    return bgr
