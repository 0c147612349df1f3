"""The key-management and credits request bodies (`POST/PATCH /keys`, `POST /credits`), as msgspec types.

Unknown fields are refused (a typo in `limit` must not pass silently as "no limit"). A field that
is absent is `UNSET`, told apart from an explicit `null` (which clears a limit). What a type
cannot say (money within what can be stored, printable names) is checked in api/admin.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from turnout.core.money.ratelimit import MAX_RATE

Rate = Annotated[int, Meta(ge=0, le=MAX_RATE)]  # requests or tokens per minute; 0 is unlimited
Amount = int | float | str  # USD, as a number or a decimal string (api/admin.py checks it exactly)


class KeyFields(Struct, forbid_unknown_fields=True, kw_only=True):
    """The settable fields of a key but its name."""

    limit: Amount | UnsetType | None = UNSET  # null: no limit
    limit_reset: Literal["daily", "weekly", "monthly", "none", "never"] | UnsetType | None = UNSET
    disabled: bool | UnsetType = UNSET
    rate_limit_rpm: Rate | UnsetType | None = UNSET  # null: the server's default
    rate_limit_tpm: Rate | UnsetType | None = UNSET
    include_byok_in_limit: bool | UnsetType | None = UNSET  # accepted; an account sets it at /byok/settings


class KeyUpdateBody(KeyFields, forbid_unknown_fields=True, kw_only=True):
    """`PATCH /keys/{hash}`: change a key's settable fields."""

    name: str | UnsetType = UNSET


class KeyCreateBody(KeyFields, forbid_unknown_fields=True, kw_only=True):
    """`POST /keys`: a new key; OpenRouter's workspace fields are accepted and ignored."""

    name: str
    account: str | UnsetType = UNSET
    expires_at: str | UnsetType | None = UNSET
    creator_user_id: str | UnsetType | None = UNSET
    workspace_id: str | UnsetType | None = UNSET


class CreditsBody(Struct, forbid_unknown_fields=True, kw_only=True):
    """`POST /credits`: record credits for an account (only an adjustment may be negative)."""

    amount: Amount
    kind: Literal["grant", "purchase", "adjustment"] = "grant"
    account: str | UnsetType = UNSET
    note: str | None = None
