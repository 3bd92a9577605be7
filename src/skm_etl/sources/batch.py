"""Read many files at once: each file is located on its own, then the fields of every file
of the same shape are parsed and assembled together.

Parsing a field costs a few Polars queries whatever the number of rows, so a national
inbox of hundreds of files of a few thousand rows each spent most of its parse time on
the queries' fixed cost. Every parse in `normalize` is elementwise (a cell's value and
reason depend on that cell only), so parsing the files' rows stacked gives each file
exactly what parsing it alone gives; tests/test_sources_batch.py checks this.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import polars as pl

from skm_etl.sources.normalize import Parsed, assemble, constant
from skm_etl.sources.result import ISSUE_SCHEMA, ReadResult
from skm_etl.sources.tabular import ROW


@dataclass
class Located:
    """A file read up to its data rows, waiting for its fields to be parsed.

    `cells` holds the data rows: `source_row`, then the cells `parse` reads, named by what
    they hold (not by sheet position), so files with other column orders stack. Files with
    equal `shape` have equal columns and parse the same way. `complete` builds the file's
    result from its assembled responses and issues (`normalize.assemble`).
    """

    cells: pl.DataFrame
    shape: Hashable
    parse: Callable[[pl.DataFrame], dict[str, Parsed]]
    complete: Callable[[pl.DataFrame, pl.DataFrame], ReadResult]
    unit_name: str
    survey_year: int
    extra_issues: list[pl.DataFrame] = field(default_factory=list)

    def read_alone(self) -> ReadResult:
        """The file's result, parsed on its own."""
        return self.complete(*_assemble_stacked([self])[0])


def finish_many(located: list[Located]) -> list[ReadResult | Exception]:
    """Parse the files of each shape together and complete each; results in `located` order.

    A file whose completion fails gets its exception in its place. When a stacked parse
    fails, the files of that shape are read one by one instead, so a file that breaks the
    parse fails alone.
    """
    results: list[ReadResult | Exception | None] = [None] * len(located)
    shapes: dict[Hashable, list[int]] = {}
    for index, item in enumerate(located):
        shapes.setdefault(item.shape, []).append(index)
    for indices in shapes.values():
        assembled: list[tuple[pl.DataFrame, pl.DataFrame]] | None = None
        if len(indices) > 1:
            try:
                assembled = _assemble_stacked([located[i] for i in indices])
            except Exception:  # noqa: BLE001 - read one by one below, where it fails alone
                assembled = None
        for position, index in enumerate(indices):
            item = located[index]
            try:
                if assembled is None:
                    results[index] = item.read_alone()
                else:
                    results[index] = item.complete(*assembled[position])
            except Exception as exc:  # noqa: BLE001 - the caller reports the file
                results[index] = exc
    assert all(result is not None for result in results)  # every file got its result
    return results  # type: ignore[return-value]


def _assemble_stacked(items: list[Located]) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
    """Parse and assemble several files of one shape in one pass; split the frames back.

    The stacked rows are numbered 0, 1, … as their `source_row`, so the issues (sorted by
    it) come out file by file; each file's rows, unit and year are put back afterwards.
    """
    stacked = pl.concat([item.cells for item in items], how="vertical")
    position = pl.Series(ROW, range(stacked.height), dtype=pl.Int64)
    responses, issues = assemble(position, items[0].parse(stacked))
    offsets = [0]
    for item in items:
        offsets.append(offsets[-1] + item.cells.height)
    # leftmost: a file's first row may carry several issues
    bounds = (
        issues["source_row"]
        .search_sorted(pl.Series(offsets, dtype=pl.Int64), side="left")
        .to_list()
    )
    local_rows = stacked[ROW].cast(pl.Int64)
    out: list[tuple[pl.DataFrame, pl.DataFrame]] = []
    for k, item in enumerate(items):
        start, height = offsets[k], item.cells.height
        file_responses = responses.slice(start, height).with_columns(
            local_rows.slice(start, height).alias("source_row"),
            constant(item.unit_name, height, pl.Utf8()).alias("unit_name"),
            constant(item.survey_year, height, pl.Int32()).alias("survey_year"),
        )
        found = issues.slice(bounds[k], bounds[k + 1] - bounds[k])
        if found.height:
            found = found.with_columns(local_rows.gather(found["source_row"]).alias("source_row"))
        extra = [x.cast(ISSUE_SCHEMA) for x in item.extra_issues if x.height]
        if extra:
            found = pl.concat([found, *extra]).sort("source_row", maintain_order=True)
        out.append((file_responses, found))
    return out
