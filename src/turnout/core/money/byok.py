"""Per-account provider keys (BYOK): an account's own keys for providers, and the endpoints they make.

Keys are stored encrypted (AES-GCM, with a key derived by HKDF-SHA256 from the installation's
secret, core/money/keys.py `load_secret`; the record id is the associated data, so a ciphertext moved to
another record does not decrypt). The clear key lives only in this process's memory, loaded at
start-up and refreshed with the API keys (runtime._refresh): the request path never reads the
store. Only `label`, a masked suffix, is ever shown again.

For a request of an account that holds keys for a provider, each usable key (not disabled, its
`allowed_models` and `allowed_keys` allowing this model and API key) becomes its own copy of that
provider's endpoints for the model. The router puts the account's prioritized keys first (even
ahead of `provider.order`), then the gateway's shared endpoints, then the keys marked
`is_fallback`; a key with `is_required` ("always use this key") removes the shared endpoints of
its provider. Exclusions (data policy, ZDR, context, ...) apply to the copies like to any endpoint.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
import threading
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from turnout.core.catalog.catalog import Endpoint
from turnout.store.base import ByokRecord, Store

log = logging.getLogger("turnout")

NONCE_BYTES = 12
RANK_FIRST, RANK_SHARED, RANK_FALLBACK = 0, 1, 2
MAX_COPIES = 10_000  # endpoint copies kept; the cache is rebuilt when it would grow past this


def mask(key: str) -> str:
    """What is shown of a key: its last four characters, and only when it is long enough that
    those do not give much of it away."""
    return "..." + key[-4:] if len(key) >= 16 else "..."


class Vault:
    """Encrypts provider keys at rest with a key derived from the installation secret.

    `cryptography` (6 MB resident) is loaded on the first key sealed or opened: an installation
    without BYOK keys never loads it."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._aead: Any = None

    def _cipher(self) -> Any:
        if self._aead is None:
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF

            derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"turnout byok v1").derive(self._secret)
            self._aead = AESGCM(derived)
        return self._aead

    def seal(self, record_id: str, clear: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        return base64.b64encode(nonce + self._cipher().encrypt(nonce, clear.encode(), record_id.encode())).decode()

    def open(self, record_id: str, sealed: str) -> str | None:
        """The clear key, or None when it does not decrypt (another installation's, or tampered)."""
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.b64decode(sealed)
            return str(self._cipher().decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], record_id.encode()).decode())
        except (InvalidTag, ValueError):
            return None


@dataclasses.dataclass(slots=True)
class ByokKey:
    """A usable key in memory: its record (without the ciphertext's use) and the clear key."""

    record: ByokRecord
    clear: str


class ByokBook:
    """Every account's usable keys, in memory, kept current from the store."""

    def __init__(self, store: Store, vault: Vault) -> None:
        self._store = store
        self.vault = vault
        self._keys: dict[str, ByokKey] = {}  # id -> key
        self._by_account: dict[str, dict[str, list[ByokKey]]] = {}  # account -> provider slug -> keys
        self._include_in_limit: dict[str, bool] = {}
        self._copies: dict[tuple[str, str], Endpoint] = {}
        self._since = 0.0
        self._settings_since = 0.0
        self._lock = threading.Lock()

    def load(self) -> None:
        self._since = self._settings_since = 0.0
        self.refresh()

    def refresh(self) -> None:
        """Apply what changed in the store since the last look (deleted keys leave memory); the
        refresher's thread and an admin call may both run it, one at a time."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        changed = self._store.byok_changed_since(self._since)
        if changed:
            for r in changed:
                self._since = max(self._since, r.updated_at)
                self._keys.pop(r.id, None)
                if r.deleted or r.disabled:
                    continue
                clear = self.vault.open(r.id, r.secret)
                if clear is None:
                    log.warning("BYOK key %s of account %s does not decrypt with this installation's secret; skipped",
                                r.id, r.account_id)
                    continue
                self._keys[r.id] = ByokKey(r, clear)
            self._index()
        for account, include, at in self._store.byok_settings_changed_since(self._settings_since):
            self._settings_since = max(self._settings_since, at)
            self._include_in_limit[account] = include

    def _index(self) -> None:
        index: dict[str, dict[str, list[ByokKey]]] = {}
        for k in sorted(self._keys.values(), key=lambda k: (k.record.sort_order, k.record.created_at, k.record.id)):
            index.setdefault(k.record.account_id, {}).setdefault(k.record.provider, []).append(k)
        self._by_account = index
        self._copies = {}

    def include_in_limit(self, account_id: str) -> bool:
        return self._include_in_limit.get(account_id, False)

    def holds(self, account_id: str) -> bool:
        return account_id in self._by_account

    def candidates(self, account_id: str, key_hash: str, model_id: str, endpoints: Iterable[Endpoint]) -> list[Endpoint]:
        """The model's endpoints with this account's usable keys as endpoint copies added."""
        mine = self._by_account.get(account_id)
        if not mine:
            return list(endpoints)
        base_id = model_id.split(":")[0]
        out: list[Endpoint] = []
        for e in endpoints:
            keys = [k for k in mine.get(e.provider.slug, ()) if _allows(k.record, base_id, model_id, key_hash)]
            out.extend(self._copy(k, e) for k in keys)
            if not any(k.record.is_required for k in keys):
                out.append(e)
        return out

    def rank(self, endpoint: Endpoint) -> int:
        """Where the endpoint goes: the account's prioritized keys, shared ones, fallback keys."""
        if endpoint.byok_id is None:
            return RANK_SHARED
        k = self._keys.get(endpoint.byok_id)
        return RANK_FALLBACK if k is not None and k.record.is_fallback else RANK_FIRST

    def _copy(self, key: ByokKey, e: Endpoint) -> Endpoint:
        slot = (key.record.id, e.key)
        copy = self._copies.get(slot)
        if copy is None:
            if len(self._copies) >= MAX_COPIES:
                self._copies = {}
            provider = dataclasses.replace(e.provider, api_key=key.clear, key_env=None, requires_key=True)
            copy = self._copies[slot] = dataclasses.replace(e, provider=provider, byok_id=key.record.id)
        return copy


def _allows(r: ByokRecord, base_id: str, model_id: str, key_hash: str) -> bool:
    if r.allowed_models is not None and base_id not in r.allowed_models and model_id not in r.allowed_models:
        return False
    return r.allowed_keys is None or key_hash in r.allowed_keys


def byok_fee(list_cost: Decimal, fee_percent: Decimal) -> Decimal:
    """What turnout charges for a request served on the account's own key: a share of the list price."""
    return list_cost * fee_percent / 100
