"""One run at a time per warehouse: an advisory lock file next to the store."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path


class RunLockedError(Exception):
    """Another run holds the warehouse."""


@contextlib.contextmanager
def run_lock(path: Path, *, wait_s: float = 0.0, poll_s: float = 0.5) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the duration of a run.

    The kernel drops the lock when the process dies, so a killed run never leaves a
    stale lock behind. Waits up to `wait_s` seconds for a running job to finish.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    raise RunLockedError(
                        f"run lain sedang berjalan / another run is in progress (pid {holder}, lock {path}); "
                        "try again later or use --wait SECONDS"
                    ) from None
                time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
