"""Indonesian display formatting: 93,70; 41,94%; 1.234; dates as 1 April 2025.

Values in the marts keep full precision (SPEC §3); rounding happens here, for display
only, half up, through the same two steps as the dbt `display_round` macro (a decimal of
ten places first, so a double stored as 88.30499999… reads and rounds as 88.305).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from skm_etl.rounding import round_half_up

MISSING = "–"

MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)

DIRECTION_LABELS = {"naik": "Naik", "turun": "Turun", "tetap": "Tetap"}

CHARACTERISTIC_LABELS = {
    "sex": "Jenis Kelamin",
    "education": "Pendidikan",
    "occupation": "Pekerjaan",
    "age": "Usia",
}

COUNTING_LABELS = {
    "all": "semua respons sah dalam periode survei dihitung",
    "target_sample": (
        "per layanan hanya sejumlah target sampel pertama (urut waktu pengisian) yang "
        "dihitung, sesuai aplikasi sapaapip"
    ),
}


def number(value: float | Decimal | None, places: int = 2) -> str:
    """`1234.5` → `1.234,50`; None → an en dash."""
    if value is None:
        return MISSING
    rounded = round_half_up(value, places)
    if rounded == 0:
        rounded = abs(rounded)  # -0,00 reads as a change that is not there
    sign = "-" if rounded < 0 else ""
    text = f"{abs(rounded):,.{places}f}"  # 1,234.50
    return sign + text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def integer(value: int | None) -> str:
    """`12345` → `12.345`."""
    if value is None:
        return MISSING
    return f"{int(value):,}".replace(",", ".")


def percent(value: float | None, places: int = 2) -> str:
    """`41.9354` → `41,94%`."""
    return MISSING if value is None else number(value, places) + "%"


def signed(value: float | Decimal | None, places: int = 2) -> str:
    """A change with its sign: `+1,25`, `-0,40`, `0,00`."""
    if value is None:
        return MISSING
    text = number(value, places)
    return "+" + text if round_half_up(value, places) > 0 else text


def date(value: dt.date | dt.datetime | None) -> str:
    """`2025-04-01` → `1 April 2025`."""
    if value is None:
        return MISSING
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def datetime(value: dt.datetime | None) -> str:
    """`2025-04-07 12:44` → `7 April 2025 12.44` (Indonesian time separator)."""
    if value is None:
        return MISSING
    return f"{date(value)} {value:%H.%M}"


def direction(value: str | None) -> str:
    return DIRECTION_LABELS.get(value or "", MISSING)
