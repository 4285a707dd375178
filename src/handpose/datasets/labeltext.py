"""Label tables in text form: one frame per line, an optional image name, then a fixed count of numbers.

Used for ICVL (``labels.txt``, ``test_seq_*.txt``: name + 16 x (u v d)), HANDS 2017
(``Training_Annotation.txt``: name + 21 x xyz), HANDS 2019 (tab-separated name + 63 numbers) and the
evaluation ground truth files (numbers only). Every malformed line is reported as
``file:line: problem``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handpose.errors import HandposeError
from handpose.safe_read import read_bytes

MAX_LABEL_BYTES = 2 << 30
_BLOCK_VALUES = 1 << 20
# Pixels or millimetres beyond a kilometre are nonsense that later squares to inf.
MAX_LABEL_VALUE = 1e6


def _check_name(name: str, path: Path, lineno: int) -> None:
    """Image names are paths relative to the dataset: refuse absolute ones and ``..`` steps out of it."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or "\0" in name:
        raise HandposeError(f"image name {name[:80]!r} is not a path relative to the dataset", path, lineno)
    if ".." in name and ".." in name.replace("\\", "/").split("/"):
        raise HandposeError(f"image name {name[:80]!r} leads outside the dataset root; refusing", path, lineno)


def read_label_table(
    path: str | Path,
    values_per_line: int,
    *,
    name_column: bool = True,
    sep: str | None = None,
    header_lines: int = 0,
    allow_nonfinite: bool = False,
) -> tuple[list[str], np.ndarray]:
    """Parse a label table.

    Args:
        path: The text file.
        values_per_line: Numbers expected after the name on every line.
        name_column: The first field is an image name.
        sep: Field separator; ``None`` splits on any whitespace (``"\\t"`` for HANDS 2019).
        header_lines: Lines to skip at the top.
        allow_nonfinite: Accept NaN/inf values instead of reporting them.

    Returns:
        ``(names, values)``: names (empty strings without a name column) and ``(N, values_per_line)`` float64.

    Raises:
        HandposeError: Missing file, a line with the wrong number of fields, a non-number, a non-finite value,
            or no lines at all.
    """
    path = Path(path)
    if not path.exists():
        raise HandposeError("missing label file", path)
    data = read_bytes(path, "label", "label file", cap=MAX_LABEL_BYTES)
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise HandposeError("not a text label file (invalid UTF-8)", path) from None
    del data
    expected = values_per_line + (1 if name_column else 0)
    what = f"{'an image name and ' if name_column else ''}{values_per_line} numbers"
    names: list[str] = []
    fields: list[str] = []
    line_numbers: list[int] = []
    blocks: list[np.ndarray] = []

    def flush() -> None:
        # Convert in blocks: a million-line file as one list of strings would need gigabytes.
        if not fields:
            return
        rows = len(fields) // values_per_line
        try:
            blocks.append(np.array(fields, dtype=np.float64).reshape(rows, values_per_line))
        except ValueError:
            first_line = line_numbers[len(names) - rows]
            for k, token in enumerate(fields):
                try:
                    float(token)
                except ValueError:
                    lineno = line_numbers[len(names) - rows + k // values_per_line]
                    raise HandposeError(f"not a number: {token[:40]!r}", path, lineno) from None
            raise HandposeError("unparsable numbers", path, first_line) from None  # pragma: no cover
        fields.clear()

    for lineno, line in enumerate(text.splitlines(), start=1):
        if lineno <= header_lines:
            continue
        parts = line.strip().split(sep) if sep is not None else line.split()
        if sep is not None:
            parts = [p.strip() for p in parts if p.strip()]
        if not parts:
            continue
        if len(parts) != expected:
            raise HandposeError(f"expected {what}, got {len(parts)} fields", path, lineno)
        if name_column:
            _check_name(parts[0], path, lineno)
            names.append(parts[0])
            fields.extend(parts[1:])
        else:
            names.append("")
            fields.extend(parts)
        line_numbers.append(lineno)
        if len(fields) >= _BLOCK_VALUES:
            flush()
    flush()
    if not names:
        raise HandposeError(f"label file has no lines (expected {what} per line)", path)
    values = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    if not allow_nonfinite:
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            raise HandposeError("non-finite value (NaN or inf) in the labels", path, line_numbers[row])
        huge = np.abs(values) > MAX_LABEL_VALUE
        if huge.any():
            row = int(np.flatnonzero(huge.any(axis=1))[0])
            raise HandposeError(
                f"value beyond +-{MAX_LABEL_VALUE:g} in the labels (not a joint position)", path, line_numbers[row]
            )
    return names, values
