"""Reading the deployment files an office keeps in Excel: endpoints and session plans.

A CSV is read as Excel saves it: UTF-8 with or without a BOM, or UTF-16 ("Unicode
text", which Excel names `.txt`); `,`, `;` (Vietnamese regional settings) or a tab between
values; CRLF line ends. Column names are compared without case, diacritics or outer
spaces, and may be given in Vietnamese (`Mã`, `Tên` …) where the reader lists them; a
column nobody reads is reported, not dropped in silence (a misspelt `adress` would
otherwise clear every address). Rows are numbered as a person sees them in Excel (the
header is row 1, blank rows count) and rows with nothing in them are skipped. A YAML
file is a list of mappings, or that list under `key`.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import String

from storage.text import fold

SEPARATORS = ",;\t"
CSV_SUFFIXES = (".csv", ".txt")  # .txt: Excel's "Unicode Text" (UTF-16, tabs)
ExcelRow = tuple[int, dict[str, Any]]  # (row number, values by lower-case column name)


class DataFileError(ValueError):
    """What is wrong with the file as a whole, or with one of its rows."""


def _text(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16").removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        row = data[: error.start].count(b"\n") + 1
        raise DataFileError(
            f"{path}: row {row} is not UTF-8 text; in Excel save the file as 'CSV UTF-8 (Comma delimited)'"
            " or 'Unicode Text'"
        ) from None


def column_name(header: str, known: tuple[str, ...], aliases: Mapping[str, str]) -> str:
    """The column a header cell names: itself when known, else its alias (folded `Tên` -> name)."""
    name = header.strip().lower()
    return name if name in known else aliases.get(fold(name), name)


def unknown_keys(names: Iterable[str], known: tuple[str, ...]) -> str | None:
    """A problem naming the columns (or YAML keys) nobody reads, if any."""
    unknown = [name for name in names if name and name not in known]
    if not unknown:
        return None
    return f"unknown column {', '.join(repr(name) for name in unknown)} (known: {', '.join(known)})"


def read_csv(
    path: Path, required: tuple[str, ...], known: tuple[str, ...], aliases: Mapping[str, str] | None = None
) -> list[ExcelRow]:
    """The rows of a CSV whose header names the `required` columns (and maybe others of `known`,
    or their `aliases`: folded header -> column)."""
    text = _text(path)
    header = text.split("\n", 1)[0]
    separator = max(SEPARATORS, key=header.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    columns = [column_name(name, known, aliases or {}) for name in next(reader, [])]
    missing = [name for name in required if name not in columns]
    if missing:
        raise DataFileError(
            f"{path}: row 1 must be the header {','.join(known)}; missing: {', '.join(missing)}"
        )
    unknown = unknown_keys(columns, known)
    if unknown:
        raise DataFileError(f"{path}: row 1: {unknown}")
    rows: list[ExcelRow] = []
    problems = []
    last = reader.line_num
    for values in reader:
        number, last = last + 1, reader.line_num  # a quoted value may span several lines
        if not any(value.strip() for value in values):
            continue
        if len(values) > len(columns) and any(value.strip() for value in values[len(columns) :]):
            problems.append(
                f"row {number}: {len(values)} values but the header has {len(columns)} columns "
                "(put a value that contains the separator in double quotes)"
            )
        rows.append((number, dict(zip(columns, values, strict=False))))
    if problems:
        raise DataFileError("\n".join(problems))
    return rows


def read_yaml(path: Path, key: str) -> list[Any]:
    """The entries of a YAML list, or of the list under `key`."""
    try:
        loaded = yaml.safe_load(_text(path))
    except yaml.YAMLError as error:
        raise DataFileError(f"{path}: not valid YAML: {error}") from None
    if isinstance(loaded, dict):
        loaded = loaded.get(key)
    if not isinstance(loaded, list):
        raise DataFileError(f"{path}: expected a list of {key}")
    return loaded


def too_long(model: Any, column: str, value: str) -> str | None:
    """A problem when `value` does not fit the column of that name in `model`'s table."""
    kind = model.__table__.c[column].type
    limit = kind.length if isinstance(kind, String) else None
    if limit is not None and len(value) > limit:
        return f"{column} is {len(value)} characters long, at most {limit}"
    return None
