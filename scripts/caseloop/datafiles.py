"""The data files in ``sheets_schema/``: where they are, how they are read, and their check
against a JSON Schema, each problem named by its key."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import CaseloopError, OptionError


def _schema_dir() -> Path:
    """The shipped defaults: package data when installed, the repo's own folder when not."""
    installed = Path(str(resources.files("caseloop"))) / "sheets_schema"
    if installed.is_dir():
        return installed
    # An editable install (a checkout): the repo's top-level folder, the one source.
    return Path(__file__).resolve().parents[2] / "sheets_schema"


SCHEMA_DIR = _schema_dir()
DEFAULT_SCHEMA = SCHEMA_DIR / "case_log.schema.json"
DEFAULT_RULES = SCHEMA_DIR / "rules.yaml"
DEFAULT_LABELS = SCHEMA_DIR / "labels.yaml"
# JSON Schemas of what caseloop reads from the two settings files, checked on load.
RULES_CHECK = SCHEMA_DIR / "checks" / "rules.json"
SCHEMA_CHECK = SCHEMA_DIR / "checks" / "case_log.json"


def read_text(path: Path, what: str, setting: str | None, check: str = "{option}") -> str:
    """The file's text. ``setting`` names the file (the CLI spells its option where ``check``
    says ``{option}``); None for a file no option names, where ``check`` says what to check."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = f"The {what} file {path} does not exist; check {check}."
        if setting is None:
            raise CaseloopError(message) from None
        raise OptionError(setting, message) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "it is not UTF-8 text"
        raise CaseloopError(f"Cannot read the {what} file {path}: {reason}.") from None


def load_yaml(
    path: Path, what: str, setting: str | None, check: str = "{option}"
) -> dict[str, Any]:
    import yaml

    text = read_text(path, what, setting, check)
    # The C loader, where PyYAML was built with libyaml, reads the rules ten times faster.
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        """Refuses a key written twice in one mapping: YAML would keep the last silently."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise CaseloopError(
                        f"{path}: {shown_value(key)} is written twice, at lines {seen[key]} and "
                        f"{line}; keep one."
                    )
                seen[key] = line
            return super().construct_mapping(node, deep)

    try:
        data = yaml.load(text, Loader=Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise CaseloopError(f"The {what} file {path} is not valid YAML{where}; fix it.") from None
    if not isinstance(data, dict):
        raise CaseloopError(f"The {what} file {path} must hold a mapping of settings.")
    return data


# -- checking a settings file against its JSON Schema ------------------------------------------


def _finite(validator: Any, wanted: bool, instance: Any, schema: dict[str, Any]) -> Iterable[Any]:
    """``x-finite``: .nan compares as neither too small nor too large, so bounds miss it."""
    from jsonschema import ValidationError

    if wanted and validator.is_type(instance, "number") and not math.isfinite(instance):
        yield ValidationError(f"{instance!r} is not a finite number")


def _is_zone(value: object) -> bool:
    if isinstance(value, str):
        ZoneInfo(value)
    return True


def _is_regex(value: object) -> bool:
    if isinstance(value, str):
        re.compile(value)
    return True


@cache
def _validator(check: Path) -> Any:
    """A JSON Schema validator for one settings file, with caseloop's two extra checks."""
    from jsonschema import Draft202012Validator, FormatChecker, validators

    formats = FormatChecker(formats=())
    formats.checks("iana-time-zone", raises=(ZoneInfoNotFoundError, ValueError, OSError))(_is_zone)
    formats.checks("python-regex", raises=re.error)(_is_regex)
    checker = validators.extend(Draft202012Validator, {"x-finite": _finite})
    return checker(json.loads(check.read_text(encoding="utf-8")), format_checker=formats)


def shown_value(value: Any) -> str:
    """A value the way the person typed it, near enough: quoted text, YAML's words."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if value != value else (".inf" if value > 0 else "-.inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return f'"{value}"' if value else "empty"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f'"{value}"'


def _position(data: Any, path: list[Any]) -> tuple[int, ...]:
    """Where ``path`` is in the file (the order keys were written in), to report the first."""
    where: list[int] = []
    node = data
    for key in path:
        if isinstance(node, dict) and key in node:
            where.append(list(node).index(key))
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            where.append(key)
        else:
            where.append(-1)
            break
        node = node[key]
    return tuple(where)


def check_problems(
    data: Any, check: Path, name_path: Callable[[list[Any]], str], see: str
) -> list[tuple[tuple[int, ...], str]]:
    """Every value of ``data`` that does not fit ``check``: (position, sentence), one per key."""
    found: dict[tuple[Any, ...], tuple[tuple[int, ...], str]] = {}
    for error in _validator(check).iter_errors(data):
        path = list(error.absolute_path)
        keyword = error.validator
        advice = error.schema.get("x-advice") if isinstance(error.schema, dict) else None
        if "propertyNames" in error.absolute_schema_path:
            # The key itself is wrong ("Urgent" among priorities, YAML's false for NO).
            key = error.instance
            text = f"{name_path(path) or 'the file'} names {shown_value(key)}; {advice}"
            path = [*path, key]
        elif keyword == "additionalProperties":
            known = error.schema.get("properties", {})
            key = next(k for k in error.instance if k not in known)
            path = [*path, key]
            text = (
                f"{name_path(path)} is not a setting caseloop knows; remove it or correct its "
                f"name (the settings here are {', '.join(known)})"
            )
        elif keyword == "required":
            # One error per missing key, and it does not say which: name each of them here.
            for key in error.validator_value:
                if key not in error.instance:
                    text = f"{name_path(path) or 'the file'} has no {key}; add it{see}"
                    found.setdefault(
                        (*map(str, path), str(key)), (_position(data, [*path, key]), text)
                    )
            continue
        elif keyword in ("minProperties", "minItems") and "x-empty" in error.schema:
            text = f"{name_path(path)} is empty; {error.schema['x-empty']}"
        else:
            text = f"{name_path(path) or 'the file'} is {shown_value(error.instance)}; {advice or error.message}"
        # One problem per key: ".inf" is both too large and not finite.
        found.setdefault(tuple(map(str, path)), (_position(data, path), text))
    return sorted(found.values(), key=lambda p: p[0])


def refuse_problems(path: Path, problems: list[tuple[tuple[int, ...], str]]) -> None:
    if not problems:
        return
    more = len(problems) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''} in the file)" if more else ""
    raise CaseloopError(f"{path}: {problems[0][1]}{tail}.")
