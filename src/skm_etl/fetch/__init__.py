"""Fetch remote survey exports (Google Sheets CSV links, sapaapip exports) into the archive.

No Prefect here: the flow wraps `fetch` in a task that retries on `TransientFetchError`;
`fetch_with_retries` does the same for callers outside Prefect.
"""

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
