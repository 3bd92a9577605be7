"""The sapaapip tabulation layout (SPEC §6.1): header texts and metadata labels.

Header cells are compared by text key (case, spaces and punctuation ignored), so each
variant is written once in lower case with single spaces.
"""

from __future__ import annotations

# normalised column -> header texts that name it
COLUMN_VARIANTS: dict[str, tuple[str, ...]] = {
    "no": ("no", "nomor", "no urut", "nomor urut"),
    "submitted_at": (
        "waktu pengisian",
        "tanggal pengisian",
        "tgl pengisian",
        "waktu",
        "tanggal",
        "tanggal dan waktu",
        "timestamp",
    ),
    "layanan": ("layanan", "jenis layanan", "jenis pelayanan", "nama layanan"),
    "respondent_age": ("usia", "umur", "usia tahun", "umur tahun"),
    "respondent_sex": ("jenis kelamin", "kelamin", "jk"),
    "respondent_education": ("pendidikan", "pendidikan terakhir"),
    "respondent_occupation": ("pekerjaan", "pekerjaan utama"),
    "completion_pct": (
        "presentase tahapan penyelesaian",
        "persentase tahapan penyelesaian",
        "prosentase tahapan penyelesaian",
        "tahapan penyelesaian",
    ),
    "saran": (
        "saran",
        "saran dan masukan",
        "saran masukan",
        "kritik dan saran",
        "saran dan kritik",
    ),
}
# a header cell that starts with one of these and holds more (e.g. "(%)") still names it
COLUMN_PREFIXES: dict[str, tuple[str, ...]] = {
    "completion_pct": ("presentase", "persentase", "prosentase"),
}
# as written in the export, for messages
COLUMN_TITLES: dict[str, str] = {
    "no": "No",
    "submitted_at": "Waktu Pengisian",
    "layanan": "Layanan",
    "respondent_age": "Usia",
    "respondent_sex": "Jenis Kelamin",
    "respondent_education": "Pendidikan",
    "respondent_occupation": "Pekerjaan",
    "completion_pct": "Presentase tahapan penyelesaian (%)",
    "saran": "Saran",
}
REQUIRED_COLUMNS = (
    "layanan",
    "respondent_age",
    "respondent_sex",
    "respondent_education",
    "respondent_occupation",
    "completion_pct",
    "saran",
)

# group headers above the question numbers
UNSUR_GROUP = r"^u ?(\d+)$"
ANTI_KORUPSI_WORDS = ("korupsi", "ipak")

# a row is the header when this many of its cells are known header texts
HEADER_MIN_MATCHES = 4
HEADER_SCAN_ROWS = 60

# metadata rows: "Tahun : 2025", "Unit Kerja : Loka POM di …" (label, colon and value in
# one cell or three)
YEAR_LABELS = ("tahun", "tahun survei", "tahun survey")
UNIT_LABELS = ("unit kerja", "satuan kerja", "satker", "unit")
# a label that also begins ordinary cells (the layanan "Unit Layanan Pengaduan Konsumen"):
# it starts a metadata row only when it ends its cell or a colon follows it
CELL_ENDING_LABELS = ("unit",)
# joins a row's cells when looking for those labels, so a label can be seen to end its
# cell: NUL, which no cell holds (a CSV with one is rejected as binary, XML cannot hold it)
CELL_BREAK = "\x00"

# a row whose first cell starts with one of these is metadata or a title, never data
NON_DATA_PREFIXES = (
    "tahun",
    "unit kerja",
    "satuan kerja",
    "satker",
    "tabulasi",
    "survei",
    "survey",
    "periode",
    "rekapitulasi",
)
SKIPPED_ROW_EXAMPLES = 10

ACTION_REEXPORT = (
    "ekspor ulang tabulasi dari sapaapip tanpa mengubah susunannya",
    "re-export the tabulation from sapaapip without changing its layout",
)
