"""Atomic file writes: the one helper every writer of the package uses (results, boards, reports, cache).

A file is written to a temporary file in the target's directory, flushed and fsynced, given the permissions
a plain ``open(path, "w")`` would (``0o666`` minus the umask; ``mkstemp`` alone gives ``0o600``), then moved
over the target with ``os.replace``: a reader sees the old file or the new one, never a torn one, and a
failure leaves the target untouched and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], data: str | bytes, encoding: str = "utf-8") -> Path:
    """Write ``data`` (text, encoded with ``encoding``, or bytes) to ``path`` atomically; return the path.

    Creates the parent directories. Raises what the write raised, after removing the temporary file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode(encoding) if isinstance(data, str) else bytes(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target
