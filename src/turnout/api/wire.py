"""Shared machinery of the declarative wire types: decoding into msgspec Structs, and errors.

Each inbound dialect declares its request bodies once, as msgspec `Struct`s (api/<dialect>/wire.py).
Decoding a body into them validates it (types, ranges, enums, required fields); the same types
give the OpenAPI document (api/openapi.py). A `msgspec.ValidationError` becomes the 400 every
dialect answers with, its `param` the JSON path of the faulty value (`messages[3].content[0]`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

import msgspec

from turnout.model.errors import GatewayError, invalid

T = TypeVar("T")

# Integers must fit a signed 64-bit field: the JSON encoder (and every provider) refuses larger ones.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1, le=INT64_MAX)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
NonEmptyStr = Annotated[str, msgspec.Meta(min_length=1)]
# OpenAI's ranges, for every dialect that takes the parameter under OpenAI's rules.
Temperature = Annotated[float, msgspec.Meta(ge=0, le=2)]
UnitInterval = Annotated[float, msgspec.Meta(ge=0, le=1)]
Penalty = Annotated[float, msgspec.Meta(ge=-2, le=2)]
Bias = Annotated[float, msgspec.Meta(ge=-100, le=100)]
TopLogprobs = Annotated[int, msgspec.Meta(ge=0, le=20)]
RepetitionPenalty = Annotated[float, msgspec.Meta(ge=0, le=2)]  # OpenRouter's
Object = dict[str, Any]
# Messages (or input items) in one request: Anthropic's documented ceiling is 100,000; past this
# many a request is refused before any work on its content.
MAX_MESSAGES = 50_000

_AT = re.compile(r"^(?P<what>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$")


def param_of(exc: msgspec.ValidationError) -> tuple[str, str]:
    """(the JSON path of the faulty value, what was expected) from msgspec's error message.

    msgspec says `Expected `int`, got `str` - at `$.messages[0].content``; a missing field is named
    at its parent, so it is appended to the path. A dict key msgspec shows as `[...]` is dropped:
    the param names the object that holds it.
    """
    text = str(exc)
    match = _AT.match(text)
    what, path = (match["what"], match["path"]) if match else (text, "")
    path = path.split("[...]", 1)[0].lstrip(".")
    missing = _MISSING.match(what)
    if missing:
        path = f"{path}.{missing['field']}" if path else missing["field"]
        what = "is required"
    unknown = _UNKNOWN.match(what)
    if unknown:
        path = f"{path}.{unknown['field']}" if path else unknown["field"]
        what = "unknown field"
    return path or "body", what


def validation_error(exc: msgspec.ValidationError) -> GatewayError:
    param, what = param_of(exc)
    return invalid(param, f"'{param}': {_sentence(what)}")


def _sentence(what: str) -> str:
    """msgspec's 'Expected `int`, got `str`' in the gateway's words (backticks read poorly in JSON)."""
    return what.replace("`", "").replace("Expected", "expected", 1).replace("Invalid enum value", "invalid value")


def integral(body: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The body with integral floats (`1.0`, as some clients write integers) made ints in the named
    integer fields, as the gateway always read them; a copy only when one changed."""
    fixed = {}
    for name in names:
        value = body.get(name)
        if isinstance(value, float) and value.is_integer() and INT64_MIN <= value <= INT64_MAX:
            fixed[name] = int(value)
    return {**body, **fixed} if fixed else body


def convert(body: Any, kind: type[T]) -> T:
    """The decoded JSON body as the dialect's wire type, or a 400 naming the faulty value."""
    if not isinstance(body, dict):
        raise invalid("body", "the request body must be a JSON object")
    try:
        return msgspec.convert(body, kind)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None
