"""Turn text cells into the normalised response frame; what both readers share.

Everything here works on whole columns (Polars Series and expressions): a national load
is millions of rows, so nothing loops over rows in Python. Answer labels, layanan and
demographics take few distinct values, so their text keys are computed once per distinct
value and mapped back (`_by_distinct`), which keeps a 200k-row file to about a second.

A parsed field is a `Parsed`: its typed values and, when reading can fail, the raw text
and a bilingual reason that is non-null on the rows that become issues.
"""

from __future__ import annotations

import datetime as dt
import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from skm_etl.reference.model import (
    EDUCATION,
    OCCUPATION,
    SEX,
    Item,
    Reference,
    compact_key_expr,
    text_key_expr,
)
from skm_etl.sources.age import age_group
from skm_etl.sources.constants import (
    AGE_PATTERN,
    DATE_FIRST_FIELDS,
    DATE_YEAR_FIRST,
    EXCEL_EPOCH,
    EXCEL_SERIAL,
    FAST_DAY_FIRST,
    FAST_ISO,
    INTEGER_PATTERN,
    REASON_AGE,
    REASON_BLANK_SCORE,
    REASON_EXTRA_FIELDS,
    REASON_NOT_INTEGER,
    REASON_OUT_OF_RANGE,
    REASON_PERCENT,
    REASON_TIME,
    REASON_UNKNOWN_LABEL,
    WARNING_EXAMPLES,
)
from skm_etl.sources.result import ISSUE_SCHEMA, RESPONSE_SCHEMA
from skm_etl.sources.tabular import ROW, any_cell

_UTF8_NULL = pl.lit(None, dtype=pl.Utf8)


@dataclass(frozen=True)
class Parsed:
    """One normalised column: its values and, when reading can fail, raw text and reasons."""

    value: pl.Series
    raw: pl.Series | None = None
    reason: pl.Series | None = None


def header_key(title: str | None) -> str:
    """Return the text key of a header cell ("" for a blank cell), remembered (`text_keys`)."""
    return text_keys([title])[0] if title else ""


@functools.lru_cache(maxsize=256)
def _label_scores(item: Item) -> dict[str, int]:
    return item.label_scores()


_LAYANAN_LOOKUPS: dict[int, tuple[weakref.ref, dict[str, str], dict[str, str]]] = {}


def _layanan_lookup(reference: Reference) -> tuple[dict[str, str], dict[str, str]]:
    """Map compact keys of layanan codes, names and aliases to code and name, once per Reference."""
    cached = _LAYANAN_LOOKUPS.get(id(reference))
    if cached is not None and cached[0]() is reference:
        return cached[1], cached[2]
    keys = reference.layanan_keys()
    codes = {k: x.code for k, x in keys.items()}
    names = {k: x.name for k, x in keys.items()}
    _LAYANAN_LOOKUPS[id(reference)] = (weakref.ref(reference), codes, names)
    return codes, names


def starts_with_phrase(key: str, phrases: tuple[str, ...]) -> bool:
    """Tell whether a key equals a phrase or starts with it followed by a space."""
    return any(key == p or key.startswith(p + " ") for p in phrases)


def contains_phrase(key: str, phrases: tuple[str, ...]) -> bool:
    """Tell whether any phrase occurs in the key starting at a word boundary."""
    padded = " " + key
    return any(" " + p in padded for p in phrases)


def by_distinct(
    values: pl.Series, expression: Callable[[pl.Expr], pl.Expr], dtype: pl.DataType
) -> pl.Series:
    """Apply an expression once per distinct non-null value and map the results back."""
    return map_distinct(values, {"out": (expression, dtype)})["out"]


def map_distinct(
    values: pl.Series, outputs: dict[str, tuple[Callable[[pl.Expr], pl.Expr], pl.DataType]]
) -> dict[str, pl.Series]:
    """Compute several expressions once per distinct non-null text value; map each back.

    Mapping back casts the column to an Enum of its distinct values and gathers by the
    Enum's codes: about half the cost of `replace_strict`, paid once for all outputs.
    """
    if values.len() <= DIRECT_ROWS:
        return _map_direct(values, outputs)
    distinct = values.drop_nulls().unique()
    if distinct.is_empty():
        return {
            name: constant(None, values.len(), dtype).rename(values.name)
            for name, (_, dtype) in outputs.items()
        }
    table = pl.DataFrame({"raw": distinct}, schema={"raw": pl.Utf8}).select(
        expression(pl.col("raw")).cast(dtype).alias(name)
        for name, (expression, dtype) in outputs.items()
    )
    codes = values.cast(pl.Enum(distinct)).to_physical()
    return {name: table[name].gather(codes).rename(values.name) for name in outputs}


# Up to this many rows an expression is evaluated on every cell in one query: cheaper than
# the handful of queries that find, key and map back the distinct values, with the same
# result (the expressions are elementwise, and blank cells stay null either way).
DIRECT_ROWS = 1024


def _map_direct(
    values: pl.Series, outputs: dict[str, tuple[Callable[[pl.Expr], pl.Expr], pl.DataType]]
) -> dict[str, pl.Series]:
    """`map_distinct` for a short column: one query over every cell."""
    raw = pl.col("raw").cast(pl.Utf8)
    frame = values.to_frame("raw").select(
        pl.when(raw.is_not_null()).then(expression(raw).cast(dtype)).alias(name)
        for name, (expression, dtype) in outputs.items()
    )
    return {name: frame[name].rename(values.name) for name in outputs}


def _evaluate(columns: dict[str, pl.Series], expression: pl.Expr) -> pl.Series:
    """Evaluate an expression over equally long Series named by `columns`."""
    return pl.DataFrame(columns).select(expression).to_series()


def saran(raw: pl.Series) -> Parsed:
    """Read a suggestion; null when blank or only punctuation such as "-"."""
    return Parsed(
        value=_evaluate(
            {"raw": raw},
            pl.when(pl.col("raw").str.contains(r"[\p{L}\p{N}]")).then(pl.col("raw")),
        ).rename(raw.name)
    )


def score_from_number(raw: pl.Series, scale: int, *, blank_is_issue: bool) -> Parsed:
    """Read a score written as a number: a whole number 1..scale, else an issue."""

    def number(expr: pl.Expr) -> pl.Expr:
        return expr.str.extract(INTEGER_PATTERN, 1).cast(pl.Int64, strict=False)

    mapped = map_distinct(
        raw,
        {
            "value": (
                lambda e: pl.when(number(e).is_between(1, scale)).then(number(e)),
                pl.Int16(),
            ),
            "problem": (
                lambda e: (
                    pl.when(number(e).is_null())
                    .then(pl.lit(REASON_NOT_INTEGER.format(low=1, high=scale)))
                    .when(~number(e).is_between(1, scale))
                    .then(pl.lit(REASON_OUT_OF_RANGE.format(low=1, high=scale)))
                ),
                pl.Utf8(),
            ),
        },
    )
    value, problem = mapped["value"], mapped["problem"]
    reason = _evaluate(
        {"raw": raw, "problem": problem},
        pl.when(pl.col("raw").is_null())
        .then(pl.lit(REASON_BLANK_SCORE if blank_is_issue else None, dtype=pl.Utf8))
        .otherwise(pl.col("problem")),
    )
    return Parsed(value=value, raw=raw, reason=reason)


def scores_from_numbers(
    cells: pl.DataFrame, scale: int, *, blank_is_issue: dict[str, bool]
) -> dict[str, Parsed]:
    """Read every score column of a file at once (columns named by item code).

    A cell that is one of "1" … str(scale) (nearly all) is read in one vectorised pass
    over every column. The other non-blank cells ("5.0", "7", "lima") of all columns go
    through `score_from_number` together and are put back in place: the same values and
    reasons as reading column by column, in a few queries instead of several per column.
    """
    if cells.width == 0:
        return {}
    if scale > 9:
        return {
            code: score_from_number(cells[code], scale, blank_is_issue=blank_is_issue[code])
            for code in cells.columns
        }
    codes, height = cells.columns, cells.height
    if height <= DIRECT_ROWS:
        # a short file: stack the columns and read them as one (a query costs per column)
        stacked = pl.concat([cells[code] for code in codes]).rename("raw").to_frame()
        passes = stacked.select(*_score_passes(("raw",), scale))

        position = {code: i for i, code in enumerate(codes)}

        def column(output: str, code: str) -> pl.Series:
            return passes[f"{output} raw"].slice(position[code] * height, height)

    else:
        passes = cells.select(*_score_passes(tuple(codes), scale))

        def column(output: str, code: str) -> pl.Series:
            return passes[f"{output} {code}"]

    values = {code: column("value", code).rename(code) for code in codes}
    reasons = {
        code: (
            column("blank", code) if blank_is_issue[code] else constant(None, height, pl.Utf8())
        ).rename(f"reason {code}")
        for code in codes
    }
    odd = {code: column("odd", code) for code in codes}
    # arg_true is a query of its own: ask the cheap Series.any first (nearly always False)
    odd = {code: flags.arg_true() for code, flags in odd.items() if flags.any()}
    if odd:
        # blank_is_issue does not matter here: none of these cells is blank
        slow = score_from_number(
            pl.concat([cells[code].gather(where) for code, where in odd.items()]),
            scale,
            blank_is_issue=False,
        )
        offset = 0
        for code, where in odd.items():
            size = where.len()
            values[code] = values[code].scatter(where, slow.value.slice(offset, size))
            reasons[code] = reasons[code].scatter(where, slow.reason.slice(offset, size))
            offset += size
    return {
        code: Parsed(value=values[code], raw=cells[code], reason=reasons[code]) for code in codes
    }


@functools.lru_cache(maxsize=64)
def _score_passes(codes: tuple[str, ...], scale: int) -> tuple[pl.Expr, ...]:
    """The one query of `scores_from_numbers` for these columns (reused for every file).

    Per column: `value <code>` for a plain score cell, `blank <code>` the reason of a blank
    cell that is an issue, and `odd <code>` for a non-blank cell that is not a plain score.
    """
    passes: list[pl.Expr] = []
    for code in codes:
        cell = pl.col(code)
        plain = (cell.str.len_bytes() == 1) & cell.is_between(pl.lit("1"), pl.lit(str(scale)))
        passes += [
            pl.when(plain).then(cell.cast(pl.Int16, strict=False)).alias(f"value {code}"),
            pl.when(cell.is_null())
            .then(pl.lit(REASON_BLANK_SCORE, dtype=pl.Utf8))
            .alias(f"blank {code}"),
            (cell.is_not_null() & ~plain).alias(f"odd {code}"),
        ]
    return tuple(passes)


def score_from_label(raw: pl.Series, item: Item, *, blank_is_issue: bool) -> Parsed:
    """Read a score written as the item's answer label, ignoring case and spaces."""
    scores = _label_scores(item)
    value = by_distinct(
        raw,
        lambda e: text_key_expr(e).replace_strict(scores, default=None, return_dtype=pl.Int16),
        pl.Int16(),
    )
    reason = _evaluate(
        {"raw": raw, "value": value},
        pl.when(pl.col("raw").is_null())
        .then(pl.lit(REASON_BLANK_SCORE if blank_is_issue else None, dtype=pl.Utf8))
        .when(pl.col("value").is_null())
        .then(pl.lit(REASON_UNKNOWN_LABEL.format(labels=", ".join(item.labels))))
        .otherwise(_UTF8_NULL),
    )
    return Parsed(value=value, raw=raw, reason=reason)


def scores_from_labels(
    cells: pl.DataFrame, items: dict[str, Item], *, blank_is_issue: dict[str, bool]
) -> dict[str, Parsed]:
    """Read every label-answer column at once (columns named by item code).

    The same values and reasons as `score_from_label` column by column: each distinct text
    of all columns is keyed once, and every column is mapped back through one Enum.
    """
    codes = cells.columns
    if not codes:
        return {}
    distinct = sorted(set().union(*cells.select(pl.all().unique().implode()).row(0)) - {None})
    if distinct:
        keys = text_keys(distinct)  # each distinct text keyed once for all columns
        enum = pl.Enum(distinct)
        value_exprs = []
        for code in codes:
            scores = _label_scores(items[code])
            table = pl.Series(code, [scores.get(k) for k in keys], dtype=pl.Int16)
            index = pl.col(code).cast(enum).to_physical()
            value_exprs.append(pl.lit(table).gather(index).alias(f"value {code}"))
    else:
        value_exprs = [pl.lit(None, dtype=pl.Int16).alias(f"value {code}") for code in codes]
    items_key = tuple(items[code] for code in codes)
    blank = tuple(bool(blank_is_issue[code]) for code in codes)
    parsed = (
        cells.lazy()
        .select(*(pl.col(c).alias(f"raw {c}") for c in codes), *value_exprs)
        .select(*_label_reasons(tuple(codes), items_key, blank))
        .collect()
    )
    return {
        code: Parsed(
            value=parsed[f"value {code}"].rename(code),
            raw=cells[code],
            reason=parsed[f"reason {code}"].rename(code),
        )
        for code in codes
    }


@functools.lru_cache(maxsize=64)
def _label_reasons(
    codes: tuple[str, ...], items: tuple[Item, ...], blank: tuple[bool, ...]
) -> tuple[pl.Expr, ...]:
    """Build the reasons of `scores_from_labels` once per header, from raw and value."""
    return (
        *(pl.col(f"value {code}") for code in codes),
        *(
            pl.when(pl.col(f"raw {code}").is_null())
            .then(pl.lit(REASON_BLANK_SCORE if is_issue else None, dtype=pl.Utf8))
            .when(pl.col(f"value {code}").is_null())
            .then(pl.lit(REASON_UNKNOWN_LABEL.format(labels=", ".join(item.labels))))
            .otherwise(_UTF8_NULL)
            .alias(f"reason {code}")
            for code, item, is_issue in zip(codes, items, blank, strict=True)
        ),
    )


def _reason_when_unread(raw: pl.Series, value: pl.Series, reason: str) -> pl.Series:
    """Give the reason on rows where a non-blank raw value gave no value."""
    return _evaluate(
        {"raw": raw, "value": value},
        pl.when(pl.col("raw").is_not_null() & pl.col("value").is_null()).then(pl.lit(reason)),
    )


def _read_number(
    raw: pl.Series, expression: Callable[[pl.Expr], pl.Expr], dtype: pl.DataType, reason: str
) -> Parsed:
    """Read values with an elementwise expression; the reason where one gives no value."""
    if raw.len() > DIRECT_ROWS:
        value = by_distinct(raw, expression, dtype)
        return Parsed(value=value, raw=raw, reason=_reason_when_unread(raw, value, reason))
    # a short column: value and reason in one query, as `_map_direct` and
    # `_reason_when_unread` give them
    text = pl.col("raw")
    parsed = (
        raw.to_frame("raw")
        .lazy()
        .with_columns(
            pl.when(text.cast(pl.Utf8).is_not_null())
            .then(expression(text.cast(pl.Utf8)).cast(dtype))
            .alias("value")
        )
        .select(
            "value",
            pl.when(text.is_not_null() & pl.col("value").is_null())
            .then(pl.lit(reason))
            .alias("literal"),
        )
        .collect()
    )
    return Parsed(value=parsed["value"].rename(raw.name), raw=raw, reason=parsed["literal"])


def age(raw: pl.Series) -> dict[str, Parsed]:
    """Read age in years ("25", "25.0", "25 tahun"); validation judges plausibility.

    An age answered as one of SPEC §5's groups ("26 - 30 tahun", `sources/age.py`) is kept
    as that group in `respondent_age_group`, with no age in years. Only the cells the
    number reading rejects are looked at (a few rows).
    """
    years = _read_number(
        raw,
        lambda e: e.str.to_lowercase().str.extract(AGE_PATTERN, 1).cast(pl.Int32, strict=False),
        pl.Int32(),
        REASON_AGE,
    )
    group = constant(None, raw.len(), pl.Utf8()).rename("respondent_age_group")
    reason = years.reason
    if reason.null_count() < reason.len():
        positions = reason.is_not_null().arg_true()
        found = [age_group(text) for text in raw.cast(pl.Utf8).gather(positions).to_list()]
        reason = reason.cast(pl.Utf8).scatter(
            positions, pl.Series([why or None for _, why in found], dtype=pl.Utf8)
        )
        group = group.scatter(positions, pl.Series([label for label, _ in found], dtype=pl.Utf8))
    return {
        "respondent_age": Parsed(value=years.value, raw=raw, reason=reason),
        "respondent_age_group": Parsed(value=group),
    }


def percent(raw: pl.Series) -> Parsed:
    """Read a percentage ("100", "90,5", "100%")."""
    return _read_number(
        raw,
        lambda e: (
            e.str.replace(r"\s*%$", "")
            .str.replace(",", ".", literal=True)
            .cast(pl.Float64, strict=False)
        ),
        pl.Float64(),
        REASON_PERCENT,
    )


def submitted_at(raw: pl.Series, *, day_first: bool = True, excel_serial: bool = False) -> Parsed:
    """Read submission times in the formats exports use, as Datetime(us) to the second.

    Accepts dd/mm/yyyy (mm/dd/yyyy when `day_first` is False) with `/`, `-` or `.`, an
    optional HH:MM[:SS] with AM/PM, ISO and other year-first forms, a trailing zone (kept
    as local wall time), and with `excel_serial` Excel's day numbers. The common exact
    formats take a fast path; only the rest go through the general pattern. Times are
    rounded to the second because Excel stores them as fractions of a day, so an xlsx and
    its CSV twin agree.
    """
    fast_format = "%d/%m/%Y %H:%M:%S" if day_first else "%m/%d/%Y %H:%M:%S"
    value = _evaluate(
        {"raw": raw},
        pl.coalesce(
            pl.when(pl.col("raw").str.contains(FAST_DAY_FIRST)).then(
                pl.col("raw").str.strptime(pl.Datetime("us"), fast_format, strict=False)
            ),
            pl.when(pl.col("raw").str.contains(FAST_ISO)).then(
                pl.col("raw").str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
            ),
        ),
    )
    slow = value.is_null() & raw.is_not_null()
    # when every time took the fast path, none is left unread: no reason to look for
    some_slow = slow.any()
    if some_slow:
        indices = slow.arg_true()
        general = _evaluate(
            {"raw": raw.gather(indices)},
            _general_time(pl.col("raw"), day_first=day_first, excel_serial=excel_serial),
        )
        value = value.scatter(indices, general)
    value = value.dt.round("1s").rename(raw.name)
    reason = (
        _reason_when_unread(raw, value, REASON_TIME)
        if some_slow
        else constant(None, raw.len(), pl.Utf8())
    )
    return Parsed(value=value, raw=raw, reason=reason)


def _general_time(raw: pl.Expr, *, day_first: bool, excel_serial: bool) -> pl.Expr:
    """Parse every accepted time form (slower; used for what the fast path leaves)."""
    fields = raw.str.extract_groups(DATE_FIRST_FIELDS)
    first, second = fields.struct.field("first"), fields.struct.field("second_field")
    year = fields.struct.field("year")
    year = pl.when(year.str.len_chars() == 2).then(pl.lit("20") + year).otherwise(year)
    year_first = raw.str.extract_groups(DATE_YEAR_FIRST)
    candidates = [
        _compose(year, second if day_first else first, first if day_first else second, fields),
        _compose(
            year_first.struct.field("year"),
            year_first.struct.field("month"),
            year_first.struct.field("day"),
            year_first,
        ),
    ]
    if excel_serial:
        days = pl.when(raw.str.contains(EXCEL_SERIAL)).then(raw.cast(pl.Float64, strict=False))
        micros = (days * 86_400_000_000).round(0).cast(pl.Int64)
        candidates.append(pl.lit(dt.datetime(*EXCEL_EPOCH)) + pl.duration(microseconds=micros))
    return pl.coalesce(candidates).cast(pl.Datetime("us"))


def _compose(year: pl.Expr, month: pl.Expr, day: pl.Expr, fields: pl.Expr) -> pl.Expr:
    """Build a datetime from text parts; impossible dates (31/02) or hours (25:00) give null."""
    hour = fields.struct.field("hour").cast(pl.Int32, strict=False).fill_null(0)
    meridiem = fields.struct.field("ampm").str.to_lowercase()
    hour = (
        pl.when(meridiem.str.starts_with("p") & (hour < 12))
        .then(hour + 12)
        .when(meridiem.str.starts_with("a") & (hour == 12))
        .then(0)
        .otherwise(hour)
    )
    stamp = pl.format(
        "{}-{}-{} {}:{}:{}",
        year,
        month.str.zfill(2),
        day.str.zfill(2),
        hour.cast(pl.Utf8).str.zfill(2),
        fields.struct.field("minute").fill_null("00"),
        fields.struct.field("second").fill_null("00"),
    ).str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
    fraction = (pl.lit("0.") + fields.struct.field("fraction")).cast(pl.Float64, strict=False)
    micros = (fraction * 1_000_000).round(0).cast(pl.Int64).fill_null(0)
    return stamp + pl.duration(microseconds=micros)


def day_first_for(values: pl.Series) -> tuple[bool, str | None]:
    """Decide per file whether n/n/yyyy times are day-first; return it and a warning.

    A first field above 12 proves day-first, a second field above 12 proves month-first
    (a sheet in US locale). When no value proves either, the order the rows were submitted
    in decides (a Forms sheet appends responses); failing that, day-first with a warning.
    """
    fields = values.str.extract_groups(DATE_FIRST_FIELDS).struct.unnest()
    first = fields["first"].cast(pl.Int32, strict=False)
    second = fields["second_field"].cast(pl.Int32, strict=False)
    first_big, second_big = bool((first > 12).any()), bool((second > 12).any())
    if first_big and second_big:
        return True, (
            "waktu pengisian bercampur format hari/bulan dan bulan/hari; dibaca hari/bulan / "
            "submission times mix day/month and month/day; read as day/month"
        )
    if first_big or second_big:
        return first_big, None
    if not bool((first != second).any()):
        return True, None
    dmy = submitted_at(values, day_first=True).value.drop_nulls()
    mdy = submitted_at(values, day_first=False).value.drop_nulls()
    if dmy.is_sorted() and not mdy.is_sorted():
        return True, None
    if mdy.is_sorted() and not dmy.is_sorted():
        return False, (
            "waktu pengisian dibaca sebagai bulan/hari/tahun karena hanya urutan itu cocok "
            "dengan urutan baris / submission times read as month/day/year, the only order "
            "that matches the order of the rows — periksa lokal Google Sheets / "
            "check the sheet's locale"
        )
    return True, (
        "waktu pengisian bisa dibaca hari/bulan atau bulan/hari; dibaca hari/bulan / "
        "submission times could be day/month or month/day; read as day/month — "
        "atur lokal Google Sheets ke Indonesia / set the sheet's locale to Indonesia"
    )


_KEYS: dict[str, str] = {}
_KEYS_LIMIT = 100_000


def text_keys(texts: list[str]) -> list[str]:
    """Return `text_key_expr` of each non-null text; unseen texts are keyed in one query.

    Answers repeat across the files of a run, so their keys are remembered (the same
    engine computes them, so a remembered key is the key the expression gives).
    """
    unique = list(dict.fromkeys(texts))
    # read threads share _KEYS: .get, as another thread may clear it between two lookups
    keyed = {text: key for text in unique if (key := _KEYS.get(text)) is not None}
    missing = [text for text in unique if text not in keyed]
    if missing:
        frame = pl.Series("raw", missing, dtype=pl.Utf8).to_frame()
        computed = dict(
            zip(missing, frame.select(text_key_expr(pl.col("raw")))["raw"].to_list(), strict=True)
        )
        keyed.update(computed)
        if len(_KEYS) + len(computed) > _KEYS_LIMIT:
            _KEYS.clear()
        _KEYS.update(computed)
    return [keyed[text] for text in texts]


def demographic(raw: pl.Series, reference: Reference, characteristic: str) -> Parsed:
    """Map a demographic answer to its category; unknown -> the fallback or null."""
    variants = reference.demographics.get(characteristic, {})
    if raw.len() <= DIRECT_ROWS:
        # a short column: the same categories, from remembered keys, without a query
        default = reference.demographic_fallbacks.get(characteristic)
        texts = raw.to_list()
        present = [text for text in texts if text is not None]
        keyed = dict(zip(present, text_keys(present), strict=True))
        categories = [
            None if text is None or keyed[text] == "" else variants.get(keyed[text], default)
            for text in texts
        ]
        return Parsed(value=pl.Series(raw.name, categories, dtype=pl.Utf8))
    fallback = pl.lit(reference.demographic_fallbacks.get(characteristic), dtype=pl.Utf8)

    def category(expr: pl.Expr) -> pl.Expr:
        key = text_key_expr(expr)
        mapped = (
            key.replace_strict(variants, default=fallback, return_dtype=pl.Utf8)
            if variants
            else fallback
        )
        return pl.when(key != "").then(mapped)

    return Parsed(value=by_distinct(raw, category, pl.Utf8()))


def unrecognised_warnings(
    cells: pl.DataFrame, reference: Reference, titles: dict[str, str]
) -> list[str]:
    """Warn about the sex and education answers (the columns `cells` has) no variant knows.

    `titles` names each column as its export's header does.
    """
    messages = [
        _unrecognised_warning(cells[column], reference, characteristic, titles[column])
        for column, characteristic in (
            ("respondent_sex", SEX),
            ("respondent_education", EDUCATION),
        )
        if column in cells.columns
    ]
    return [message for message in messages if message]


def _unrecognised_warning(
    raw: pl.Series, reference: Reference, characteristic: str, title: str
) -> str | None:
    """Warn about answers no variant knows; they were left blank (no fallback exists)."""
    if characteristic in reference.demographic_fallbacks:
        return None
    known_keys = set(reference.demographics.get(characteristic, {}))
    # the few distinct answers are keyed from remembered keys (`text_keys`), not by a query
    distinct = raw.drop_nulls().unique(maintain_order=True).to_list()
    unknown = [
        text
        for text, key in zip(distinct, text_keys(distinct), strict=True)
        if key != "" and key not in known_keys
    ]
    if not unknown:
        return None
    count = int(raw.is_in(pl.Series(unknown, dtype=pl.Utf8)).sum())
    examples = ", ".join(f"'{v}'" for v in unknown[:WARNING_EXAMPLES])
    return (
        f"{count} jawaban '{title}' tidak dikenal dan dikosongkan ({examples}) / "
        f"{count} '{title}' answers not recognised, left blank ({examples})"
    )


# The respondent's fields and how each is read, in the order both readers report them
# (a row's issues come out in field order). A reading may give more than its own field
# (the age: also the age group), as a dict of them.
RESPONDENT_FIELDS: dict[str, Callable[[pl.Series, Reference], Parsed | dict[str, Parsed]]] = {
    "respondent_age": lambda raw, _: age(raw),
    "respondent_sex": lambda raw, ref: demographic(raw, ref, SEX),
    "respondent_education": lambda raw, ref: demographic(raw, ref, EDUCATION),
    "respondent_occupation": lambda raw, ref: demographic(raw, ref, OCCUPATION),
    "completion_pct": lambda raw, _: percent(raw),
    "saran": lambda raw, _: saran(raw),
}


def respondent_fields(data: pl.DataFrame, reference: Reference) -> dict[str, Parsed]:
    """Parse the respondent fields that `data` has a column for (named by field)."""
    fields: dict[str, Parsed] = {}
    for field, parse in RESPONDENT_FIELDS.items():
        if field in data.columns:
            parsed = parse(data[field], reference)
            fields.update(parsed if isinstance(parsed, dict) else {field: parsed})
    return fields


def layanan(raw: pl.Series, reference: Reference) -> dict[str, Parsed]:
    """Resolve layanan_raw to layanan_code and layanan_name by catalogue name, alias or code."""
    codes, names = _layanan_lookup(reference)
    if raw.len() <= DIRECT_ROWS:
        # a short column: remembered text keys, less their spaces, are the compact keys
        texts = raw.to_list()
        present = [text for text in texts if text is not None]
        compact = {t: k.replace(" ", "") for t, k in zip(present, text_keys(present), strict=True)}
        keys = [None if text is None else compact[text] for text in texts]
        return {
            "layanan_raw": Parsed(value=raw),
            "layanan_code": Parsed(
                value=pl.Series(raw.name, [codes.get(k) for k in keys], dtype=pl.Utf8)
            ),
            "layanan_name": Parsed(
                value=pl.Series(raw.name, [names.get(k) for k in keys], dtype=pl.Utf8)
            ),
        }

    def lookup(mapping: dict[str, str]) -> Callable[[pl.Expr], pl.Expr]:
        return lambda e: compact_key_expr(e).replace_strict(
            mapping, default=None, return_dtype=pl.Utf8
        )

    mapped = map_distinct(
        raw, {"code": (lookup(codes), pl.Utf8()), "name": (lookup(names), pl.Utf8())}
    )
    return {
        "layanan_raw": Parsed(value=raw),
        "layanan_code": Parsed(value=mapped["code"]),
        "layanan_name": Parsed(value=mapped["name"]),
    }


def extra_field_issues(data: pl.DataFrame, beyond: list[str]) -> pl.DataFrame:
    """Flag CSV records holding values in columns past the header's last one."""
    if not beyond:
        return pl.DataFrame(schema=ISSUE_SCHEMA)
    return (
        data.lazy()
        .filter(any_cell(beyond, data.height))
        .select(
            pl.col(ROW).alias("source_row"),
            pl.lit("(baris / row)").alias("column"),
            pl.concat_str(beyond, separator=" | ", ignore_nulls=True).alias("value"),
            pl.lit(REASON_EXTRA_FIELDS).alias("reason"),
        )
        .collect()
    )


def constant(value: object, height: int, dtype: pl.DataType) -> pl.Series:
    """Repeat one value `height` times (as `pl.repeat`, without running a query)."""
    return pl.Series("", [value], dtype=dtype).new_from_index(0, height)


def assemble(rows: pl.Series, fields: dict[str, Parsed]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Build the response frame (contract columns, in order) and its issues frame.

    `rows` holds the source_row of each response. Columns with no field are null: an
    export without questions 12-14 still gives the full frame (unit_name and survey_year,
    the file's, are the caller's to fill). Issues name the normalised column, the raw text
    and the reason, sorted by row.
    """
    height = rows.len()
    columns: dict[str, pl.Series] = {}
    for name, dtype in RESPONSE_SCHEMA.items():
        if name == "source_row":
            series = rows
        elif name in fields:
            series = fields[name].value
        else:
            series = constant(None, height, dtype)
        columns[name] = series.cast(dtype).rename(name)
    responses = pl.DataFrame(columns)

    parts = [
        pl.DataFrame({"source_row": rows, "value": parsed.raw, "reason": parsed.reason})
        .lazy()
        .filter(pl.col("reason").is_not_null())
        .select("source_row", pl.lit(name).alias("column"), "value", "reason")
        .collect()
        for name, parsed in fields.items()
        # a column without any reason adds no issue (null_count is kept by the Series)
        if parsed.reason is not None
        and parsed.raw is not None
        and parsed.reason.null_count() < parsed.reason.len()
    ]
    issues = pl.concat(
        [part.cast(ISSUE_SCHEMA) for part in parts] or [pl.DataFrame(schema=ISSUE_SCHEMA)]
    ).sort("source_row", maintain_order=True)
    return responses, issues
