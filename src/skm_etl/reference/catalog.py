"""Load the questionnaire, the layanan catalogue and the demographic variants from YAML.

Every check happens here, once, so a reader can trust what it receives: a wrong key in
a reference file fails the run before any file is read, with the file and key named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from skm_etl.reference.model import (
    BLOCK_ANTI_KORUPSI,
    BLOCK_UNSUR,
    BLOCKS,
    CHARACTERISTICS,
    Item,
    Layanan,
    Questionnaire,
    Reference,
    compact_key,
    text_key,
)

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_QUESTIONNAIRE = DATA_DIR / "questionnaire_bpom_2024.yaml"
DEFAULT_LAYANAN = DATA_DIR / "layanan_bpom.yaml"
DEFAULT_DEMOGRAPHICS = DATA_DIR / "demographics.yaml"

ITEM_CODE = re.compile(r"^(q|ak)[1-9][0-9]*$")
UNSUR_CODE = re.compile(r"^U[1-9][0-9]*$")
ITEM_KEYS = {"code", "block", "number", "unsur", "labels", "forms_match"}


class ReferenceDataError(ValueError):
    """A reference YAML file is missing, unreadable or holds a wrong key or value."""


def load_reference(
    questionnaire_path: Path | None = None,
    layanan_path: Path | None = None,
    demographics_path: Path | None = None,
) -> Reference:
    """Load the three reference files; None means the packaged BPOM default.

    Raises ReferenceDataError naming the file and the key that is wrong.
    """
    demographics, fallbacks = load_demographics(demographics_path or DEFAULT_DEMOGRAPHICS)
    return Reference(
        questionnaire=load_questionnaire(questionnaire_path or DEFAULT_QUESTIONNAIRE),
        layanan=load_layanan(layanan_path or DEFAULT_LAYANAN),
        demographics=demographics,
        demographic_fallbacks=fallbacks,
    )


def load_questionnaire(path: Path) -> Questionnaire:
    """Read a questionnaire file: scale, unsur names, label sets and items."""
    raw = _read_mapping(path)
    where = path.name
    name = _string(raw, "name", where)
    scale = raw.get("scale")
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 2:
        raise ReferenceDataError(f"{where}: 'scale' must be a whole number ≥ 2, got {scale!r}")
    unsur_names = _string_mapping(raw.get("unsur") or {}, f"{where}: 'unsur'")
    for code in unsur_names:
        if not UNSUR_CODE.match(code):
            raise ReferenceDataError(f"{where}: unsur code {code!r} must look like U1, U2, …")
    label_sets = raw.get("label_sets") or {}
    if not isinstance(label_sets, Mapping):
        raise ReferenceDataError(f"{where}: 'label_sets' must be a mapping of name -> labels")
    items_raw = raw.get("items")
    if not isinstance(items_raw, list) or not items_raw:
        raise ReferenceDataError(f"{where}: 'items' must be a non-empty list")

    items: list[Item] = []
    for i, entry in enumerate(items_raw):
        items.append(_item(entry, f"{where}: items[{i}]", scale, unsur_names, label_sets))
    _check_unique(items, where)
    if not any(item.block == BLOCK_UNSUR for item in items):
        raise ReferenceDataError(f"{where}: no item has block 'unsur', so no IKM can be computed")
    return Questionnaire(name=name, scale=scale, items=tuple(items))


def load_layanan(path: Path) -> tuple[Layanan, ...]:
    """Read the layanan catalogue; codes, names and aliases must not collide."""
    raw = _read_mapping(path)
    entries = raw.get("layanan")
    if not isinstance(entries, list) or not entries:
        raise ReferenceDataError(f"{path.name}: 'layanan' must be a non-empty list")
    catalogue: list[Layanan] = []
    owner: dict[str, str] = {}
    for i, entry in enumerate(entries):
        where = f"{path.name}: layanan[{i}]"
        if not isinstance(entry, Mapping):
            raise ReferenceDataError(f"{where} must be a mapping with code, name, aliases")
        unknown = set(entry) - {"code", "name", "aliases"}
        if unknown:
            raise ReferenceDataError(f"{where}: unknown key(s) {sorted(unknown)}")
        code = _string(entry, "code", where)
        name = _string(entry, "name", where)
        aliases = _string_list(entry.get("aliases") or [], f"{where}.aliases")
        for text in (code, name, *aliases):
            key = compact_key(text)
            if not key:
                raise ReferenceDataError(f"{where}: {text!r} has no letters or digits")
            if owner.get(key, code) != code:
                raise ReferenceDataError(
                    f"{where}: {text!r} is already the name or an alias of layanan {owner[key]!r}"
                )
            owner[key] = code
        catalogue.append(Layanan(code=code, name=name, aliases=tuple(aliases)))
    return tuple(catalogue)


def load_demographics(path: Path) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Read the demographic variants; return ({characteristic: {key: category}}, fallbacks)."""
    raw = _read_mapping(path)
    unknown = set(raw) - set(CHARACTERISTICS)
    if unknown:
        raise ReferenceDataError(
            f"{path.name}: unknown characteristic(s) {sorted(unknown)}; "
            f"expected {list(CHARACTERISTICS)}"
        )
    variants: dict[str, dict[str, str]] = {}
    fallbacks: dict[str, str] = {}
    for characteristic, spec in raw.items():
        where = f"{path.name}: {characteristic}"
        if not isinstance(spec, Mapping) or not isinstance(spec.get("categories"), Mapping):
            raise ReferenceDataError(f"{where} must be a mapping with 'categories'")
        extra = set(spec) - {"categories", "fallback"}
        if extra:
            raise ReferenceDataError(f"{where}: unknown key(s) {sorted(extra)}")
        keys: dict[str, str] = {}
        for category, spellings in spec["categories"].items():
            if not isinstance(category, str) or not category.strip():
                raise ReferenceDataError(f"{where}.categories: category {category!r} is not text")
            for text in [category, *_string_list(spellings or [], f"{where}.{category}")]:
                key = text_key(text)
                if keys.get(key, category) != category:
                    raise ReferenceDataError(
                        f"{where}.{category}: {text!r} already means {keys[key]!r}"
                    )
                keys[key] = category
        fallback = spec.get("fallback")
        if fallback is not None:
            if fallback not in spec["categories"]:
                raise ReferenceDataError(
                    f"{where}.fallback: {fallback!r} is not one of its categories"
                )
            fallbacks[characteristic] = fallback
        variants[characteristic] = keys
    return variants, fallbacks


def _item(
    entry: Any,
    where: str,
    scale: int,
    unsur_names: dict[str, str],
    label_sets: Mapping[str, Any],
) -> Item:
    """Build and check one questionnaire item."""
    if not isinstance(entry, Mapping):
        raise ReferenceDataError(f"{where} must be a mapping (code, block, number, labels, …)")
    unknown = set(entry) - ITEM_KEYS
    if unknown:
        raise ReferenceDataError(f"{where}: unknown key(s) {sorted(unknown)}")
    code = _string(entry, "code", where)
    if not ITEM_CODE.match(code):
        raise ReferenceDataError(f"{where}.code: {code!r} must look like q1 or ak1")
    where = f"{where} ({code})"
    block = entry.get("block")
    if block not in BLOCKS:
        raise ReferenceDataError(f"{where}.block: {block!r} is not one of {list(BLOCKS)}")
    number = entry.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise ReferenceDataError(f"{where}.number: {number!r} is not a whole number ≥ 1")
    if code.startswith("ak") != (block == BLOCK_ANTI_KORUPSI):
        raise ReferenceDataError(
            f"{where}: codes ak… belong to block anti_korupsi, q… to the others"
        )

    unsur = entry.get("unsur")
    if block == BLOCK_UNSUR:
        if unsur not in unsur_names:
            raise ReferenceDataError(
                f"{where}.unsur: {unsur!r} is not one of the unsur {list(unsur_names)}"
            )
    elif unsur is not None:
        raise ReferenceDataError(f"{where}.unsur: only items of block 'unsur' have an unsur")

    labels_raw = entry.get("labels")
    if isinstance(labels_raw, str):
        if labels_raw not in label_sets:
            raise ReferenceDataError(
                f"{where}.labels: unknown label set {labels_raw!r} (known: {list(label_sets)})"
            )
        labels = _string_list(label_sets[labels_raw], f"label_sets.{labels_raw}")
    else:
        labels = _string_list(labels_raw, f"{where}.labels")
    if len(labels) != scale:
        raise ReferenceDataError(
            f"{where}.labels: {len(labels)} labels for a {scale}-point scale; give one per score"
        )
    if len({text_key(label) for label in labels}) != scale:
        raise ReferenceDataError(
            f"{where}.labels: two labels are the same ignoring case and spaces"
        )

    forms_match = _string_list(entry.get("forms_match") or [], f"{where}.forms_match")
    return Item(
        code=code,
        block=block,
        number=number,
        labels=tuple(labels),
        unsur_code=unsur if block == BLOCK_UNSUR else None,
        unsur_name=unsur_names.get(unsur) if block == BLOCK_UNSUR else None,
        forms_match=tuple(text_key(word) for word in forms_match),
    )


def _check_unique(items: list[Item], where: str) -> None:
    """Reject two items with one code, or one number twice in a block."""
    codes: set[str] = set()
    numbers: set[tuple[str, int]] = set()
    for item in items:
        if item.code in codes:
            raise ReferenceDataError(f"{where}: item code {item.code!r} appears twice")
        # unsur and extra questions share one numbering in the export header
        block = BLOCK_ANTI_KORUPSI if item.block == BLOCK_ANTI_KORUPSI else BLOCK_UNSUR
        if (block, item.number) in numbers:
            raise ReferenceDataError(
                f"{where}: question number {item.number} appears twice (item {item.code!r})"
            )
        codes.add(item.code)
        numbers.add((block, item.number))


def _read_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise ReferenceDataError(f"reference file not found: {path}") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ReferenceDataError(f"{Path(path).name}: not a readable YAML file ({exc})") from exc
    if not isinstance(raw, dict):
        raise ReferenceDataError(f"{Path(path).name}: must be a YAML mapping of keys")
    return raw


def _string(raw: Mapping[str, Any], key: str, where: str) -> str:
    """Return a required non-blank text value."""
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ReferenceDataError(f"{where}: '{key}' must be non-blank text, got {value!r}")
    return value.strip()


def _string_list(value: Any, where: str) -> list[str]:
    """Return a list of non-blank texts (YAML numbers such as 12 are taken as text)."""
    if not isinstance(value, list):
        raise ReferenceDataError(f"{where} must be a list, got {value!r}")
    out: list[str] = []
    for element in value:
        if isinstance(element, bool) or not isinstance(element, str | int | float):
            raise ReferenceDataError(f"{where}: {element!r} is not text")
        text = str(element).strip()
        if not text:
            raise ReferenceDataError(f"{where}: blank entry")
        out.append(text)
    return out


def _string_mapping(value: Any, where: str) -> dict[str, str]:
    """Return a mapping of text to non-blank text."""
    if not isinstance(value, Mapping):
        raise ReferenceDataError(f"{where} must be a mapping")
    out: dict[str, str] = {}
    for key, text in value.items():
        if not isinstance(text, str) or not text.strip():
            raise ReferenceDataError(f"{where}.{key}: must be non-blank text")
        out[str(key)] = text.strip()
    return out
