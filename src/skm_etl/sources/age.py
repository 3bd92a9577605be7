"""Age answered as a group ("26 - 30 tahun", "≤ 25") instead of in years.

Many units' forms ask the age as a choice among the Laporan SKM's groups (SPEC §5) rather
than as a number. Such an answer is kept as the group it names (`respondent_age_group`),
with no age in years: nothing here invents an age. A range that fits no single group
("21-30") cannot be counted in the respondent profile and is rejected with its own reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from skm_etl.sources.constants import REASON_AGE

# SPEC §5's age groups: (label, first age, last age). dbt's seed `age_groups.csv` holds the
# same rows (tests/test_age.py checks that they agree).
AGE_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("≤ 25", 0, 25),
    ("26–30", 26, 30),
    ("31–35", 31, 35),
    ("36–40", 36, 40),
    ("≥ 41", 41, 150),
)
OLDEST = AGE_GROUPS[-1][2]

REASON_AGE_RANGE = (
    "rentang usia tidak masuk satu kelompok usia (≤ 25, 26–30, 31–35, 36–40, ≥ 41) / "
    "the age range does not fit one age group (≤ 25, 26–30, 31–35, 36–40, ≥ 41): isi usia "
    "dalam tahun atau salah satu kelompok itu / give the age in years or one of those groups"
)

_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
_FILLER = re.compile(r"\b(?:usia|umur|tahun|thn|th)\b\.?")
_N = r"(\d{1,3})"
_UPTO = r"(?:s\.?\s*/?\s*d\.?|sampai(?:\s+dengan)?|hingga)"
_TO = rf"(?:-|{_UPTO}|to)"
# each form, and how it gives (first, last) from its number(s)
_FORMS: tuple[tuple[re.Pattern[str], Callable[..., tuple[int, int]]], ...] = (
    (re.compile(rf"^{_N}\s*{_TO}\s*{_N}$"), lambda a, b: (a, b)),
    (re.compile(rf"^(?:≤|<=|=<|maks(?:imal)?\.?|max\.?|{_UPTO})\s*{_N}$"), lambda n: (0, n)),
    (re.compile(rf"^(?:<|kurang\s+dari|di\s*bawah)\s*{_N}$"), lambda n: (0, n - 1)),
    (re.compile(rf"^{_N}\s*(?:ke\s*bawah|atau\s+kurang)$"), lambda n: (0, n)),
    (re.compile(rf"^(?:≥|>=|=>|min(?:imal)?\.?)\s*{_N}$"), lambda n: (n, OLDEST)),
    (re.compile(rf"^(?:>|lebih\s+dari|di\s*atas)\s*{_N}$"), lambda n: (n + 1, OLDEST)),
    (re.compile(rf"^{_N}\s*(?:\+|ke\s*atas|atau\s+lebih)$"), lambda n: (n, OLDEST)),
)


def age_range(text: str) -> tuple[int, int] | None:
    """The ages (first, last) an answer such as "26 - 30 tahun" or "> 40" names; else None."""
    cleaned = _FILLER.sub(" ", _DASHES.sub("-", text.lower()))
    cleaned = re.sub(r"\s+", " ", cleaned).strip(" .:")
    for pattern, bounds in _FORMS:
        match = pattern.match(cleaned)
        if match is not None:
            first, last = bounds(*(int(n) for n in match.groups()))
            return (first, last) if first <= last else None
    return None


def age_group(text: str) -> tuple[str | None, str]:
    """The group an age answer names, and the reason when it names none.

    Returns (label, "") for a range inside one group, (None, REASON_AGE_RANGE) for a
    range across groups, and (None, REASON_AGE) for anything that is no range.
    """
    bounds = age_range(text)
    if bounds is None:
        return None, REASON_AGE
    first, last = bounds
    for label, low, high in AGE_GROUPS:
        if low <= first and last <= high:
            return label, ""
    return None, REASON_AGE_RANGE
