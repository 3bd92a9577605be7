"""Fetch remote survey exports (Google Sheets CSV links, sapaapip exports) into the archive.

No Prefect here: the flow wraps `fetch` in a task that retries on `TransientFetchError`;
`fetch_with_retries` does the same for callers outside Prefect.

The names below come from `skm_etl.fetch.http`, imported on first use: the pipeline
archives every inbox file through `skm_etl.fetch.archive`, which must not cost it the
HTTP client's import (about 0.1 s) when no source is fetched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skm_etl.fetch.http import (
        DEFAULT_MAX_BYTES,
        FetchResult,
        FetchSpec,
        TransientFetchError,
        fetch,
        fetch_with_retries,
        redact_url,
    )

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FetchResult",
    "FetchSpec",
    "TransientFetchError",
    "fetch",
    "fetch_with_retries",
    "redact_url",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from skm_etl.fetch import http

        return getattr(http, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
