"""Validation of the normalised response frame with the Great Expectations suite."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from skm_etl.sources.result import RESPONSE_SCHEMA
from skm_etl.validate import (
    DEFAULT_SUITE_PATH,
    FAILURE_SCHEMA,
    ValidationError,
    validate_responses,
)

YEAR = 2024
KNOWN_LAYANAN = ("L01", "L02", "L03")
FIRST_SOURCE_ROW = 8  # data starts below the metadata and the two header rows

SCORE_COLUMNS = [f"q{i}" for i in range(1, 15)] + [f"ak{i}" for i in range(1, 6)]

SCHEMA: dict[str, pl.DataType] = {**RESPONSE_SCHEMA, "response_key": pl.Utf8()}


def valid_frame(rows: int = 4, *, scale: int = 6) -> pl.DataFrame:
    """Build a normalised frame (ARCHITECTURE.md columns and dtypes) that passes the suite."""
    index = pl.int_range(rows, eager=True)
    columns: dict[str, Any] = {
        "source_row": index + FIRST_SOURCE_ROW,
        "unit_name": ["Loka POM di Kota Balikpapan"] * rows,
        "survey_year": [YEAR] * rows,
        "layanan_raw": [f"Layanan {i % 3 + 1}" for i in range(rows)],
        "layanan_code": [KNOWN_LAYANAN[i % 3] for i in range(rows)],
        "layanan_name": [f"Layanan {i % 3 + 1}" for i in range(rows)],
        "submitted_at": [datetime(YEAR, 4, 1, 8, 0) for _ in range(rows)],
        "respondent_age": (index % 60 + 17),
        "respondent_age_group": [None] * rows,
        "respondent_sex": [("Laki-laki", "Perempuan")[i % 2] for i in range(rows)],
        "respondent_education": ["D4/S1"] * rows,
        "respondent_occupation": ["Wiraswasta"] * rows,
        "completion_pct": [100.0] * rows,
        **{c: (index * (n + 3)) % scale + 1 for n, c in enumerate(SCORE_COLUMNS)},
        "saran": ["-"] * rows,
        "response_key": [f"{i:064x}" for i in range(rows)],
    }
    return pl.DataFrame(columns).cast(SCHEMA).select(list(SCHEMA))


def perturb(frame: pl.DataFrame, row: int, **values: Any) -> pl.DataFrame:
    """Set column values in one row (by position) of a test frame."""
    at_row = pl.int_range(pl.len()) == row
    return frame.with_columns(
        pl.when(at_row)
        .then(pl.lit(value, dtype=frame.schema[column]))
        .otherwise(pl.col(column))
        .alias(column)
        for column, value in values.items()
    )


# an expectation GX and the native engine both cannot run: a range check on a text column
RANGE_ON_TEXT: dict[str, Any] = {
    "type": "expect_column_values_to_be_between",
    "kwargs": {"column": "respondent_sex", "min_value": 1, "max_value": 2},
    "meta": {"reason": "tidak dipakai / unused"},
}


def suite_with(tmp_path: Path, expectation: dict[str, Any]) -> Path:
    """Write the bundled suite with one more expectation; return the file's path."""
    suite = json.loads(DEFAULT_SUITE_PATH.read_text(encoding="utf-8"))
    suite["expectations"].append(expectation)
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(suite), encoding="utf-8")
    return path


def run(frame: pl.DataFrame, **kwargs: Any):
    options: dict[str, Any] = {
        "scale": 6,
        "known_layanan_codes": KNOWN_LAYANAN,
        "survey_year": YEAR,
    }
    return validate_responses(frame, **(options | kwargs))


def test_a_clean_frame_passes_with_zero_failures():
    outcome = run(valid_frame())

    assert outcome.success
    assert outcome.failures.height == 0
    assert outcome.failures.schema == pl.Schema(FAILURE_SCHEMA)
    assert outcome.expectations_evaluated == len(
        json.loads(DEFAULT_SUITE_PATH.read_text(encoding="utf-8"))["expectations"]
    )
    assert outcome.data_docs_index is None


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"q12": None, "q13": None, "q14": None}, id="questions 12-14 may be blank"),
        pytest.param({c: None for c in SCORE_COLUMNS if c.startswith("ak")}, id="ak may be blank"),
        pytest.param({"respondent_age": None}, id="age may be blank"),
        pytest.param({"submitted_at": None}, id="submission time may be blank"),
        pytest.param({"completion_pct": None}, id="completion may be blank"),
        pytest.param({"respondent_age": 15, "q1": 1, "q2": 6}, id="lowest age and both score ends"),
        pytest.param({"respondent_age": 100, "completion_pct": 0.0}, id="highest age, zero pct"),
    ],
)
def test_optional_blanks_and_edge_values_pass(values):
    outcome = run(perturb(valid_frame(), 1, **values))

    assert outcome.failures.height == 0
    assert outcome.success


# (perturbed values of row 1, expected column, expected value, start of the reason)
CASES = [
    pytest.param({"q3": 0}, "q3", "0", "skor pertanyaan 3 di luar 1–6 / ", id="score 0"),
    pytest.param({"q11": 7}, "q11", "7", "skor pertanyaan 11 di luar 1–6 / ", id="score 7"),
    pytest.param({"q13": 9}, "q13", "9", "skor pertanyaan 13 di luar 1–6 / ", id="q13 score 9"),
    pytest.param({"ak2": 0}, "ak2", "0", "skor persepsi anti korupsi 2 di luar", id="ak2 score 0"),
    pytest.param({"q5": None}, "q5", None, "skor pertanyaan 5 kosong / ", id="null q5"),
    pytest.param({"respondent_age": 7}, "respondent_age", "7", "usia tidak wajar", id="age 7"),
    pytest.param({"respondent_age": 130}, "respondent_age", "130", "usia tidak", id="age 130"),
    pytest.param(
        {"layanan_code": None, "layanan_raw": "Layanan Antah Berantah"},
        "layanan_code",
        "Layanan Antah Berantah",
        "layanan tidak dikenal / unknown layanan: ",
        id="unknown layanan reports what was written",
    ),
    pytest.param(
        {"layanan_code": "L99", "layanan_raw": "Layanan Lama"},
        "layanan_code",
        "Layanan Lama",
        "kode layanan tidak ada di katalog / ",
        id="layanan code outside the catalogue",
    ),
    pytest.param(
        {"survey_year": 2023}, "survey_year", "2023", "tahun survei bukan 2024 / ", id="wrong year"
    ),
    pytest.param(
        {"submitted_at": datetime(2999, 1, 1, 9, 30)},
        "submitted_at",
        "2999-01-01 09:30:00.000000",
        "waktu pengisian di masa depan / ",
        id="future timestamp",
    ),
    pytest.param(
        {"completion_pct": 150.0},
        "completion_pct",
        "150.0",
        "persentase tahapan penyelesaian di luar 0–100 / ",
        id="completion 150",
    ),
]


@pytest.mark.parametrize(("values", "column", "value", "reason"), CASES)
def test_each_expectation_catches_its_case(values, column, value, reason):
    outcome = run(perturb(valid_frame(), 1, **values))

    assert not outcome.success
    assert outcome.failures.rows(named=True) == [
        {
            "source_row": FIRST_SOURCE_ROW + 1,
            "column": column,
            "value": value,
            "reason": outcome.failures["reason"][0],
        }
    ]
    assert outcome.failures["reason"][0].startswith(reason)


def test_reasons_are_bilingual_and_say_what_to_do():
    outcome = run(perturb(valid_frame(), 1, q11=7))

    assert outcome.failures["reason"][0] == (
        "skor pertanyaan 11 di luar 1–6 / score of question 11 outside 1–6: "
        "perbaiki jawaban pada baris ini / fix the answer in this row"
    )


def test_a_duplicate_key_marks_only_the_second_copy():
    frame = valid_frame(5)
    frame = perturb(frame, 3, response_key=frame["response_key"][1])

    outcome = run(frame)

    assert outcome.failures.select("source_row", "column", "value").rows() == [
        (FIRST_SOURCE_ROW + 3, "response_key", frame["response_key"][1]),
    ]
    assert outcome.failures["reason"][0].startswith("jawaban ganda")


def test_a_row_failing_several_expectations_gets_one_failure_each_in_suite_order():
    outcome = run(perturb(valid_frame(), 2, q1=0, respondent_age=130, completion_pct=-1.0))

    assert outcome.failures.select("source_row", "column").rows() == [
        (FIRST_SOURCE_ROW + 2, "q1"),
        (FIRST_SOURCE_ROW + 2, "respondent_age"),
        (FIRST_SOURCE_ROW + 2, "completion_pct"),
    ]


def test_the_scale_parameter_makes_5_invalid_on_a_4_point_scale():
    frame = perturb(valid_frame(scale=4), 0, q2=5)

    assert run(frame, scale=6).failures.height == 0
    on_4 = run(frame, scale=4)
    assert on_4.failures.select("source_row", "column", "value").rows() == [
        (FIRST_SOURCE_ROW, "q2", "5")
    ]
    assert "di luar 1–4 / score of question 2 outside 1–4" in on_4.failures["reason"][0]


def test_chunking_gives_the_same_failures_as_one_chunk():
    frame = valid_frame(10)
    frame = perturb(frame, 0, q1=9)
    frame = perturb(frame, 4, respondent_age=3, layanan_code=None)
    frame = perturb(frame, 7, response_key=frame["response_key"][1])  # copy in a later chunk
    frame = perturb(frame, 9, survey_year=2023)

    whole = run(frame)
    chunked = run(frame, chunk_rows=3)

    assert chunked.failures.height == 5
    assert chunked.failures.equals(whole.failures)
    assert chunked.expectations_evaluated == whole.expectations_evaluated
    assert chunked.success is whole.success is False


def test_an_empty_frame_passes():
    outcome = run(valid_frame(0))

    assert outcome.success
    assert outcome.failures.height == 0


def test_a_missing_column_rejects_the_file():
    with pytest.raises(ValidationError, match="missing columns layanan_code, q3"):
        run(valid_frame().drop("layanan_code", "q3"))


def test_an_expectation_gx_cannot_run_rejects_the_file(tmp_path):
    suite_path = suite_with(tmp_path, RANGE_ON_TEXT)

    with pytest.raises(ValidationError, match="validation could not run: .*respondent_sex"):
        run(valid_frame(), suite_path=suite_path)


def test_data_docs_keep_one_result_per_batch_name(tmp_path):
    site = tmp_path / "docs"
    bad = perturb(valid_frame(), 1, q1=7)

    first = run(bad, data_docs_dir=site, batch_name="balikpapan 2024")
    run(valid_frame(), data_docs_dir=site, batch_name="balikpapan 2024")
    run(bad, data_docs_dir=site, batch_name="samarinda 2024")

    assert first.data_docs_index == site.resolve() / "index.html"
    index = first.data_docs_index.read_text(encoding="utf-8")
    pages = sorted(p.name for p in (site / "validations").rglob("*.html"))
    assert pages == ["balikpapan_2024.html", "samarinda_2024.html"]
    assert "balikpapan_2024" in index and "samarinda_2024" in index
    assert not (Path.cwd() / "gx").exists()


def test_importing_skm_etl_validate_does_not_import_great_expectations():
    code = "import sys, skm_etl.validate; print('great_expectations' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert completed.stdout.strip() == "False"


def test_200k_rows_are_validated_and_timed():
    rows = 200_000
    frame = valid_frame(rows).with_columns(
        pl.when(pl.int_range(pl.len()) % 1000 == 0).then(7).otherwise(pl.col("q1")).alias("q1")
    )

    started = time.perf_counter()
    run(valid_frame(1))  # imports GX (about 3-6 s) unless an earlier test did
    first_call = time.perf_counter() - started
    started = time.perf_counter()
    outcome = run(frame)
    seconds = time.perf_counter() - started

    print(
        f"\nvalidate_responses: {rows} rows in {seconds:.2f} s (1-row call before: {first_call:.2f} s)"
    )
    assert outcome.failures.height == rows // 1000
    assert outcome.failures["column"].unique().to_list() == ["q1"]
