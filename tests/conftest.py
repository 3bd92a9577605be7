"""Shared fixtures: the example exports, configs written into tmp dirs, one Prefect harness."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# `make test` (and so CI) runs with --hypothesis-profile=ci: the same examples every run,
# so a property test never fails by the luck of the draw there; a plain `pytest` keeps
# exploring new ones.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
SAPAAPIP_XLSX = FIXTURES / "sapaapip_tabulasi_example.xlsx"
SAPAAPIP_CSV = FIXTURES / "sapaapip_tabulasi_example.csv"
GOOGLE_FORMS_CSV = FIXTURES / "google_forms_example.csv"


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect API for the whole session (starting one costs 10–25 s)."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def make_deployment(tmp_path: Path) -> Callable[..., Path]:
    """Write a config (and copy inbox files) into a fresh directory; return the config path."""

    def make(
        *,
        inbox: list[Path] = (),
        forms: list[tuple[Path, str, int]] = (),
        extra: str = "",
        counting: str = "all",
        surveys: str = "  - {year: 2025, start: 2025-01-01, end: 2025-12-31}",
        root: Path | None = None,
    ) -> Path:
        base = root or tmp_path
        (base / "inbox").mkdir(parents=True, exist_ok=True)
        for src in inbox:
            shutil.copy(src, base / "inbox" / src.name)
        sources = ""
        for i, (path, unit, year) in enumerate(forms, 1):
            (base / "forms").mkdir(exist_ok=True)
            target = base / "forms" / f"{i}_{path.name}"
            shutil.copy(path, target)
            sources += (
                f'  - {{name: forms-{i}, kind: google_forms, unit: "{unit}", year: {year}, '
                f"path: forms/{target.name}}}\n"
            )
        config = base / "config.yaml"
        config.write_text(
            textwrap.dedent(
                f"""\
                warehouse: warehouse/skm.duckdb
                inbox: inbox/
                method: {{counting: {counting}, scale: 6}}
                surveys:
                """
            )
            + surveys
            + "\n"
            + ("sources:\n" + sources if sources else "")
            + extra,
            encoding="utf-8",
        )
        return config

    return make
