"""The one exception type for problems a user can fix (bad file, bad argument).

The command line turns a :class:`HandposeError` into a single line on stderr and exit status 2.
Anything else escaping a command is a bug and shows a traceback.
"""

from __future__ import annotations

from os import PathLike


class HandposeError(Exception):
    """A user-facing problem, described in one line.

    Args:
        message: What is wrong, phrased for the user.
        path: The file the problem is in, if any; it is put in front of the message.
        line: 1-based line number inside ``path``, if known.
    """

    def __init__(self, message: str, path: str | PathLike | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = message
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(f"{where}{message}".replace("\n", " "))
