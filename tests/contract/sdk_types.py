"""A strict check of a JSON body against an official SDK's request types: every key must be declared.

The SDKs' own validators are lenient where this must not be (pydantic ignores undeclared keys of a
TypedDict; zai's models allow extras), so `undeclared` walks the value beside its type and reports
every key the type does not declare, every value a `Literal` does not list, every missing required
key and every wrong scalar, recursively, with the JSON path. Unions pass when any member passes.
Pydantic models (google-genai's, by alias) are walked field by field the same way.
"""

from __future__ import annotations

import collections.abc
import enum
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import pydantic
import typing_extensions
from typing_extensions import is_typeddict

_LISTS = (list, collections.abc.Iterable, collections.abc.Sequence, collections.abc.Collection)
_MAPS = (dict, collections.abc.Mapping)
_REQUIRED = {typing.Required, typing_extensions.Required}
_OPTIONAL = {typing.NotRequired, typing_extensions.NotRequired}
_WRAPPERS = {typing.Required, typing.NotRequired, typing_extensions.Required, typing_extensions.NotRequired,
             typing.Annotated, typing_extensions.ReadOnly}


def _hints(tp: Any) -> dict[str, Any]:
    return typing.get_type_hints(tp, include_extras=True)


def undeclared(value: Any, tp: Any, path: str = "$") -> list[str]:
    """Every way `value` is not an instance of the SDK type `tp` (empty: it is)."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any or tp is object:
        return []
    if origin in _WRAPPERS:
        return undeclared(value, args[0], path)
    if origin is Union or origin is types.UnionType:
        best: list[str] | None = None
        for member in args:
            errors = undeclared(value, member, path)
            if not errors:
                return []
            if best is None or len(errors) < len(best):
                best = errors
        return best or [f"{path}: matches no member of {tp}"]
    if origin is Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {list(args)}"]
    if tp is type(None):
        return [] if value is None else [f"{path}: expected null"]
    if is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{path}: expected an object ({tp.__name__})"]
        hints = _hints(tp)
        # With postponed annotations the class cannot see `Required[...]`: read it off the hints.
        required = set(tp.__required_keys__) | {k for k, h in hints.items() if get_origin(h) in _REQUIRED}
        required -= {k for k, h in hints.items() if get_origin(h) in _OPTIONAL}
        errors = [f"{path}.{k}: not declared by {tp.__name__}" for k in value if k not in hints]
        errors += [f"{path}.{k}: required by {tp.__name__}" for k in sorted(required) if k not in value]
        for k, v in value.items():
            if k in hints:
                errors += undeclared(v, hints[k], f"{path}.{k}")
        return errors
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        # Checked field by field as well: some SDK models allow extra keys, the wire contract does not.
        if not isinstance(value, dict):
            return [f"{path}: expected an object ({tp.__name__})"]
        tp.model_rebuild()
        fields = {f.alias or n: f for n, f in tp.model_fields.items()}
        names = {n: f.alias or n for n, f in tp.model_fields.items()}
        errors = []
        for k, v in value.items():
            key = names.get(k, k)
            if key not in fields:
                errors.append(f"{path}.{k}: not declared by {tp.__name__}")
            else:
                errors += undeclared(v, fields[key].annotation, f"{path}.{k}")
        present = {names.get(k, k) for k in value}
        errors += [f"{path}.{k}: required by {tp.__name__}" for k, f in fields.items() if f.is_required() and k not in present]
        return errors
    name = getattr(origin, "__name__", "")
    if origin in _LISTS or name == "SequenceNotStr":
        if not isinstance(value, list):
            return [f"{path}: expected an array"]
        item = args[0] if args else Any
        return [e for i, v in enumerate(value) for e in undeclared(v, item, f"{path}[{i}]")]
    if origin in _MAPS:
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        item = args[1] if len(args) > 1 else Any
        return [e for k, v in value.items() for e in undeclared(v, item, f"{path}.{k}")]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):  # google's enums accept unknown values with a warning
        values = {str(m.value).upper() for m in tp}
        return [] if isinstance(value, str) and value.upper() in values else [f"{path}: {value!r} is not a {tp.__name__}"]
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean"]
    if tp is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: expected an integer"]
    if tp is float:
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{path}: expected a number"]
    if tp is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string"]
    try:  # anything else (a Protocol, a bytes input type): the SDK's own pydantic view decides
        pydantic.TypeAdapter(tp).validate_python(value)
    except (pydantic.ValidationError, pydantic.PydanticSchemaGenerationError, TypeError) as exc:
        return [f"{path}: {exc}"]
    return []


def assert_declared(value: Any, tp: Any, what: str) -> None:
    errors = undeclared(value, tp)
    assert not errors, f"{what} is not what the SDK declares:\n  " + "\n  ".join(errors[:20])
