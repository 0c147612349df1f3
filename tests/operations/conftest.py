"""A gateway with an admin key against the shared fake upstream, for the operations tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.accounts.conftest import ADMIN
from tests.conftest import Gateway, Upstream, create_key, gateway_config
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.settings import load_settings


def settings_for(upstream: Upstream, tmp: Any, **overrides: Any) -> Any:
    config = gateway_config(upstream.url)
    return load_settings(None, env={}, data_dir=tmp, keepalive_interval=0.5, read_timeout=2.0, admin_key=ADMIN,
                         catalog_dataset=False, providers=config["providers"], models=config["models"], **overrides)


@pytest.fixture(scope="module")
def ops_gateway(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    settings = settings_for(upstream, tmp_path_factory.mktemp("ops"))
    key = create_key(settings, "ops")
    with serve(create_app(settings)) as url:
        yield Gateway(url, key, settings, upstream)
