"""Fault injection for the reliability tests: kill the job at a named point.

Set by the environment variable SKM_ETL_FAILPOINT (read in settings.py), e.g.
`mid-load` or `mid-dbt:2.5` (seconds into dbt). Unset in production: every call is a
no-op then.
"""

from __future__ import annotations

import os
import signal
import threading

POINTS = (
    "after-prepare",
    "mid-load",
    "after-load",
    "mid-dbt",
    "after-dbt",
    "mid-publish",
    "after-publish",
)


def hit(active: str | None, name: str) -> None:
    """SIGKILL this process when `name` is the active failpoint."""
    if active is not None and active.split(":", 1)[0] == name:
        os.kill(os.getpid(), signal.SIGKILL)


def arm_timer(active: str | None, name: str) -> threading.Timer | None:
    """For a point inside a long call (dbt): SIGKILL after the configured delay."""
    if active is None or active.split(":", 1)[0] != name:
        return None
    delay = float(active.split(":", 1)[1]) if ":" in active else 2.0
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL))
    timer.daemon = True
    timer.start()
    return timer
