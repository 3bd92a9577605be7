"""Constants shared by the readers: file sniffing, date formats and issue wording."""

from __future__ import annotations

ZIP_MAGIC = b"PK\x03\x04"  # .xlsx / .ods
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# tried in order after UTF-8 (Excel's "CSV" on Windows); latin-1 ends the search
FALLBACK_ENCODINGS = ("cp1252",)

CSV_DELIMITERS = (",", ";", "\t", "|")
SNIFF_RECORDS = 60
# columns read beyond the widest sniffed row, so a row with an unquoted delimiter shows
# up as values past the header instead of being cut silently
EXTRA_COLUMNS = 8

# Excel day 0 (the 1900 leap-year bug makes 1899-12-30 the usable epoch)
EXCEL_EPOCH = (1899, 12, 30)
# serial numbers from 1954-10-03 to 2173: plausible submission times, not years or scores
EXCEL_SERIAL = r"^[2-9]\d{4}(?:\.\d+)?$"

_TIME = (
    r"(?:[ T,]+(?P<hour>\d{1,2})[:.](?P<minute>\d{2})"
    r"(?:[:.](?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?"
)
_ZONE = r"(?:\s*(?:GMT|UTC|WIB|WITA|WIT|Z)?\s*(?:[+-]\d{1,2}(?::?\d{2})?)?)?"
# day/month/year or month/day/year (decided per file), with 2- or 4-digit years
DATE_FIRST_FIELDS = rf"^(?P<first>\d{{1,2}})[/.-](?P<second_field>\d{{1,2}})[/.-](?P<year>\d{{4}}|\d{{2}}){_TIME}{_ZONE}$"
# year first: ISO, Excel cells read as text, Google Forms' own "2025/04/03 7:50:00 PM GMT+7"
DATE_YEAR_FIRST = (
    rf"^(?P<year>\d{{4}})[/.-](?P<month>\d{{1,2}})[/.-](?P<day>\d{{1,2}}){_TIME}{_ZONE}$"
)

# exact common forms parsed directly (chrono's %Y would also take "25" as year 25)
FAST_DAY_FIRST = r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}$"
FAST_ISO = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"

REASON_BLANK_SCORE = "jawaban kosong / answer is blank"
REASON_NOT_INTEGER = "bukan bilangan bulat {low}–{high} / not a whole number from {low} to {high}"
REASON_OUT_OF_RANGE = "di luar rentang {low}–{high} / outside the range {low}–{high}"
REASON_UNKNOWN_LABEL = "jawaban tidak dikenal / unknown answer; pilihan / allowed: {labels}"
REASON_TIME = (
    "waktu tidak terbaca, gunakan dd/mm/yyyy HH:MM:SS / "
    "unreadable time, expected dd/mm/yyyy HH:MM:SS"
)
REASON_AGE = "usia bukan angka / age is not a number"
REASON_PERCENT = "persentase bukan angka / percentage is not a number"
REASON_EXTRA_FIELDS = (
    "baris ini punya lebih banyak kolom daripada header; mungkin ada pemisah tanpa tanda kutip / "
    "this row has more fields than the header; a value may hold an unquoted delimiter"
)

# age written as "25", "25.0" or "25 tahun"
AGE_PATTERN = r"^(\d{1,3})(?:[.,]0+)?\s*(?:th|thn|tahun)?\.?$"
# a whole-number score, also as Excel writes it ("4.0")
INTEGER_PATTERN = r"^(\d+)(?:[.,]0+)?$"

WARNING_EXAMPLES = 5

# A blank answer is an issue (the row is rejected) only in these blocks: a response
# without an unsur answer is incomplete, while questions 12-14 and the anti-corruption
# block are absent from older forms and from some respondents' sessions.
BLANK_IS_ISSUE_BLOCKS = ("unsur",)
