"""Headless Chromium: print an HTML report to PDF and take a PNG of the card.

Chromium is a system program (Debian package `chromium`), not a Python dependency, so
every call finds it on PATH and a missing browser is a clear message, not a traceback.
It runs with a throw-away profile and with name resolution switched off: the pages are
self-contained files, and a report must never reach the network while rendering.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 180
INSTALL_HINT = (
    "pasang Chromium / install Chromium: apt-get install -y --no-install-recommends "
    "chromium poppler-utils fonts-dejavu-core (Debian/Ubuntu; or scripts/ensure_chromium.sh), "
    "then run skm-etl report again"
)


class BrowserError(Exception):
    """Chromium is missing, or did not write the file it was asked for."""


def find_chromium() -> str | None:
    """The first Chromium (or Chrome) executable on PATH, or None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html: Path, pdf: Path, *, chromium: str) -> None:
    """Print `html` to `pdf` (A4, the page's own @page margins, no browser header/footer)."""
    _run(
        chromium,
        ["--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.resolve().as_uri()],
        pdf,
    )


def screenshot(page: Path, png: Path, *, width: int, height: int, chromium: str) -> None:
    """A PNG of `page` (HTML or SVG) at a fixed window size."""
    _run(
        chromium,
        [
            f"--window-size={width},{height}",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--screenshot={png}",
            page.resolve().as_uri(),
        ],
        png,
    )


def _run(chromium: str, args: list[str], output: Path) -> None:
    output.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="skm-chromium-") as profile:
        command = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            *args,
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise BrowserError(
                f"Chromium tidak selesai dalam {TIMEOUT_S} detik / did not finish in "
                f"{TIMEOUT_S} s while writing {output.name}"
            ) from exc
        except OSError as exc:
            raise BrowserError(
                f"Chromium tidak dapat dijalankan / cannot start {chromium}: {exc}"
            ) from exc
    if not output.is_file() or output.stat().st_size == 0:
        tail = "\n".join((done.stderr or "").strip().splitlines()[-5:])
        raise BrowserError(
            f"Chromium tidak menulis / did not write {output.name} (exit {done.returncode})"
            + (f":\n{tail}" if tail else "")
        )
