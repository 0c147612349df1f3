"""Fake upstreams emit only what the providers' official SDKs declare.

`shape(Model, data)` checks `data` against the SDK's response model with the strict contract check
(tests/contract/sdk_types.py: every key declared, every literal listed, every required key there),
builds the model, and returns its wire JSON. A fake that tries to send a field, an event or a
stop reason the SDK does not know fails loudly instead of teaching the translators a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import pydantic

from tests.contract.sdk_types import undeclared


def shape(model: type[pydantic.BaseModel], data: dict[str, Any], *, also: Iterable[str] = (),
          unchecked_required: Iterable[str] = ()) -> dict[str, Any]:
    """`data` as `model` serializes it. `also`: top-level keys the provider's spec documents but
    the SDK model leaves to its extras (Z.ai's `web_search`); `unchecked_required`: SDK-only
    required fields that are not on the wire (zai's `extra_json`)."""
    extra = set(also)
    checked = {k: v for k, v in data.items() if k not in extra}
    errors = [e for e in undeclared(checked, model)
              if not any(e == f"$.{k}: required by {model.__name__}" for k in unchecked_required)]
    assert not errors, f"the fake built a {model.__name__} the SDK does not declare:\n  " + "\n  ".join(errors)
    try:  # validated from JSON, as the SDK reads the wire (base64 bytes, enums, aliases)
        built = model.model_validate_json(orjson.dumps({**checked, **{k: {} for k in unchecked_required}}))
    except pydantic.ValidationError as exc:
        raise AssertionError(f"the fake built an invalid {model.__name__}: {exc}") from None
    wire = built.model_dump(mode="json", by_alias=True, exclude_unset=True)
    for k in unchecked_required:
        wire.pop(k, None)
    return {**wire, **{k: data[k] for k in extra if k in data}}
