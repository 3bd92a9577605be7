"""The Google Forms responses layout (SPEC §6.2): how column titles are recognised.

Titles are compared by text key (case, spaces and punctuation ignored). A column plays
a role when its key equals one of the phrases or starts with one followed by more words
("Pendidikan Terakhir" is education). Question columns are matched separately, by their
leading number and the questionnaire's `forms_match` words.
"""

from __future__ import annotations

TIMESTAMP_TITLES = ("timestamp", "stempel waktu", "cap waktu", "tanda waktu", "waktu pengisian")

ROLE_PREFIXES: dict[str, tuple[str, ...]] = {
    "respondent_age": ("umur", "usia"),
    "respondent_sex": ("jenis kelamin", "kelamin"),
    "respondent_education": ("pendidikan",),
    "respondent_occupation": ("pekerjaan",),
    "layanan": (
        "jenis pelayanan",
        "jenis layanan",
        "layanan yang",
        "pelayanan yang",
        "nama layanan",
        "layanan",
    ),
    "completion_pct": ("presentase", "persentase", "prosentase"),
    "saran": ("saran", "kritik", "masukan"),
    "respondent_name": ("nama lengkap", "nama responden", "nama"),
    "respondent_phone": (
        "no hp",
        "nomor hp",
        "no handphone",
        "nomor handphone",
        "no telp",
        "no telepon",
        "nomor telepon",
        "telepon",
        "telp",
        "no whatsapp",
        "nomor whatsapp",
        "whatsapp",
        "no wa",
        "nomor wa",
        "hp",
        "handphone",
        "nomor kontak",
        "kontak",
    ),
}
# columns a BPOM form usually has that the warehouse does not read: dropped without a
# warning (e-mail and address are personal data and must not travel anywhere)
UNREAD_PREFIXES = (
    "nama instansi",
    "instansi",
    "nama perusahaan",
    "perusahaan",
    "asal instansi",
    "email",
    "email address",
    "alamat email",
    "alamat",
)
# the unread columns that hold personal data, blanked too when a respondent is erased
PERSONAL_UNREAD_PREFIXES = ("email", "email address", "alamat email", "alamat")
# "Nama Instansi/perusahaan" is not the respondent's name
NAME_EXCLUDED_WORDS = ("instansi", "perusahaan", "usaha", "lembaga", "layanan", "pelayanan", "unit")

COLUMN_TITLES: dict[str, str] = {
    "submitted_at": "Timestamp",
    "layanan": "Jenis pelayanan yang diterima",
    "respondent_age": "Umur",
    "respondent_sex": "Jenis Kelamin",
    "respondent_education": "Pendidikan",
    "respondent_occupation": "Pekerjaan",
    "completion_pct": "Presentase tahapan penyelesaian",
    "saran": "Saran",
    "respondent_name": "Nama",
    "respondent_phone": "No. HP",
}
REQUIRED_ROLES = ("submitted_at", "layanan")
# optional roles whose absence is worth a warning (the profile or the saran list lose them)
EXPECTED_ROLES = (
    "respondent_age",
    "respondent_sex",
    "respondent_education",
    "respondent_occupation",
    "completion_pct",
    "saran",
)

QUESTION_NUMBER = r"^\s*(\d{1,2})\s*[.)]\s*"
GRID_STATEMENT = r"\[([^\]]+)\]\s*$"
TITLE_SHOWN_CHARS = 60

ACTION_FORM = (
    "unduh ulang CSV dari Google Sheets yang terhubung ke formulir, tanpa mengubah judul kolom",
    "download the CSV again from the form's linked Google Sheet, with the column titles unchanged",
)
