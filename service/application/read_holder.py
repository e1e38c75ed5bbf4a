"""Which worker of one `serve` holds the in-memory copy of the read models.

With several workers, each holding its own copy would multiply its memory by their number. So
one worker at a time holds it: whoever takes the lock on a file of a private directory
(`FUNNEL_READ_HOLDER_DIR`, made by `serve --workers N`). It answers every read, its own and,
over a Unix socket in that directory, the others' (`service.api.read_forwarding`); the others
append events and forward reads. The operating system drops the lock with its holder's process,
and a waiting worker takes it over, loads the copy and serves the socket.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

SOCKET_NAME = "reads.sock"
LOCK_NAME = "holder.lock"
CLAIM_SECONDS = 1.0
"""How often a worker that does not hold the copy tries to take it over."""
HOLDER_POLL_SECONDS = 0.05
"""How often a starting worker looks whether the holder's socket is open yet."""


class ReadHolder:
    """One worker's side of the election: the lock it holds or tries, and the socket."""

    def __init__(self, directory: Path) -> None:
        self.socket = directory / SOCKET_NAME
        self._lock_path = directory / LOCK_NAME
        self._fd: int | None = None

    @property
    def here(self) -> bool:
        """Whether this worker holds the copy."""
        return self._fd is not None

    def claim(self) -> bool:
        """Take the lock if it is free (without waiting); whether this worker holds it now."""
        if self._fd is not None:
            return True
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock up (the process ends, or stops serving)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.socket.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None
