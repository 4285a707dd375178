"""A restricted unpickler for dataset pickles (RHD annotations, HO-3D meta files).

Pickles can run arbitrary code when loaded. These datasets only need plain containers and numpy
arrays, so :func:`safe_load` allows exactly the globals required to rebuild those and refuses
everything else *before* it is called.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from handpose.errors import HandposeError
from handpose.safe_read import read_bytes

# (module, name) pairs a numpy array or scalar needs to be rebuilt, across numpy 1.x and 2.x.
_ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "slice"),
        ("builtins", "complex"),
        ("collections", "OrderedDict"),
        ("_codecs", "encode"),  # Python 2 pickles store numpy byte buffers through codecs.encode
    }
)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only containers and numpy arrays are allowed)")


def safe_loads(data: bytes, source: str | Path = "<bytes>", encoding: str = "latin1") -> Any:
    """Unpickle ``data`` allowing only containers, numbers, strings and numpy arrays.

    Args:
        data: The pickle bytes.
        source: Name used in error messages.
        encoding: How Python 2 ``str`` objects are decoded (``latin1`` keeps numpy buffers intact).

    Raises:
        HandposeError: The pickle is corrupt or asks for anything outside the allowed types.
    """
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()
    except pickle.UnpicklingError as exc:
        raise HandposeError(f"unsafe or corrupt pickle: {exc}", source) from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, ImportError, MemoryError) as exc:
        raise HandposeError(f"corrupt pickle ({type(exc).__name__}: {exc})", source) from None


def safe_load(path: str | Path, encoding: str = "latin1") -> Any:
    """Read and :func:`safe_loads` the pickle file at ``path``."""
    path = Path(path)
    data = read_bytes(path, "pickle", "pickle file")
    return safe_loads(data, path, encoding=encoding)
