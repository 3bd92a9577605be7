"""Typed reference data: the questionnaire and the layanan catalogue.

Values come from YAML files (`reference/data/`, or files named in the config); nothing
about a questionnaire is hard-coded, because other units and years use other forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

BLOCK_UNSUR = "unsur"
BLOCK_EXTRA = "extra"
BLOCK_ANTI_KORUPSI = "anti_korupsi"
BLOCKS = (BLOCK_UNSUR, BLOCK_EXTRA, BLOCK_ANTI_KORUPSI)

# Characteristics of `Reference.demographics`, named as in the normalised frame.
SEX = "sex"
EDUCATION = "education"
OCCUPATION = "occupation"
CHARACTERISTICS = (SEX, EDUCATION, OCCUPATION)


def text_key_expr(expr: pl.Expr) -> pl.Expr:
    """Fold case and Unicode forms and turn every run of non-alphanumerics into one space.

    This is how headers, answer labels and demographic variants are compared: "Laki-Laki",
    " laki  laki" and "LAKI-LAKI" share the key "laki laki".
    """
    return (
        expr.str.normalize("NFKC")
        .str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
    )


def compact_key_expr(expr: pl.Expr) -> pl.Expr:
    """Drop every separator from the key, so "C.D.O.B" and "CDOB" compare equal."""
    return text_key_expr(expr).str.replace_all(" ", "", literal=True)


def text_key(text: str) -> str:
    """Compute `text_key_expr` for one string (the same engine, so both always agree)."""
    return pl.select(text_key_expr(pl.lit(text, dtype=pl.Utf8))).item() or ""


def compact_key(text: str) -> str:
    """Compute `compact_key_expr` for one string."""
    return pl.select(compact_key_expr(pl.lit(text, dtype=pl.Utf8))).item() or ""


@dataclass(frozen=True)
class Item:
    """One scored question of the questionnaire."""

    code: str  # column in the normalised frame: q1..q14, ak1..ak5
    block: str  # BLOCK_UNSUR | BLOCK_EXTRA | BLOCK_ANTI_KORUPSI
    number: int  # number printed in the export header inside its block
    labels: tuple[str, ...]  # answer labels for scores 1..scale
    unsur_code: str | None = None  # U1..U9 for BLOCK_UNSUR
    unsur_name: str | None = None
    forms_match: tuple[str, ...] = ()  # words that identify the Google Forms title

    def label_scores(self) -> dict[str, int]:
        """Map each label's text key to its score (1-based)."""
        keys = pl.select(text_key_expr(pl.lit(pl.Series(self.labels, dtype=pl.Utf8)))).to_series()
        return {key: score for score, key in enumerate(keys, start=1)}


@dataclass(frozen=True)
class Questionnaire:
    name: str
    scale: int
    items: tuple[Item, ...]

    @property
    def unsur(self) -> tuple[tuple[str, str], ...]:
        """(code, name) of each unsur in questionnaire order."""
        seen: dict[str, str] = {}
        for item in self.items:
            if item.block == BLOCK_UNSUR and item.unsur_code not in seen:
                seen[item.unsur_code] = item.unsur_name or item.unsur_code
        return tuple(seen.items())

    def items_in(self, block: str) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.block == block)

    def item(self, code: str) -> Item:
        """Return the item with this code (KeyError when absent)."""
        for candidate in self.items:
            if candidate.code == code:
                return candidate
        raise KeyError(code)


@dataclass(frozen=True)
class Layanan:
    code: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reference:
    """Everything a reader needs to turn an export into the normalised frame."""

    questionnaire: Questionnaire
    layanan: tuple[Layanan, ...]
    # demographic label variants: characteristic -> {normalised variant -> category}
    demographics: dict[str, dict[str, str]] = field(default_factory=dict)
    # category given to a non-blank value no variant matches; absent -> null
    demographic_fallbacks: dict[str, str] = field(default_factory=dict)

    def layanan_keys(self) -> dict[str, Layanan]:
        """Map the compact key of every code, name and alias to its layanan."""
        keys: dict[str, Layanan] = {}
        for layanan in self.layanan:
            for text in (layanan.code, layanan.name, *layanan.aliases):
                keys.setdefault(compact_key(text), layanan)
        return keys
