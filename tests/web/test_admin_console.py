"""The admin console (/admin) in headless Chromium against a live gateway with an admin key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from tests.accounts.conftest import ADMIN
from tests.conftest import Upstream, gateway_config
from tests.fakes.server import serve
from tests.web.conftest import screenshot

from turnout.app import create_app
from turnout.settings import load_settings

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def admin_gw(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = gateway_config(upstream.url)
    settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("turnout-admin-ui"), admin_key=ADMIN,
                             catalog_dataset=False, keepalive_interval=0.5, read_timeout=2.0,
                             providers=config["providers"], models=config["models"])  # type: ignore[arg-type]
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture
def console(browser: Any, admin_gw: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=admin_gw)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    pg.answers = []  # what the next prompt() dialogs are answered
    pg.on("dialog", lambda d: d.accept(pg.answers.pop(0)) if d.type == "prompt" else d.accept())
    pg.set_default_timeout(10_000)
    yield pg
    context.close()
    assert not errors, f"script errors or CSP violations on the page: {errors}"


def login(pg: Any, key: str = ADMIN) -> None:
    pg.goto("/admin")
    pg.fill("#admin-key", key)
    pg.click("#login button[type=submit]")


def chat(url: str, key: str) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/chat/completions", headers={"authorization": f"Bearer {key}"}, timeout=10,
                      json={"model": "test/echo", "messages": [{"role": "user", "content": "hi there"}]})


def test_a_wrong_key_is_refused_and_not_kept(console: Any) -> None:
    login(console, "sk-tn-admin-v1-wrong-wrong-wrong-wrong-wrong")
    expect(console.locator("#admin-error")).to_be_visible()
    assert console.locator("#console").is_hidden()
    assert console.evaluate("sessionStorage.getItem('turnout.admin')") is None


def test_create_a_key_that_answers_at_once_then_disable_and_delete_it(console: Any, admin_gw: str) -> None:
    login(console)
    expect(console.locator("#console")).to_be_visible()
    assert console.locator("#admin-key").is_hidden()
    # the admin key lives in this tab's sessionStorage, never in the URL or localStorage
    assert console.evaluate("sessionStorage.getItem('turnout.admin')") == ADMIN
    assert console.evaluate("localStorage.getItem('turnout.admin')") is None
    assert ADMIN not in console.url
    form = console.locator("#create-key")
    form.locator("input[name=name]").fill("console <b>made</b>")
    form.locator("input[name=limit]").fill("5")
    form.locator("select[name=limit_reset]").select_option("daily")
    form.locator("input[name=rate_limit_rpm]").fill("100")
    form.locator("button[type=submit]").click()
    new_key = console.get_by_test_id("new-key")
    expect(new_key).to_contain_text("sk-")
    clear = new_key.inner_text().strip()
    row = console.locator("#keys tr[data-key='console <b>made</b>']")
    expect(row).to_contain_text("$5.00")
    expect(row).to_contain_text("daily")
    expect(row).to_contain_text("100 rpm")
    assert console.locator("#keys b").count() == 0  # the name is text, not markup
    screenshot(console, "admin-keys")

    r = chat(admin_gw, clear)  # the key created in the console answers at once
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"].startswith("echo")
    console.reload()  # the clear key is shown once: not after a reload
    expect(console.locator("#console")).to_be_visible()
    assert console.get_by_test_id("new-key").is_hidden()
    assert clear not in console.content()
    row = console.locator("#keys tr[data-key='console <b>made</b>']")
    expect(row.locator("td").nth(5)).not_to_have_text("$0.00")  # usage shows the request's cost
    console.check("#show-disabled")
    row.locator("button", has_text="Disable").click()
    expect(row).to_contain_text("disabled")
    assert chat(admin_gw, clear).status_code == 401
    console.uncheck("#show-disabled")  # the default view leaves disabled keys out
    expect(row).to_have_count(0)
    console.check("#show-disabled")
    row.locator("button", has_text="Enable").click()
    expect(row).to_contain_text("active")
    assert chat(admin_gw, clear).status_code == 200
    console.answers.append("12.5")
    row.locator("button", has_text="Limit").click()
    expect(row).to_contain_text("$12.50")
    row.locator("button", has_text="Delete").click()
    expect(console.locator("#keys tr[data-key='console <b>made</b>']")).to_have_count(0)
    assert chat(admin_gw, clear).status_code == 401
    console.click("#logout")  # forgetting the key leaves nothing in the tab
    expect(console.locator("#admin-key")).to_be_visible()
    assert console.locator("#console").is_hidden()
    assert console.evaluate("sessionStorage.getItem('turnout.admin')") is None


def test_accounts_credits_and_ledger(console: Any) -> None:
    login(console)
    console.click("#tabs button[data-tab=accounts]")
    form = console.locator("#add-credits")
    form.locator("input[name=account]").fill("team-a")
    form.locator("input[name=amount]").fill("25")
    form.locator("select[name=kind]").select_option("purchase")
    form.locator("input[name=note]").fill("invoice 42")
    form.locator("button[type=submit]").click()
    account = console.locator("#accounts tr[data-account=team-a]")
    expect(account).to_contain_text("$25.00")
    expect(console.locator("#ledger-account")).to_have_text("team-a")
    expect(console.locator("#ledger")).to_contain_text("invoice 42")
    expect(console.locator("#ledger")).to_contain_text("purchase")
    screenshot(console, "admin-accounts")


def test_providers_show_live_health_and_circuits(console: Any, admin_gw: str) -> None:
    key_resp = httpx.post(f"{admin_gw}/api/v1/keys", headers={"authorization": f"Bearer {ADMIN}"},
                          json={"name": "health-probe"}, timeout=10)
    key = key_resp.json()["key"]
    for _ in range(5):  # five 500s in a row open the endpoint's circuit
        httpx.post(f"{admin_gw}/api/v1/chat/completions", headers={"authorization": f"Bearer {key}"}, timeout=10,
                   json={"model": "test/error-500", "messages": [{"role": "user", "content": "x"}]})
    login(console)
    console.click("#tabs button[data-tab=providers]")
    broken = console.locator("#endpoints tr", has_text="test/error-500").first
    expect(broken).to_contain_text("open")
    expect(broken).to_contain_text("0 %")
    expect(broken.locator(".state-open")).to_have_count(1)
    expect(broken).to_contain_text("provider_server_error 500")  # its recent errors
    screenshot(console, "admin-providers")


def test_configuration_is_shown_with_secrets_masked(console: Any) -> None:
    login(console)
    console.click("#tabs button[data-tab=config]")
    expect(console.locator("#config")).to_contain_text('"admin_key": "***"')
    text = console.locator("#config").inner_text()
    assert ADMIN not in text and "sk-upstream" not in text
    assert '"shutdown_grace": 30' in text


def test_the_console_api_needs_the_admin_key(admin_gw: str, tmp_path: Path) -> None:
    assert httpx.get(f"{admin_gw}/ui/api/admin?part=config").status_code == 401
    user = httpx.post(f"{admin_gw}/api/v1/keys", headers={"authorization": f"Bearer {ADMIN}"}, json={"name": "u"}).json()["key"]
    assert httpx.get(f"{admin_gw}/ui/api/admin?part=config", headers={"authorization": f"Bearer {user}"}).status_code == 403
    page = httpx.get(f"{admin_gw}/admin")
    assert page.status_code == 200 and "content-security-policy" in page.headers
    assert ADMIN not in page.text
