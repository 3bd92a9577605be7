"""Ages answered as one of SPEC §5's groups ("26 - 30 tahun") instead of in years."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from pathlib import Path

import duckdb
import polars as pl
import pytest

from phases import run_in_process
from skm_etl import pipeline
from skm_etl.load import warehouse
from skm_etl.reference import load_reference
from skm_etl.settings import load_settings
from skm_etl.sources import read_google_forms
from skm_etl.sources.age import AGE_GROUPS, REASON_AGE_RANGE, age_group
from skm_etl.sources.constants import REASON_AGE
from skm_etl.transform.dbt_runner import default_project_dir
from tests.frames import responses

FIXTURES = Path(__file__).parent / "fixtures"
FORMS = FIXTURES / "google_forms_example.csv"
UNIT, YEAR = "Balai POM di Kota Contoh", 2025
AGE = 2  # the Umur column of the example export


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("26 - 30 tahun", "26–30"),
        ("26–30", "26–30"),
        ("Usia 31 sampai 35 tahun", "31–35"),
        ("36 s/d 40 thn", "36–40"),
        ("36 s.d. 40", "36–40"),
        ("20-25", "≤ 25"),
        ("≤ 25", "≤ 25"),
        ("<= 25 tahun", "≤ 25"),
        ("< 26", "≤ 25"),
        ("di bawah 25 tahun", "≤ 25"),
        ("25 tahun ke bawah", "≤ 25"),
        ("≥ 41", "≥ 41"),
        (">= 41 th", "≥ 41"),
        ("> 40", "≥ 41"),
        ("lebih dari 40 tahun", "≥ 41"),
        ("41 tahun ke atas", "≥ 41"),
        ("41+", "≥ 41"),
        ("41 - 50", "≥ 41"),
    ],
)
def test_a_range_inside_one_group_is_that_group(text: str, group: str) -> None:
    assert age_group(text) == (group, "")


@pytest.mark.parametrize("text", ["21 - 30", "> 30", "< 30", "25 ke atas", "0-150"])
def test_a_range_across_groups_has_its_own_reason(text: str) -> None:
    assert age_group(text) == (None, REASON_AGE_RANGE)


@pytest.mark.parametrize("text", ["tiga puluh", "30-26", "26 -", "-5", "dewasa", "26/30"])
def test_anything_else_is_not_a_number_as_before(text: str) -> None:
    assert age_group(text) == (None, REASON_AGE)


def test_the_groups_are_those_dbt_counts_the_profile_by() -> None:
    seed = default_project_dir() / "seeds" / "age_groups.csv"
    with seed.open(encoding="utf-8") as handle:
        rows = [
            (r["category"], int(r["age_min"]), int(r["age_max"])) for r in csv.DictReader(handle)
        ]
    assert tuple(rows) == AGE_GROUPS


def _forms_with_ages(path: Path, ages: list[str]) -> Path:
    """The example Google Forms export with its Umur cells replaced, in order."""
    rows = list(csv.reader(io.StringIO(FORMS.read_text(encoding="utf-8"))))
    assert len(rows) - 1 >= len(ages)
    for row, age in zip(rows[1:], ages, strict=False):
        row[AGE] = age
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


GROUP_ANSWERS = ["26 - 30 tahun", "≥ 41", "21 - 30", "33", "Di bawah 25 tahun"]


def test_the_google_forms_reader_keeps_a_group_without_inventing_an_age(tmp_path: Path) -> None:
    path = _forms_with_ages(tmp_path / "forms.csv", GROUP_ANSWERS)
    result = read_google_forms(path, load_reference(), unit_name=UNIT, survey_year=YEAR)
    first = result.responses.head(len(GROUP_ANSWERS))
    assert first["respondent_age"].to_list() == [None, None, None, 33, None]
    assert first["respondent_age_group"].to_list() == ["26–30", "≥ 41", None, None, "≤ 25"]
    # the range across two groups is the only age issue, with its own reason
    ages = result.issues.filter(pl.col("column") == "respondent_age")
    assert ages.select("value", "reason").rows() == [("21 - 30", REASON_AGE_RANGE)]
    assert ages["source_row"].to_list() == [first["source_row"][2]]


def test_a_group_is_part_of_the_key_and_an_age_in_years_keeps_its_key() -> None:
    years = responses(2)
    grouped = years.with_columns(
        pl.Series("respondent_age", [None, None], dtype=pl.Int32),
        pl.Series("respondent_age_group", ["26–30", "≥ 41"]),
    )
    blank = grouped.with_columns(pl.Series("respondent_age_group", [None, None], dtype=pl.Utf8))

    def keys(frame: pl.DataFrame) -> list[str]:
        keyed = warehouse.add_response_keys(frame, source_kind="google_forms", unit_code="U")
        return keyed["response_key"].to_list()

    # two respondents differing only in their age group are two responses
    assert len(set(keys(grouped))) == 2
    assert set(keys(grouped)).isdisjoint(keys(blank))
    assert set(keys(grouped)).isdisjoint(keys(years))
    # the group column, empty, changes no key an age in years or a blank age had before
    content = [
        "|".join(
            [
                "google_forms",
                "U",
                str(row["survey_year"]),
                *(
                    "\u2205"
                    if row[c] is None
                    else row[c].strftime("%Y-%m-%d %H:%M:%S")
                    if isinstance(row[c], dt.datetime)
                    else str(row[c])
                    for c in warehouse.KEY_CONTENT_COLUMNS
                ),
                "0",
            ]
        )
        for row in blank.iter_rows(named=True)
    ]
    assert keys(blank) == [hashlib.sha256(c.encode()).hexdigest() for c in content]


def test_a_night_with_ages_answered_as_groups_counts_them_in_the_profile(tmp_path: Path) -> None:
    deployment = tmp_path / "deployment"
    (deployment / "forms").mkdir(parents=True)
    _forms_with_ages(deployment / "forms" / "contoh.csv", GROUP_ANSWERS)
    config = deployment / "config.yaml"
    config.write_text(
        "warehouse: warehouse/skm.duckdb\n"
        "sources:\n"
        f"  - {{name: contoh, kind: google_forms, unit: {UNIT}, year: {YEAR}, "
        "path: forms/contoh.csv, date_order: day_first}\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    summary = run_in_process(config)
    assert summary.exit_code == pipeline.EXIT_REJECTIONS  # the range across two groups

    with duckdb.connect(str(settings.store), read_only=True) as store:
        received = store.execute("select count(*) from raw.responses").fetchone()[0]
        in_years = dict(
            store.execute(
                "select respondent_age, count(*) from raw.responses "
                "where respondent_age is not null group by all"
            ).fetchall()
        )
        rejected = store.execute(
            "select value, reason from ops.rejected_rows where column_name = 'respondent_age'"
        ).fetchall()
    assert rejected == [("21 - 30", REASON_AGE_RANGE)]
    # every age in years of the accepted rows falls in its group, as before
    expected = {label: 0 for label, _, _ in AGE_GROUPS}
    for age, count in in_years.items():
        label = next(label for label, low, high in AGE_GROUPS if low <= age <= high)
        expected[label] += count
    expected["26–30"] += 1
    expected["≥ 41"] += 1
    expected["≤ 25"] += 1
    with duckdb.connect(str(settings.warehouse), read_only=True) as served:
        profile = dict(
            served.execute(
                "select category, respondents from marts.respondent_profile "
                "where characteristic = 'age' and unit_name = ? and survey_year = ?",
                [UNIT, YEAR],
            ).fetchall()
        )
    assert profile == {**expected, "Tidak diisi": received - sum(expected.values())}
    assert sum(profile.values()) == received
