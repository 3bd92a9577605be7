"""Download remote survey exports and archive them by content hash before anything parses them.

Two kinds of address are fetched: a Google Sheet's CSV export link (public, or with a
bearer token from a service account) and a sapaapip export address with a token. The
rules that shape this module:

- Every accepted body is written to `archive_dir/<kind>/<sha[:2]>/<sha>.<ext>` with a
  sidecar JSON, so any run can be replayed from the archive alone.
- A body that is plainly not the export (a login page, an empty or cut-off download, an
  "xlsx" that is not a zip) is never archived; the admin gets a bilingual sentence saying
  what to change.
- Errors that a retry may fix raise `TransientFetchError` (the Prefect task retries
  them); the others come back as a `failed` result, because retrying a 403 or a login
  page only delays the message.
- Tokens and query strings never reach a message, a sidecar, the state file or a log line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from skm_etl.fetch import archive
from skm_etl.fetch.service_account import ServiceAccountError, service_account_token

logger = logging.getLogger(__name__)

Expected = Literal["csv", "xlsx", "auto"]
Status = Literal["fetched", "unchanged", "failed"]

MB = 1024 * 1024
DEFAULT_MAX_BYTES = 200 * MB
# the whole download of one export (a few MB): a server trickling bytes must not hold the
# night's run for hours, each read within timeout_s
DEFAULT_DEADLINE_S = 600.0
USER_AGENT = "skm-etl"

_SNIFF_BYTES = 512
# what a transient failure's message promises; `gave_up` rewrites it once retries are spent
RETRIED_ID = "akan dicoba lagi"
RETRIED_EN = "it will be retried"
_MAX_REDIRECTS = 10
_KIND_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_ZIP_MAGIC = b"PK\x03\x04"
_GZIP_MAGIC = b"\x1f\x8b"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the pre-2007 .xls container
_UTF8_BOM = b"\xef\xbb\xbf"
_XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_ACCEPT = {
    "csv": "text/csv, text/plain;q=0.9, */*;q=0.1",
    "xlsx": f"{_XLSX_TYPE}, */*;q=0.1",
    "auto": f"text/csv, {_XLSX_TYPE}, */*;q=0.1",
}
_FORMAT_NAME = {"csv": "CSV", "xlsx": "XLSX", "auto": "CSV/XLSX"}
_SIDECAR_HEADERS = (
    "content-type",
    "content-length",
    "content-encoding",
    "content-disposition",
    "etag",
    "last-modified",
    "date",
)


@dataclass(frozen=True)
class FetchSpec:
    """One remote export to download.

    `kind` names the archive folder (`google_forms`, `sapaapip`). `token` goes in
    `token_header`; for `Authorization` a bare token is sent as `Bearer <token>`. With
    `service_account_file` the bearer token is obtained from Google instead (needs the
    google-auth package). `timeout_s` bounds each network step (connect, each read), not
    the whole download; `deadline_s` bounds the whole download.
    """

    name: str
    url: str
    kind: str
    token: str | None = None
    token_header: str = "Authorization"
    service_account_file: Path | None = None
    timeout_s: float = 30
    deadline_s: float = DEFAULT_DEADLINE_S
    max_bytes: int = DEFAULT_MAX_BYTES
    expected: Expected = "auto"

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("FetchSpec.name must not be empty")
        if not _KIND_PATTERN.match(self.kind):
            raise ValueError(f"FetchSpec.kind {self.kind!r} must be a lowercase folder name")
        if self.expected not in _ACCEPT:
            raise ValueError(f"FetchSpec.expected must be csv, xlsx or auto, not {self.expected!r}")
        if self.timeout_s <= 0 or self.deadline_s <= 0 or self.max_bytes <= 0:
            raise ValueError("FetchSpec.timeout_s, deadline_s and max_bytes must be positive")
        if self.token is not None and self.service_account_file is not None:
            raise ValueError(f"source {self.name!r}: give a token or a service account, not both")
        if self.token is not None and (not self.token.strip() or not self.token.isprintable()):
            # A control character would make httpx echo the header value in its error.
            raise ValueError(f"source {self.name!r}: the token is empty or has control characters")

    def __repr__(self) -> str:
        return (
            f"FetchSpec(name={self.name!r}, url={redact_url(self.url)!r}, kind={self.kind!r}, "
            f"token={'***' if self.token else None}, expected={self.expected!r})"
        )


@dataclass(frozen=True)
class FetchResult:
    """What one fetch produced.

    `path` is the archived body: the new one when `fetched`, the one already archived when
    `unchanged`, None when `failed` (then `message` says, in Indonesian and English, what
    is wrong and what to do).
    """

    status: Status
    path: Path | None = None
    sha256: str | None = None
    bytes: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    message: str | None = None


class TransientFetchError(Exception):
    """A failure that a later attempt may not meet: connection, timeout, 5xx, 429, cut-off body.

    `retry_after_s` carries the server's Retry-After when it sent one.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class _Failed(Exception):
    """Internal: a permanent failure whose message goes into a `failed` result."""


def redact_url(url: str) -> str:
    """Return `url` without credentials, query string or fragment, fit for logs and files."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class _RedactUrlsFilter(logging.Filter):
    """Strip query strings from URLs in httpx's own "HTTP Request: GET <url>" log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        return True


def _install_log_redaction() -> None:
    # httpx logs the full request URL at INFO; a token in the query would land in every
    # log handler of the process. httpcore's loggers carry no URL, only host and port.
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(existing, _RedactUrlsFilter) for existing in httpx_logger.filters):
        httpx_logger.addFilter(_RedactUrlsFilter())


_install_log_redaction()


def fetch(
    spec: FetchSpec,
    *,
    archive_dir: Path,
    state_path: Path,
    client: httpx.Client | None = None,
) -> FetchResult:
    """Download `spec.url` once, archive the body by content hash and report what happened.

    Sends the ETag / Last-Modified remembered in `state_path` so an unchanged export costs
    a 304; a 200 with the same content as last time is also `unchanged` and adds no file.
    Raises `TransientFetchError` for failures worth retrying; returns `failed` for the rest.
    `client` lets a caller share connections or proxies; it is not closed here.
    """
    if client is not None:
        return _fetch(spec, archive_dir=archive_dir, state_path=state_path, client=client)
    with httpx.Client(timeout=spec.timeout_s) as own_client:
        return _fetch(spec, archive_dir=archive_dir, state_path=state_path, client=own_client)


def fetch_with_retries(
    spec: FetchSpec,
    *,
    archive_dir: Path,
    state_path: Path,
    client: httpx.Client | None = None,
    attempts: int = 3,
    backoff_s: float = 2.0,
    max_backoff_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchResult:
    """Call `fetch` up to `attempts` times, waiting `backoff_s`, then twice as long, and so on.

    For use outside Prefect (inside it, the task's own retries do this). A Retry-After
    from the server lengthens the wait, up to `max_backoff_s`. When every attempt failed
    the last `TransientFetchError` is raised, its message saying how many were made.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    if client is None:
        with httpx.Client(timeout=spec.timeout_s) as own_client:
            return fetch_with_retries(
                spec,
                archive_dir=archive_dir,
                state_path=state_path,
                client=own_client,
                attempts=attempts,
                backoff_s=backoff_s,
                max_backoff_s=max_backoff_s,
                sleep=sleep,
            )
    for attempt in range(1, attempts + 1):
        try:
            return fetch(spec, archive_dir=archive_dir, state_path=state_path, client=client)
        except TransientFetchError as exc:
            if attempt == attempts:
                raise TransientFetchError(
                    gave_up(str(exc), attempts), retry_after_s=exc.retry_after_s
                ) from None
            delay = min(max_backoff_s, max(backoff_s * 2 ** (attempt - 1), exc.retry_after_s or 0))
            logger.warning(
                "attempt %d of %d failed, next in %.1f s: %s", attempt, attempts, delay, exc
            )
            sleep(delay)
    raise AssertionError("unreachable")


def _fetch(
    spec: FetchSpec, *, archive_dir: Path, state_path: Path, client: httpx.Client
) -> FetchResult:
    where = redact_url(spec.url)
    try:
        return _fetch_or_raise(
            spec, where=where, archive_dir=archive_dir, state_path=state_path, client=client
        )
    except _Failed as exc:
        message = _scrub(str(exc), spec)
        logger.warning("%s", message)
        return FetchResult(status="failed", message=message)
    except TransientFetchError as exc:
        raise TransientFetchError(_scrub(str(exc), spec), retry_after_s=exc.retry_after_s) from None


def _fetch_or_raise(
    spec: FetchSpec, *, where: str, archive_dir: Path, state_path: Path, client: httpx.Client
) -> FetchResult:
    previous = archive.read_state(state_path).get(spec.name, {})
    previous_path = _previous_archive(previous, archive_dir, where)
    headers = {
        "Accept": _ACCEPT[spec.expected],
        # only encodings whose end `_download` can check
        "Accept-Encoding": "gzip, deflate",
        "User-Agent": USER_AGENT,
    }
    # Only ask for a 304 when the body it refers to is still in the archive to return.
    if previous_path is not None:
        if previous.get("etag"):
            headers["If-None-Match"] = previous["etag"]
        if previous.get("last_modified"):
            headers["If-Modified-Since"] = previous["last_modified"]
    secret_headers = _auth_headers(spec, client)
    headers.update(secret_headers)

    try:
        response = _send(client, spec, headers, secret_headers)
        try:
            return _receive(
                response,
                spec,
                where=where,
                previous=previous,
                previous_path=previous_path,
                archive_dir=archive_dir,
                state_path=state_path,
            )
        finally:
            response.close()
    except httpx.TimeoutException:
        raise TransientFetchError(
            _say(
                spec,
                f"tidak ada jawaban dalam {spec.timeout_s:g} detik; " + RETRIED_ID,
                f"no answer within {spec.timeout_s:g} s; " + RETRIED_EN,
            )
        ) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError):
        raise _Failed(
            _say(
                spec,
                "alamat sumber tidak valid; periksa url di konfigurasi",
                "the source address is not valid; check the url in the config",
            )
        ) from None
    except httpx.TransportError as exc:
        raise TransientFetchError(
            _say(
                spec,
                f"koneksi ke server gagal ({type(exc).__name__}); " + RETRIED_ID,
                f"the connection to the server failed ({type(exc).__name__}); " + RETRIED_EN,
            )
        ) from None
    except httpx.DecodingError:
        raise _Failed(
            _say(
                spec,
                "isi dari server tidak dapat didekode (kompresi rusak); coba unduh manual",
                "the server's body could not be decoded (broken compression); try a manual download",
            )
        ) from None


def _send(
    client: httpx.Client, spec: FetchSpec, headers: dict[str, str], secret_headers: dict[str, str]
) -> httpx.Response:
    """Send the GET, following redirects by hand so a token header never leaves its origin.

    httpx itself drops only `Authorization` on a cross-origin redirect; a sapaapip token
    in a custom header would otherwise be handed to whatever host the redirect names.
    """
    request = client.build_request("GET", spec.url, headers=headers, timeout=spec.timeout_s)
    origin = _origin(request.url)
    for _ in range(_MAX_REDIRECTS + 1):
        response = client.send(request, stream=True, follow_redirects=False)
        next_request = response.next_request
        if next_request is None:
            return response
        response.close()
        if _origin(next_request.url) != origin:
            for name in secret_headers:
                next_request.headers.pop(name, None)
        request = next_request
    raise _Failed(
        _say(
            spec,
            "terlalu banyak pengalihan (redirect); tautan kemungkinan mengarah ke halaman login",
            "too many redirects; the link probably leads to a login page",
        )
    )


def _receive(
    response: httpx.Response,
    spec: FetchSpec,
    *,
    where: str,
    previous: dict[str, Any],
    previous_path: Path | None,
    archive_dir: Path,
    state_path: Path,
) -> FetchResult:
    _check_status(response, spec, previous_path)
    etag = response.headers.get("etag")
    last_modified = response.headers.get("last-modified")

    if response.status_code == 304 and previous_path is not None:
        etag = etag or previous.get("etag")
        last_modified = last_modified or previous.get("last_modified")
        archive.write_state_entry(
            state_path,
            spec.name,
            {**previous, "etag": etag, "last_modified": last_modified, "checked_at": _now()},
        )
        logger.info("%s unchanged (HTTP 304) at %s", spec.name, where)
        return FetchResult(
            status="unchanged",
            path=previous_path,
            sha256=previous.get("sha256"),
            bytes=previous.get("bytes"),
            etag=etag,
            last_modified=last_modified,
        )

    declared = _content_length(response)
    if declared is not None and declared > spec.max_bytes:
        raise _Failed(_too_large(spec))

    temporary = archive.new_temporary_file(archive_dir / spec.kind)
    try:
        sha256, size, head = _download(response, spec, temporary, declared)
        extension = _accepted_extension(spec, response, head, size, temporary)
        fetched_at = _now()
        path = archive.store_body(
            temporary,
            archive_dir=archive_dir,
            kind=spec.kind,
            sha256=sha256,
            extension=extension,
            sidecar={
                "name": spec.name,
                "kind": spec.kind,
                "url": where,
                "final_url": redact_url(str(response.url)),
                "fetched_at": fetched_at,
                "sha256": sha256,
                "bytes": size,
                "extension": extension,
                "http_status": response.status_code,
                "headers": {
                    name: response.headers[name]
                    for name in _SIDECAR_HEADERS
                    if name in response.headers
                },
            },
        )
    finally:
        temporary.unlink(missing_ok=True)

    status: Status = "unchanged" if sha256 == previous.get("sha256") else "fetched"
    archive.write_state_entry(
        state_path,
        spec.name,
        {
            "url": where,
            "etag": etag,
            "last_modified": last_modified,
            "sha256": sha256,
            "bytes": size,
            "archive_path": path.relative_to(archive_dir).as_posix(),
            "fetched_at": previous.get("fetched_at") if status == "unchanged" else fetched_at,
            "checked_at": fetched_at,
        },
    )
    logger.info("%s %s at %s: %d bytes, sha256 %s", spec.name, status, where, size, sha256[:12])
    return FetchResult(
        status=status,
        path=path,
        sha256=sha256,
        bytes=size,
        etag=etag,
        last_modified=last_modified,
    )


def _check_status(response: httpx.Response, spec: FetchSpec, previous_path: Path | None) -> None:
    """Raise for every status other than 200, or 304 answering our own conditional GET."""
    status = response.status_code
    if status == 200 or (status == 304 and previous_path is not None):
        return
    if status == 429 or status >= 500:
        raise TransientFetchError(
            _say(
                spec,
                f"server sibuk atau bermasalah (HTTP {status}); " + RETRIED_ID,
                f"the server is busy or failing (HTTP {status}); " + RETRIED_EN,
            ),
            retry_after_s=_retry_after(response),
        )
    if status in (401, 403):
        raise _Failed(
            _say(
                spec,
                f"akses ditolak (HTTP {status}): token salah atau kedaluwarsa, atau tautan tidak "
                "dibagikan untuk publik; perbarui token, atau bagikan sheet sebagai 'Siapa saja "
                "yang memiliki link' (atau ke email service account)",
                f"access denied (HTTP {status}): the token is wrong or expired, or the link is "
                "not shared publicly; renew the token, or share the sheet as 'Anyone with the "
                "link' (or with the service account's email)",
            )
        )
    if status in (404, 410):
        raise _Failed(
            _say(
                spec,
                f"alamat tidak ditemukan (HTTP {status}); periksa url sumber di konfigurasi",
                f"address not found (HTTP {status}); check the source's url in the config",
            )
        )
    if 400 <= status < 500:
        raise _Failed(
            _say(
                spec,
                f"permintaan ditolak server (HTTP {status}); periksa url dan token di konfigurasi",
                f"the server refused the request (HTTP {status}); check the url and token in "
                "the config",
            )
        )
    raise _Failed(
        _say(
            spec,
            f"server menjawab dengan status yang tidak diharapkan (HTTP {status})",
            f"the server answered with an unexpected status (HTTP {status})",
        )
    )


def _download(
    response: httpx.Response, spec: FetchSpec, temporary: Path, declared: int | None
) -> tuple[str, int, bytes]:
    """Stream the body into `temporary`; return its sha256, size and first bytes.

    A body that may be cut off is refused (TransientFetchError, retried), never archived:
    a response cut inside its last row would be loaded with that row shortened, under
    another key, and the full export would later add the same respondent again. So the
    bytes on the wire must match Content-Length, a gzip or deflate stream must reach its
    end (checked here: httpx does not), and a body that only the closing of the connection
    ends (no length, not chunked) must end at a line break unless it is a workbook. The
    whole download must also finish within `spec.deadline_s`.
    """
    digest = hashlib.sha256()
    size = 0
    head = b""
    last = b""
    decoder = _StreamDecoder.for_encoding(response.headers.get("content-encoding"))
    started = time.monotonic()
    try:
        with temporary.open("wb") as out:
            chunks = response.iter_raw() if decoder is not None else response.iter_bytes()
            for raw in chunks:
                if time.monotonic() - started > spec.deadline_s:
                    raise _too_slow(spec, response.num_bytes_downloaded)
                chunk = decoder.decode(raw) if decoder is not None else raw
                if not chunk:
                    continue
                size += len(chunk)
                if size > spec.max_bytes:
                    raise _Failed(_too_large(spec))
                if len(head) < _SNIFF_BYTES:
                    head += chunk[: _SNIFF_BYTES - len(head)]
                last = chunk[-1:]
                digest.update(chunk)
                out.write(chunk)
            # no byte at all is an empty body (refused as such below), not a cut stream
            if decoder is not None and response.num_bytes_downloaded and not decoder.complete():
                raise _cut_off(spec, response.num_bytes_downloaded, declared)
            out.flush()
            os.fsync(out.fileno())
    except httpx.RemoteProtocolError:
        # Count what arrived on the wire: the decoder may still hold part of it.
        raise _cut_off(spec, response.num_bytes_downloaded, declared) from None
    except zlib.error as exc:  # reported as httpx's own decoding failures are
        raise httpx.DecodingError(str(exc)) from None
    # h11 already refuses a short body; this also covers transports that do not.
    if declared is not None and response.num_bytes_downloaded != declared:
        raise _cut_off(spec, response.num_bytes_downloaded, declared)
    chunked = "chunked" in response.headers.get("transfer-encoding", "").lower()
    if (
        declared is None
        and not chunked
        and decoder is None
        and size
        and last not in (b"\n", b"\r")
        and not head.startswith((_ZIP_MAGIC, _OLE_MAGIC))  # a cut workbook cannot be opened
    ):
        raise _cut_off(spec, response.num_bytes_downloaded, None, unframed=True)
    return digest.hexdigest(), size, head


class _StreamDecoder:
    """Decode a gzip or deflate body and tell whether its stream reached its end.

    gzip allows several members one after the other; bytes after the last member that do
    not start another one (padding, a stray line break) are ignored, as gzip itself does.
    """

    def __init__(self, wbits: int, *, deflate: bool) -> None:
        self._wbits = wbits
        self._deflate = deflate  # "deflate" may be zlib-wrapped or raw: tried in that order
        self._started = False
        self._trailing = False  # past the last member: what comes is ignored
        self._pending = b""  # a next member's first byte, its second still to come
        self._decompress = zlib.decompressobj(wbits)

    @classmethod
    def for_encoding(cls, encoding: str | None) -> _StreamDecoder | None:
        """A decoder for gzip or deflate; None for no encoding (or one httpx decodes)."""
        value = (encoding or "").strip().lower()
        if value in ("gzip", "x-gzip"):
            return cls(zlib.MAX_WBITS | 16, deflate=False)
        if value == "deflate":
            return cls(zlib.MAX_WBITS, deflate=True)
        return None

    def decode(self, data: bytes) -> bytes:
        if self._trailing or not data:
            return b""
        if self._deflate and not self._started:
            data, self._pending = self._pending + data, b""
            if len(data) < 2:  # the zlib header is two bytes
                self._pending = data
                return b""
            self._started = True
            cmf, flg = data[0], data[1]
            if cmf & 0x0F == 8 and (cmf * 256 + flg) % 31 == 0:  # a zlib header
                try:
                    return self._decompress.decompress(data)
                except zlib.error:
                    pass
            self._decompress = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
            return self._decompress.decompress(data)
        if self._pending or self._decompress.eof:  # a member ended at a chunk's end
            data, self._pending = self._pending + data, b""
            return self._next_member(data)
        out = self._decompress.decompress(data)
        if self._decompress.eof and self._decompress.unused_data:
            out += self._next_member(self._decompress.unused_data)
        return out

    def _next_member(self, data: bytes) -> bytes:
        """Start the gzip member `data` begins, or ignore it when it is not one."""
        if self._deflate:
            self._trailing = True
            return b""
        if len(data) < len(_GZIP_MAGIC):
            self._pending = data
            return b""
        if not data.startswith(_GZIP_MAGIC):
            self._trailing = True
            return b""
        self._decompress = zlib.decompressobj(self._wbits)
        out = self._decompress.decompress(data)
        if self._decompress.eof and self._decompress.unused_data:
            out += self._next_member(self._decompress.unused_data)
        return out

    def complete(self) -> bool:
        return self._trailing or self._decompress.eof


def _accepted_extension(
    spec: FetchSpec, response: httpx.Response, head: bytes, size: int, body: Path
) -> str:
    """Return `csv` or `xlsx` for a body that looks like the export, or raise `_Failed`."""
    if size == 0:
        raise _Failed(
            _say(
                spec,
                "server mengirim isi kosong; periksa bahwa sheet atau ekspor berisi data",
                "the server sent an empty body; check that the sheet or export has data",
            )
        )
    start = head.removeprefix(_UTF8_BOM).lstrip()
    content_type = response.headers.get("content-type", "").lower()
    looks_like_html = start[:9].lower() == b"<!doctype" or start[:5].lower() == b"<html"
    # Some servers label CSV as text/html, so the label alone condemns only markup.
    labelled_html = "html" in content_type and start.startswith(b"<")
    if looks_like_html or labelled_html:
        wanted = _FORMAT_NAME[spec.expected]
        raise _Failed(
            _say(
                spec,
                f"server mengirim halaman HTML (kemungkinan halaman login), bukan file {wanted}: "
                "tautan tidak dibagikan untuk publik atau token sudah kedaluwarsa; bagikan sheet "
                "sebagai 'Siapa saja yang memiliki link' (atau ke email service account) atau "
                "perbarui token",
                f"the server sent an HTML page (probably a login page) instead of a {wanted} "
                "file: the link is not shared publicly or the token has expired; share the "
                "sheet as 'Anyone with the link' (or with the service account's email) or "
                "renew the token",
            )
        )
    if head.startswith(_OLE_MAGIC):
        raise _Failed(
            _say(
                spec,
                "file berformat .xls lama; simpan ulang atau ekspor sebagai .xlsx",
                "the file is in the old .xls format; save or export it again as .xlsx",
            )
        )
    is_zip = head.startswith(_ZIP_MAGIC)
    if spec.expected == "xlsx" or (spec.expected == "auto" and is_zip):
        if not (is_zip and _is_xlsx(body)):
            raise _Failed(
                _say(
                    spec,
                    "isi bukan file .xlsx yang valid (bukan arsip zip, atau tidak lengkap); "
                    "ekspor ulang sebagai .xlsx",
                    "the body is not a valid .xlsx file (not a zip archive, or incomplete); "
                    "export it again as .xlsx",
                )
            )
        return "xlsx"
    if is_zip:
        raise _Failed(
            _say(
                spec,
                "server mengirim file Excel/zip padahal CSV yang diharapkan; periksa format=csv "
                "pada tautan, atau set expected: xlsx",
                "the server sent an Excel/zip file where CSV was expected; check format=csv in "
                "the link, or set expected: xlsx",
            )
        )
    return "csv"


def _is_xlsx(path: Path) -> bool:
    """Tell whether `path` is a complete zip holding a workbook (the directory sits at the end)."""
    try:
        with zipfile.ZipFile(path) as workbook:
            names = set(workbook.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return "[Content_Types].xml" in names and "xl/workbook.xml" in names


def _auth_headers(spec: FetchSpec, client: httpx.Client) -> dict[str, str]:
    if spec.service_account_file is not None:
        try:
            token = service_account_token(
                spec.service_account_file, client=client, timeout_s=spec.timeout_s
            )
        except ServiceAccountError as exc:
            if exc.transient:
                raise TransientFetchError(_say(spec, str(exc))) from None
            raise _Failed(_say(spec, str(exc))) from None
        return {"Authorization": f"Bearer {token}"}
    if spec.token is None:
        return {}
    value = spec.token.strip()
    if spec.token_header.lower() == "authorization" and " " not in value:
        value = f"Bearer {value}"
    return {spec.token_header: value}


def _previous_archive(previous: dict[str, Any], archive_dir: Path, where: str) -> Path | None:
    relative = previous.get("archive_path")
    if not relative or previous.get("url") != where:
        return None
    path = archive_dir / relative
    return path if path.is_file() else None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _content_length(response: httpx.Response) -> int | None:
    try:
        return int(response.headers["content-length"])
    except (KeyError, ValueError):
        return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def gave_up(message: str, attempts: int) -> str:
    """A transient failure's message once every attempt of this run failed."""
    return message.replace(
        RETRIED_ID, f"sudah dicoba {attempts} kali, dicoba lagi pada run berikutnya"
    ).replace(RETRIED_EN, f"tried {attempts} times, the next run tries again")


def _too_large(spec: FetchSpec) -> str:
    limit = spec.max_bytes / MB
    return _say(
        spec,
        f"isi lebih besar dari batas {limit:g} MB; pastikan url menunjuk ke file ekspor itu "
        "sendiri (ekspor SKM biasanya beberapa MB)",
        f"the body is larger than the {limit:g} MB limit; check that the url points at the "
        "export itself (an SKM export is usually a few MB)",
    )


def _cut_off(
    spec: FetchSpec, received: int, declared: int | None, *, unframed: bool = False
) -> TransientFetchError:
    of_id = f" dari {declared}" if declared is not None else ""
    of_en = f" of {declared}" if declared is not None else ""
    why_id = why_en = ""
    if unframed:
        why_id = (
            " (server tidak menyebut panjangnya dan isinya tidak berakhir di akhir baris; bila "
            "ekspor memang tanpa baris baru di akhir, server harus mengirim Content-Length, "
            "atau taruh file di inbox)"
        )
        why_en = (
            " (the server gave no length and the body does not end at a line end; if the "
            "export really ends without a line break, its server must send Content-Length, "
            "or drop the file in the inbox instead)"
        )
    return TransientFetchError(
        _say(
            spec,
            f"unduhan terputus: diterima {received}{of_id} byte{why_id}; " + RETRIED_ID,
            f"the download was cut off: received {received}{of_en} bytes{why_en}; " + RETRIED_EN,
        )
    )


def _too_slow(spec: FetchSpec, received: int) -> TransientFetchError:
    return TransientFetchError(
        _say(
            spec,
            f"unduhan tidak selesai dalam {spec.deadline_s:g} detik (diterima {received} byte; "
            "server terlalu lambat); " + RETRIED_ID,
            f"the download did not finish within {spec.deadline_s:g} s (received {received} "
            "bytes; the server is too slow); " + RETRIED_EN,
        )
    )


def _say(spec: FetchSpec, indonesian: str, english: str | None = None) -> str:
    """Build the admin-facing sentence: who, what is wrong and what to do, in both languages."""
    text = indonesian if english is None else f"{indonesian} / {english}"
    return f"sumber/source '{spec.name}' ({redact_url(spec.url)}): {text}"


def _scrub(text: str, spec: FetchSpec) -> str:
    """Remove the token and any query string from `text` (a last guard for odd messages)."""
    text = _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
    if spec.token:
        text = text.replace(spec.token.strip(), "***")
    query = urlsplit(spec.url).query
    if len(query) >= 8:
        text = text.replace(query, "***")
    return text


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
