"""The one exception type whose message is meant for the person at the terminal."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class PipelineError(Exception):
    """A failure with a plain-language explanation; the CLI prints it without a traceback."""


@contextmanager
def plain_os_errors(folder: Path) -> Iterator[None]:
    """Turn a full disk or a read-only folder met while writing into a PipelineError."""
    try:
        yield
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise PipelineError(
                f"the disk holding {folder} is full ({err.filename or 'while writing'}). Free "
                "some space and run the same command again: finished work is kept and resumed."
            ) from None
        if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise PipelineError(
                f"cannot write {err.filename or folder}: {err.strerror}. "
                "Choose a writable artifacts folder with --out."
            ) from None
        raise
