"""The web UI in headless Chromium against a live gateway and fake upstreams."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from tests.web.conftest import Traffic, WebGateway, screenshot

pytestmark = pytest.mark.browser
SEED_PARAMETERS = (  # the parameter table of the seed page of z-ai/glm-4.6, in its order
    "reasoning", "max_tokens", "temperature", "top_p", "stop", "frequency_penalty", "presence_penalty",
    "repetition_penalty", "top_k", "seed", "min_p", "response_format", "tools", "tool_choice", "logit_bias",
)


def small_png(size: int = 24) -> bytes:
    """A valid size x size PNG (a red-to-blue gradient), made here so the test needs no file."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"".join(bytes((255 - 10 * x % 256, 40, 10 * y % 256)) for x in range(size))
                   for y in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_model_page_shows_the_seed_figures(page: Any, web: WebGateway) -> None:
    page.goto("/models/z-ai/glm-4.6")
    assert page.locator("h1").inner_text() == "Z.ai: GLM 4.6"
    assert page.get_by_test_id("input-price").inner_text() == "$0.43/M input tokens"
    assert page.get_by_test_id("output-price").inner_text() == "$1.74/M output tokens"
    assert page.get_by_test_id("context").inner_text() == "202,752 context"
    facts = page.locator(".facts").inner_text()
    assert "Sep 30, 2025" in facts and "203K" in facts and "text → text" in facts
    # Providers: the z-ai endpoint with its prices, configured, so available.
    row = page.locator("table.providers tr[data-provider=z-ai]")
    assert "$0.43" in row.inner_text() and "$1.74" in row.inner_text()
    assert row.locator(".badge").inner_text() == "Available"
    assert page.locator(".model-id a").get_attribute("href") == "/chat?model=z-ai/glm-4.6"
    # The variant is linked from the base model.
    page.locator(".variants a", has_text="z-ai/glm-4.6:exacto").click()
    page.wait_for_url("**/models/z-ai/glm-4.6:exacto")
    assert page.get_by_test_id("input-price").inner_text() == "$0.60/M input tokens"
    assert page.get_by_test_id("output-price").inner_text() == "$1.90/M output tokens"
    assert page.locator(".variant-of a").get_attribute("href") == "/models/z-ai/glm-4.6"
    screenshot(page, "model-variant-exacto")


def test_suffix_variants_have_pages(page: Any, web: WebGateway) -> None:
    page.goto("/models/z-ai/glm-4.6v-flash")
    chips = page.locator(".variants a").all_inner_texts()
    assert chips == ["z-ai/glm-4.6v-flash:free", "z-ai/glm-4.6v-flash:floor", "z-ai/glm-4.6v-flash:nitro",
                     "z-ai/glm-4.6v-flash:thinking"]
    page.locator(".variants a", has_text=":free").click()
    page.wait_for_url("**/models/z-ai/glm-4.6v-flash:free")
    assert page.locator("h1").inner_text() == "Z.ai: GLM 4.6V Flash (free)"
    assert page.locator(".variant-of a").get_attribute("href") == "/models/z-ai/glm-4.6v-flash"
    assert "Free variant" in page.locator(".description").inner_text()
    assert "z-ai/glm-4.6v-flash:free" in page.locator("pre[data-lang=curl]").inner_text()
    page.locator(".model-id a").click()  # chat with the variant: it is in the picker, chosen
    page.wait_for_url(re.compile(r"/chat\?model="))
    assert page.locator(".model-select").input_value() == "z-ai/glm-4.6v-flash:free"
    # A suffix that means nothing for the model is not a page.
    response = page.goto("/models/z-ai/glm-4.6:free")
    assert response is not None and response.status == 404


def test_model_page_pricing_lists_every_charge(page: Any, web: WebGateway) -> None:
    page.goto("/models/z-ai/glm-4.5v#pricing")
    card = page.locator("#pricing .price-card[data-provider=z-ai]").inner_text()
    assert "Input" in card and "$0.60" in card and "$1.80" in card and "Cache read" in card and "$0.11" in card
    page.goto("/models/z-ai/glm-4.6v-flash#pricing")
    assert "Free" in page.locator("#pricing .price-card[data-provider=z-ai]").inner_text()
    empirio = page.locator("#pricing .price-card[data-provider=empiriolabs]").inner_text()
    assert "Web search" in empirio and "$0.033" in empirio  # the seed's per-request web search charge


def test_model_page_api_section(page: Any, web: WebGateway) -> None:
    page.goto("/models/z-ai/glm-4.6#api")
    curl = page.locator("pre[data-lang=curl]").inner_text()
    assert f"{web.url}/api/v1/chat/completions" in curl and '"model": "z-ai/glm-4.6"' in curl
    page.locator("label[for=sample-python]").click()
    python = page.locator("pre[data-lang=python]")
    assert python.is_visible() and not page.locator("pre[data-lang=curl]").is_visible()
    assert f'base_url="{web.url}/api/v1"' in python.inner_text()
    page.locator("label[for=sample-typescript]").click()
    assert 'model: "z-ai/glm-4.6"' in page.locator("pre[data-lang=typescript]").inner_text()
    rows = {r.locator("td").nth(0).inner_text(): [c.inner_text() for c in r.locator("td").all()]
            for r in page.locator("table.params tbody tr").all()}
    assert rows["temperature"][1:3] == ["float", "1"]
    assert rows["top_p"][1:3] == ["float", "1"]
    assert rows["tools"][1] == "array" and rows["reasoning"][1] == "map"
    # The model's own supported parameters, in the seed page's order (include_reasoning, the old
    # spelling of reasoning, is left out as the seed does).
    model = next(m for m in httpx.get(f"{web.url}/api/v1/models").json()["data"] if m["id"] == "z-ai/glm-4.6")
    supported = set(model["supported_parameters"]) - {"include_reasoning"}
    assert list(rows) == [p for p in SEED_PARAMETERS if p in supported] and set(rows) == supported


def test_charts_render_from_recorded_traffic(page: Any, web: WebGateway, traffic: Traffic) -> None:
    page.goto("/models/z-ai/glm-4.6?range=1h")
    perf = page.locator("#performance")
    latency, throughput = perf.locator("svg.chart").all()
    assert latency.locator("circle.point[data-series='Z.ai']").count() >= 1
    assert throughput.locator("circle.point[data-series='Z.ai']").count() >= 1
    assert float(latency.locator("circle.point").first.get_attribute("data-value")) > 0
    # Activity: one bar for today holding every token of the model's requests.
    bars = page.locator("#activity svg.chart:visible rect.bar")
    assert bars.count() == 1
    assert float(bars.first.get_attribute("data-value")) == traffic.glm_tokens
    assert page.get_by_test_id("activity-total").inner_text() == f"{traffic.glm_tokens:,}"
    # Uptime: the current hour's bar is green for Z.ai; older hours have no requests.
    strip = page.locator("#uptime .uptime-row[data-provider=z-ai] rect.up")
    assert strip.count() == 72
    assert "good" in strip.last.get_attribute("class")
    assert "none" in strip.first.get_attribute("class")
    # Apps: ranked by tokens, from X-Title / HTTP-Referer.
    apps = page.locator("#apps table tbody tr")
    assert [apps.nth(i).locator("td b").inner_text() for i in range(apps.count())] == ["Seed Tester", "Other App"]
    # a public page: titles only, no tenant's referer (the only links are the category filters)
    assert page.locator("#apps table a").count() == 0
    assert all((page.locator("#apps a").nth(i).get_attribute("href") or "").startswith("?range=")
               for i in range(page.locator("#apps a").count()))
    screenshot(page, "model-glm-4.6")
    # A model whose cheaper endpoint always fails: its uptime bar is red, the other's green.
    page.goto("/models/test/fallback")
    assert "down" in page.locator(".uptime-row[data-provider=fake] rect.up").last.get_attribute("class")
    assert "good" in page.locator(".uptime-row[data-provider=fake2] rect.up").last.get_attribute("class")
    assert page.locator(".uptime-row[data-provider=fake] .uptime-head").inner_text().endswith("0.0%")
    providers = page.locator("table.providers")
    assert providers.locator("tr[data-provider=fake] .badge").inner_text() in ("Degraded", "Paused")
    assert "0.0% up (30m)" in providers.locator("tr[data-provider=fake]").inner_text()
    assert providers.locator("tr[data-provider=fake2] .badge").inner_text() == "Available"
    screenshot(page, "model-fallback-uptime")


def test_catalog_search_and_filters(page: Any, web: WebGateway) -> None:
    page.goto("/")
    assert page.locator("li.card[data-model='z-ai/glm-4.6']").count() == 1
    page.locator("input[name=modality][value=image]").check()
    # locators, not wait_for_function: the UI's CSP forbids the eval that a polled predicate needs
    page.locator("li.card[data-model='z-ai/glm-4.6']").wait_for(state="detached")
    shown = set(page.locator("li.card").evaluate_all("els => els.map(e => e.dataset.model)"))
    assert {"z-ai/glm-4.6v", "z-ai/glm-4.5v", "z-ai/glm-4.6v-flash"} <= shown
    assert all("glm-4.6:" not in m and m != "z-ai/glm-4.6" for m in shown)
    assert "modality=image" in page.url
    page.locator("select[name=price]").select_option("free")
    expect(page.locator("li.card")).to_have_count(1)
    assert page.locator("li.card").get_attribute("data-model") == "z-ai/glm-4.6v-flash"
    page.goto("/models?q=exacto")
    assert page.locator("li.card").evaluate_all("els => els.map(e => e.dataset.model)") == ["z-ai/glm-4.6:exacto"]
    page.goto("/models?param=structured_outputs&context=64000&provider=z-ai")
    shown = set(page.locator("li.card").evaluate_all("els => els.map(e => e.dataset.model)"))
    assert shown == {"z-ai/glm-4.5v", "z-ai/glm-4.6v-flash"}
    page.goto("/models")
    page.locator("input[type=search]").fill("vision-language")
    expect(page.locator("li.card")).to_have_count(1)
    assert page.locator("#model-count").inner_text() == "1 shown"
    page.goto("/models")
    screenshot(page, "catalog")


def test_playground_streams_an_answer_and_shows_its_cost(page: Any, web: WebGateway) -> None:
    page.goto("/chat")
    assert page.locator(".column .model-select").input_value() == "z-ai/glm-4.6"
    page.locator("#prompt").fill("hello playground")
    page.locator("#send").click()
    stats = page.locator(".msg.assistant .stats.done")
    stats.wait_for()
    assert page.locator(".msg.assistant .content").inner_text() == "echo: hello playground"
    text = stats.inner_text()
    m = re.search(r"(\d+) in \+ (\d+) out tokens · \$([0-9.]+)", text)
    assert m, text
    prompt, completion, shown = int(m.group(1)), int(m.group(2)), Decimal(m.group(3))
    assert shown == prompt * Decimal("0.00000043") + completion * Decimal("1.74e-6")
    assert text.startswith("Z.ai · ") and stats.get_attribute("data-provider") == "Z.ai"
    # The answer went through the API as the user's key: it is in the key's records.
    record = web.wait_for_generation(lambda g: g["app_title"] == "turnout playground")
    assert Decimal(str(record["total_cost"])) == shown and record["model"] == "z-ai/glm-4.6"
    # Reasoning arrives collapsed; a second column answers side by side.
    page.locator("#add-column").click()
    page.locator(".column").nth(1).locator(".model-select").select_option("test/reasoning")
    page.locator("#prompt").fill("what is 2+2")
    page.locator("#send").click()
    second = page.locator(".column").nth(1)
    second.locator(".stats.done").wait_for()
    page.locator(".column").nth(0).locator(".msg.assistant .stats.done").nth(1).wait_for()
    reasoning = second.locator("details.reasoning")
    assert reasoning.is_visible() and reasoning.get_attribute("open") is None
    assert "2 plus 2 is 4." in reasoning.inner_text() or reasoning.locator("div").text_content().strip() == "2 plus 2 is 4."
    assert second.locator(".content").inner_text() == "The answer is 4."
    assert "Fake" in second.locator(".stats").inner_text()
    screenshot(page, "chat-side-by-side")


def test_playground_image_reaches_the_upstream(page: Any, web: WebGateway) -> None:
    png = small_png()
    page.goto("/chat?model=z-ai/glm-4.6v")
    assert page.locator("#attach").is_enabled()
    page.locator("#attach").set_input_files(files=[{"name": "red.png", "mimeType": "image/png", "buffer": png}])
    page.locator("#attachments img").wait_for()
    page.locator("#prompt").fill("describe this picture")
    page.locator("#send").click()
    page.locator(".stats.done").wait_for()
    assert page.locator(".msg.user img").count() == 1
    sent = [r["body"] for r in web.upstream.state.requests if r["body"].get("model") == "glm-4.6v"]
    assert sent, "the vision request never reached the upstream"
    parts = sent[-1]["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "describe this picture"}
    assert parts[1]["type"] == "image_url"
    # The picture arrives whole: as the data: URL the page made, or as its bare base64 where the
    # provider's dialect wants that (Z.ai's native API takes either).
    payload = base64.b64encode(png).decode()
    assert parts[1]["image_url"]["url"] in ("data:image/png;base64," + payload, payload)
    screenshot(page, "chat-vision")
    # A text-only model cannot take the attachment.
    page.locator(".model-select").select_option("z-ai/glm-4.6")
    assert page.locator("#attach").is_disabled()


def test_activity_dashboard(page: Any, web: WebGateway, traffic: Traffic) -> None:
    data = web.activity()
    page.goto("/activity")
    page.locator("#activity:not([hidden])").wait_for()
    assert page.locator("#total-requests").inner_text() == f"{data['totals']['requests']:,}"
    assert page.locator("#total-cost").inner_text() == data["totals"]["cost_display"]
    models = page.locator("#by-model tr td:first-child").all_inner_texts()
    assert "z-ai/glm-4.6" in models and "test/fallback" in models
    providers = page.locator("#by-provider tr td:first-child").all_inner_texts()
    assert "Z.ai" in providers and "Fake Two" in providers
    # Today's bar is stacked by model (or by provider), and its segments add up to the totals.
    def segments(chart: str) -> dict[str, float]:
        rects = page.locator(f"#chart-{chart} svg rect.seg")
        return {r.get_attribute("data-series"): float(r.get_attribute("data-value")) for r in rects.all()}

    assert set(segments("tokens")) == set(models)
    assert sum(segments("tokens").values()) == data["totals"]["tokens"]
    assert sum(segments("spend").values()) == pytest.approx(float(data["totals"]["cost"]))
    page.locator("#group").select_option("provider")
    assert set(segments("tokens")) == set(providers)
    rows = page.locator("#generations tr[data-generation]")
    assert rows.count() == len(data["generations"]) >= traffic.requests
    rows.first.locator("button").click()
    record = page.locator("#generations tr.record:not([hidden]) pre").inner_text()
    assert data["generations"][0]["id"] in record and '"attempts"' in record
    screenshot(page, "activity")
    # A wrong key gets the API's error, not a page.
    page.locator("#key").fill("sk-tn-v1-wrong")
    page.locator("#keyform button").click()
    page.locator("#activity-error:not([hidden])").wait_for()
    assert page.locator("#activity-error").inner_text() == "Invalid API key"


@pytest.mark.parametrize("path", ["/models", "/models/z-ai/glm-4.6", "/chat", "/activity"])
def test_pages_fit_a_phone(browser: Any, web: WebGateway, traffic: Traffic, path: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=web.url, is_mobile=True)
    context.add_init_script(f"localStorage.setItem('turnout.key', {web.key!r});")
    try:
        pg = context.new_page()
        pg.goto(path)
        pg.wait_for_load_state("networkidle")
        overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at phone width"
        name = "phone-" + (path.strip("/").replace("/", "-") or "home")
        screenshot(pg, name)
    finally:
        context.close()


def test_playground_sends_parameters_and_shows_errors(page: Any, web: WebGateway) -> None:
    page.goto("/chat?model=test/echo")
    page.locator("#settings summary").click()
    page.locator("#temperature").fill("0.2")
    page.locator("#max_tokens").fill("50")
    page.locator("#system").fill("Be brief.")
    page.locator("#prompt").fill("parameters please")
    page.locator("#prompt").press("Enter")
    page.locator(".stats.done").wait_for()
    body = next(r["body"] for r in reversed(web.upstream.state.requests)
                if r["body"].get("model") == "echo" and "parameters please" in str(r["body"]["messages"]))
    assert body["temperature"] == 0.2
    assert 50 in (body.get("max_tokens"), body.get("max_completion_tokens"))
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["stream"] is True
    # An upstream that rejects the request: the column shows the API's error, and the turn is not kept.
    page.locator(".model-select").select_option("test/error-400")
    page.locator("#prompt").fill("this will fail")
    page.locator("#send").click()
    failed = page.locator(".stats.failed")
    failed.wait_for()
    assert failed.inner_text().startswith("Error: ") and "bad role" in failed.inner_text()
    # The next turn goes out without the failed one.
    page.locator(".model-select").select_option("test/echo")
    page.locator("#prompt").fill("again")
    page.locator("#send").click()
    page.locator(".stats.done").nth(1).wait_for()
    body = next(r["body"] for r in reversed(web.upstream.state.requests)
                if r["body"].get("model") == "echo" and "again" in str(r["body"]["messages"]))
    assert [m["content"] for m in body["messages"] if m["role"] == "user"] == ["parameters please", "again"]
    # The settings persist in this browser.
    page.reload()
    assert page.locator("#temperature").input_value() == "0.2"


def test_dark_mode(browser: Any, web: WebGateway, traffic: Traffic) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=web.url, color_scheme="dark")
    try:
        pg = context.new_page()
        pg.goto("/models/z-ai/glm-4.6")
        assert pg.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(15, 17, 21)"
        screenshot(pg, "model-glm-4.6-dark")
    finally:
        context.close()


def test_playground_opens_on_a_model_that_can_answer(browser: Any, bare_web: WebGateway) -> None:
    """With no Z.ai key the playground once opened on z-ai/glm-4.6, which cannot answer."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=bare_web.url)
    context.add_init_script(f"localStorage.setItem('turnout.key', {bare_web.key!r});")
    try:
        pg = context.new_page()
        pg.goto("/chat")
        select = pg.locator(".column .model-select")
        chosen = select.input_value()
        assert chosen != "z-ai/glm-4.6"
        assert select.locator(f"option[value='{chosen}']").get_attribute("data-unavailable") is None
        assert pg.locator(".column p.unavailable").is_hidden()
        # The models that cannot answer are marked, grouped, and say what is missing.
        glm = select.locator("option[value='z-ai/glm-4.6']")
        assert glm.get_attribute("data-unavailable") == "true"
        assert "unavailable" in glm.inner_text() and "ZAI_API_KEY" in (glm.get_attribute("title") or "")
        assert glm.evaluate("o => o.parentElement.label") == "Unavailable"
        assert select.locator(f"option[value='{chosen}']").evaluate("o => o.parentElement.label") == "Available"
        select.select_option("z-ai/glm-4.6")
        note = pg.locator(".column p.unavailable")
        assert note.is_visible() and "ZAI_API_KEY" in note.inner_text()
        # Asked for by name, an unavailable model is still opened, with the reason shown.
        pg.goto("/chat?model=z-ai/glm-4.6v")
        assert pg.locator(".model-select").input_value() == "z-ai/glm-4.6v"
        assert "ZAI_API_KEY" in pg.locator(".column p.unavailable").inner_text()
        # "Compare a model" adds a model that can answer.
        pg.locator("#add-column").click()
        second = pg.locator(".column").nth(1).locator(".model-select").input_value()
        assert pg.locator(f".model-select >> nth=1 >> option[value='{second}']").get_attribute("data-unavailable") is None
        screenshot(pg, "chat-unavailable-marked")
        # The catalog marks them too, with the variable to set; a free EmpirioLabs/Z.ai model as well.
        pg.goto("/models")
        card = pg.locator("li.card[data-model='z-ai/glm-4.6']")
        assert card.get_attribute("data-available") == "false"
        assert card.locator(".badge").inner_text() == "Unavailable"
        assert "ZAI_API_KEY" in card.locator("p.unavailable").inner_text()
        flash = pg.locator("li.card[data-model='z-ai/glm-4.6v-flash'] p.unavailable").inner_text()
        assert "ZAI_API_KEY" in flash and "EMPIRIOLABS_API_KEY" in flash
        echo = pg.locator("li.card[data-model='test/echo']")
        assert echo.get_attribute("data-available") == "true" and echo.locator("p.unavailable").count() == 0
        screenshot(pg, "catalog-unavailable-marked")
        # And the model page.
        pg.goto("/models/z-ai/glm-4.6")
        assert "ZAI_API_KEY" in pg.locator("p.unavailable").first.inner_text()
    finally:
        context.close()


GLYPHS = """(el) => {
  // Draw a character with the element's fonts; a glyph no font has is drawn as the same box as
  // any other missing one (here: two private-use code points no font maps).
  const family = getComputedStyle(el).fontFamily;
  const draw = (ch) => {
    const c = document.createElement("canvas");
    c.width = 64; c.height = 64;
    const g = c.getContext("2d");
    g.font = `48px ${family}`;
    g.fillText(ch, 4, 52);
    return c.toDataURL();
  };
  return { comma: draw("\\u3001"), han: draw("\\u6a21"), box: draw("\\u{10FFFD}"), box2: draw("\\u{10FFFC}") };
}"""


def test_descriptions_render_markdown_and_cjk_glyphs(page: Any, web: WebGateway) -> None:
    page.goto("/models/z-ai/glm-4.5v")
    desc = page.locator(".description")
    assert desc.locator("code").all_inner_texts() == ["reasoning", "enabled"]
    link = desc.locator("a")
    assert link.inner_text() == "Learn more in our docs"
    assert link.get_attribute("href", timeout=1000).startswith("https://openrouter.ai/docs/")
    assert link.get_attribute("rel") == "noopener nofollow"
    assert "`" not in desc.inner_text() and "](" not in desc.inner_text()
    # GLM 4.6's description quotes the ideographic comma: it is drawn, not a box.
    page.goto("/models/z-ai/glm-4.6")
    desc = page.locator(".description")
    assert "Claude Code、Cline" in desc.inner_text()
    drawn = desc.evaluate(GLYPHS)
    assert drawn["box"] == drawn["box2"], "the reference boxes differ: the comparison means nothing"
    assert drawn["comma"] != drawn["box"], "、 is drawn as a box: no font in the stack covers CJK"
    assert drawn["han"] != drawn["box"], "模 is drawn as a box: no font in the stack covers CJK"
    family = desc.evaluate("el => getComputedStyle(el).fontFamily")
    assert "Noto Sans CJK SC" in family
    screenshot(page, "model-glm-4.6-description", full_page=False)


def test_activity_buttons_fit_a_1280px_screen(browser: Any, web: WebGateway, traffic: Traffic) -> None:
    """At 1280x800 the activity page's buttons (Show, each generation's Record) are on screen."""
    # Long names in the records, as real traffic has them (a long app title and referer, a long model id).
    before = web.activity()["totals"]["requests"]
    r = web.chat("z-ai/glm-4.6v-flash", "wide", headers={
        "x-title": "A Rather Long Application Title From A Real Client App",
        "http-referer": "https://a-long-subdomain.example-company.example/with/a/long/path"})
    assert r.status_code == 200
    web.chat("sentence-transformers/all-minilm-l6-v2", "not a chat model")  # recorded as an error
    web.wait_for_records(before + 2)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=web.url)
    context.add_init_script(f"localStorage.setItem('turnout.key', {web.key!r});")
    try:
        pg = context.new_page()
        pg.goto("/activity")
        pg.locator("#activity:not([hidden])").wait_for()
        table = pg.evaluate("(() => { const t = document.getElementById('generations');"
                            " return [t.scrollWidth, t.parentElement.clientWidth]; })()")
        assert table[0] <= table[1], f"the generations table is {table[0]}px wide in {table[1]}px"
        buttons = pg.locator("button:visible")
        assert buttons.count() > traffic.requests  # Show, and one Record per generation
        outside = []
        for i in range(buttons.count()):
            b = buttons.nth(i)
            # Scroll the page vertically only: a button reachable only by scrolling the table sideways is off screen.
            pg.evaluate("(y) => window.scrollTo(0, y)", b.evaluate("el => el.getBoundingClientRect().top + scrollY - 300"))
            box = b.bounding_box()
            assert box is not None
            # Inside the viewport, and not clipped by a scrolling table around it.
            visible = b.evaluate("""(el) => {
              const r = el.getBoundingClientRect();
              const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
              return hit === el || el.contains(hit);
            }""")
            if box["x"] < 0 or box["x"] + box["width"] > 1280 or box["y"] < 0 or box["y"] + box["height"] > 800 or not visible:
                outside.append((b.inner_text(), box))
        assert not outside, f"buttons off screen at 1280x800: {outside[:3]}"
        overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
        screenshot(pg, "activity-1280")
    finally:
        context.close()
