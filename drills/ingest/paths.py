"""Local input paths as people see them: escaped labels and file kinds."""

from __future__ import annotations

import stat


def printable(text: str) -> str:
    """``text`` with control characters (and backslashes) escaped, safe for a terminal or log."""
    if text.isprintable() and "\\" not in text:
        return text
    return text.encode("unicode_escape").decode("ascii")


def file_kind(mode: int) -> str:
    """A person's word for a non-regular file type."""
    for test, word in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return word
    return "not a regular file"


def not_regular(mode: int) -> str:
    return f"{file_kind(mode)}, not a regular file: not opened"
