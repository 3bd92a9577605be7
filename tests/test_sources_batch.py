"""Reading files together (sources.finish_many) gives each file what reading it alone gives.

The pipeline's read threads locate each file, then parse and assemble the rows of all files
of the same shape stacked in one pass. These tests read the same files both ways, on
generated national exports (CSV and XLSX, both layouts, invalid rows), on the example
exports, and on hand-made variants (extra fields past the header, another column order),
and compare every frame and message.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import hostile as h
from skm_etl import pipeline
from skm_etl.bench.generate import generate
from skm_etl.reference.catalog import load_reference
from skm_etl.settings import load_settings
from skm_etl.sources import (
    ReadResult,
    SourceFileError,
    finish_many,
    locate_google_forms,
    locate_sapaapip,
    read_google_forms,
    read_sapaapip,
)
from skm_etl.sources import batch as batch_module
from tests.frames import assert_same_read

REFERENCE = load_reference()


def _alone(kind: str, path: Path, unit: str | None, year: int | None) -> ReadResult | Exception:
    try:
        if kind == "google_forms":
            return read_google_forms(path, REFERENCE, unit_name=unit, survey_year=year)
        return read_sapaapip(path, REFERENCE)
    except SourceFileError as exc:
        return exc


def _locate(kind: str, path: Path, unit: str | None, year: int | None):
    if kind == "google_forms":
        return locate_google_forms(path, REFERENCE, unit_name=unit, survey_year=year)
    return locate_sapaapip(path, REFERENCE)


def _together(files: list[tuple[str, Path, str | None, int | None]]) -> list:
    """Read the files as the pipeline's read threads do: locate each, finish them at once."""
    results: list = [None] * len(files)
    located = []
    for index, file in enumerate(files):
        try:
            located.append((index, _locate(*file)))
        except SourceFileError as exc:
            results[index] = exc
    for (index, _), result in zip(located, finish_many([x for _, x in located]), strict=True):
        results[index] = result
    return results


@pytest.fixture(scope="module")
def national(tmp_path_factory) -> list[tuple[str, Path, str | None, int | None]]:
    """A generated inbox: both layouts, CSV and XLSX, 0.3 % invalid rows, messy labels."""
    generated = generate(tmp_path_factory.mktemp("national"), 6_000, units=6, rows_per_file=700)
    settings = load_settings(generated.config)
    return [(s.kind, s.path, s.unit, s.year) for s in pipeline.discover(settings)]


def test_the_generated_inbox_has_what_these_tests_need(national) -> None:
    kinds = {(kind, path.suffix) for kind, path, _, _ in national}
    assert kinds >= {("sapaapip", ".csv"), ("sapaapip", ".xlsx"), ("google_forms", ".csv")}
    # the stacked parse must take the long path (> DIRECT_ROWS) on a batch of short files
    assert sum(1 for _, path, _, _ in national if path.stat().st_size < 200_000) > 3


def test_files_read_together_give_what_each_gives_alone(national) -> None:
    together = _together(national)
    issues = 0
    for file, mine in zip(national, together, strict=True):
        alone = _alone(*file)
        assert_same_read(alone, mine, file[1].name)
        issues += 0 if isinstance(alone, Exception) else alone.issues.height
    assert issues > 0  # the invalid rows are there, each with its reason, file by file


def test_a_few_files_in_any_order_give_the_same(national) -> None:
    picked = [national[i] for i in (5, 0, 3, 1)][::-1]
    for file, mine in zip(picked, _together(picked), strict=True):
        assert_same_read(_alone(*file), mine, file[1].name)


def _variant_with_extra_fields_and_moved_column(tmp_path: Path) -> Path:
    """The example tabulation with a value past the header on two rows, Usia moved last."""
    lines = h.SAPAAPIP_CSV.read_text(encoding="utf-8").splitlines()
    out = []
    for number, line in enumerate(lines):
        cells = line.split(",")
        if len(cells) > 20:
            cells = cells[:3] + cells[4:] + [cells[3]]  # Usia (or its blank) goes last
        if number in (9, 12):
            cells += ["", "", "stray value"]
        out.append(",".join(cells))
    path = tmp_path / "tabulasi_variant.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def test_other_column_orders_and_extra_fields_stack_with_the_rest(tmp_path: Path) -> None:
    variant = _variant_with_extra_fields_and_moved_column(tmp_path)
    copy = tmp_path / "tabulasi_copy.csv"
    shutil.copyfile(h.SAPAAPIP_CSV, copy)
    files = [
        ("sapaapip", h.SAPAAPIP_CSV, None, None),
        ("sapaapip", variant, None, None),
        ("sapaapip", h.SAPAAPIP_XLSX, None, None),
        ("google_forms", h.GOOGLE_FORMS_CSV, "Loka POM di Kota Contoh", 2025),
        ("sapaapip", copy, None, None),
        ("google_forms", h.GOOGLE_FORMS_CSV, "Loka POM di Kota Contoh", 2025),
    ]
    together = _together(files)
    for file, mine in zip(files, together, strict=True):
        assert_same_read(_alone(*file), mine, file[1].name)
    extra = together[1].issues.filter(pl.col("column") == "(baris / row)")
    assert extra["value"].to_list() == ["stray value", "stray value"]


def test_several_issues_on_the_first_row_of_a_stacked_file_stay_with_that_file(
    tmp_path: Path,
) -> None:
    # the frames are split back where each file's rows begin; a first row with several
    # issues must not lend some of them to the file stacked before it
    broken = h.tabulation(
        tmp_path / "tabulasi_first_row.csv",
        h.EXAMPLE_UNIT,
        # U1 and U2 blank, U3 out of range
        edit=lambda rows: h.set_cells(rows, {(0, h.Q1): "", (0, h.Q1 + 1): "", (0, h.Q1 + 2): "9"}),
    )
    files = [
        ("sapaapip", h.SAPAAPIP_CSV, None, None),
        ("sapaapip", broken, None, None),
        ("sapaapip", broken, None, None),
    ]
    together = _together(files)
    for file, mine in zip(files, together, strict=True):
        assert_same_read(_alone(*file), mine, file[1].name)
    first_row = together[1].responses["source_row"][0]
    assert together[1].issues.filter(pl.col("source_row") == first_row).height == 3
    assert together[0].issues.height == 0


def test_a_file_that_breaks_the_stacked_parse_is_read_alone(national) -> None:
    sapaapip = [f for f in national if f[0] == "sapaapip" and f[1].suffix == ".csv"][:3]
    located = [_locate(*file) for file in sapaapip]
    # the middle file's age cells are numbers, not text: the three cannot be stacked
    broken = located[1]
    broken.cells = broken.cells.with_columns(pl.col("respondent_age").cast(pl.Int64, strict=False))
    with pytest.raises(pl.exceptions.PolarsError):
        batch_module._assemble_stacked(located)
    results = finish_many(located)
    # read alone, the broken file still gives every row and field as an unbroken read
    # does, but its ages (the cast above turned text ages into nulls)
    unbroken = _alone(*sapaapip[1])
    assert isinstance(results[1], ReadResult)
    assert results[1].rows_read == unbroken.rows_read > 0
    assert (results[1].unit_name, results[1].survey_year) == (
        unbroken.unit_name,
        unbroken.survey_year,
    )
    assert_frame_equal(
        results[1].responses.drop("respondent_age"), unbroken.responses.drop("respondent_age")
    )
    assert_frame_equal(results[1].personal, unbroken.personal)
    for index in (0, 2):
        assert_same_read(_alone(*sapaapip[index]), results[index], sapaapip[index][1].name)


def test_results_come_back_in_the_given_order_across_shapes(national, monkeypatch) -> None:
    stacked_calls: list[int] = []
    original = batch_module._assemble_stacked

    def counting(items):
        stacked_calls.append(len(items))
        return original(items)

    monkeypatch.setattr(batch_module, "_assemble_stacked", counting)
    # interleaved: forms, sapaapip CSV and sapaapip XLSX files, two or more of each
    by_kind = [
        [f for f in national if (f[0], f[1].suffix) == kind]
        for kind in (("google_forms", ".csv"), ("sapaapip", ".csv"), ("sapaapip", ".xlsx"))
    ]
    files = [group[i] for i in range(2) for group in by_kind] + by_kind[1][2:4]
    for file, mine in zip(files, _together(files), strict=True):
        assert_same_read(_alone(*file), mine, file[1].name)
    assert any(size > 1 for size in stacked_calls)  # some files shared a shape: stacked
