"""Read a spreadsheet or CSV file into a frame of text cells, one row per sheet row.

Readers locate their columns by header text, so this layer only guarantees three things:
every cell is text (stripped, blank -> null), nothing is dropped, and `source_row` is the
row number a person sees (the Excel row, or the row a spreadsheet shows for a CSV record).
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import polars as pl

from skm_etl.sources.constants import (
    CSV_DELIMITERS,
    EXTRA_COLUMNS,
    FALLBACK_ENCODINGS,
    OLE_MAGIC,
    SNIFF_RECORDS,
    UTF8_BOM,
    UTF16_BOMS,
    ZIP_MAGIC,
)
from skm_etl.sources.result import file_error

ROW = "source_row"
# a sheet of up to this many rows costs more to plan queries for than to run them: `_tidy`
# stacks its columns into one, `any_cell` takes one expression over them all
SHORT_SHEET_ROWS = 1024


@dataclass(frozen=True)
class Sheet:
    """The text cells of one sheet: `source_row` then c0, c1, … in sheet order."""

    name: str
    frame: pl.DataFrame
    is_excel: bool

    @property
    def cell_columns(self) -> list[str]:
        """Return the names of the cell columns (everything but source_row)."""
        return [c for c in self.frame.columns if c != ROW]


def read_sheets(path: Path) -> list[Sheet]:
    """Read every sheet of a workbook, or the one table of a CSV file.

    Raises SourceFileError when the file is missing, empty, binary or not a workbook.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise file_error(
            f"file {path.name} tidak dapat dibuka ({exc.strerror})",
            f"file {path.name} cannot be opened ({exc.strerror})",
            "periksa lokasi dan izin file",
            "check the file's location and permissions",
        ) from exc
    if head.startswith(ZIP_MAGIC) or head.startswith(OLE_MAGIC):
        return _excel_sheets(path)
    return [Sheet(name="", frame=_csv_frame(path), is_excel=False)]


def _excel_sheets(path: Path) -> list[Sheet]:
    """Load each sheet as text, keeping leading blank rows so row numbers match Excel.

    A sheet that cannot be loaded (a chart sheet, say) is left out; the workbook is
    rejected only when no sheet loads. A cell calamine cannot convert at all (a date
    millions of years before 1900) makes it panic: that rejects the file, since the
    sheet holding the cell may be the tabulation itself.
    """
    failure: Exception | None = None
    sheets = []
    try:
        reader = fastexcel.read_excel(path)
        names = reader.sheet_names
    except Exception as exc:  # calamine raises its own types for every kind of damage
        names, failure = [], exc
    except BaseException as exc:
        raise _panic_error(path, None, exc) from None
    for index, name in enumerate(names):
        try:
            # skip_rows=0 (not None) stops fastexcel from dropping leading blank rows
            loaded = reader.load_sheet(index, header_row=None, skip_rows=0, dtypes="string")
            sheets.append(Sheet(name=name, frame=_tidy(loaded.to_polars()), is_excel=True))
        except Exception as exc:
            failure = exc
        except BaseException as exc:
            raise _panic_error(path, name, exc) from None
    if not sheets:
        reason = type(failure).__name__ if failure else "tanpa sheet / no sheets"
        raise file_error(
            f"file {path.name} tidak dapat dibaca sebagai workbook Excel ({reason})",
            f"{path.name} cannot be read as an Excel workbook ({reason})",
            "buka di Excel lalu simpan ulang sebagai .xlsx tanpa kata sandi",
            "open it in Excel and save it again as .xlsx without a password",
        ) from failure
    return sheets


def _panic_error(path: Path, sheet: str | None, exc: BaseException) -> BaseException:
    """Turn a Rust panic inside calamine (pyo3's PanicException) into a file error.

    PanicException derives from BaseException, so without this one bad cell would stop
    the whole run instead of rejecting its file. Anything else (KeyboardInterrupt,
    SystemExit) is handed back to be raised as it is.
    """
    if type(exc).__name__ != "PanicException":
        return exc
    where_id = f"sheet '{sheet}' file {path.name}" if sheet else f"file {path.name}"
    where_en = f"sheet '{sheet}' of {path.name}" if sheet else path.name
    return file_error(
        f"{where_id} memuat sel yang tidak dapat dibaca (misalnya tanggal di luar kalender)",
        f"{where_en} holds a cell that cannot be read (for instance a date outside any calendar)",
        "periksa kolom tanggal dan waktu di Excel, perbaiki atau kosongkan sel yang tampil "
        "sebagai ####, lalu simpan ulang",
        "check the date and time columns in Excel, fix or clear the cells shown as ####, "
        "and save it again",
    )


def csv_text(path: Path) -> str:
    """Decode a CSV file of unknown encoding, with every line break written as LF.

    A lone carriage return (old Mac line ends, or typed into a quoted cell) is a line
    break to a spreadsheet; the CSV parser would instead lose track of the quotes.
    """
    return _lf_text(path.read_bytes(), path.name)


def _lf_text(data: bytes, name: str) -> str:
    """`decode_text` with every line break written as LF (see `csv_text`); CR CR LF, a CR LF
    file passed once more through a LF → CR LF conversion (FTP in ASCII mode, say), is one."""
    text = decode_text(data, name)
    return text.replace("\r\r\n", "\n").replace("\r\n", "\n").replace("\r", "\n")


def _csv_frame(path: Path) -> pl.DataFrame:
    """Decode a CSV file of unknown encoding and delimiter into text cells."""
    data = path.read_bytes()
    payload = _plain_utf8(data)
    if payload is None:
        text = _lf_text(data, path.name)
        empty, sample = not text.strip(), text
    else:
        # the same text csv_text gives, kept as bytes: no decode, replace and encode
        empty, sample = _blank_bytes(payload), _head_text(payload)
    if empty:
        raise file_error(
            f"file {path.name} kosong",
            f"{path.name} is empty",
            "ekspor ulang file dari sumbernya",
            "export the file again from its source",
        )
    delimiter, width = sniff_csv(sample)
    if payload is None:
        payload = sample.encode("utf-8")
    try:
        frame = pl.read_csv(
            payload,
            has_header=False,
            separator=delimiter,
            quote_char='"',
            schema={f"c{i}": pl.Utf8 for i in range(width + EXTRA_COLUMNS)},
            missing_columns="insert",
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise file_error(
            f"file {path.name} tidak dapat diurai sebagai CSV ({type(exc).__name__}); "
            "mungkin ada tanda kutip yang tidak ditutup",
            f"{path.name} could not be parsed as CSV ({type(exc).__name__}); a quote may be "
            "left open",
            "buka di Excel atau Google Sheets lalu simpan ulang sebagai CSV",
            "open it in Excel or Google Sheets and save it again as CSV",
        ) from exc
    # a short sheet is tidied in one stacked query, cheaper than probing every column
    return _tidy(frame) if frame.height <= SHORT_SHEET_ROWS else _tidy_columns(frame)


def _plain_utf8(data: bytes) -> bytes | None:
    """Return the UTF-8 bytes of `csv_text` for plain UTF-8 text.

    None for a BOM, a NUL or bytes that are not UTF-8: those take `decode_text`. LF
    replaces CR LF and CR on the bytes: 0x0D never occurs inside a multi-byte sequence.
    """
    if data.startswith(UTF8_BOM) or data[:2] in UTF16_BOMS or b"\x00" in data:
        return None
    # replace() scans the whole file even when it finds nothing; `in` is a fast byte search
    payload = (
        data.replace(b"\r\r\n", b"\n").replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\r" in data
        else data
    )
    try:
        # Rust's UTF-8 check accepts exactly what Python's strict decoder accepts
        pl.Series([payload], dtype=pl.Binary).cast(pl.Utf8)
    except pl.exceptions.PolarsError:
        return None
    return payload


_ASCII_NON_SPACE = re.compile(rb"[^\t\n\x0b\x0c\r\x1c-\x1f ]")


def _blank_bytes(payload: bytes) -> bool:
    """Tell whether the UTF-8 text is empty or only whitespace (as `str.strip` sees it)."""
    found = _ASCII_NON_SPACE.search(payload)
    if found is None:
        return True
    if payload[found.start()] < 0x80:
        return False
    return not payload.decode("utf-8").strip()  # non-ASCII: may be NBSP and the like


def _head_text(payload: bytes) -> str:
    """Decode the lines `sniff_csv` reads (cut at a line feed, so at a character boundary)."""
    end = -1
    for _ in range(SNIFF_RECORDS * 2):
        end = payload.find(b"\n", end + 1)
        if end < 0:
            return payload.decode("utf-8")
    return payload[: end + 1].decode("utf-8")


def decode_text(data: bytes, name: str) -> str:
    """Decode bytes as UTF-8 (with or without BOM), UTF-16 with BOM, or a Windows code page."""
    if data.startswith(UTF8_BOM):
        text = data[len(UTF8_BOM) :].decode("utf-8", errors="replace")
    elif data[:2] in UTF16_BOMS:
        text = data.decode("utf-16", errors="replace")
    else:
        text = _decode_plain(data)
    if "\x00" in text:
        if name.lower().endswith((".xlsx", ".xlsm")):
            # named as a workbook but neither a zip archive nor text: say what it claims to be
            raise file_error(
                f"file {name} bukan workbook Excel (isinya bukan arsip .xlsx maupun teks)",
                f"{name} is not an Excel workbook (its content is neither a .xlsx archive "
                "nor text)",
                "buka di Excel lalu simpan ulang sebagai .xlsx",
                "open it in Excel and save it again as .xlsx",
            )
        raise file_error(
            f"file {name} bukan file teks CSV (berisi data biner)",
            f"{name} is not a CSV text file (it holds binary data)",
            "simpan tabulasi sebagai .xlsx atau CSV",
            "save the tabulation as .xlsx or CSV",
        )
    return text


def _decode_plain(data: bytes) -> str:
    """Decode bytes without a BOM: UTF-8, then the Windows code pages, then latin-1."""
    for encoding in ("utf-8", *FALLBACK_ENCODINGS):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # maps every byte, so it cannot fail


def sniff_csv(text: str) -> tuple[str, int]:
    """Pick the delimiter that splits the first records widest; return it and that width.

    The widest row, not the first, decides: a sapaapip CSV starts with a one-cell title
    and short metadata rows before the header.
    """
    end = -1
    for _ in range(SNIFF_RECORDS * 2):  # only these lines are read: skip copying the rest
        end = text.find("\n", end + 1)
        if end < 0:
            break
    sample = io.StringIO(text if end < 0 else text[: end + 1])
    lines = [line for _, line in zip(range(SNIFF_RECORDS * 2), sample, strict=False)]
    best, best_width = ",", 1
    for delimiter in CSV_DELIMITERS:
        records = csv.reader(lines, delimiter=delimiter, quotechar='"')
        try:
            width = max((len(record) for record in records), default=1)
        except csv.Error:
            continue
        if width > best_width:
            best, best_width = delimiter, width
    return best, best_width


def _tidy(frame: pl.DataFrame) -> pl.DataFrame:
    """Name cells c0…, strip them, turn blanks into nulls and number the rows from 1."""
    height, width = frame.height, frame.width
    if 0 < width and height <= SHORT_SHEET_ROWS:
        # a short sheet: tidy every cell as one stacked column (a query costs per column)
        stacked = pl.concat([frame.to_series(i).cast(pl.Utf8) for i in range(width)])
        tidy = stacked.rename("raw").to_frame().select(_tidy_cell("raw"))["raw"]
        return pl.DataFrame(
            [
                pl.Series(ROW, range(1, height + 1), dtype=pl.Int64),
                *(tidy.slice(i * height, height).rename(f"c{i}") for i in range(width)),
            ]
        )
    return _named(frame).select(*_tidy_exprs(width))


def _tidy_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """`_tidy(frame)`, tidying only the columns where that changes a cell.

    One query finds the columns holding a cell that is empty or starts or ends with
    whitespace (as `strip_chars` sees it); every other column is already tidy. In a CSV
    export that is most of them: the parser reads an empty unquoted field as null.
    """
    if frame.width == 0 or frame.height == 0:
        return _tidy(frame)
    frame = _named(frame)
    untidy = frame.select(_untidy_probe(frame.width)).row(0)
    return frame.select(
        _ROW_NUMBERS,
        *(
            _tidy_cell(name) if needs else pl.col(name).cast(pl.Utf8)
            for name, needs in zip(frame.columns, untidy, strict=True)
        ),
    )


# a cell `_tidy` changes: empty, or Unicode whitespace (the set strip_chars strips) at an edge
_UNTIDY_CELL = r"\A\z|\A\s|\s\z"
_ROW_NUMBERS = pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(ROW)


def _named(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.rename({old: f"c{i}" for i, old in enumerate(frame.columns)})


@functools.lru_cache(maxsize=256)
def _tidy_exprs(width: int) -> tuple[pl.Expr, ...]:
    """Build the one query of `_tidy` for a width (cached: files share a few widths)."""
    return (_ROW_NUMBERS, *(_tidy_cell(f"c{i}") for i in range(width)))


@functools.lru_cache(maxsize=256)
def _untidy_probe(width: int) -> tuple[pl.Expr, ...]:
    """Build `_tidy_columns`' query for a width: does column i hold an untidy cell?"""
    return tuple(
        pl.col(f"c{i}").cast(pl.Utf8).str.contains(_UNTIDY_CELL).any() for i in range(width)
    )


def _tidy_cell(name: str) -> pl.Expr:
    """A column's cells stripped, blanks as nulls."""
    return _blank_to_null(pl.col(name).cast(pl.Utf8).str.strip_chars()).alias(name)


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    """Turn empty strings into nulls."""
    return pl.when(expr != "").then(expr)


def any_cell(columns: list[str], rows: int) -> pl.Expr:
    """True for a row with a value in any of the columns (False when there are none), in a
    frame of `rows` rows.

    Over many rows, an OR of the columns' validity costs a third of asking whether their
    `coalesce` is null, which copies values column after column; but it is an expression
    per column, which costs more to plan than that saves on a short sheet.
    """
    if not columns:
        return pl.lit(False)
    if rows <= SHORT_SHEET_ROWS:
        return pl.coalesce(columns).is_not_null()
    return pl.any_horizontal(pl.col(columns).is_not_null())


def first_cells(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """Each row's first non-null cell among the columns, as `pl.coalesce` gives it.

    Only the rows whose first column is blank look further: in a tabulation that is a few
    title and metadata rows, so this costs a fraction of a whole-frame coalesce.
    """
    first = frame[columns[0]]
    if first.null_count() == 0 or len(columns) == 1:
        return first
    blank = first.is_null()
    rest = frame.filter(blank).select(pl.coalesce(columns[1:])).to_series()
    return first.scatter(blank.arg_true(), rest)


def row_values(sheet: Sheet, index: int) -> list[str | None]:
    """Return the cells of the row at 0-based `index` as a list."""
    return list(sheet.frame.row(index)[1:])
