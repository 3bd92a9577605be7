"""Mask phone numbers and e-mail addresses in text quoted from a source file.

A respondent may type a phone number where a number is expected (the age), into a
suggestion that spills into the next column, or anywhere else. A rejected cell's text,
a message quoting a row and a printed warning all leave the raw layer, so they carry the
text with both kinds masked (UU 27/2022). The patterns are those of dbt's
`masked_personal_text` macro (dbt_project/macros/privacy.sql), which masks the published
suggestions; tests/test_privacy.py checks that the two spellings stay the same. Here a
phone number must also stand apart from other digits, so a longer number, a time or a
hash keeps its digits (a rejected value must still say what was rejected).
"""

from __future__ import annotations

import re

import polars as pl

EMAIL_PATTERN = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
# 9 to 14 digits starting 0, 62 or +62 (mobiles 08…, landlines 021…), with spaces, dots,
# dashes and brackets allowed between the digits, but no dot right after a leading 0:
# "0.3333333333" is a fraction, and nobody writes a phone number "0.812…"
PHONE_PATTERN = r"(\+?62[\s.\-()]*|\(?0[\s\-()]*)[1-9]([\s.\-()]*[0-9]){7,12}"
EMAIL_MASK = "[email disamarkan / e-mail masked]"
PHONE_MASK = "[nomor disamarkan / number masked]"

_EMAIL = re.compile(EMAIL_PATTERN)
_PHONE = re.compile(rf"(?<![0-9]){PHONE_PATTERN}(?![0-9])")


def masked(text: str) -> str:
    """Return `text` with every e-mail address, then every phone number, masked."""
    return _PHONE.sub(PHONE_MASK, _EMAIL.sub(EMAIL_MASK, text))


def masked_columns(frame: pl.DataFrame, *names: str) -> pl.DataFrame:
    """`masked` over text columns (nulls stay null): for the few rejected cells only.

    Mapped in Python, not inside a Polars query: a Python function in a query runs on
    Polars' thread pool and needs the GIL there, while a read thread converting its batch
    for GX (`to_pandas`) holds the GIL waiting on that same pool. The two read threads
    deadlocked that way (seen once in a review run, reproduced in about one run in two).
    """
    return frame.with_columns(
        pl.Series(
            name,
            [None if text is None else masked(text) for text in frame[name].cast(pl.Utf8)],
            dtype=pl.Utf8,
        )
        for name in names
    )
