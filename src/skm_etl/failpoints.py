"""Fault injection for the reliability tests: kill the job at a named point.

Set by the environment variable SKM_ETL_FAILPOINT (read in settings.py), e.g.
`mid-load` or `mid-dbt:5` (killed once dbt has finished 5 nodes). Unset in production:
every call is a no-op then.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

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


def dbt_event_hook(active: str | None, name: str) -> Callable[[Any], None] | None:
    """For a point inside dbt: a dbt event callback that SIGKILLs after N finished nodes.

    Counting dbt's own NodeFinished events (rather than seconds) puts the kill inside the
    build however slow dbt's start is on a loaded machine.
    """
    if active is None or active.split(":", 1)[0] != name:
        return None
    after = int(active.split(":", 1)[1]) if ":" in active else 5
    finished = [0]

    def on_event(event: Any) -> None:
        if event.info.name == "NodeFinished":
            finished[0] += 1
            if finished[0] >= after:
                os.kill(os.getpid(), signal.SIGKILL)

    return on_event
