"""Build valid normalised response frames (docs/ARCHITECTURE.md) for tests."""

from __future__ import annotations

import datetime as dt

import polars as pl

SCHEMA: dict[str, pl.DataType] = {
    "source_row": pl.Int64,
    "unit_name": pl.Utf8,
    "survey_year": pl.Int32,
    "layanan_raw": pl.Utf8,
    "layanan_code": pl.Utf8,
    "layanan_name": pl.Utf8,
    "submitted_at": pl.Datetime("us"),
    "respondent_age": pl.Int32,
    "respondent_sex": pl.Utf8,
    "respondent_education": pl.Utf8,
    "respondent_occupation": pl.Utf8,
    "completion_pct": pl.Float64,
    **{f"q{i}": pl.Int16 for i in range(1, 15)},
    **{f"ak{i}": pl.Int16 for i in range(1, 6)},
    "saran": pl.Utf8,
}


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
