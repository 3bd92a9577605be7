"""Fetching remote exports, against a real HTTP server on 127.0.0.1 started per test."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
import socket
import sys
import threading
import time
import types
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from skm_etl.fetch import (
    FetchResult,
    FetchSpec,
    TransientFetchError,
    fetch,
    fetch_with_retries,
    redact_url,
)
from skm_etl.fetch.http import _StreamDecoder
from skm_etl.fetch.service_account import SCOPES

FIXTURES = Path(__file__).parent / "fixtures"
GOOGLE_FORMS_CSV = (FIXTURES / "google_forms_example.csv").read_bytes()
SAPAAPIP_CSV = (FIXTURES / "sapaapip_tabulasi_example.csv").read_bytes()
SAPAAPIP_XLSX = (FIXTURES / "sapaapip_tabulasi_example.xlsx").read_bytes()
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Login</body></html>"
TIMEOUT_S = 0.5


# --- the local server -------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer; `content_length=None` declares the true length, -1 declares none."""

    status: int = 200
    body: bytes = b""
    content_type: str = CSV_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    content_length: int | None = None
    delay_s: float = 0.0
    trickle_s: float = 0.0  # a pause before each byte of the body
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class LocalServer:
    """A threaded HTTP server whose answers each test scripts per path."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        handler = _make_handler(self)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def serve(self, path: str, *replies: Reply) -> None:
        """Answer `path` with `replies` in turn, repeating the last one."""
        with self._lock:
            self.routes[path] = list(replies)

    def next_reply(self, path: str) -> Reply:
        with self._lock:
            replies = self.routes.get(path)
            if not replies:
                return Reply(status=404, body=b"not found", content_type="text/plain")
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path.split("?")[0] == path]


def _make_handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.seen.append(Seen(self.path, dict(self.headers.items())))
            reply = server.next_reply(self.path.split("?")[0])
            if reply.delay_s:
                server.stopping.wait(reply.delay_s)
            if self._not_modified(reply):
                self.send_response(304)
                if reply.etag:
                    self.send_header("ETag", reply.etag)
                self.end_headers()
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            if reply.etag:
                self.send_header("ETag", reply.etag)
            if reply.last_modified:
                self.send_header("Last-Modified", reply.last_modified)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.content_length != -1:
                declared = reply.content_length
                self.send_header(
                    "Content-Length", str(len(reply.body) if declared is None else declared)
                )
            self.end_headers()
            # HTTP/1.0: the connection closes after this, so a short body arrives cut off.
            if not reply.trickle_s:
                self.wfile.write(reply.body)
                return
            for byte in reply.body:
                if server.stopping.wait(reply.trickle_s):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.do_GET()

        def _not_modified(self, reply: Reply) -> bool:
            if reply.etag and self.headers.get("If-None-Match") == reply.etag:
                return True
            since = self.headers.get("If-Modified-Since")
            return bool(reply.last_modified) and since == reply.last_modified

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[LocalServer]:
    local = LocalServer()
    local.start()
    yield local
    local.stop()


# --- helpers --------------------------------------------------------------------------


def make_spec(server: LocalServer, path: str, **overrides: object) -> FetchSpec:
    values: dict[str, object] = {
        "name": "loka_contoh_2025",
        "url": server.url(path),
        "kind": "google_forms",
        "timeout_s": TIMEOUT_S,
    }
    values.update(overrides)
    return FetchSpec(**values)  # type: ignore[arg-type]


def archive_dir(tmp_path: Path) -> Path:
    return tmp_path / "archive"


def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "fetch_state.json"


def run(spec: FetchSpec, tmp_path: Path, **kwargs: object) -> FetchResult:
    return fetch(spec, archive_dir=archive_dir(tmp_path), state_path=state_path(tmp_path), **kwargs)  # type: ignore[arg-type]


def run_with_retries(
    spec: FetchSpec, tmp_path: Path, delays: list[float], **kwargs: object
) -> FetchResult:
    return fetch_with_retries(
        spec,
        archive_dir=archive_dir(tmp_path),
        state_path=state_path(tmp_path),
        sleep=delays.append,
        **kwargs,  # type: ignore[arg-type]
    )


def archived_files(tmp_path: Path) -> list[Path]:
    """Every file under the archive: bodies, sidecars and any leftover temporary file."""
    return sorted(path for path in archive_dir(tmp_path).rglob("*") if path.is_file())


def archived_bodies(tmp_path: Path) -> list[Path]:
    return [path for path in archived_files(tmp_path) if path.suffix in (".csv", ".xlsx")]


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- a good fetch -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "content_type", "expected", "extension"),
    [
        ("google_forms", GOOGLE_FORMS_CSV, CSV_TYPE, "csv", "csv"),
        ("sapaapip", SAPAAPIP_CSV, CSV_TYPE, "auto", "csv"),
        ("sapaapip", SAPAAPIP_XLSX, XLSX_TYPE, "xlsx", "xlsx"),
        ("sapaapip", SAPAAPIP_XLSX, "application/octet-stream", "auto", "xlsx"),
    ],
    ids=["google-forms-csv", "sapaapip-csv-auto", "sapaapip-xlsx", "xlsx-recognised-by-auto"],
)
def test_a_first_fetch_archives_the_body_by_content_hash_with_a_sidecar(
    server: LocalServer,
    tmp_path: Path,
    kind: str,
    body: bytes,
    content_type: str,
    expected: str,
    extension: str,
) -> None:
    server.serve("/export", Reply(body=body, content_type=content_type, etag='"v1"'))
    spec = make_spec(server, "/export?format=csv&gid=0", kind=kind, expected=expected)

    result = run(spec, tmp_path)

    digest = sha256_of(body)
    assert result.status == "fetched"
    assert result.path == archive_dir(tmp_path) / kind / digest[:2] / f"{digest}.{extension}"
    assert result.path.read_bytes() == body
    assert (result.sha256, result.bytes, result.etag) == (digest, len(body), '"v1"')
    assert result.message is None
    sidecar = json.loads(result.path.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["name"] == "loka_contoh_2025"
    assert sidecar["url"] == server.url("/export")
    assert sidecar["sha256"] == digest
    assert sidecar["fetched_at"].endswith("Z")
    assert sidecar["headers"]["content-type"] == content_type
    assert sidecar["headers"]["etag"] == '"v1"'
    assert archived_files(tmp_path) == sorted([result.path, result.path.with_suffix(".json")])


def test_a_caller_supplied_client_is_used_and_left_open(
    server: LocalServer, tmp_path: Path
) -> None:
    server.serve("/export", Reply(body=GOOGLE_FORMS_CSV))
    with httpx.Client(headers={"X-Caller": "flow"}) as client:
        result = run(make_spec(server, "/export"), tmp_path, client=client)
        assert not client.is_closed
    assert result.status == "fetched"
    assert server.requests_to("/export")[0].headers["X-Caller"] == "flow"


# --- unchanged and changed content ------------------------------------------------------


def test_a_second_fetch_sends_the_stored_etag_and_a_304_means_unchanged(
    server: LocalServer, tmp_path: Path
) -> None:
    server.serve("/export", Reply(body=GOOGLE_FORMS_CSV, etag='"rev-7"'))
    spec = make_spec(server, "/export")
    first = run(spec, tmp_path)

    second = run(spec, tmp_path)

    assert server.requests_to("/export")[1].headers["If-None-Match"] == '"rev-7"'
    assert second.status == "unchanged"
    assert (second.path, second.sha256, second.bytes) == (first.path, first.sha256, first.bytes)
    assert len(archived_bodies(tmp_path)) == 1


def test_a_stored_last_modified_is_sent_back_and_a_304_means_unchanged(
    server: LocalServer, tmp_path: Path
) -> None:
    stamp = "Wed, 02 Apr 2025 07:50:00 GMT"
    server.serve("/export", Reply(body=SAPAAPIP_CSV, last_modified=stamp))
    spec = make_spec(server, "/export", kind="sapaapip")
    run(spec, tmp_path)

    second = run(spec, tmp_path)

    assert server.requests_to("/export")[1].headers["If-Modified-Since"] == stamp
    assert second.status == "unchanged"
    assert second.last_modified == stamp


def test_the_same_content_from_a_server_without_etag_is_unchanged_by_its_hash(
    server: LocalServer, tmp_path: Path
) -> None:
    server.serve("/export", Reply(body=GOOGLE_FORMS_CSV))
    spec = make_spec(server, "/export")
    first = run(spec, tmp_path)

    second = run(spec, tmp_path)

    assert "If-None-Match" not in server.requests_to("/export")[1].headers
    assert second.status == "unchanged"
    assert second.path == first.path
    assert len(archived_bodies(tmp_path)) == 1


def test_changed_content_is_archived_as_a_new_file_beside_the_old_one(
    server: LocalServer, tmp_path: Path
) -> None:
    changed = GOOGLE_FORMS_CSV + b"07/04/2025 08:00:00,Responden 99,40,Perempuan\n"
    server.serve(
        "/export",
        Reply(body=GOOGLE_FORMS_CSV, etag='"a"'),
        Reply(body=changed, etag='"b"'),
    )
    spec = make_spec(server, "/export")
    first = run(spec, tmp_path)

    second = run(spec, tmp_path)

    assert second.status == "fetched"
    assert second.path != first.path
    assert second.path.read_bytes() == changed
    assert first.path.read_bytes() == GOOGLE_FORMS_CSV
    assert second.etag == '"b"'
    assert len(archived_bodies(tmp_path)) == 2


def test_content_that_comes_back_after_a_change_is_fetched_but_stored_once(
    server: LocalServer, tmp_path: Path
) -> None:
    changed = SAPAAPIP_CSV.replace(b"2025", b"2026")
    server.serve("/export", Reply(body=SAPAAPIP_CSV), Reply(body=changed), Reply(body=SAPAAPIP_CSV))
    spec = make_spec(server, "/export", kind="sapaapip")

    statuses = [run(spec, tmp_path).status for _ in range(3)]

    assert statuses == ["fetched", "fetched", "fetched"]
    assert len(archived_bodies(tmp_path)) == 2


def test_a_missing_archive_file_is_downloaded_again_instead_of_trusting_a_304(
    server: LocalServer, tmp_path: Path
) -> None:
    server.serve("/export", Reply(body=GOOGLE_FORMS_CSV, etag='"v1"'))
    spec = make_spec(server, "/export")
    first = run(spec, tmp_path)
    first.path.unlink()

    second = run(spec, tmp_path)

    assert "If-None-Match" not in server.requests_to("/export")[1].headers
    assert second.status == "unchanged"
    assert second.path.read_bytes() == GOOGLE_FORMS_CSV


def test_the_state_file_keeps_one_entry_per_source_name(
    server: LocalServer, tmp_path: Path
) -> None:
    server.serve("/forms", Reply(body=GOOGLE_FORMS_CSV, etag='"f"'))
    server.serve("/sapaapip", Reply(body=SAPAAPIP_XLSX, content_type=XLSX_TYPE, etag='"s"'))
    run(make_spec(server, "/forms", name="forms_2025"), tmp_path)
    run(make_spec(server, "/sapaapip", name="sapaapip_2024", kind="sapaapip"), tmp_path)

    state = json.loads(state_path(tmp_path).read_text(encoding="utf-8"))

    assert sorted(state) == ["forms_2025", "sapaapip_2024"]
    assert state["forms_2025"]["etag"] == '"f"'
    assert state["sapaapip_2024"]["archive_path"].endswith(".xlsx")
    assert not [
        path for path in state_path(tmp_path).parent.iterdir() if path.name.endswith(".tmp")
    ]


# --- transient failures -----------------------------------------------------------------


def test_a_500_then_a_200_is_fetched_after_one_retry(server: LocalServer, tmp_path: Path) -> None:
    server.serve(
        "/export",
        Reply(status=500, body=b"oops", content_type="text/plain"),
        Reply(body=SAPAAPIP_CSV),
    )
    delays: list[float] = []

    result = run_with_retries(make_spec(server, "/export"), tmp_path, delays, backoff_s=0.01)

    assert result.status == "fetched"
    assert len(server.requests_to("/export")) == 2
    assert delays == [0.01]


def test_a_persistent_500_raises_a_transient_error_after_every_attempt(
    server: LocalServer, tmp_path: Path
) -> None:
    server.serve("/export", Reply(status=503, body=b"down", content_type="text/plain"))
    delays: list[float] = []

    with pytest.raises(TransientFetchError) as caught:
        run_with_retries(make_spec(server, "/export"), tmp_path, delays, attempts=3, backoff_s=0.01)

    assert len(server.requests_to("/export")) == 3
    assert delays == [0.01, 0.02]
    assert "HTTP 503" in str(caught.value)
    assert "sudah dicoba 3 kali" in str(caught.value)
    assert "tried 3 times, the next run tries again" in str(caught.value)
    assert "it will be retried" not in str(caught.value)
    assert archived_files(tmp_path) == []


def test_a_429_waits_as_long_as_retry_after_asks(server: LocalServer, tmp_path: Path) -> None:
    server.serve(
        "/export",
        Reply(status=429, content_type="text/plain", headers={"Retry-After": "2"}),
        Reply(body=GOOGLE_FORMS_CSV),
    )
    delays: list[float] = []

    result = run_with_retries(
        make_spec(server, "/export"), tmp_path, delays, backoff_s=0.01, max_backoff_s=5
    )

    assert result.status == "fetched"
    assert delays == [2.0]


def test_a_server_slower_than_the_timeout_raises_a_transient_error(
    server: LocalServer, tmp_path: Path
) -> None:
    server.serve("/export", Reply(body=GOOGLE_FORMS_CSV, delay_s=5))

    with pytest.raises(TransientFetchError, match="no answer within 0.3 s"):
        run(make_spec(server, "/export", timeout_s=0.3), tmp_path)

    assert archived_files(tmp_path) == []


def test_a_refused_connection_raises_a_transient_error(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = FetchSpec(
        name="down", url=f"http://127.0.0.1:{port}/export", kind="sapaapip", timeout_s=TIMEOUT_S
    )

    with pytest.raises(TransientFetchError, match="connection to the server failed"):
        run(spec, tmp_path)


def test_a_body_shorter_than_its_content_length_is_not_archived_and_is_retried(
    server: LocalServer, tmp_path: Path
) -> None:
    server.serve("/export", Reply(body=GOOGLE_FORMS_CSV[:100], content_length=1000))

    with pytest.raises(TransientFetchError) as caught:
        run(make_spec(server, "/export"), tmp_path)

    assert "unduhan terputus" in str(caught.value)
    assert "received 100 of 1000 bytes" in str(caught.value)
    assert archived_files(tmp_path) == []
    assert not state_path(tmp_path).exists()


def test_a_gzip_body_is_decoded_and_a_cut_gzip_stream_is_not_archived(
    server: LocalServer, tmp_path: Path
) -> None:
    packed = gzip.compress(GOOGLE_FORMS_CSV)
    # the server declares the length of what it sends: only the stream's end shows the cut
    server.serve(
        "/export",
        Reply(body=packed[:-10], headers={"Content-Encoding": "gzip"}),
        Reply(body=packed, headers={"Content-Encoding": "gzip"}),
    )

    with pytest.raises(TransientFetchError) as caught:
        run(make_spec(server, "/export"), tmp_path)
    assert "unduhan terputus" in str(caught.value)
    assert archived_files(tmp_path) == []

    result = run(make_spec(server, "/export"), tmp_path)
    assert result.status == "fetched"
    assert result.path.read_bytes() == GOOGLE_FORMS_CSV
    assert server.requests_to("/export")[0].headers["Accept-Encoding"] == "gzip, deflate"


def _deflated(body: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(wbits=wbits)
    return packer.compress(body) + packer.flush()


_HALF = len(GOOGLE_FORMS_CSV) // 2
ENCODED = {
    "gzip": ("gzip", gzip.compress(GOOGLE_FORMS_CSV)),
    "gzip-two-members": (
        "gzip",
        gzip.compress(GOOGLE_FORMS_CSV[:_HALF]) + gzip.compress(GOOGLE_FORMS_CSV[_HALF:]),
    ),
    "gzip-then-a-line-break": ("gzip", gzip.compress(GOOGLE_FORMS_CSV) + b"\n"),
    "gzip-then-zero-padding": ("gzip", gzip.compress(GOOGLE_FORMS_CSV) + b"\0" * 64),
    "deflate-zlib": ("deflate", _deflated(GOOGLE_FORMS_CSV, zlib.MAX_WBITS)),
    "deflate-raw": ("deflate", _deflated(GOOGLE_FORMS_CSV, -zlib.MAX_WBITS)),
}


@pytest.mark.parametrize("case", list(ENCODED))
def test_an_encoded_body_is_archived_decoded_whatever_its_chunks(
    server: LocalServer, tmp_path: Path, case: str
) -> None:
    encoding, packed = ENCODED[case]
    server.serve("/export", Reply(body=packed, headers={"Content-Encoding": encoding}))
    result = run(make_spec(server, "/export"), tmp_path)
    assert result.status == "fetched" and result.path.read_bytes() == GOOGLE_FORMS_CSV
    # the stream's end is found however the bytes arrive
    for size in (1, 2, 5, 64):
        decoder = _StreamDecoder.for_encoding(encoding)
        pieces = [packed[i : i + size] for i in range(0, len(packed), size)]
        assert b"".join(decoder.decode(piece) for piece in pieces) == GOOGLE_FORMS_CSV
        assert decoder.complete()
        cut = _StreamDecoder.for_encoding(encoding)
        for piece in pieces[: len(pieces) // 2]:
            cut.decode(piece)
        assert not cut.complete()


def test_an_empty_gzip_body_is_an_empty_body_not_a_cut_one(
    server: LocalServer, tmp_path: Path
) -> None:
    server.serve("/export", Reply(body=b"", headers={"Content-Encoding": "gzip"}))
    result = run(make_spec(server, "/export"), tmp_path)
    assert result.status == "failed" and "empty body" in result.message


@pytest.mark.parametrize("cut", [10, 0], ids=["cut-inside-the-last-row", "whole"])
def test_a_body_without_length_must_end_at_a_line_end(
    server: LocalServer, tmp_path: Path, cut: int
) -> None:
    # no Content-Length, not chunked: only the closing connection ends the body, so a cut
    # inside the last row (a shortened saran, a new key) would pass for the whole export
    body = GOOGLE_FORMS_CSV[: len(GOOGLE_FORMS_CSV) - cut]
    server.serve("/export", Reply(body=body, content_length=-1))

    if cut:
        with pytest.raises(TransientFetchError) as caught:
            run(make_spec(server, "/export"), tmp_path)
        assert "the body does not end at a line end" in str(caught.value)
        assert archived_files(tmp_path) == []
    else:
        assert run(make_spec(server, "/export"), tmp_path).status == "fetched"


def test_a_server_trickling_its_body_is_given_up_at_the_deadline(
    server: LocalServer, tmp_path: Path
) -> None:
    # each byte comes well within the read timeout; the whole body would take 25 s
    server.serve("/export", Reply(body=GOOGLE_FORMS_CSV[:500], trickle_s=0.05))

    started = time.monotonic()
    with pytest.raises(TransientFetchError) as caught:
        run(make_spec(server, "/export", deadline_s=1.0), tmp_path)
    assert time.monotonic() - started < 5
    assert "did not finish within 1 s" in str(caught.value)
    assert archived_files(tmp_path) == []


# --- bad bodies and refusals: failed, with a message for the admin ----------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html; charset=utf-8", LOGIN_PAGE),
        (CSV_TYPE, b"\xef\xbb\xbf\n  <html><head><title>Login</title></head></html>"),
        ("text/html", b"<!-- accounts --><form action='/signin'></form>"),
    ],
    ids=["html-labelled-html", "html-labelled-csv", "markup-labelled-html"],
)
def test_an_html_login_page_with_status_200_fails_telling_the_admin_to_share_the_link(
    server: LocalServer, tmp_path: Path, content_type: str, body: bytes
) -> None:
    server.serve("/export", Reply(body=body, content_type=content_type))

    result = run(make_spec(server, "/export", expected="csv"), tmp_path)

    assert result.status == "failed"
    assert result.path is None
    assert "halaman HTML" in result.message
    assert "not shared publicly or the token has expired" in result.message
    assert "Anyone with the link" in result.message
    assert archived_files(tmp_path) == []


@pytest.mark.parametrize("status", [401, 403])
def test_an_access_refusal_fails_at_once_without_retrying(
    server: LocalServer, tmp_path: Path, status: int
) -> None:
    server.serve("/export", Reply(status=status, body=b"denied", content_type="text/plain"))
    delays: list[float] = []

    result = run_with_retries(make_spec(server, "/export"), tmp_path, delays, backoff_s=0.01)

    assert result.status == "failed"
    assert f"akses ditolak (HTTP {status})" in result.message
    assert "renew the token" in result.message
    assert len(server.requests_to("/export")) == 1
    assert delays == []


def test_a_missing_address_fails_asking_to_check_the_url(
    server: LocalServer, tmp_path: Path
) -> None:
    result = run(make_spec(server, "/no-such-export"), tmp_path)

    assert result.status == "failed"
    assert "HTTP 404" in result.message
    assert "check the source's url in the config" in result.message


def test_an_empty_body_fails(server: LocalServer, tmp_path: Path) -> None:
    server.serve("/export", Reply(body=b""))

    result = run(make_spec(server, "/export"), tmp_path)

    assert result.status == "failed"
    assert "isi kosong" in result.message
    assert "empty body" in result.message
    assert archived_files(tmp_path) == []


@pytest.mark.parametrize("content_length", [None, -1], ids=["declared", "undeclared"])
def test_a_body_over_max_bytes_fails_without_being_kept(
    server: LocalServer, tmp_path: Path, content_length: int | None
) -> None:
    server.serve("/export", Reply(body=SAPAAPIP_CSV * 4, content_length=content_length))

    result = run(make_spec(server, "/export", max_bytes=len(SAPAAPIP_CSV)), tmp_path)

    assert result.status == "failed"
    assert "check that the url points at the export itself" in result.message
    assert "max_bytes" not in result.message  # not a config key: nothing to raise
    assert archived_files(tmp_path) == []


@pytest.mark.parametrize(
    "body",
    [SAPAAPIP_CSV, SAPAAPIP_XLSX[: len(SAPAAPIP_XLSX) // 2]],
    ids=["csv-body", "half-an-xlsx"],
)
def test_an_xlsx_that_is_not_a_complete_zip_fails(
    server: LocalServer, tmp_path: Path, body: bytes
) -> None:
    server.serve("/export", Reply(body=body, content_type=XLSX_TYPE))

    result = run(make_spec(server, "/export", kind="sapaapip", expected="xlsx"), tmp_path)

    assert result.status == "failed"
    assert "not a valid .xlsx file" in result.message
    assert archived_files(tmp_path) == []


def test_an_excel_file_where_csv_was_expected_fails(server: LocalServer, tmp_path: Path) -> None:
    server.serve("/export", Reply(body=SAPAAPIP_XLSX, content_type=XLSX_TYPE))

    result = run(make_spec(server, "/export", expected="csv"), tmp_path)

    assert result.status == "failed"
    assert "check format=csv in the link" in result.message


def test_an_old_xls_file_fails_asking_for_xlsx(server: LocalServer, tmp_path: Path) -> None:
    old_xls = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    server.serve("/export", Reply(body=old_xls, content_type="application/vnd.ms-excel"))

    result = run(make_spec(server, "/export", kind="sapaapip"), tmp_path)

    assert result.status == "failed"
    assert "export it again as .xlsx" in result.message


# --- tokens -----------------------------------------------------------------------------

HEADER_TOKEN = "tok-SECRET-7f3a9c51d2"
QUERY_TOKEN = "qs-SECRET-19bd0e44aa"


def test_a_bearer_token_is_sent_and_never_leaks_into_messages_files_or_logs(
    server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.serve("/export", Reply(body=SAPAAPIP_CSV, etag='"v1"'))
    server.serve("/denied", Reply(status=403, content_type="text/plain"))
    server.serve("/login", Reply(body=LOGIN_PAGE, content_type="text/html"))
    server.serve("/down", Reply(status=502, content_type="text/plain"))
    server.serve("/short", Reply(body=SAPAAPIP_CSV[:50], content_length=900))

    def spec(path: str) -> FetchSpec:
        return make_spec(
            server, f"{path}?format=csv&token={QUERY_TOKEN}", kind="sapaapip", token=HEADER_TOKEN
        )

    fetched = run(spec("/export"), tmp_path)
    unchanged = run(spec("/export"), tmp_path)
    messages = [
        run(spec("/denied"), tmp_path).message,
        run(spec("/login"), tmp_path).message,
        repr(spec("/export")),
    ]
    for path in ("/down", "/short"):
        with pytest.raises(TransientFetchError) as caught:
            run_with_retries(spec(path), tmp_path, [], attempts=2, backoff_s=0.01)
        messages.append(str(caught.value))

    assert (fetched.status, unchanged.status) == ("fetched", "unchanged")
    assert server.requests_to("/export")[0].headers["Authorization"] == f"Bearer {HEADER_TOKEN}"
    assert "HTTP Request: GET" in caplog.text  # httpx's own line was captured, redacted
    written = [path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()]
    for secret in (HEADER_TOKEN, QUERY_TOKEN):
        assert all(secret not in message for message in messages)
        assert all(secret.encode() not in data for data in written)
        assert secret not in caplog.text


def test_a_token_in_a_custom_header_is_sent_raw_and_dropped_on_a_redirect_to_another_host(
    server: LocalServer, tmp_path: Path
) -> None:
    server.serve(
        "/moved",
        Reply(
            status=302,
            content_type="text/plain",
            headers={"Location": server.url("/data", "localhost")},
        ),
    )
    server.serve("/data", Reply(body=SAPAAPIP_CSV))
    spec = make_spec(
        server, "/moved", kind="sapaapip", token=HEADER_TOKEN, token_header="X-Api-Key"
    )

    result = run(spec, tmp_path)

    assert result.status == "fetched"
    assert server.requests_to("/moved")[0].headers["X-Api-Key"] == HEADER_TOKEN
    assert "X-Api-Key" not in server.requests_to("/data")[0].headers


def _fake_google_auth(
    monkeypatch: pytest.MonkeyPatch, token_url: str, seen: dict[str, object]
) -> None:
    """Stand in for google.oauth2.service_account: google-auth is not installed offline."""

    class Credentials:
        token: str | None = None

        @classmethod
        def from_service_account_file(cls, filename: str, scopes: list[str]) -> Credentials:
            seen.update(filename=filename, scopes=scopes)
            return cls()

        def refresh(self, request: object) -> None:
            response = request(url=token_url, method="POST", body=b"assertion=jwt", headers={})  # type: ignore[operator]
            self.token = json.loads(response.data)["access_token"]

    service_account = types.ModuleType("google.oauth2.service_account")
    service_account.Credentials = Credentials  # type: ignore[attr-defined]
    oauth2 = types.ModuleType("google.oauth2")
    oauth2.service_account = service_account  # type: ignore[attr-defined]
    google = types.ModuleType("google")
    google.oauth2 = oauth2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.oauth2", oauth2)
    monkeypatch.setitem(sys.modules, "google.oauth2.service_account", service_account)


def test_a_service_account_key_is_exchanged_for_a_read_only_bearer_token(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.serve(
        "/token", Reply(body=b'{"access_token": "sa-token-42"}', content_type="application/json")
    )
    server.serve("/export", Reply(body=GOOGLE_FORMS_CSV))
    seen: dict[str, object] = {}
    _fake_google_auth(monkeypatch, server.url("/token"), seen)
    key_file = tmp_path / "key.json"

    result = run(make_spec(server, "/export", service_account_file=key_file), tmp_path)

    assert result.status == "fetched"
    assert seen == {"filename": str(key_file), "scopes": list(SCOPES)}
    assert server.requests_to("/export")[0].headers["Authorization"] == "Bearer sa-token-42"


def test_a_service_account_without_google_auth_installed_fails_with_an_install_hint(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hide google-auth even when another test has imported it already.
    for name in [n for n in sys.modules if n == "google" or n.startswith("google.")] + ["google"]:
        monkeypatch.setitem(sys.modules, name, None)
    server.serve("/export", Reply(body=GOOGLE_FORMS_CSV))

    result = run(make_spec(server, "/export", service_account_file=tmp_path / "key.json"), tmp_path)

    assert result.status == "failed"
    assert "pip install google-auth" in result.message
    assert server.seen == []


# --- the helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        (
            "https://docs.google.com/spreadsheets/d/abc/export?format=csv&gid=0",
            "https://docs.google.com/spreadsheets/d/abc/export",
        ),
        (
            "https://sapaapip.example/api/export?token=s3cr3t#top",
            "https://sapaapip.example/api/export",
        ),
        ("https://user:pass@host.example:8443/x", "https://host.example:8443/x"),
        ("http://127.0.0.1:8000/plain", "http://127.0.0.1:8000/plain"),
    ],
    ids=["google-export", "query-token-and-fragment", "credentials-in-netloc", "nothing-to-hide"],
)
def test_redact_url_keeps_only_scheme_host_and_path(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@pytest.mark.parametrize(
    "overrides",
    [
        {"token": "t0ken-value", "service_account_file": Path("key.json")},
        {"kind": "../escape"},
        {"expected": "xls"},
        {"timeout_s": 0},
        {"token": "line\nbreak"},
    ],
    ids=[
        "token-and-service-account",
        "kind-not-a-folder-name",
        "unknown-format",
        "zero-timeout",
        "control-character-in-token",
    ],
)
def test_a_spec_that_cannot_work_is_refused_when_built(overrides: dict[str, object]) -> None:
    values: dict[str, object] = {"name": "x", "url": "https://h.example/e", "kind": "sapaapip"}
    values.update(overrides)
    with pytest.raises(ValueError):
        FetchSpec(**values)  # type: ignore[arg-type]


def test_a_source_that_cannot_be_fetched_is_a_rejected_file_and_the_run_goes_on(
    server: LocalServer, tmp_path: Path
) -> None:
    from skm_etl import pipeline
    from skm_etl.load import warehouse
    from skm_etl.settings import load_settings

    config = tmp_path / "config.yaml"
    config.write_text(
        "warehouse: wh/skm.duckdb\nsources:\n"
        f"  - {{name: hilang, kind: sapaapip, url: '{server.url('/no-such-export')}'}}\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    summary = pipeline.RunSummary(run_id="run-1", started_at=dt.datetime.now())
    (source,) = pipeline.url_sources(settings)

    outcome = pipeline.fetch_source(settings, source)
    loaded = pipeline.record_fetch(settings, summary, source, outcome)

    assert loaded is None and outcome.failed
    assert summary.fetches == [outcome.line] and "HTTP 404" in outcome.line
    assert [(f.source_file, f.origin, f.status) for f in summary.files] == [
        ("hilang", "fetch:hilang", "rejected")
    ]
    con = warehouse.open_store(settings.store)
    try:
        rows = con.execute("select run_id, source_file, reason from ops.rejected_files").fetchall()
    finally:
        con.close()
    assert rows == [("run-1", "hilang", outcome.line)]


def test_a_source_given_up_after_the_flow_s_retries_says_the_next_run_tries_again(
    server: LocalServer, tmp_path: Path
) -> None:
    from flows.nightly import FETCH_RETRY_DELAYS_S
    from skm_etl import pipeline
    from skm_etl.settings import load_settings

    server.serve("/export", Reply(status=503, body=b"down", content_type="text/plain"))
    config = tmp_path / "config.yaml"
    config.write_text(
        "warehouse: wh/skm.duckdb\nsources:\n"
        f"  - {{name: sibuk, kind: sapaapip, url: '{server.url('/export')}'}}\n",
        encoding="utf-8",
    )
    (source,) = pipeline.url_sources(load_settings(config))
    with pytest.raises(TransientFetchError) as caught:
        pipeline.fetch_source(load_settings(config), source)

    outcome = pipeline.fetch_given_up(source, caught.value, len(FETCH_RETRY_DELAYS_S) + 1)

    assert outcome.failed and outcome.line.startswith("sibuk: ")
    assert "HTTP 503" in outcome.line
    assert "sudah dicoba 4 kali, dicoba lagi pada run berikutnya" in outcome.line
    assert "tried 4 times, the next run tries again" in outcome.line
    assert "akan dicoba lagi" not in outcome.line and "it will be retried" not in outcome.line


def test_a_fetched_file_is_named_after_its_source_not_its_archive_hash(
    server: LocalServer, tmp_path: Path
) -> None:
    # with dozens of url sources, a rejection naming a hash could not be traced
    from skm_etl import pipeline
    from skm_etl.settings import load_settings

    server.serve("/export", Reply(body=SAPAAPIP_CSV))
    config = tmp_path / "config.yaml"
    config.write_text(
        "warehouse: wh/skm.duckdb\nsources:\n"
        f"  - {{name: loka-contoh-2025, kind: sapaapip, url: '{server.url('/export')}'}}\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    (source,) = pipeline.url_sources(settings)

    fetched = pipeline.fetch_source(settings, source).source_file

    assert fetched.display_name == "loka-contoh-2025.csv"
    assert fetched.path.name.startswith(hashlib.sha256(SAPAAPIP_CSV).hexdigest())


def test_a_body_whose_compression_is_broken_fails_asking_for_a_manual_download(
    server: LocalServer, tmp_path: Path
) -> None:
    broken = b"\x1f\x8b\x08\x00" + b"not a deflate stream at all"
    server.serve("/export", Reply(body=broken, headers={"Content-Encoding": "gzip"}))
    result = run(make_spec(server, "/export"), tmp_path)
    assert result.status == "failed"
    assert "broken compression" in result.message
    assert archived_files(tmp_path) == []
