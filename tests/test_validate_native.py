"""The native evaluation of the suite gives exactly what Great Expectations gives."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import polars as pl
import pytest

from skm_etl.validate import (
    DEFAULT_SUITE_PATH,
    ValidationError,
    gx_runner,
    native,
    validate_parts,
    validate_responses,
)
from skm_etl.validate.suite import load_suite
from tests.test_validate import (
    CASES,
    KNOWN_LAYANAN,
    RANGE_ON_TEXT,
    YEAR,
    perturb,
    suite_with,
    valid_frame,
)


def both(frame: pl.DataFrame, **kwargs: Any):
    options: dict[str, Any] = {
        "scale": 6,
        "known_layanan_codes": KNOWN_LAYANAN,
        "survey_year": YEAR,
    }
    options |= kwargs
    return (
        validate_responses(frame, **options),
        validate_responses(frame, engine="gx", **options),
    )


def assert_same(ours, theirs) -> None:
    assert ours.failures.equals(theirs.failures)
    assert ours.success is theirs.success
    assert ours.expectations_evaluated == theirs.expectations_evaluated


def test_the_bundled_suite_is_evaluated_natively():
    assert native.supports(load_suite(DEFAULT_SUITE_PATH))


@pytest.mark.parametrize(("values", "column", "value", "reason"), CASES)
def test_each_failing_case_gives_the_same_failures_as_gx(values, column, value, reason):
    assert_same(*both(perturb(valid_frame(), 1, **values)))


def test_a_frame_failing_many_ways_at_once_gives_the_same_failures_as_gx():
    frame = valid_frame(12)
    frame = perturb(frame, 0, q1=0, respondent_age=7, completion_pct=float("nan"))
    frame = perturb(frame, 3, layanan_code=None, q11=None, survey_year=2023)
    frame = perturb(frame, 5, response_key=frame["response_key"][2], ak3=9)
    frame = perturb(frame, 8, submitted_at=datetime(3024, 5, 1), completion_pct=-0.5)
    frame = perturb(frame, 11, layanan_code="L99", respondent_age=None, q14=0)

    ours, theirs = both(frame)

    assert ours.failures.height == 11
    assert_same(ours, theirs)


def test_nan_is_missing_as_in_gx():
    ours, theirs = both(perturb(valid_frame(), 2, completion_pct=float("nan")))

    assert ours.failures.height == 0
    assert_same(ours, theirs)


def test_mostly_decides_success_but_every_unexpected_row_is_reported(tmp_path):
    suite = json.loads(DEFAULT_SUITE_PATH.read_text(encoding="utf-8"))
    for expectation in suite["expectations"]:
        if expectation["kwargs"].get("column") == "respondent_age":
            expectation["kwargs"]["mostly"] = 0.5
    path = tmp_path / "mostly.json"
    path.write_text(json.dumps(suite), encoding="utf-8")
    frame = perturb(valid_frame(), 1, respondent_age=7)

    ours, theirs = both(frame, suite_path=path)

    assert ours.success is True
    assert ours.failures["column"].to_list() == ["respondent_age"]
    assert_same(ours, theirs)


def test_a_suite_with_another_expectation_type_runs_through_gx(tmp_path, monkeypatch):
    path = suite_with(
        tmp_path,
        {
            "type": "expect_column_value_lengths_to_be_between",
            "kwargs": {"column": "response_key", "min_value": 64, "max_value": 64},
            "meta": {"reason": "kunci respons rusak / response key damaged"},
        },
    )

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the native engine must not run this suite")

    monkeypatch.setattr(native, "evaluate", refuse)
    frame = perturb(valid_frame(), 1, response_key="short")

    outcome = validate_responses(
        frame, scale=6, known_layanan_codes=KNOWN_LAYANAN, survey_year=YEAR, suite_path=path
    )

    assert not native.supports(load_suite(path))
    assert outcome.failures["reason"].to_list() == ["kunci respons rusak / response key damaged"]


def test_a_range_check_on_text_cannot_run_natively_either(tmp_path):
    path = suite_with(tmp_path, RANGE_ON_TEXT)

    for engine in ("auto", "gx"):
        with pytest.raises(ValidationError, match="validation could not run: .*respondent_sex"):
            validate_responses(
                valid_frame(),
                scale=6,
                known_layanan_codes=KNOWN_LAYANAN,
                survey_year=YEAR,
                suite_path=path,
                engine=engine,
            )


def test_a_run_page_sums_its_files_in_the_data_docs(tmp_path):
    from skm_etl.validate import write_data_docs

    site = tmp_path / "docs"
    reports = [
        validate_responses(
            perturb(valid_frame(), row, q1=7),
            scale=6,
            known_layanan_codes=KNOWN_LAYANAN,
            survey_year=YEAR,
            batch_name=name,
        ).report
        for row, name in ((1, "<b>a.csv"), (2, "b.csv"))
    ]

    index = write_data_docs(site, "run 1", reports)

    assert index == site.resolve() / "index.html"
    pages = list((site / "validations").rglob("*.html"))
    assert [p.name for p in pages] == ["run_1.html"]
    page = pages[0].read_text(encoding="utf-8")
    assert "&lt;b&gt;a.csv:9" in page and "b.csv:10" in page
    assert "<b>a.csv" not in page


def files_of_a_batch() -> list[tuple[pl.DataFrame, int]]:
    """Four files as a read batch stacks them: failures of many kinds, a response key
    repeated within a file, two survey years, and a file without rows. The files share
    their keys (valid_frame numbers them from 0): a repeat across files is no failure."""
    first = perturb(valid_frame(6), 1, q1=0, respondent_age=7)
    first = perturb(first, 4, response_key=first["response_key"][0])  # a double submission
    second = perturb(valid_frame(5), 2, layanan_code="L99", ak3=9)
    second = second.with_columns(pl.lit(2023, dtype=pl.Int32).alias("survey_year"))
    second = perturb(second, 0, survey_year=YEAR)  # the wrong year for its file
    third = perturb(valid_frame(3), 0, submitted_at=datetime(3024, 5, 1), completion_pct=-0.5)
    return [(first, YEAR), (second, 2023), (valid_frame(0), YEAR), (third, YEAR)]


def counts(tallies: dict) -> dict:
    """A report's tallies without the parameters (the time limit is taken per call)."""
    return {
        rule: (t.success, t.element_count, t.missing_count, t.unexpected_count)
        for rule, t in tallies.items()
    }


@pytest.mark.parametrize(
    ("engine", "stacked_rows"),
    [("auto", 5_000), ("auto", 4), ("gx", 5_000)],  # 4: the bigger files evaluated alone
)
def test_a_batch_of_files_gives_each_file_what_it_gives_alone(engine, stacked_rows, monkeypatch):
    monkeypatch.setattr(gx_runner, "STACKED_FILE_ROWS", stacked_rows)
    files = files_of_a_batch()
    options: dict[str, Any] = {"scale": 6, "known_layanan_codes": KNOWN_LAYANAN, "engine": engine}

    outcomes = validate_parts(
        {i: frame for i, (frame, _) in enumerate(files)},
        years={i: year for i, (_, year) in enumerate(files)},
        names={i: f"file{i}.csv" for i in range(len(files))},
        **options,
    )

    assert list(outcomes) == [0, 1, 2, 3]
    assert [o.failures.height for o in outcomes.values()] == [3, 3, 0, 2]
    for i, (frame, year) in enumerate(files):
        alone = validate_responses(frame, survey_year=year, batch_name=f"file{i}.csv", **options)
        together = outcomes[i]
        assert_same(together, alone)
        assert together.report.failures_shown.equals(alone.report.failures_shown)
        assert together.report.success is alone.report.success
        assert together.report.parameters == alone.report.parameters | {
            "submitted_at_max": together.report.parameters["submitted_at_max"]
        }
        assert counts(together.report.tallies) == counts(alone.report.tallies)
        assert together.report.table_result.success is alone.report.table_result.success


def test_a_file_that_cannot_be_validated_fails_alone_with_the_reason(tmp_path):
    frames = {"a.csv": valid_frame(2).drop("respondent_age"), "b.csv": valid_frame(3)}
    options: dict[str, Any] = {
        "years": dict.fromkeys(frames, YEAR),
        "names": {name: name for name in frames},
        "scale": 6,
        "known_layanan_codes": KNOWN_LAYANAN,
    }

    outcomes = validate_parts(frames, **options)

    assert isinstance(outcomes["a.csv"], ValidationError)
    assert "respondent_age" in str(outcomes["a.csv"])
    assert outcomes["b.csv"].success

    # a suite the native engine cannot run fails every file of the batch
    path = suite_with(tmp_path, RANGE_ON_TEXT)
    frames["a.csv"] = valid_frame(2)

    outcomes = validate_parts(frames, suite_path=path, **options)

    for outcome in outcomes.values():
        assert isinstance(outcome, ValidationError)
        assert "validation could not run: expect_column_values_to_be_between" in str(outcome)
