"""Bearer tokens from a Google service-account key, for sheets shared with that account.

google-auth is imported only here and only when a key file is configured, so a
deployment that reads public links or sapaapip exports does not need it installed. The
token request goes through the caller's httpx client (not `requests`), so it honours the
same timeout and proxy settings as the download itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

SCOPES = (
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/spreadsheets.readonly",
)


class ServiceAccountError(Exception):
    """A bearer token could not be obtained; `transient` says whether a retry may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class _TokenEndpointUnreachable(Exception):
    pass


class _Response:
    """The response shape google-auth reads: status, headers and data."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.headers = dict(response.headers)
        self.data = response.content


class _HttpxTransport:
    """Adapt an httpx client to the request callable google-auth refreshes tokens with."""

    def __init__(self, client: httpx.Client, timeout_s: float) -> None:
        self._client = client
        self._timeout_s = timeout_s

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        try:
            response = self._client.request(
                method, url, content=body, headers=headers, timeout=timeout or self._timeout_s
            )
        except httpx.TransportError as exc:
            raise _TokenEndpointUnreachable(type(exc).__name__) from None
        return _Response(response)


def service_account_token(key_file: Path, *, client: httpx.Client, timeout_s: float) -> str:
    """Return a fresh read-only access token for the service account in `key_file`.

    Raises `ServiceAccountError` with a bilingual message; the key's contents and the
    token never appear in it.
    """
    try:
        from google.oauth2 import service_account
    except ImportError:
        raise ServiceAccountError(
            "paket google-auth belum terpasang; pasang dengan `pip install google-auth` atau "
            "gunakan tautan publik / the google-auth package is not installed; install it "
            "with `pip install google-auth` or use a public link",
            transient=False,
        ) from None

    try:
        credentials = service_account.Credentials.from_service_account_file(
            str(key_file), scopes=list(SCOPES)
        )
    except FileNotFoundError:
        raise ServiceAccountError(
            f"file kunci service account {key_file} tidak ditemukan; periksa "
            f"service_account_file di konfigurasi / service-account key file {key_file} "
            "not found; check service_account_file in the config",
            transient=False,
        ) from None
    except (OSError, ValueError, KeyError) as exc:
        raise ServiceAccountError(
            f"file kunci service account {key_file} tidak dapat dibaca ({type(exc).__name__}); "
            "unduh ulang kunci JSON dari Google Cloud Console / service-account key file "
            f"{key_file} is not a valid JSON key ({type(exc).__name__}); download the JSON "
            "key again from the Google Cloud Console",
            transient=False,
        ) from None

    try:
        credentials.refresh(_HttpxTransport(client, timeout_s))
    except _TokenEndpointUnreachable as exc:
        raise ServiceAccountError(
            f"server token Google tidak dapat dihubungi ({exc}); akan dicoba lagi / the Google "
            f"token server could not be reached ({exc}); it will be retried",
            transient=True,
        ) from None
    except Exception as exc:
        # google-auth raises RefreshError (a GoogleAuthError) and marks server-side
        # hiccups as retryable; anything else (revoked key, wrong clock) needs a person.
        transient = bool(getattr(exc, "retryable", False))
        reason = _reason(exc)
        raise ServiceAccountError(
            f"token service account ditolak oleh Google ({reason}); periksa bahwa kunci masih "
            "aktif dan jam server benar / Google refused the service-account token "
            f"({reason}); check that the key is still active and the server clock is correct",
            transient=transient,
        ) from None

    token = credentials.token
    if not token:
        raise ServiceAccountError(
            "Google tidak mengembalikan token akses / Google returned no access token",
            transient=True,
        )
    return str(token)


def _reason(exc: Exception) -> str:
    """Name the error and, when google-auth gave one, the OAuth error text (never a token)."""
    detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
    if detail and len(detail) <= 200:
        return f"{type(exc).__name__}: {detail}"
    return type(exc).__name__
