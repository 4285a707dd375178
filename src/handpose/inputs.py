"""What ``handpose predict`` accepts: image files, folders of them and (RGB) videos, read safely.

Depth inputs (millimetres): 16-bit greyscale PNG, NYU's packed RGB PNG (``(G << 8) | B``), MSRA's
``.bin`` and ``.npy`` (2-D, mm). Colour inputs: PNG/JPG/BMP images and MP4/AVI/MOV/MKV videos (one
input per frame). Which reading applies to an 8-bit RGB PNG depends on the model: a depth model
reads it as NYU-packed depth, an RGB model as a photo.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handpose.errors import HandposeError

DEPTH_SUFFIXES = (".png", ".bin", ".npy")
RGB_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
MAX_SIDE = 8192
MAX_PIXELS = 4096 * 4096


@dataclass
class InputFrame:
    """One image to run the model on.

    Attributes:
        name: Output stem (file stem, plus ``_f000123`` for video frames).
        source: The file it came from.
        image: Depth ``(H, W)`` mm float32 or RGB ``(H, W, 3)`` uint8.
    """

    name: str
    source: Path
    image: np.ndarray


def expand_inputs(inputs: Sequence[str | Path], modality: str) -> list[Path]:
    """Files named directly, plus the image (and for RGB, video) files inside named folders, sorted."""
    suffixes = DEPTH_SUFFIXES if modality == "depth" else (*RGB_SUFFIXES, *VIDEO_SUFFIXES)
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
            if not found:
                raise HandposeError(f"no {modality} inputs ({', '.join(suffixes)}) in this folder", path)
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise HandposeError("input not found", path)
    if not files:
        raise HandposeError("no inputs given")
    return files


def iter_frames(files: Sequence[Path], modality: str, every: int = 1) -> Iterator[InputFrame]:
    """Read each file as ``modality`` (videos yield every ``every``-th frame)."""
    for path in files:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            if modality != "rgb":
                raise HandposeError("videos are colour; this model takes depth images", path)
            yield from _video_frames(path, every)
        elif modality == "depth":
            yield InputFrame(path.stem, path, read_depth(path))
        else:
            yield InputFrame(path.stem, path, read_color(path))


def read_depth(path: Path) -> np.ndarray:
    """A depth image in mm from a 16-bit PNG, NYU-packed PNG, MSRA ``.bin`` or ``.npy``."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _read_npy_depth(path)
    if suffix == ".bin":
        return _read_msra_bin(path)
    if suffix == ".png":
        from handpose.datasets.imageio import png_info, read_depth_png16, read_file_bytes, read_nyu_depth

        info = png_info(read_file_bytes(path), path)
        if info.bit_depth == 16 and info.color_type == 0:
            return read_depth_png16(path)
        if info.bit_depth == 8 and info.color_type in (2, 6):
            return read_nyu_depth(path, size=None)
        raise HandposeError(
            f"a {info.kind} PNG is neither 16-bit depth nor NYU-packed RGB depth; this model takes depth", path
        )
    raise HandposeError(
        f"unsupported depth input {suffix or '(no suffix)'}; use .png (16-bit or NYU), .bin or .npy", path
    )


def _read_npy_depth(path: Path) -> np.ndarray:
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            # Header only, so an absurd shape is refused before anything is allocated.
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    except (OSError, ValueError) as exc:
        raise HandposeError(f"not a readable .npy array: {exc}", path) from None
    if len(shape) != 2 or dtype.kind not in "uif" or shape[0] > MAX_SIDE or shape[1] > MAX_SIDE:
        raise HandposeError(f"expected a 2-D numeric depth array (H x W, mm), got {dtype} {shape}", path)
    try:
        depth = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise HandposeError(f"cannot read .npy array: {exc}", path) from None
    depth = depth.astype(np.float32)
    if not np.all(np.isfinite(depth)):
        depth = np.where(np.isfinite(depth), depth, 0.0).astype(np.float32)
    return depth


def _read_msra_bin(path: Path) -> np.ndarray:
    from handpose.datasets.msra import read_msra_depth

    try:
        with open(path, "rb") as fh:
            header = fh.read(8)
    except OSError as exc:
        raise HandposeError(f"cannot read depth file: {exc.strerror}", path) from None
    if len(header) < 8:
        raise HandposeError("truncated MSRA depth file", path)
    width, height = struct.unpack("<2i", header)
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE and width * height <= MAX_PIXELS):
        raise HandposeError(f"MSRA header claims a {width}x{height} image; refusing", path)
    return read_msra_depth(path, size=(width, height))


def read_color(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix in (".bin", ".npy"):
        raise HandposeError("this is a depth file; the model takes colour images", path)
    if suffix == ".png":
        from handpose.datasets.imageio import png_info, read_file_bytes

        info = png_info(read_file_bytes(path), path)
        if info.bit_depth == 16:
            raise HandposeError(f"a {info.kind} PNG looks like depth; the model takes colour images", path)
    from handpose.datasets.rgbio import read_rgb

    return read_rgb(path)


def _video_frames(path: Path, every: int) -> Iterator[InputFrame]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise HandposeError("cannot open video", path)
    try:
        index = 0
        produced = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % max(every, 1) == 0:
                if max(frame.shape[:2]) > MAX_SIDE:
                    raise HandposeError(f"video frames are {frame.shape[1]}x{frame.shape[0]}; too large", path)
                produced += 1
                yield InputFrame(f"{path.stem}_f{index:06d}", path, np.ascontiguousarray(frame[:, :, ::-1]))
            index += 1
        if produced == 0:
            raise HandposeError("video has no readable frames", path)
    finally:
        capture.release()
