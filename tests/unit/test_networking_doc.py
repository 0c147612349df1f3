"""docs/networking.md's config example, loaded verbatim: the settings parse, every provider field
is read, and the TLS files it names are checked at start-up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fakes.network import make_pki
from turnout.core.catalog.catalog import CatalogError, build_catalog
from turnout.core.catalog.network import TLSConfig
from turnout.settings import load_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "networking.md"


def example() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text("utf-8"), re.S)
    assert len(blocks) == 1, "docs/networking.md should hold exactly one YAML example"
    return blocks[0]


def test_the_networking_example_loads_verbatim(tmp_path: Path) -> None:
    config = tmp_path / "turnout.yaml"
    config.write_text(example(), "utf-8")
    env = {"OPENAI_API_KEY": "sk-openai", "PROXY_PASSWORD": "pw"}
    settings = load_settings(config, env=env, data_dir=tmp_path / "data", catalog_dataset=False)
    assert (settings.upstream_max_connections, settings.upstream_max_idle_connections) == (100, 32)
    assert (settings.upstream_idle_timeout, settings.upstream_pool_timeout, settings.stream_open_grace) == (30, 10, 1)

    # The CA and certificate files it names do not exist on this machine: start-up says which.
    with pytest.raises(CatalogError, match=r"providers\.inhouse\.tls: cannot load the certificates"):
        build_catalog(settings.providers, settings.models, env)

    # With those three paths pointing at real files, the example builds as written.
    pki = make_pki(tmp_path / "pki")
    text = (example().replace("/etc/turnout/corp-ca.pem", str(pki.ca))
            .replace("/etc/turnout/turnout.pem", str(pki.client_cert)).replace("/etc/turnout/turnout.key", str(pki.client_key)))
    config.write_text(text, "utf-8")
    settings = load_settings(config, env=env, data_dir=tmp_path / "data", catalog_dataset=False)
    providers = build_catalog(settings.providers, settings.models, env).providers
    openai, inhouse, lab = providers["openai"].network, providers["inhouse"].network, providers["lab"].network
    assert openai.proxy == "http://gateway:pw@proxy.corp.example:3128" and openai.max_connections == 50
    assert inhouse.proxy == "" and inhouse.tls == TLSConfig(str(pki.ca), str(pki.client_cert), str(pki.client_key))
    assert lab.proxy is None and lab.tls is None and providers["lab"].base_url == "http://[fd00::12]:8000/v1"
