"""Reading MATLAB .mat label files (NYU ``joint_data.mat``, A2J centre and label copies) safely."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

from handpose.errors import HandposeError
from handpose.safe_read import check_regular, open_regular

# Label files are at most a few hundred MB (NYU train: ~500 MB); refuse anything far larger before parsing.
MAX_MAT_BYTES = 4 << 30
# Compressed variables may inflate to at most this much in total (a zip bomb must not reach scipy);
# NYU's training labels, the largest, inflate to a few hundred MB.
MAX_MAT_INFLATED_BYTES = 1 << 30
_MI_MATRIX, _MI_COMPRESSED = 14, 15


def check_mat5_sizes(path: Path, limit: int | None = None) -> None:
    """Walk a MATLAB v5 file's top-level elements and refuse it if their data, inflated, exceeds ``limit``.

    Compressed elements are inflated in bounded chunks and discarded, so the check itself never holds
    more than a few megabytes. ``limit`` defaults to :data:`MAX_MAT_INFLATED_BYTES`.
    """
    if limit is None:
        limit = MAX_MAT_INFLATED_BYTES
    with open(path, "rb") as fh:
        header = fh.read(128)
        if len(header) < 128:
            raise HandposeError("not a MATLAB .mat file (shorter than its 128-byte header)", path)
        endian = {b"IM": "<", b"MI": ">"}.get(header[126:128])
        if endian is None:
            raise HandposeError("not a MATLAB v5 .mat file (no endianness mark in the header)", path)
        total = 0
        while True:
            tag = fh.read(8)
            if not tag:
                return
            if len(tag) < 8:
                raise HandposeError("truncated .mat file (partial element tag)", path)
            dtype, nbytes = struct.unpack(endian + "II", tag)
            if dtype >> 16:  # small data element: 4 bytes of data inside the tag
                continue
            if dtype == _MI_COMPRESSED:
                inflater = zlib.decompressobj()
                remaining = nbytes
                while remaining:
                    chunk = fh.read(min(remaining, 1 << 20))
                    if not chunk:
                        raise HandposeError("truncated .mat file (compressed variable cut short)", path)
                    remaining -= len(chunk)
                    data = chunk
                    while data:
                        try:
                            out = inflater.decompress(data, 1 << 22)
                        except zlib.error as exc:
                            raise HandposeError(f"corrupt compressed variable in .mat file ({exc})", path) from None
                        total += len(out)
                        if total > limit:
                            raise HandposeError(f"variables inflate to more than {limit >> 20} MiB; refusing", path)
                        data = inflater.unconsumed_tail
            else:
                total += nbytes
                if total > limit:
                    raise HandposeError(f"variables declare more than {limit >> 20} MiB; refusing", path)
                fh.seek(nbytes + (-nbytes % 8), 1)


def check_mat_file(path: str | Path, limit: int | None = None) -> int:
    """Refuse a non-regular file, and a v5 file whose variables inflate beyond ``limit``; return the major version.

    Returns:
        1 for v4 and v5 files (what scipy reads), 2 for v7.3 (HDF5).
    """
    path = Path(path)
    with open_regular(path, ".mat file") as fh:
        head = fh.read(128)
    if b"MATLAB 7.3" in head or head.startswith(b"\x89HDF"):
        return 2
    if head.startswith(b"MATLAB 5.0"):  # v4 files (no header text) have no compression to bound
        check_mat5_sizes(path, limit)
    return 1


def load_mat(path: str | Path, variable_names: list[str] | None = None) -> dict[str, Any]:
    """``scipy.io.loadmat`` with every failure turned into one :class:`HandposeError` line.

    MATLAB v7.3 files (HDF5) are refused with a clear message; the datasets publish v5 files.
    """
    import scipy.io

    path = Path(path)
    size = check_regular(path, ".mat file")
    if size > MAX_MAT_BYTES:
        raise HandposeError(f"file is {size / 2**30:.1f} GiB; a label .mat this large is not expected", path)
    try:
        if check_mat_file(path) == 2:
            raise HandposeError("MATLAB v7.3 (HDF5) files are not supported; save it with -v7", path)
        data = scipy.io.loadmat(str(path), variable_names=variable_names)
    except HandposeError:
        raise
    except MemoryError:
        raise HandposeError("the .mat file declares more data than fits in memory", path) from None
    except Exception as exc:  # scipy raises many types (MatReadError, ValueError, TypeError, ...) on bad files
        raise HandposeError(f"not a readable MATLAB .mat file ({type(exc).__name__}: {exc})", path) from None
    return {k: v for k, v in data.items() if not k.startswith("__")}
