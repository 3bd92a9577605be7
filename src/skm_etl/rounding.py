"""Display rounding: half up, in the two steps of the dbt `display_round` macro.

Marts keep full precision (SPEC §3). Wherever an index is shown (the run summary, the
Laporan, the card) it is first taken to ten decimal places, so a double stored as
88.30499999… reads as 88.305, then rounded half up: 78.125 shows as 78.13, as the
published tables do, never 78.12 (Python's float formatting rounds half to even).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def round_half_up(value: float | Decimal, places: int = 2) -> Decimal:
    """Round for display the way the marts grade: ten places, then `places`, both half up."""
    exact = Decimal(value).quantize(Decimal("1e-10"), rounding=ROUND_HALF_UP)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
