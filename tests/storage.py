"""How DuckDB laid out a store table: its row groups, and appends that leave some partly
filled (which a vacuum would merge by rewriting them)."""

from __future__ import annotations

import duckdb

APPENDS = 2
APPEND_ROWS = 130_000  # a full row group (122,880 rows) and a partly filled one per append


def row_groups(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    """The table's row groups: (id, rows, first block)."""
    return con.execute(
        f"""
        select row_group_id, max(count), min(block_id)
        from pragma_storage_info('{table}') where segment_type <> 'VALIDITY'
        group by row_group_id order by row_group_id
        """  # noqa: S608 - a table name of the tests
    ).fetchall()


def append_partly_filled_row_groups(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    """Append APPEND_ROWS rows APPENDS times to a new table, each in its own transaction;
    return its row groups, checked to end every append with a partly filled one."""
    con.execute(f"create table {table} (k varchar, n integer)")
    for start in range(0, APPENDS * APPEND_ROWS, APPEND_ROWS):
        con.execute("begin transaction")
        con.execute(
            f"insert into {table} select sha256(cast(i as varchar)), i from range(?, ?) as t(i)",
            [start, start + APPEND_ROWS],
        )
        con.execute("commit")
    written = row_groups(con, table)
    assert [rows for _, rows, _ in written] == [122_880, 7_120] * APPENDS, written
    return written
