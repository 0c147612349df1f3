// Activity dashboard: asks /ui/api/activity with the key kept in this browser and fills the page.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const KEY = "turnout.key";
  const keyInput = $("key");
  keyInput.value = localStorage.getItem(KEY) || "";

  const cell = (tag, text, cls) => {
    const c = document.createElement(tag);
    c.textContent = text;
    if (cls) c.className = cls;
    return c;
  };
  const row = (tag, values) => {
    const tr = document.createElement("tr");
    for (const v of values) tr.append(v instanceof Node ? v : cell(tag, v));
    return tr;
  };
  const num = (n) => Number(n).toLocaleString("en-US");

  function shares(table, items, label) {
    table.replaceChildren(row("th", [label, "Requests", "Tokens", "Spend"]));
    if (!items.length) table.append(row("td", ["No usage in this period", "", "", ""]));
    for (const s of items) table.append(row("td", [s.name, num(s.requests), num(s.tokens), s.cost_display]));
  }

  function generations(table, items) {
    table.replaceChildren(row("th", ["Time (UTC)", "Model", "Provider", "Status", "Tokens", "Cost", "Latency", "App", ""]));
    for (const g of items) {
      const open = cell("button", "Record", "ghost small");
      open.type = "button";
      // Names (model, provider, app) wrap, so the row fits the page and its button stays on screen.
      const tr = row("td", [
        g.when, cell("td", g.model, "wrap"), cell("td", g.provider_name || "—", "wrap"),
        cell("td", g.status, "status-" + g.status),
        `${num(g.tokens_prompt)} + ${num(g.tokens_completion)}`, g.cost_display,
        g.latency == null ? "—" : Math.round(g.latency) + " ms", cell("td", g.app_title || g.app_referer || "—", "wrap"),
        cell("td", ""),
      ]);
      tr.dataset.generation = g.id;
      tr.lastChild.append(open);
      const detail = document.createElement("tr");
      detail.className = "record";
      detail.hidden = true;
      const td = document.createElement("td");
      td.colSpan = 9;
      td.append(cell("pre", JSON.stringify(g, null, 2)));
      detail.append(td);
      open.addEventListener("click", () => { detail.hidden = !detail.hidden; });
      table.append(tr, detail);
    }
    if (!items.length) table.append(row("td", ["No generations yet", "", "", "", "", "", "", "", ""]));
  }

  let drawn = null;
  const group = $("group");
  group.value = localStorage.getItem("turnout.activity.group") || "model";
  function draw() {
    if (!drawn) return;
    localStorage.setItem("turnout.activity.group", group.value);
    $("chart-spend").innerHTML = drawn[group.value].spend;
    $("chart-tokens").innerHTML = drawn[group.value].tokens;
  }
  group.addEventListener("change", draw);

  async function load() {
    const key = keyInput.value.trim();
    const error = $("activity-error");
    if (!key) { error.textContent = "Enter an API key to see its activity."; error.hidden = false; return; }
    localStorage.setItem(KEY, key);
    const resp = await fetch("/ui/api/activity?days=" + $("days").value, { headers: { Authorization: "Bearer " + key } });
    const data = await resp.json().catch(() => ({ error: { message: resp.statusText } }));
    if (!resp.ok) {
      error.textContent = (data.error && data.error.message) || "Request failed";
      error.hidden = false;
      $("activity").hidden = true;
      return;
    }
    error.hidden = true;
    const k = data.key;
    $("key-line").textContent = `Key “${k.name}” (${k.label}) · lifetime spend ${k.usage_display}` +
      (k.limit ? ` of $${k.limit} limit` : "");
    $("total-cost").textContent = data.totals.cost_display;
    $("total-tokens").textContent = num(data.totals.tokens);
    $("total-requests").textContent = num(data.totals.requests);
    // The server draws the charts (the same SVG code as the model pages) from its own numbers.
    drawn = data.charts;
    draw();
    shares($("by-model"), data.by_model, "Model");
    shares($("by-provider"), data.by_provider, "Provider");
    generations($("generations"), data.generations);
    $("activity").hidden = false;
  }

  $("keyform").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("days").addEventListener("change", load);
  if (keyInput.value) load();
})();
