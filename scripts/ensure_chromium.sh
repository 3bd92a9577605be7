#!/bin/sh
# Make sure headless Chromium (PDF and PNG of `skm-etl report`), the DejaVu fonts the
# report is set in, and poppler-utils (pdftoppm/pdftotext, used by tests/test_report.py)
# are installed. A no-op when they are; otherwise installs the Debian packages, which
# needs root and nothing on the network but Debian's package mirror.
#
# fonts-dejavu-core is named on purpose: Chromium only *recommends* a font, so with
# --no-install-recommends it would print pages without any glyphs.
set -eu

FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

if command -v chromium >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 && [ -e "$FONT" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_chromium: Chromium, poppler-utils or the DejaVu fonts are missing; as root run:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends chromium poppler-utils fonts-dejavu-core" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: no apt-get on this system; install Chromium, poppler-utils and DejaVu fonts with its package manager" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium poppler-utils fonts-dejavu-core >/dev/null
chromium --version
