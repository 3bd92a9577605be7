"""Build valid normalised response frames (docs/ARCHITECTURE.md) for tests; compare reads."""

from __future__ import annotations

import datetime as dt

import polars as pl
from polars.testing import assert_frame_equal

from skm_etl.sources.result import RESPONSE_SCHEMA, ReadResult

SCHEMA = RESPONSE_SCHEMA


def responses(n: int, *, timed: bool = True, year: int = 2025, **overrides: list) -> pl.DataFrame:
    """n valid responses with varied answers; keyword lists override whole columns."""
    data: dict[str, list] = {
        "source_row": [i + 2 for i in range(n)],
        "unit_name": ["Loka POM di Kota Contoh"] * n,
        "survey_year": [year] * n,
        "layanan_raw": ["Sertifikasi CDOB"] * n,
        "layanan_code": ["CDOB"] * n,
        "layanan_name": ["Sertifikasi Cara Distribusi Obat yang Baik (CDOB)"] * n,
        "submitted_at": [
            dt.datetime(year, 4, 1, 8) + dt.timedelta(hours=i) if timed else None for i in range(n)
        ],
        "respondent_age": [20 + i % 40 for i in range(n)],
        "respondent_age_group": [None] * n,
        "respondent_sex": [("Laki-laki", "Perempuan")[i % 2] for i in range(n)],
        "respondent_education": ["D4/S1"] * n,
        "respondent_occupation": ["Wiraswasta"] * n,
        "completion_pct": [100.0] * n,
        **{f"q{q}": [1 + (i + q) % 6 for i in range(n)] for q in range(1, 15)},
        **{f"ak{a}": [6] * n for a in range(1, 6)},
        "saran": [None] * n,
    }
    data.update(overrides)
    return pl.DataFrame(data, schema=SCHEMA)


def assert_same_read(
    expected: ReadResult | Exception, actual: ReadResult | Exception, name: str = ""
) -> None:
    """Two reads of one file agree: every frame, unit, year, rows read and warnings, or the
    same error with the same message."""
    if isinstance(expected, Exception):
        assert isinstance(actual, type(expected)), f"{name}: {actual!r}"
        assert str(actual) == str(expected), name
        return
    assert isinstance(actual, ReadResult), f"{name}: {actual!r}"
    for frame in ("responses", "personal", "issues"):
        try:
            assert_frame_equal(getattr(actual, frame), getattr(expected, frame))
        except AssertionError as exc:
            raise AssertionError(f"{name} {frame}: {exc}") from exc
    for attribute in ("unit_name", "survey_year", "rows_read", "warnings"):
        assert getattr(actual, attribute) == getattr(expected, attribute), f"{name} {attribute}"
