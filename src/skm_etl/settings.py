"""The one place that reads configuration files and environment variables.

Everything else receives the typed `Settings` built here. Relative paths in the YAML are
relative to the config file (SPEC §8), so a config can be moved with its data.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from skm_etl import failpoints

COUNTING_RULES = ("all", "target_sample")
# gx: Great Expectations evaluates the suite; auto: the suite's simple column checks are
# evaluated by skm_etl.validate.native with GX's semantics (for national volumes).
VALIDATION_ENGINES = ("gx", "auto")
SOURCE_KINDS = ("google_forms", "sapaapip")
# how a Google Forms sheet's locale writes dates: dd/mm/yyyy (Indonesia) or mm/dd/yyyy (US)
DATE_ORDERS = {"day_first": True, "month_first": False}
DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEZONE = "Asia/Jakarta"


class ConfigError(Exception):
    """The config file is missing, unreadable or holds a wrong value."""


@dataclass(frozen=True)
class SurveyWindow:
    year: int
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class SourceConfig:
    """A declared source: a local file or a URL, with the unit and year it belongs to."""

    name: str
    kind: str
    unit: str | None
    year: int | None
    path: Path | None = None
    url: str | None = None
    token: str | None = field(default=None, repr=False)
    service_account_file: Path | None = None
    # google_forms: how the sheet writes n/n/yyyy times (its locale); None: read from the file
    day_first: bool | None = None


@dataclass(frozen=True)
class Schedule:
    cron: str = DEFAULT_CRON
    timezone: str = DEFAULT_TIMEZONE


@dataclass(frozen=True)
class Settings:
    config_path: Path
    warehouse: Path
    inbox: Path | None
    work_dir: Path
    counting: str
    scale: int
    surveys: tuple[SurveyWindow, ...]
    sources: tuple[SourceConfig, ...]
    populations: Path | None = None
    rtl: Path | None = None
    units: Path | None = None
    questionnaire: Path | None = None
    layanan: Path | None = None
    parquet_dir: Path | None = None
    schedule: Schedule = Schedule()
    validation_chunk_rows: int = 200_000
    validation_engine: str = "gx"
    failpoint: str | None = None  # fault injection for tests (skm_etl/failpoints.py)
    # the dbt project; $SKM_DBT_PROJECT_DIR lets an installed package use a checkout's
    dbt_project_dir: Path | None = None

    @property
    def store(self) -> Path:
        """The ETL's private DuckDB file (raw, ref, ops and every dbt layer)."""
        return self.work_dir / "store.duckdb"

    @property
    def archive_dir(self) -> Path:
        return self.work_dir / "archive"

    @property
    def data_docs_dir(self) -> Path:
        return self.warehouse.parent / "data_docs"

    @property
    def lock_path(self) -> Path:
        return self.work_dir / "run.lock"

    def day_first_for(
        self, unit_name: str, year: int, unit_key: Callable[[str], str] | None = None
    ) -> bool | None:
        """The `date_order` configured for a unit's Google Forms source of a year, if any.

        A replay or an erasure reads an archived export with it, as the load did. The
        store names the unit as the registry does, the config as its author wrote it:
        `unit_key` (`load.units.unit_key`) tells them the same unit.
        """
        key = unit_key or (lambda name: " ".join(name.split()).casefold())
        wanted = key(unit_name)
        for source in self.sources:
            if (
                source.kind == "google_forms"
                and source.day_first is not None
                and source.year == year
                and key(source.unit or "") == wanted
            ):
                return source.day_first
        return None

    def window_for(self, year: int) -> SurveyWindow:
        """The configured window of a year, or the calendar year (SPEC §4)."""
        for window in self.surveys:
            if window.year == year:
                return window
        return SurveyWindow(year, dt.date(year, 1, 1), dt.date(year, 12, 31))


def load_settings(config_path: str | Path, *, secrets: bool = True) -> Settings:
    """Read and check a config file; raise ConfigError with a sentence an operator can act on.

    `secrets=False` leaves the sources' tokens unread (None), for what needs no source,
    such as showing the schedule: the tokens' environment is the job's, not the shell's.
    """
    path = Path(config_path).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"file konfigurasi tidak ditemukan / config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"file konfigurasi bukan YAML yang sah / config file is not valid YAML: {path}: {exc}"
        ) from exc
    except ValueError as exc:  # YAML dates such as 2024-13-01 fail while parsing
        raise ConfigError(
            f"nilai tidak sah / invalid value in {path.name}: {exc} (dates are YYYY-MM-DD)"
        ) from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            f"config file {path} must be a YAML mapping of keys (warehouse:, inbox:, …)"
        )
    return _build(raw, path, secrets=secrets)


def _build(raw: dict[str, Any], path: Path, *, secrets: bool = True) -> Settings:
    base = path.parent
    known = {
        "warehouse",
        "inbox",
        "work_dir",
        "method",
        "surveys",
        "populations",
        "rtl",
        "units",
        "sources",
        "questionnaire",
        "layanan",
        "export",
        "schedule",
        "validation",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"kunci tidak dikenal / unknown key(s) in {path.name}: {', '.join(unknown)}; "
            f"known keys: {', '.join(sorted(known))}"
        )
    if "warehouse" not in raw:
        raise ConfigError(
            f"{path.name}: 'warehouse' is required (the served DuckDB file, e.g. warehouse/skm.duckdb)"
        )
    warehouse = _path(base, raw["warehouse"], "warehouse")
    if warehouse.suffix != ".duckdb":
        raise ConfigError(
            f"{path.name}: 'warehouse' must name a .duckdb file, got {raw['warehouse']!r}"
        )

    method = _mapping(raw, "method", path.name, "{counting: all, scale: 6}")
    counting = str(method.get("counting", "all"))
    if counting not in COUNTING_RULES:
        raise ConfigError(
            f"{path.name}: method.counting must be one of {', '.join(COUNTING_RULES)}, got {counting!r}"
        )
    scale = method.get("scale", 6)
    if not _whole(scale) or not 2 <= scale <= 10:
        raise ConfigError(
            f"{path.name}: method.scale must be a whole number from 2 to 10, got {scale!r}"
        )

    export = _mapping(raw, "export", path.name, "{parquet: false}")
    if not isinstance(export.get("parquet", True), bool):
        raise ConfigError(
            f"{path.name}: export.parquet must be true or false, got {export['parquet']!r}"
        )
    parquet_dir = None
    if export.get("parquet", True):
        parquet_dir = _path(
            base,
            export.get("parquet_dir", str(Path(raw["warehouse"]).parent / "parquet")),
            "export.parquet_dir",
        )

    schedule_raw = _mapping(raw, "schedule", path.name, "{cron: '0 2 * * *'}")
    schedule = Schedule(
        cron=str(schedule_raw.get("cron", DEFAULT_CRON)),
        timezone=str(schedule_raw.get("timezone", DEFAULT_TIMEZONE)),
    )
    # a sixth field would be read as seconds; "@daily" and the like are whole schedules
    if not schedule.cron.strip().startswith("@") and len(schedule.cron.split()) != 5:
        raise ConfigError(
            f"{path.name}: jadwal tidak sah / invalid schedule: schedule.cron needs five fields "
            f"(minute hour day month weekday) such as '0 2 * * *', got {schedule.cron!r}"
        )
    validation = _mapping(raw, "validation", path.name, "{engine: auto}")
    engine = validation.get("engine", "gx")
    if engine not in VALIDATION_ENGINES:
        raise ConfigError(
            f"{path.name}: validation.engine must be one of {', '.join(VALIDATION_ENGINES)}, got {engine!r}"
        )
    chunk_rows = validation.get("chunk_rows", 200_000)
    if not _whole(chunk_rows) or chunk_rows < 1:
        raise ConfigError(f"{path.name}: validation.chunk_rows must be a positive whole number")

    failpoint = os.environ.get("SKM_ETL_FAILPOINT") or None
    if failpoint is not None and failpoint.split(":", 1)[0] not in failpoints.POINTS:
        raise ConfigError(
            f"SKM_ETL_FAILPOINT={failpoint!r} is not one of {', '.join(failpoints.POINTS)}"
        )
    dbt_project_dir = os.environ.get("SKM_DBT_PROJECT_DIR") or None
    work_dir = (
        _path(base, raw["work_dir"], "work_dir")
        if raw.get("work_dir")
        else warehouse.parent / ".skm-etl"
    )
    return Settings(
        config_path=path,
        warehouse=warehouse,
        inbox=_path(base, raw["inbox"], "inbox") if raw.get("inbox") else None,
        work_dir=work_dir,
        counting=counting,
        scale=scale,
        surveys=_surveys(raw.get("surveys") or [], path.name),
        sources=_sources(raw.get("sources") or [], base, path.name, secrets=secrets),
        populations=_optional_file(base, raw, "populations"),
        rtl=_optional_file(base, raw, "rtl"),
        units=_optional_file(base, raw, "units"),
        questionnaire=_optional_file(base, raw, "questionnaire"),
        layanan=_optional_file(base, raw, "layanan"),
        parquet_dir=parquet_dir,
        schedule=schedule,
        validation_chunk_rows=chunk_rows,
        validation_engine=engine,
        failpoint=failpoint,
        dbt_project_dir=Path(dbt_project_dir).resolve() if dbt_project_dir else None,
    )


# the keys each section may hold: a misspelt one (countng:) would otherwise leave its
# default in force without a word, counting every response where the unit meant a sample
SECTION_KEYS = {
    "method": ("counting", "scale"),
    "export": ("parquet", "parquet_dir"),
    "schedule": ("cron", "timezone"),
    "validation": ("engine", "chunk_rows"),
}
SOURCE_KEYS = (
    "name",
    "kind",
    "unit",
    "year",
    "path",
    "url",
    "token_env",
    "service_account_file",
    "date_order",
)
SURVEY_KEYS = ("year", "start", "end")


def _mapping(raw: dict[str, Any], key: str, file: str, example: str) -> dict[str, Any]:
    """The keys under `key` ({} when it is absent or empty); anything else is a ConfigError."""
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{file}: '{key}' must be a mapping such as {example}, got {value!r}")
    _known_keys(value, SECTION_KEYS[key], f"{file}: {key}")
    return value


def _known_keys(value: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(k) for k in set(value) - set(known))
    if unknown:
        raise ConfigError(
            f"{where}: kunci tidak dikenal / unknown key(s): {', '.join(unknown)}; "
            f"known keys: {', '.join(known)}"
        )


def _whole(value: Any) -> bool:
    """A whole number as YAML gives it (YAML's true and false are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool)


_UNSET_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def _path(base: Path, value: Any, key: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"'{key}' must be a path, got {value!r}")
    expanded = os.path.expandvars(value.strip())
    unset = _UNSET_VARIABLE.search(expanded)
    if unset:  # expandvars leaves an unset $NAME as it is: it would become a folder name
        raise ConfigError(
            f"'{key}': variabel lingkungan / environment variable {unset.group(1)} in "
            f"{value!r} is not set"
        )
    p = Path(expanded).expanduser()
    return (p if p.is_absolute() else base / p).resolve()


def _optional_file(base: Path, raw: dict[str, Any], key: str) -> Path | None:
    if not raw.get(key):
        return None
    p = _path(base, raw[key], key)
    if not p.is_file():
        raise ConfigError(f"'{key}' names a file that does not exist: {p}")
    return p


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{where}: {value!r} is not a date (use YYYY-MM-DD)") from exc


def _surveys(items: Any, file: str) -> tuple[SurveyWindow, ...]:
    if not isinstance(items, list):
        raise ConfigError(f"{file}: 'surveys' must be a list of {{year, start, end}}")
    windows: dict[int, SurveyWindow] = {}
    for i, item in enumerate(items, 1):
        where = f"{file}: surveys[{i}]"
        if not isinstance(item, dict) or not {"year", "start", "end"} <= set(item):
            raise ConfigError(f"{where} needs year, start and end")
        _known_keys(item, SURVEY_KEYS, where)
        year = item["year"]
        if not _whole(year):
            raise ConfigError(f"{where}: year must be a whole number, got {year!r}")
        start, end = _date(item["start"], where), _date(item["end"], where)
        if end < start:
            raise ConfigError(f"{where}: end {end} is before start {start}")
        if (months := (end.year - start.year) * 12 + end.month - start.month + 1) > 12:
            raise ConfigError(
                f"{where}: periode survei mencakup {months} bulan, paling banyak 12 / the window "
                f"{start} – {end} spans {months} calendar months, at most 12 (SPEC §4: the "
                "population in the window is a share of a year's)"
            )
        if year in windows:
            raise ConfigError(f"{where}: year {year} is configured twice")
        windows[year] = SurveyWindow(year, start, end)
    return tuple(windows[y] for y in sorted(windows))


def _sources(
    items: Any, base: Path, file: str, *, secrets: bool = True
) -> tuple[SourceConfig, ...]:
    if not isinstance(items, list):
        raise ConfigError(f"{file}: 'sources' must be a list")
    out: list[SourceConfig] = []
    names: set[str] = set()
    for i, item in enumerate(items, 1):
        where = f"{file}: sources[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a mapping with kind, unit, year and path or url")
        _known_keys(item, SOURCE_KEYS, where)
        kind = item.get("kind")
        if kind not in SOURCE_KINDS:
            raise ConfigError(
                f"{where}: kind must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}"
            )
        has_path, has_url = bool(item.get("path")), bool(item.get("url"))
        if has_path == has_url:
            raise ConfigError(f"{where}: give exactly one of path: or url:")
        unit, year = item.get("unit"), item.get("year")
        if year is not None and not _whole(year):
            raise ConfigError(f"{where}: year must be a whole number, got {year!r}")
        if kind == "google_forms" and (not unit or not _whole(year)):
            raise ConfigError(
                f"{where}: a google_forms source needs unit: and year: (the form itself does not say them)"
            )
        token = None
        if item.get("token_env") and secrets:
            token = os.environ.get(str(item["token_env"]))
            if not token:
                raise ConfigError(
                    f"{where}: environment variable {item['token_env']} (token_env) is not set"
                )
        date_order = item.get("date_order")
        if date_order is not None and (
            kind != "google_forms"
            or not isinstance(date_order, str)
            or date_order not in DATE_ORDERS
        ):
            raise ConfigError(
                f"{where}: date_order is for google_forms sources, one of "
                f"{', '.join(DATE_ORDERS)} (how the sheet's locale writes dates), got {date_order!r}"
            )
        url = str(item["url"]).strip() if has_url else None  # a pasted address's spaces
        if url == "":
            raise ConfigError(f"{where}: url is blank; give the export's address")
        if url is not None and any(c.isspace() for c in url):
            # not quoted: an address may carry a token in its query string
            raise ConfigError(
                f"{where}: url berisi spasi / the url holds a space or line break; "
                "salin ulang alamatnya / copy the address again"
            )
        name = str(item.get("name") or f"{kind}-{i}")
        if name in names:
            raise ConfigError(f"{where}: source name {name!r} is used twice")
        names.add(name)
        out.append(
            SourceConfig(
                name=name,
                kind=kind,
                unit=str(unit) if unit else None,
                year=year if _whole(year) else None,
                path=_path(base, item["path"], f"sources[{i}].path") if has_path else None,
                url=url,
                token=token,
                service_account_file=(
                    _path(base, item["service_account_file"], f"sources[{i}].service_account_file")
                    if item.get("service_account_file")
                    else None
                ),
                day_first=None if date_order is None else DATE_ORDERS[date_order],
            )
        )
    return tuple(out)
