"""Why a configured Prefect API cannot be used, told as what to do about it."""

from __future__ import annotations

import httpx


def why_not(error: Exception, *, serving: bool = False) -> str:
    """Why the configured Prefect API cannot be used, and what to do about it.

    `error`: what the client's health check returned. A one-off run may also go on
    without the API; `serve` (`serving`) cannot.
    """
    status = error.response.status_code if isinstance(error, httpx.HTTPStatusError) else None
    if status in (401, 403):
        # the server is up but protected: PREFECT_SERVER_API_AUTH_STRING on a self-hosted
        # server, an API key on Prefect Cloud
        return (
            f"menolak kredensial / refuses this client (HTTP {status}): set "
            "PREFECT_API_AUTH_STRING to the server's PREFECT_SERVER_API_AUTH_STRING, or "
            "PREFECT_API_KEY for Prefect Cloud"
        )
    if status is not None:
        return (
            f"menjawab dengan galat / answers with an error (HTTP {status}): see the "
            "Prefect server's log"
        )
    unset = "" if serving else ", or unset PREFECT_API_URL"
    return (
        f"tidak menjawab / does not answer ({type(error).__name__}): is `prefect server "
        f"start` running?{unset}"
    )
