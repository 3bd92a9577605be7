"""Read one unit's (or the whole of BPOM's) year from the served file's marts.

Every figure a report shows comes from a mart column as it is stored; the queries here
only select, filter, join and order. The method (indices, grades, deltas, priorities,
percentages) is computed once, in dbt, so a report can never disagree with the
warehouse. The connection is read-only: a report never writes the served file.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

GRADES = ("A", "B", "C", "D")


class ReportError(Exception):
    """The report cannot be made: an unknown unit or year, or no served file. Bilingual."""


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    unit_type: str | None
    province: str | None


@dataclass(frozen=True)
class Source:
    """Which published run the figures come from."""

    warehouse: str
    run_id: str | None
    published_at: dt.datetime | None


@dataclass(frozen=True)
class UnitSummary:
    respondents_received: int
    respondents_in_window: int
    respondents_counted: int
    counting_rule: str | None
    has_population: bool | None
    ikm: float | None
    mutu: str | None
    kinerja: str | None
    previous_year: int | None
    previous_ikm: float | None
    previous_mutu: str | None
    delta: float | None
    direction: str | None


@dataclass(frozen=True)
class ProfileRow:
    characteristic: str
    category: str
    respondents: int
    respondents_received: int
    pct: float | None


@dataclass(frozen=True)
class SampleRow:
    layanan_code: str
    layanan_name: str | None
    populasi: int | None
    window_months: int | None
    population_window: int | None
    target_sample: int | None
    respondents_received: int
    respondents_counted: int
    is_met: bool | None
    unit_code: str | None = None
    unit_name: str | None = None


@dataclass(frozen=True)
class SampleTotal:
    """Column sums of the sample table; a target sum only when every layanan has one."""

    populasi: int | None
    population_window: int | None
    target_sample: int | None
    respondents_received: int
    respondents_counted: int
    layanan: int
    layanan_met: int
    layanan_without_target: int


@dataclass(frozen=True)
class UnsurValue:
    unsur_code: str
    ikm: float | None


@dataclass(frozen=True)
class LayananScore:
    layanan_code: str
    layanan_name: str | None
    respondents_received: int
    respondents_counted: int
    ikm: float | None
    mutu: str | None
    kinerja: str | None
    unsur: tuple[UnsurValue, ...]

    def unsur_ikm(self, unsur_code: str) -> float | None:
        """This layanan's index of one unsur; None where it had no answers."""
        return next((u.ikm for u in self.unsur if u.unsur_code == unsur_code), None)


@dataclass(frozen=True)
class UnsurScore:
    unsur_code: str
    unsur_name: str | None
    unsur_order: int | None
    respondents: int
    answers: int
    nrr: float | None
    ikm: float
    mutu: str | None
    kinerja: str | None
    rank_lowest: int | None
    previous_year: int | None
    previous_ikm: float | None
    previous_mutu: str | None
    delta: float | None
    direction: str | None


@dataclass(frozen=True)
class TrendPoint:
    """One year on the axis; `ikm` is None for a year without a survey (a gap, not a zero)."""

    survey_year: int
    ikm: float | None
    mutu: str | None
    delta: float | None
    direction: str | None
    respondents: int | None = None


@dataclass(frozen=True)
class Priority:
    kind: str
    position: int
    unsur_code: str
    unsur_name: str | None
    ikm: float | None
    mutu: str | None


@dataclass(frozen=True)
class Ipak:
    layanan_code: str | None
    layanan_name: str | None
    respondents: int
    nrr: float | None
    ikm: float
    mutu: str | None
    kinerja: str | None


@dataclass(frozen=True)
class ExtraQuestion:
    question_number: int | None
    item_code: str
    respondents: int
    nrr: float | None
    index_value: float | None


@dataclass(frozen=True)
class Saran:
    layanan_name: str | None
    submitted_at: dt.datetime | None
    saran: str
    is_counted: bool | None


@dataclass(frozen=True)
class RtlPlan:
    plan_number: int
    layanan_name: str | None
    unsur_code: str | None
    unsur_name: str | None
    penyebab: str | None
    rencana_tindak_lanjut: str | None
    batas_waktu: dt.date | None
    penanggung_jawab: str | None
    status: str | None
    realized_at: dt.date | None


@dataclass(frozen=True)
class RtlRealization:
    plan_year: int
    planned: int
    realized: int
    pct: float | None
    plans: tuple[RtlPlan, ...]


@dataclass(frozen=True)
class UnitReport:
    unit: Unit
    year: int
    window_start: dt.date
    window_end: dt.date
    scale: int
    source: Source
    summary: UnitSummary
    profile: tuple[ProfileRow, ...]
    sample: tuple[SampleRow, ...]
    sample_total: SampleTotal
    layanan: tuple[LayananScore, ...]
    unsur: tuple[UnsurScore, ...]
    trend: tuple[TrendPoint, ...]
    lowest: tuple[Priority, ...]
    highest: tuple[Priority, ...]
    ipak_unit: Ipak | None
    ipak_layanan: tuple[Ipak, ...]
    extra_questions: tuple[ExtraQuestion, ...]
    saran: tuple[Saran, ...]
    rtl_plans: tuple[RtlPlan, ...]
    rtl_previous: RtlRealization | None


@dataclass(frozen=True)
class NationalScope:
    scope_type: str
    scope: str
    units: int
    respondents: int
    respondents_received: int | None
    ikm_pooled: float | None
    mutu_pooled: str | None
    kinerja_pooled: str | None
    ikm_unit_mean: float | None
    mutu_unit_mean: str | None
    kinerja_unit_mean: str | None


@dataclass(frozen=True)
class NationalTrendPoint:
    """One year of the BPOM scope; both indices None for a year without a survey."""

    survey_year: int
    units: int | None
    respondents: int | None
    ikm_pooled: float | None
    mutu_pooled: str | None
    ikm_unit_mean: float | None
    mutu_unit_mean: str | None
    previous_year: int | None
    delta_pooled: float | None
    direction_pooled: str | None
    delta_unit_mean: float | None
    direction_unit_mean: str | None


@dataclass(frozen=True)
class RankedUnit:
    rank: int | None
    unit_code: str
    unit_name: str
    unit_type: str | None
    province: str | None
    respondents_received: int
    respondents_counted: int
    ikm: float | None
    mutu: str | None
    kinerja: str | None
    delta: float | None
    direction: str | None
    ipak: float | None


@dataclass(frozen=True)
class NationalUnsur:
    unsur_code: str
    unsur_name: str | None
    units: int
    respondents: int
    ikm_pooled: float | None
    mutu_pooled: str | None
    ikm_unit_mean: float | None
    mutu_unit_mean: str | None


@dataclass(frozen=True)
class GradeCount:
    mutu: str
    units: int


@dataclass(frozen=True)
class NationalReport:
    year: int
    source: Source
    bpom: NationalScope
    trend: tuple[NationalTrendPoint, ...]
    unit_types: tuple[NationalScope, ...]
    provinces: tuple[NationalScope, ...]
    unsur: tuple[NationalUnsur, ...]
    ranking: tuple[RankedUnit, ...]
    grades: tuple[GradeCount, ...]
    below_target: tuple[SampleRow, ...]
    without_target: int
    layanan_rows: int


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """Open the served file read-only; a missing file is an operator's error, not a crash."""
    if not warehouse.is_file():
        raise ReportError(
            f"file warehouse tidak ditemukan / served file not found: {warehouse}; "
            "jalankan dulu / run first: skm-etl run --config <file>"
        )
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(
            f"file warehouse tidak dapat dibuka / cannot open the served file {warehouse}: {exc}"
        ) from exc


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _float(value: Any) -> float | None:
    """Mart doubles stay as they are; DECIMAL deltas become floats holding the same 2 places."""
    return None if value is None else float(value)


def find_unit(con: duckdb.DuckDBPyConnection, query: str, warehouse: Path) -> Unit:
    """The unit whose code or name is `query`, ignoring case and repeated spaces."""
    units = _rows(
        con,
        """
        select unit_code, any_value(unit_name) as unit_name, any_value(unit_type) as unit_type,
            any_value(province) as province, list(survey_year order by survey_year) as years
        from marts.skm_unit
        group by unit_code
        order by unit_name, unit_code
        """,
        [],
    )
    wanted = _key(query)
    for row in units:
        if wanted in (_key(row["unit_code"]), _key(row["unit_name"] or "")):
            return Unit(row["unit_code"], row["unit_name"], row["unit_type"], row["province"])
    listing = "\n".join(
        f"  - {row['unit_name']} [{row['unit_code']}]: {', '.join(map(str, row['years']))}"
        for row in units
    )
    names = [row["unit_name"] for row in units if row["unit_name"]]
    close = difflib.get_close_matches(query.strip(), names, n=1, cutoff=0.6)
    hint = f" Maksud Anda / did you mean: {close[0]!r}?" if close else ""
    raise ReportError(
        f"unit {query!r} tidak ada di / is not in {warehouse}.{hint}\n"
        + (
            f"Unit yang tersedia (nama atau kode) / available units (name or code):\n{listing}"
            if units
            else "File ini belum berisi unit / the file holds no unit yet: run skm-etl run first."
        )
    )


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _source(con: duckdb.DuckDBPyConnection, warehouse: Path) -> Source:
    rows = _rows(
        con,
        """
        select run_id, coalesce(finished_at, started_at) as published_at
        from ops.runs
        where status = 'published'
        order by started_at desc
        limit 1
        """,
        [],
    )
    row = rows[0] if rows else {"run_id": None, "published_at": None}
    # Only the file's name: a published report has no business showing server paths.
    return Source(warehouse.name, row["run_id"], row["published_at"])


def load_unit_report(
    con: duckdb.DuckDBPyConnection,
    unit: Unit,
    year: int,
    *,
    warehouse: Path,
    window: tuple[dt.date, dt.date],
    scale: int,
) -> UnitReport:
    """Everything the Laporan SKM of one unit and year shows, from the marts."""
    key = [year, unit.code]
    summary_rows = _rows(
        con,
        """
        select unit.respondents_received, unit.respondents_in_window, unit.respondents_counted,
            unit.counting_rule, unit.has_population, unit.ikm, unit.mutu, unit.kinerja,
            trend.previous_year, trend.previous_ikm, trend.previous_mutu, trend.delta,
            trend.direction
        from marts.skm_unit as unit
        left join marts.skm_trend_unit as trend
            on unit.unit_code = trend.unit_code and unit.survey_year = trend.survey_year
        where unit.survey_year = ? and unit.unit_code = ?
        """,
        key,
    )
    if not summary_rows:
        years = [
            r["survey_year"]
            for r in _rows(
                con,
                "select survey_year from marts.skm_unit where unit_code = ? order by 1",
                [unit.code],
            )
        ]
        raise ReportError(
            f"{unit.name} tidak punya data tahun {year} / has no data for {year} in {warehouse}. "
            f"Tahun yang tersedia / available years: {', '.join(map(str, years)) or '–'}"
        )
    s = summary_rows[0]
    summary = UnitSummary(**{**s, "delta": _float(s["delta"])})

    profile = tuple(
        ProfileRow(**r)
        for r in _rows(
            con,
            """
            select characteristic, category, respondents, respondents_received, pct
            from marts.respondent_profile
            where survey_year = ? and unit_code = ?
            order by case characteristic
                when 'sex' then 1 when 'age' then 2 when 'education' then 3
                when 'occupation' then 4 else 5 end,
                category_order, category
            """,
            key,
        )
    )

    sample = tuple(
        SampleRow(**r)
        for r in _rows(
            con,
            """
            select layanan_code, layanan_name, populasi, window_months, population_window,
                target_sample, respondents_received, respondents_counted, is_met
            from marts.sample_adequacy
            where survey_year = ? and unit_code = ?
            order by layanan_name, layanan_code
            """,
            key,
        )
    )
    total = _rows(
        con,
        """
        select
            sum(populasi) as populasi,
            sum(population_window) as population_window,
            case when count(target_sample) = count(*) then sum(target_sample) end
                as target_sample,
            coalesce(sum(respondents_received), 0) as respondents_received,
            coalesce(sum(respondents_counted), 0) as respondents_counted,
            count(*) as layanan,
            count(*) filter (where is_met) as layanan_met,
            count(*) filter (where target_sample is null) as layanan_without_target
        from marts.sample_adequacy
        where survey_year = ? and unit_code = ?
        """,
        key,
    )[0]
    sample_total = SampleTotal(**{k: (int(v) if v is not None else None) for k, v in total.items()})

    unsur_by_layanan: dict[str, list[UnsurValue]] = {}
    for r in _rows(
        con,
        """
        select layanan_code, unsur_code, ikm
        from marts.skm_layanan_unsur
        where survey_year = ? and unit_code = ?
        order by layanan_code, unsur_order, unsur_code
        """,
        key,
    ):
        unsur_by_layanan.setdefault(r["layanan_code"], []).append(
            UnsurValue(r["unsur_code"], r["ikm"])
        )
    layanan = tuple(
        LayananScore(**r, unsur=tuple(unsur_by_layanan.get(r["layanan_code"], ())))
        for r in _rows(
            con,
            """
            select layanan_code, layanan_name, respondents_received, respondents_counted,
                ikm, mutu, kinerja
            from marts.skm_layanan
            where survey_year = ? and unit_code = ?
            order by layanan_name, layanan_code
            """,
            key,
        )
    )

    unsur = tuple(
        UnsurScore(**{**r, "delta": _float(r["delta"])})
        for r in _rows(
            con,
            """
            select u.unsur_code, u.unsur_name, u.unsur_order, u.respondents, u.answers, u.nrr,
                u.ikm, u.mutu, u.kinerja, u.rank_lowest, t.previous_year, t.previous_ikm,
                t.previous_mutu, t.delta, t.direction
            from marts.skm_unit_unsur as u
            left join marts.skm_trend_unit_unsur as t
                on u.unit_code = t.unit_code and u.unsur_code = t.unsur_code
                and u.survey_year = t.survey_year
            where u.survey_year = ? and u.unit_code = ?
            order by u.unsur_order, u.unsur_code
            """,
            key,
        )
    )

    trend = _fill_gaps(
        [
            TrendPoint(
                r["survey_year"],
                r["ikm"],
                r["mutu"],
                _float(r["delta"]),
                r["direction"],
                r["respondents_counted"],
            )
            for r in _rows(
                con,
                """
                select unit.survey_year, trend.ikm, trend.mutu, trend.delta, trend.direction,
                    unit.respondents_counted
                from marts.skm_unit as unit
                left join marts.skm_trend_unit as trend
                    on unit.unit_code = trend.unit_code and unit.survey_year = trend.survey_year
                where unit.unit_code = ? and unit.survey_year <= ?
                order by unit.survey_year
                """,
                [unit.code, year],
            )
        ],
        lambda y: TrendPoint(y, None, None, None, None),
    )

    priorities = [
        Priority(**r)
        for r in _rows(
            con,
            """
            select kind, position, unsur_code, unsur_name, ikm, mutu
            from marts.skm_priority
            where survey_year = ? and unit_code = ? and layanan_code is null
            order by kind, position
            """,
            key,
        )
    ]

    ipak = [
        Ipak(**r)
        for r in _rows(
            con,
            """
            select layanan_code, layanan_name, respondents, nrr, ikm, mutu, kinerja
            from marts.ipak
            where survey_year = ? and unit_code = ?
            order by layanan_code is not null, layanan_name, layanan_code
            """,
            key,
        )
    ]

    extra = tuple(
        ExtraQuestion(**r)
        for r in _rows(
            con,
            """
            select question_number, item_code, respondents, nrr, index_value
            from marts.skm_additional_questions
            where survey_year = ? and unit_code = ? and layanan_code is null
            order by question_number, item_code
            """,
            key,
        )
    )

    saran = tuple(
        Saran(**r)
        for r in _rows(
            con,
            """
            select layanan_name, submitted_at, saran, is_counted
            from marts.saran
            where survey_year = ? and unit_code = ?
            order by submitted_at nulls last, layanan_name, saran
            """,
            key,
        )
    )

    rtl_plans = _rtl_plans(con, year, unit.code)
    previous = _rows(
        con,
        """
        select survey_year as plan_year, planned, realized, pct
        from marts.rtl_realization
        where unit_code = ? and survey_year < ?
        order by survey_year desc
        limit 1
        """,
        [unit.code, year],
    )
    rtl_previous = (
        RtlRealization(**previous[0], plans=_rtl_plans(con, previous[0]["plan_year"], unit.code))
        if previous
        else None
    )

    return UnitReport(
        unit=unit,
        year=year,
        window_start=window[0],
        window_end=window[1],
        scale=scale,
        source=_source(con, warehouse),
        summary=summary,
        profile=profile,
        sample=sample,
        sample_total=sample_total,
        layanan=layanan,
        unsur=unsur,
        trend=trend,
        lowest=tuple(p for p in priorities if p.kind == "lowest"),
        highest=tuple(p for p in priorities if p.kind == "highest"),
        ipak_unit=next((i for i in ipak if i.layanan_code is None), None),
        ipak_layanan=tuple(i for i in ipak if i.layanan_code is not None),
        extra_questions=extra,
        saran=saran,
        rtl_plans=rtl_plans,
        rtl_previous=rtl_previous,
    )


def _rtl_plans(con: duckdb.DuckDBPyConnection, year: int, unit_code: str) -> tuple[RtlPlan, ...]:
    return tuple(
        RtlPlan(**r)
        for r in _rows(
            con,
            """
            select plan_number, layanan_name, unsur_code, unsur_name, penyebab,
                rencana_tindak_lanjut, batas_waktu, penanggung_jawab, status, realized_at
            from marts.rtl_plans
            where survey_year = ? and unit_code = ?
            order by plan_number
            """,
            [year, unit_code],
        )
    )


def _fill_gaps(points: list[Any], gap: Callable[[int], Any]) -> tuple[Any, ...]:
    """Put every calendar year between the first and last on the axis; missing ones are gaps."""
    if not points:
        return ()
    by_year = {p.survey_year: p for p in points}
    first, last = min(by_year), max(by_year)
    return tuple(by_year.get(y) or gap(y) for y in range(first, last + 1))


def national_years(con: duckdb.DuckDBPyConnection) -> list[int]:
    return [
        r["survey_year"]
        for r in _rows(
            con,
            "select survey_year from marts.skm_national where scope_type = 'bpom' order by 1",
            [],
        )
    ]


def load_national_report(
    con: duckdb.DuckDBPyConnection, year: int, *, warehouse: Path
) -> NationalReport:
    """The central office's roll-up of one year: every unit ranked, grades, trend, samples."""
    scopes = [
        NationalScope(**r)
        for r in _rows(
            con,
            """
            select scope_type, scope, units, respondents, respondents_received,
                ikm_pooled, mutu_pooled, kinerja_pooled,
                ikm_unit_mean, mutu_unit_mean, kinerja_unit_mean
            from marts.skm_national
            where survey_year = ?
            order by scope_type, scope
            """,
            [year],
        )
    ]
    bpom = next((s for s in scopes if s.scope_type == "bpom"), None)
    if bpom is None:
        available = national_years(con)
        raise ReportError(
            f"tidak ada data nasional tahun {year} / no national data for {year} in {warehouse}. "
            f"Tahun yang tersedia / available years: {', '.join(map(str, available)) or '–'}"
        )

    trend = _fill_gaps(
        [
            NationalTrendPoint(
                **{
                    **r,
                    "delta_pooled": _float(r["delta_pooled"]),
                    "delta_unit_mean": _float(r["delta_unit_mean"]),
                }
            )
            for r in _rows(
                con,
                """
                select survey_year, units, respondents, ikm_pooled, mutu_pooled, ikm_unit_mean,
                    mutu_unit_mean, previous_year, delta_pooled, direction_pooled,
                    delta_unit_mean, direction_unit_mean
                from marts.skm_trend_national
                where scope_type = 'bpom' and survey_year <= ?
                order by survey_year
                """,
                [year],
            )
        ],
        lambda y: NationalTrendPoint(y, *([None] * 11)),
    )

    unsur = tuple(
        NationalUnsur(**r)
        for r in _rows(
            con,
            """
            select unsur_code, unsur_name, units, respondents, ikm_pooled, mutu_pooled,
                ikm_unit_mean, mutu_unit_mean
            from marts.skm_national_unsur
            where survey_year = ? and scope_type = 'bpom'
            order by unsur_order, unsur_code
            """,
            [year],
        )
    )

    # Ranked on the displayed (rounded) value so that equal figures share a rank.
    ranking = tuple(
        RankedUnit(**{**r, "delta": _float(r["delta"])})
        for r in _rows(
            con,
            """
            select
                case when unit.ikm is not null then rank() over (
                    order by round(cast(unit.ikm as decimal(38, 10)), 2) desc nulls last
                ) end as rank,
                unit.unit_code, unit.unit_name, unit.unit_type, unit.province,
                unit.respondents_received, unit.respondents_counted,
                unit.ikm, unit.mutu, unit.kinerja, trend.delta, trend.direction,
                ipak.ikm as ipak
            from marts.skm_unit as unit
            left join marts.skm_trend_unit as trend
                on unit.unit_code = trend.unit_code and unit.survey_year = trend.survey_year
            left join marts.ipak as ipak
                on unit.unit_code = ipak.unit_code and unit.survey_year = ipak.survey_year
                and ipak.layanan_code is null
            where unit.survey_year = ?
            order by unit.ikm desc nulls last, unit.unit_name
            """,
            [year],
        )
    )

    counts = {
        r["mutu"]: r["units"]
        for r in _rows(
            con,
            """
            select mutu, count(*) as units
            from marts.skm_unit
            where survey_year = ? and mutu is not null
            group by mutu
            """,
            [year],
        )
    }
    grades = tuple(GradeCount(g, int(counts.get(g, 0))) for g in GRADES)

    below = tuple(
        SampleRow(**r)
        for r in _rows(
            con,
            """
            select layanan_code, layanan_name, populasi, window_months, population_window,
                target_sample, respondents_received, respondents_counted, is_met,
                unit_code, unit_name
            from marts.sample_adequacy
            where survey_year = ? and is_met = false
            order by unit_name, unit_code, layanan_name
            """,
            [year],
        )
    )
    tally = _rows(
        con,
        """
        select count(*) as layanan_rows,
            count(*) filter (where target_sample is null) as without_target
        from marts.sample_adequacy
        where survey_year = ?
        """,
        [year],
    )[0]

    return NationalReport(
        year=year,
        source=_source(con, warehouse),
        bpom=bpom,
        trend=trend,
        unit_types=tuple(s for s in scopes if s.scope_type == "unit_type"),
        provinces=tuple(s for s in scopes if s.scope_type == "province"),
        unsur=unsur,
        ranking=ranking,
        grades=grades,
        below_target=below,
        without_target=int(tally["without_target"]),
        layanan_rows=int(tally["layanan_rows"]),
    )
