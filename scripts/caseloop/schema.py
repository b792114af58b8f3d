"""The case-log schema: its columns, their types and roles, and how headers are matched."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .datafiles import DEFAULT_SCHEMA, SCHEMA_CHECK, check_problems, read_text, refuse_problems
from .errors import CaseloopError

# The columns the code computes with, and the type it reads each as: a schema must keep them.
CORE_FIELDS = {
    "Case ID": "string",
    "Marketplace": "string",
    "Category": "string",
    "Channel": "string",
    "Priority": "string",
    "Status": "string",
    "Opened At": "datetime",
    "Last Sent At": "datetime",
    "First Reply At": "datetime",
    "Last Reply At": "datetime",
    "Follow-ups": "integer",
    "Resolved At": "datetime",
    "Deadline": "datetime",
    "Order ID": "string",
    "ASIN": "string",
    "Shipment ID": "string",
    "Related Cases": "string",
    "Owner": "string",
    "Resolution": "string",
}
# What the code asks of some columns, named in the schema by a field's "role", with the type the
# code reads that field as: each role is on exactly one field.
ROLES = {
    "case-id": "string",  # the case's ID: folded, checked for Amazon's form, unique
    "opened": "datetime",  # when the case was opened: tells cases from totals lines
    "status": "string",  # Open, Resolved or Closed
    # The events of a case: none before it was opened, none in the future.
    "last-sent": "datetime",
    "first-reply": "datetime",
    "last-reply": "datetime",
    "resolved": "datetime",
    "resolution": "string",  # how it ended
    "related": "string",  # IDs of other cases
}
# A schema written before roles existed names none: its core fields take them by name.
DEFAULT_ROLE_FIELDS = {
    "case-id": "Case ID",
    "opened": "Opened At",
    "status": "Status",
    "last-sent": "Last Sent At",
    "first-reply": "First Reply At",
    "last-reply": "Last Reply At",
    "resolved": "Resolved At",
    "resolution": "Resolution",
    "related": "Related Cases",
}

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"\s+")


def normalize_label(text: Any) -> str:
    """The form headers and labels are compared in: NFKC (full-width → ASCII), no zero-width
    characters, single spaces, case-folded."""
    text = unicodedata.normalize("NFKC", str(text))
    text = _INVISIBLE.sub("", text)
    return _SPACES.sub(" ", text).strip().casefold()


@dataclass(frozen=True)
class Field:
    name: str
    zh: str
    type: str  # "string" | "datetime" | "integer"
    required: bool
    aliases: tuple[str, ...]
    pattern: re.Pattern[str] | None = None
    minimum: int | None = None
    description: str = ""
    role: str | None = None  # see ROLES
    example: str | None = None  # a value of the right form, for messages
    enum_codes: bool = False  # enum values are codes read alike in any language (US, DE)
    count_words: tuple[str, ...] = ()  # words typed after a count: 2次, 2 times


@dataclass(frozen=True)
class Schema:
    fields: tuple[Field, ...]
    header_lookup: dict[str, str]  # normalized header text → canonical field name

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]


def _schema_path_name(fields: Any) -> Callable[[list[Any]], str]:
    """``fields[11] ("Follow-ups").type``: the index JSON needs and the name people know."""

    def name(path: list[Any]) -> str:
        text = ""
        for i, key in enumerate(path):
            if isinstance(key, int):
                text += f"[{key}]"
                if i == 1 and isinstance(fields, list) and isinstance(fields[key], dict):
                    field_name = fields[key].get("name")
                    if isinstance(field_name, str) and field_name:
                        text += f' ("{field_name}")'
            else:
                text += f".{key}" if text else str(key)
        return text

    return name


@cache
def load_schema(path: Path = DEFAULT_SCHEMA) -> Schema:
    text = read_text(path, "schema", "schema")
    try:
        data = json.loads(text)
    except ValueError as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise CaseloopError(f"The schema file {path} is not valid JSON{where}; fix it.") from None
    if not isinstance(data, dict):
        raise CaseloopError(
            f"The schema file {path} must hold a JSON object with a list of fields."
        )
    refuse_problems(
        path, check_problems(data, SCHEMA_CHECK, _schema_path_name(data.get("fields")), "")
    )
    # The check above proved "fields" a list of objects, each with a name and a type.
    raw_fields: list[dict[str, Any]] = data["fields"]
    names = [raw["name"] for raw in raw_fields]
    for name in names:
        if names.count(name) > 1:
            raise CaseloopError(f'{path}: the field "{name}" is listed twice; keep one.')
    types = {raw["name"]: raw["type"] for raw in raw_fields}
    for name, wanted in CORE_FIELDS.items():
        if name not in types:
            raise CaseloopError(
                f'{path}: fields has no field "{name}"; caseloop needs it (type {wanted}), '
                "see sheets_schema/case_log.schema.json."
            )
        if types[name] != wanted:
            raise CaseloopError(
                f'{path}: the field "{name}" has type {types[name]}; caseloop reads it as '
                f"{wanted}, see sheets_schema/case_log.schema.json."
            )
    roles = [raw.get("role") for raw in raw_fields or ()]
    if not any(roles):
        by_name = {name: role for role, name in DEFAULT_ROLE_FIELDS.items()}
        roles = [by_name.get(name) for name in names]
        raw_fields = [
            {**raw, "role": role} if role else raw
            for raw, role in zip(raw_fields, roles, strict=True)
        ]
    for role, wanted in ROLES.items():
        having = [n for n, r in zip(names, roles, strict=True) if r == role]
        if len(having) != 1 or types[having[0]] != wanted:
            raise CaseloopError(
                f'{path}: {_role_holders(having)} the role "{role}"; caseloop needs it on one '
                f"field of type {wanted}, see sheets_schema/case_log.schema.json."
            )
    fields = []
    lookup: dict[str, str] = {}
    for raw in raw_fields:
        constraints = raw.get("constraints", {})
        pattern = constraints.get("pattern")
        f = Field(
            name=raw["name"],
            zh=raw.get("zh", raw["name"]),
            type=raw["type"],
            required=bool(constraints.get("required", False)),
            aliases=tuple(raw.get("aliases", [])),
            pattern=re.compile(pattern) if pattern else None,
            minimum=constraints.get("minimum"),
            description=raw.get("description", ""),
            role=raw.get("role"),
            example=raw.get("example"),
            enum_codes=bool(raw.get("x-enum-codes", False)),
            count_words=tuple(raw.get("x-count-words", ())),
        )
        fields.append(f)
        for label in (f.name, f.zh, *f.aliases):
            lookup.setdefault(normalize_label(label), f.name)
    return Schema(tuple(fields), lookup)


def _role_holders(names: list[str]) -> str:
    if not names:
        return "no field has"
    return " and ".join(f'"{n}"' for n in names) + (" have" if len(names) > 1 else " has")
