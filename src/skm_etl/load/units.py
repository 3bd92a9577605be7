"""Which unit a file belongs to: the registry (SPEC §6.5), or names taken as they come."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from skm_etl.sources.plans import read_table_csv
from skm_etl.sources.result import SourceFileError

UNIT_TYPES = ("Balai Besar POM", "Balai POM", "Loka POM", "Pusat")
REGISTRY_COLUMNS = ("unit_code", "unit_name", "unit_type", "province")


class UnitError(Exception):
    """A unit name that the registry does not know, or a malformed registry."""


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    unit_type: str
    province: str | None


def normalise_name(name: str) -> str:
    """Fold case, accents, punctuation and spacing so spellings of one name compare equal."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def slug(name: str) -> str:
    """A stable unit code made from a unit's name when no registry is configured."""
    return normalise_name(name).replace(" ", "-") or "unit"


def unit_type_from_name(name: str) -> str:
    """Read the unit type from its name: 'Balai Besar POM di …' is a Balai Besar POM."""
    key = normalise_name(name)
    if key.startswith(("balai besar pom", "bbpom")):
        return "Balai Besar POM"
    if key.startswith(("balai pom", "bpom di")):
        return "Balai POM"
    if key.startswith("loka pom"):
        return "Loka POM"
    return "Pusat"


class UnitResolver:
    """Resolve a unit name from a file to a registry unit, or take it as it comes."""

    def __init__(self, registry: tuple[Unit, ...] | None, aliases: dict[str, str] | None = None):
        self.registry = registry
        self._by_key: dict[str, Unit] = {}
        if registry is not None:
            by_code = {u.code: u for u in registry}
            for unit in registry:
                self._by_key[normalise_name(unit.name)] = unit
                self._by_key[normalise_name(unit.code)] = unit
            for alias, code in (aliases or {}).items():
                self._by_key[normalise_name(alias)] = by_code[code]

    @property
    def has_registry(self) -> bool:
        return self.registry is not None

    def resolve(self, name: str) -> Unit:
        """Return the unit; raise UnitError with a 'did you mean' hint for an unknown one."""
        clean = " ".join(name.split())
        if not clean:
            raise UnitError("nama unit kosong / the unit name is empty")
        if self.registry is None:
            return Unit(slug(clean), clean, unit_type_from_name(clean), None)
        unit = self._by_key.get(normalise_name(clean))
        if unit is not None:
            return unit
        names = [u.name for u in self.registry]
        close = difflib.get_close_matches(clean, names, n=3, cutoff=0.6)
        hint = f" Maksud Anda / did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnitError(
            f"unit {clean!r} tidak ada di registri unit / is not in the unit registry.{hint} "
            "Perbaiki nama unit di file, atau tambahkan unit ke registri / fix the unit name "
            "in the file, or add the unit to the registry (units:)."
        )


def unit_key(units: Path | None) -> Callable[[str], str]:
    """A key that is the same for every name of one unit: its code in the registry.

    Without a registry (or for a name it does not know) the name itself, case and spaces
    aside. For telling a unit in the store and in the config apart or the same.
    """
    resolver = UnitResolver(*read_registry(units)) if units is not None else UnitResolver(None)

    def key(name: str) -> str:
        try:
            return resolver.resolve(name).code
        except UnitError:
            return " ".join(name.split()).casefold()

    return key


def read_registry(path: Path) -> tuple[tuple[Unit, ...], dict[str, str]]:
    """Read units.csv: unit_code, unit_name, unit_type, province, optional aliases (';'-separated)."""
    try:
        frame = read_table_csv(path, REGISTRY_COLUMNS)
    except SourceFileError as exc:
        raise UnitError(f"registri unit / unit registry {exc}; optional column: aliases") from exc
    units: list[Unit] = []
    aliases: dict[str, str] = {}
    seen: set[str] = set()
    names: dict[str, int] = {}
    for line, row in enumerate(frame.iter_rows(named=True), start=2):
        code = (row["unit_code"] or "").strip()
        name = " ".join((row["unit_name"] or "").split())
        unit_type = (row["unit_type"] or "").strip()
        if not code or not name:
            raise UnitError(
                f"registri unit {path.name} baris {line}: unit_code dan unit_name wajib / are required"
            )
        if code in seen:
            raise UnitError(
                f"registri unit {path.name} baris {line}: unit_code {code!r} muncul dua kali / appears twice"
            )
        matched = [t for t in UNIT_TYPES if normalise_name(t) == normalise_name(unit_type)]
        if not matched:
            raise UnitError(
                f"registri unit {path.name} baris {line}: unit_type {unit_type!r} tidak dikenal / unknown; "
                f"use one of {', '.join(UNIT_TYPES)}"
            )
        if (earlier := names.setdefault(normalise_name(name), line)) != line:
            raise UnitError(
                f"registri unit {path.name} baris {line}: unit_name {name!r} sudah ada di baris "
                f"{earlier} / already on line {earlier}: a name must name one unit (put other "
                "spellings in aliases)"
            )
        seen.add(code)
        province = (row["province"] or "").strip() or None
        units.append(Unit(code, name, matched[0], province))
        for alias in (row.get("aliases") or "").split(";"):
            if alias.strip():
                aliases[alias.strip()] = code
    return tuple(units), aliases
