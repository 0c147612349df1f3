"""docs/plugins.md's configuration example is a real, loadable config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from turnout.plugins.pipeline import Pipeline
from turnout.settings import ConfigError, load_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def example() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text("utf-8"), re.S)
    assert blocks, "docs/plugins.md has no yaml example"
    return blocks[0]


def test_the_documented_config_loads(tmp_path: Path) -> None:
    config = tmp_path / "turnout.yaml"
    config.write_text(example())
    env = {"EXA_API_KEY": "e", "TAVILY_API_KEY": "t", "BRAVE_API_KEY": "b"}
    settings = load_settings(config, env={}, data_dir=tmp_path)
    assert settings.plugins == [{"id": "response-healing"}] and settings.url_fetch is False
    pipeline = Pipeline(settings, env)
    assert set(pipeline.engines) == {"searxng", "exa", "tavily", "brave"} and pipeline.default_engine == "searxng"
    assert str(pipeline.engines["exa"].price) == "0.007" and pipeline.engines["brave"].timeout == 5
    assert pipeline.engines["tavily"].url == "https://api.tavily.com/search"


@pytest.mark.parametrize(("yaml", "words"), [
    ("plugins: {id: web}\n", "plugins must be a list"),
    ("web_search: {engines: {google: {}}}\n", "unknown engine"),
    ("web_search: {engines: {exa: {price: '1'}}}\n", "needs api_key"),
    ("web_search: {engines: {searxng: {}}}\n", "url must be an http(s) URL"),
    ("web_search: {engine: exa, engines: {searxng: {url: 'http://x'}}}\n", "not configured"),
    ("plugins: [{id: teleport}]\n", "unknown plugin"),
    ("plugins: [{id: web, max_results: 99}]\n", "max_results"),
])
def test_bad_plugin_settings_are_refused_at_start(tmp_path: Path, yaml: str, words: str) -> None:
    config = tmp_path / "turnout.yaml"
    config.write_text(yaml)
    with pytest.raises(ConfigError) as err:
        Pipeline(load_settings(config, env={}, data_dir=tmp_path), {})
    assert words in str(err.value)
