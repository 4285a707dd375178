"""Reading MATLAB .mat label files (NYU ``joint_data.mat``, A2J centre and label copies) safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handpose.errors import HandposeError

# Label files are at most a few hundred MB (NYU train: ~500 MB); refuse anything far larger before parsing.
MAX_MAT_BYTES = 4 << 30


def load_mat(path: str | Path, variable_names: list[str] | None = None) -> dict[str, Any]:
    """``scipy.io.loadmat`` with every failure turned into one :class:`HandposeError` line.

    MATLAB v7.3 files (HDF5) are refused with a clear message; the datasets publish v5 files.
    """
    import scipy.io

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise HandposeError(f"cannot read: {exc.strerror}", path) from None
    if size > MAX_MAT_BYTES:
        raise HandposeError(f"file is {size / 2**30:.1f} GiB; a label .mat this large is not expected", path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(128)
        if b"MATLAB 7.3" in head or head.startswith(b"\x89HDF"):
            raise HandposeError("MATLAB v7.3 (HDF5) files are not supported; save it with -v7", path)
        data = scipy.io.loadmat(str(path), variable_names=variable_names)
    except HandposeError:
        raise
    except MemoryError:
        raise HandposeError("the .mat file declares more data than fits in memory", path) from None
    except Exception as exc:  # scipy raises many types (MatReadError, ValueError, TypeError, ...) on bad files
        raise HandposeError(f"not a readable MATLAB .mat file ({type(exc).__name__}: {exc})", path) from None
    return {k: v for k, v in data.items() if not k.startswith("__")}
