"""What the synthetic national data is made of: units, spellings, export headers."""

from __future__ import annotations

# (city as written after "di", province), in registry order. The first entries become
# Balai Besar POM, the next Balai POM, the rest Loka POM (BPOM has about 76 units).
BALAI_BESAR = (
    ("Jakarta", "DKI Jakarta"),
    ("Bandung", "Jawa Barat"),
    ("Semarang", "Jawa Tengah"),
    ("Yogyakarta", "DI Yogyakarta"),
    ("Surabaya", "Jawa Timur"),
    ("Denpasar", "Bali"),
    ("Mataram", "Nusa Tenggara Barat"),
    ("Kupang", "Nusa Tenggara Timur"),
    ("Banda Aceh", "Aceh"),
    ("Medan", "Sumatera Utara"),
    ("Padang", "Sumatera Barat"),
    ("Pekanbaru", "Riau"),
    ("Jambi", "Jambi"),
    ("Palembang", "Sumatera Selatan"),
    ("Bandar Lampung", "Lampung"),
    ("Pontianak", "Kalimantan Barat"),
    ("Banjarmasin", "Kalimantan Selatan"),
    ("Samarinda", "Kalimantan Timur"),
    ("Manado", "Sulawesi Utara"),
    ("Makassar", "Sulawesi Selatan"),
    ("Jayapura", "Papua"),
)
BALAI = (
    ("Serang", "Banten"),
    ("Bengkulu", "Bengkulu"),
    ("Pangkalpinang", "Kepulauan Bangka Belitung"),
    ("Batam", "Kepulauan Riau"),
    ("Palangka Raya", "Kalimantan Tengah"),
    ("Tarakan", "Kalimantan Utara"),
    ("Palu", "Sulawesi Tengah"),
    ("Kendari", "Sulawesi Tenggara"),
    ("Gorontalo", "Gorontalo"),
    ("Mamuju", "Sulawesi Barat"),
    ("Ambon", "Maluku"),
    ("Sofifi", "Maluku Utara"),
    ("Manokwari", "Papua Barat"),
    ("Sorong", "Papua Barat Daya"),
)
LOKA = (
    ("Kota Bogor", "Jawa Barat"),
    ("Kota Bekasi", "Jawa Barat"),
    ("Kota Tasikmalaya", "Jawa Barat"),
    ("Kabupaten Banyumas", "Jawa Tengah"),
    ("Kota Surakarta", "Jawa Tengah"),
    ("Kabupaten Pati", "Jawa Tengah"),
    ("Kabupaten Kediri", "Jawa Timur"),
    ("Kabupaten Jember", "Jawa Timur"),
    ("Kabupaten Banyuwangi", "Jawa Timur"),
    ("Kota Tangerang", "Banten"),
    ("Kabupaten Aceh Tengah", "Aceh"),
    ("Kota Lhokseumawe", "Aceh"),
    ("Kabupaten Toba", "Sumatera Utara"),
    ("Kota Tanjungbalai", "Sumatera Utara"),
    ("Kabupaten Dharmasraya", "Sumatera Barat"),
    ("Kabupaten Indragiri Hilir", "Riau"),
    ("Kabupaten Bungo", "Jambi"),
    ("Kota Lubuklinggau", "Sumatera Selatan"),
    ("Kabupaten Lampung Tengah", "Lampung"),
    ("Kabupaten Sanggau", "Kalimantan Barat"),
    ("Kabupaten Kapuas Hulu", "Kalimantan Barat"),
    ("Kabupaten Tanah Bumbu", "Kalimantan Selatan"),
    ("Kota Balikpapan", "Kalimantan Timur"),
    ("Kabupaten Kotawaringin Timur", "Kalimantan Tengah"),
    ("Kabupaten Kepulauan Sangihe", "Sulawesi Utara"),
    ("Kabupaten Banggai", "Sulawesi Tengah"),
    ("Kota Palopo", "Sulawesi Selatan"),
    ("Kabupaten Bone", "Sulawesi Selatan"),
    ("Kabupaten Buton", "Sulawesi Tenggara"),
    ("Kabupaten Sumbawa", "Nusa Tenggara Barat"),
    ("Kabupaten Manggarai Barat", "Nusa Tenggara Timur"),
    ("Kabupaten Belu", "Nusa Tenggara Timur"),
    ("Kabupaten Kepulauan Tanimbar", "Maluku"),
    ("Kabupaten Pulau Morotai", "Maluku Utara"),
    ("Kabupaten Merauke", "Papua Selatan"),
    ("Kabupaten Mimika", "Papua Tengah"),
    ("Kota Tanjungpinang", "Kepulauan Riau"),
    ("Kabupaten Rejang Lebong", "Bengkulu"),
    ("Kabupaten Belitung", "Kepulauan Bangka Belitung"),
    ("Kabupaten Boalemo", "Gorontalo"),
    ("Kabupaten Polewali Mandar", "Sulawesi Barat"),
)
# Relative size of a unit's survey by type: a Balai Besar serves more users than a Loka.
TYPE_WEIGHTS = {"Balai Besar POM": 2.0, "Balai POM": 1.4, "Loka POM": 1.0}

# Spellings the readers accept for one category (SPEC §6: case- and space-insensitive,
# known variants); the first of each list is the canonical one and the most frequent.
SEX_VARIANTS = (
    ("Laki-laki", "Laki-Laki", "L", "laki laki", "LAKI-LAKI", "Pria"),
    ("Perempuan", "P", "PEREMPUAN", "perempuan", "Wanita"),
)
SEX_WEIGHTS = (0.52, 0.48)
EDUCATION_VARIANTS = (
    ("≤ SMA/Sederajat", "SMA", "SMA/SMK", "SMK", "sma sederajat"),
    ("D1/D2/D3", "D3", "Diploma III", "D-III"),
    ("D4/S1", "S1", "Sarjana", "S-1", "s1"),
    ("S2/Profesi/S3", "S2", "Magister", "S3"),
)
EDUCATION_WEIGHTS = (0.30, 0.15, 0.42, 0.13)
OCCUPATION_VARIANTS = (
    ("PNS/TNI/Polri", "PNS", "ASN", "TNI/Polri"),
    ("Pegawai swasta", "Pegawai Swasta", "Karyawan swasta", "Swasta"),
    ("Wiraswasta", "wiraswasta", "Wirausaha", "Pelaku usaha"),
    ("Pelajar / mahasiswa", "Mahasiswa", "Pelajar"),
    ("Perusahaan Pengurusan Jasa Kepabeanan", "PPJK"),
    ("Lainnya", "Lain-lain", "lainnya"),
)
OCCUPATION_WEIGHTS = (0.12, 0.30, 0.33, 0.08, 0.04, 0.13)
COMPLETION_VALUES = ("100", "100", "100", "100", "90", "80", "50", "100%")
SARAN_TEXTS = (
    "Pelayanan cepat dan ramah",
    "Informasi biaya perlu diperjelas",
    "Ruang tunggu perlu diperluas",
    "Petugas sangat membantu",
    "Mohon percepat proses sertifikasi",
    "Website sering tidak bisa diakses",
    "Pertahankan pelayanan yang baik",
    "Perbanyak sosialisasi persyaratan",
)
# share of responses whose saran is "-", blank, or one of SARAN_TEXTS
SARAN_WEIGHTS = (0.55, 0.30, 0.15)
# share of a layanan's responses written as its canonical name, an alias, or a
# case/spacing variant of the name
LAYANAN_SPELLING_WEIGHTS = (0.75, 0.15, 0.10)

# Answer model (scale 1..6): latent = mean + unit + unit×unsur + respondent + noise,
# rounded and clipped, so answers pile up on 4–6 and units differ.
SCORE_MEAN = 4.75
UNIT_SD = 0.30
UNIT_UNSUR_SD = 0.15
RESPONDENT_SD = 0.45
ANSWER_SD = 0.60
ANTI_KORUPSI_MEAN = 5.35
# unsur that users rate differently everywhere (biaya is clear, sarana is lacking)
UNSUR_OFFSETS = {"U4": 0.25, "U7": 0.15, "U3": -0.10, "U9": -0.20}

# Invalid rows, by kind; every one is rejected, by the reader or by validation.
INVALID_KINDS = ("score_out_of_range", "age_implausible", "age_not_a_number", "unknown_layanan")
UNKNOWN_LAYANAN = "Layanan Antah Berantah"
UNKNOWN_LABEL = "Lumayan"

# sapaapip tabulation layout (SPEC §6.1, tests/fixtures/sapaapip_tabulasi_example.csv)
SAPAAPIP_TITLE = "TABULASI SURVEI KEPUASAN MASYARAKAT"
SAPAAPIP_HEADER = (
    "No",
    "Waktu Pengisian",
    "Layanan",
    "Usia",
    "Jenis Kelamin",
    "Pendidikan",
    "Pekerjaan",
    "Presentase tahapan penyelesaian (%)",
    "U1",
    "U2",
    "U3",
    "",
    "",
    "U4",
    "U5",
    "U6",
    "U7",
    "U8",
    "U9",
    "Lainnya",
    "",
    "",
    "Persepsi Anti Korupsi",
    "",
    "",
    "",
    "",
    "Saran",
)
SAPAAPIP_NUMBERS = ("",) * 8 + tuple(str(n) for n in range(1, 15)) + tuple("12345") + ("",)
# a page-break repeat of the two header rows every this many data rows, in some files
PAGE_ROWS = 2_000

# Google Forms responses layout (SPEC §6.2, tests/fixtures/google_forms_example.csv)
FORMS_LEADING = (
    "Timestamp",
    "Nama Lengkap",
    "Umur",
    "Jenis Kelamin",
    "No. HP",
    "Pendidikan Terakhir",
    "Pekerjaan Utama",
    "Nama Instansi/perusahaan tempat bekerja/beraktivitas",
    "Jenis pelayanan yang diterima",
    "Presentase tahapan penyelesaian",
)
FORMS_QUESTIONS = (
    "1. Bagaimana penilaian Saudara mengenai kemudahan pemenuhan persyaratan pelayanan ?",
    "2. Bagaimana penilaian Saudara mengenai kemudahan prosedur/alur pelayanan ?",
    "3. Apakah menurut penilaian Saudara, waktu pelayanan dilaksanakan sesuai dengan ketentuan ?",
    "4. Apakah menurut penilaian Saudara jangka waktu penyelesaian pelayanan dilaksanakan "
    "sesuai dengan ketentuan ?",
    "5. Bagaimana penilaian Saudara mengenai respon/kecepatan petugas atau aplikasi sistem "
    "dalam pelayanan ?",
    "6. Bagaimana penilaian Saudara mengenai kejelasan informasi tentang biaya pelayanan ?",
    "7. Bagaimana penilaian Saudara mengenai kesesuaian produk/jasa layanan antara yang "
    "tercantum dalam standar pelayanan dengan hasil yang diberikan ?",
    "8. Bagaimana penilaian Saudara mengenai kompetensi petugas dalam pelayanan ?",
    "9. Apakah menurut penilaian Saudara, petugas sopan dan mampu berkomunikasi dengan baik "
    "(tulisan atau verbal) ?",
    "10. Bagaimana penilaian Saudara mengenai penanganan pengaduan pada unit layanan ini ?",
    "11. Bagaimana penilaian Saudara mengenai ketersediaan sarana prasarana pendukung "
    "pemberian layanan publik pada unit layanan ini ?",
    "12. Apakah menurut penilaian saudara, persyaratan pelayanan yang diinformasikan sesuai "
    "dengan yang ditetapkan unit layanan ini ?",
    "13. Apakah menurut penilaian saudara, informasi Pelayanan pada unit layanan ini telah "
    "tersedia melalui media elektronik maupun non elektronik ?",
    "14. Apakah menurut penilaian saudara, tariff/biaya pelayanan yang dibayarkan pada unit "
    "layanan ini sesuai dengan yang ditetapkan ?",
    "Apakah Saudara setuju dengan pernyataan ini ? [Petugas memberikan layanan tanpa diskriminasi]",
    "Apakah Saudara setuju dengan pernyataan ini ? [Petugas memberikan pelayanan sesuai "
    "prosedur dan tanpa indikasi kecurangan]",
    "Apakah Saudara setuju dengan pernyataan ini ? [Pelayanan yang diberikan tanpa praktik "
    "pemberian imbalan uang/barang]",
    "Apakah Saudara setuju dengan pernyataan ini ? [Pelayanan pada unit ini tanpa praktik "
    "pungutan liar (pungli)]",
    "Apakah Saudara setuju dengan pernyataan ini ? [Pelayanan pada unit ini tanpa praktik "
    "percaloan/perantara/biro]",
)
FORMS_TRAILING = ("Saran & Masukan",)
