"""The README works as written: its shell and Python snippets run verbatim against `turnout serve`
with the built-in local model, and every relative link in README.md and docs/ resolves."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from turnout.local import chat_available, missing_for_chat

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_URL = "http://127.0.0.1:8080"  # where the README's snippets expect the quick start's server
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README.read_text("utf-8"), flags=re.S | re.M)


def block(lang: str, containing: str) -> str:
    found = [b for b in blocks(lang) if containing in b]
    assert len(found) == 1, f"expected one ```{lang} block with {containing!r} in README.md, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("doc", [README, *sorted((ROOT / "docs").glob("*.md"))], ids=lambda p: p.name)
def test_every_relative_link_resolves_inside_the_repository(doc: Path) -> None:
    targets = LINK.findall(doc.read_text("utf-8"))
    for target in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a web address or an anchor on the same page
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        assert path.exists(), f"{doc.name} links to {target}, which does not exist"
        assert path.is_relative_to(ROOT), f"{doc.name} links to {target}, outside the repository"
    if doc == README:
        assert "docs/architecture.md" in targets and "LICENSE" in targets


def test_the_readme_links_nothing_outside_the_repository() -> None:
    for doc in [README, *(ROOT / "docs").glob("*.md")]:
        assert "shared/" not in doc.read_text("utf-8"), doc.name
    assert "Apache License" in (ROOT / "LICENSE").read_text("utf-8")
    assert 'license = { text = "Apache-2.0" }' in (ROOT / "pyproject.toml").read_text("utf-8")


def test_the_quick_start_is_two_commands_in_a_virtualenv() -> None:
    quick = README.read_text("utf-8").split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^```sh\n(.*?)^```", quick, flags=re.S | re.M)
    assert [c.strip() for c in commands] == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[local]' && turnout serve",
        "./scripts/test.sh",
    ]
    assert "holds its terminal" in quick


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`turnout serve` with its defaults (no config, no provider key), and the environment of a
    shell where `turnout` is this checkout's command."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "turnout"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m turnout "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURNOUT_") and k not in ("ZAI_API_KEY", "EMPIRIOLABS_API_KEY")}
    env.update(TURNOUT_DATA_DIR=str(tmp_path / "data"), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    url = f"http://127.0.0.1:{free_port()}"
    proc = subprocess.Popen([sys.executable, "-m", "turnout", "serve", "--port", url.rsplit(":", 1)[1]],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "turnout serve did not come up"
            time.sleep(0.2)
        yield url, env
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not chat_available(), reason=f"the 'local' extra is not installed (missing: {', '.join(missing_for_chat())})")
def test_the_readme_snippets_run_verbatim(served: tuple[str, dict[str, str]]) -> None:
    url, env = served
    using = block("sh", "turnout keys create --name laptop")
    curl = block("sh", "curl ")
    python = block("python", "from openai import OpenAI")
    # The one substitution: the quick start's address becomes this test's free port.
    for snippet in (curl, python):
        assert README_URL in snippet
    script = "\n".join([
        "set -e",
        using,
        "echo '--- curl'",
        curl.replace(README_URL, url),
        "echo; echo '--- python'",
        f"'{sys.executable}' - <<'PYTHON'\n{python.replace(README_URL, url)}PYTHON",
    ])
    run = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    listing, _, rest = run.stdout.partition("--- curl\n")
    assert "created key 'laptop'" in listing and "disabled key 'laptop'" in listing
    assert "google/gemma-3-270m" in listing
    answer, _, streamed = rest.partition("--- python\n")
    body = json.loads(answer)
    assert "choices" in body, f"the README's curl call failed: {body}"
    assert body["model"] == "google/gemma-3-270m" and body["choices"][0]["message"]["content"].strip()
    assert body["usage"]["completion_tokens"] > 0
    text, _, cost = streamed.rstrip("\n").rpartition("\ncost: ")
    assert text.strip() and cost == "0", streamed  # the local model is free


def doc_configs() -> list[tuple[str, str]]:
    found = []
    for doc in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for i, text in enumerate(re.findall(r"^```yaml\n(.*?)^```", doc.read_text("utf-8"), flags=re.S | re.M)):
            found.append((f"{doc.name}#{i}", text))
    return found


@pytest.mark.parametrize(("where", "text"), doc_configs(), ids=[w for w, _ in doc_configs()])
def test_every_config_example_in_the_docs_is_accepted(where: str, text: str, tmp_path: Path) -> None:
    """The documentation's config examples use only keys turnout reads (they may be fragments:
    a models section whose provider another example defines)."""
    from turnout.core.catalog.catalog import load_builtin
    from turnout.core.catalog.catalog_schema import check_model, check_provider
    from turnout.settings import load_settings

    builtin = load_builtin()["providers"]
    config = tmp_path / "example.yaml"
    config.write_text(text)
    settings = load_settings(config, env={})  # unknown top-level settings raise
    errors: list[str] = []
    for slug, raw in settings.providers.items():
        check_provider(slug, raw, raw.get("dialect") or builtin.get(slug, {}).get("dialect"), errors)
    for model_id, raw in settings.models.items():
        check_model(model_id, raw, errors)
    assert errors == [], where
