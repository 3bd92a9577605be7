"""Content-addressed archive of fetched bodies and the small state file of conditional GETs.

Every body is stored under its sha256 before anything parses it, so a run can be
replayed from the archive alone and identical content is kept once. All writes go to a
temporary file in the target folder and are swapped in with `os.replace`, so a reader or
a crash never sees half a file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def archive_path(archive_dir: Path, kind: str, sha256: str, extension: str) -> Path:
    """Return where a body with this hash is kept: `<kind>/<sha[:2]>/<sha>.<ext>`."""
    return archive_dir / kind / sha256[:2] / f"{sha256}.{extension}"


def sidecar_path(body_path: Path) -> Path:
    """Return the metadata file that sits beside an archived body."""
    return body_path.with_suffix(".json")


def new_temporary_file(folder: Path) -> Path:
    """Create an empty temporary file in `folder` (same filesystem as the archive)."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=folder)
    os.close(handle)
    return Path(name)


def store_body(
    temporary: Path,
    *,
    archive_dir: Path,
    kind: str,
    sha256: str,
    extension: str,
    sidecar: dict[str, Any],
) -> Path:
    """Move a downloaded body into the archive and write its sidecar; return its path.

    When the same content is already archived the temporary file is dropped and the
    existing file and sidecar are kept: the first sighting of a body is its provenance.
    """
    target = archive_path(archive_dir, kind, sha256, extension)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        temporary.unlink(missing_ok=True)
    else:
        os.replace(temporary, target)
    # Written after the body so that a crash in between is repaired by the next fetch.
    meta = sidecar_path(target)
    if not meta.exists():
        write_json_atomic(meta, sidecar)
    return target


def write_json_atomic(path: Path, data: Any) -> None:
    """Write `data` as JSON to `path` through a temporary file and `os.replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def read_state(state_path: Path) -> dict[str, dict[str, Any]]:
    """Read the fetch state (one entry per source name); a missing or broken file is empty.

    The state only saves downloads, so losing it costs one full GET per source, never data.
    """
    try:
        data = json.loads(state_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning(
            "fetch state %s is unreadable (%s); every source will be downloaded in full",
            state_path,
            type(exc).__name__,
        )
        return {}
    if not isinstance(data, dict):
        return {}
    return {key: value for key, value in data.items() if isinstance(value, dict)}


def write_state_entry(state_path: Path, name: str, entry: dict[str, Any]) -> None:
    """Replace the state entry of one source, keeping the others."""
    state = read_state(state_path)
    state[name] = entry
    write_json_atomic(state_path, state)
