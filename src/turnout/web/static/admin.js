// Admin console: the admin key stays in this tab (sessionStorage), goes only in an Authorization
// header to this gateway, never into a URL. Every value is put on the page with textContent.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const STORE = "turnout.admin";
  let adminKey = sessionStorage.getItem(STORE) || "";
  let timer = null;

  const cell = (tag, text, cls) => {
    const c = document.createElement(tag);
    c.textContent = text == null ? "—" : String(text);
    if (cls) c.className = cls;
    return c;
  };
  const row = (tag, values) => {
    const tr = document.createElement("tr");
    for (const v of values) tr.append(v instanceof Node ? v : cell(tag, v));
    return tr;
  };
  const button = (text, onClick, cls = "ghost small") => {
    const b = cell("button", text, cls);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  };
  const usd = (n) => (n == null ? "—" : "$" + Number(n).toFixed(Number(n) !== 0 && Math.abs(n) < 0.01 ? 6 : 2));

  async function api(method, path, body) {
    const headers = { authorization: "Bearer " + adminKey };
    if (body !== undefined) headers["content-type"] = "application/json";
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((data.error && data.error.message) || "HTTP " + r.status);
    return data;
  }

  function fail(err) {
    const e = $("admin-error");
    e.textContent = err.message || String(err);
    e.hidden = false;
  }

  // -- keys --------------------------------------------------------------------------------
  async function loadKeys() {
    const all = $("show-disabled").checked ? "?include_disabled=true" : "";
    const { data } = await api("GET", "/api/v1/keys" + all);
    const table = $("keys");
    table.replaceChildren(row("th", ["Name", "Label", "Account", "Limit", "Resets", "Usage", "Today", "Rate limit", "Status", ""]));
    for (const k of data) {
      const actions = cell("td", "", "actions");
      actions.textContent = "";
      actions.append(
        button(k.disabled ? "Enable" : "Disable", () => act(api("PATCH", "/api/v1/keys/" + k.hash, { disabled: !k.disabled }))),
        button("Limit", () => {
          const v = prompt("Spending limit in USD for " + k.name + " (empty: none)", k.limit == null ? "" : k.limit);
          if (v !== null) act(api("PATCH", "/api/v1/keys/" + k.hash, { limit: v.trim() === "" ? null : v.trim() }));
        }),
        button("Delete", () => {
          if (confirm("Delete the key " + k.name + "? Requests with it are refused at once.")) act(api("DELETE", "/api/v1/keys/" + k.hash));
        }),
      );
      const rl = k.rate_limit || {};
      const tr = row("td", [k.name, k.label, k.account, usd(k.limit), k.limit_reset || "never", usd(k.usage), usd(k.usage_daily),
        `${rl.requests_per_minute || "∞"} rpm · ${rl.tokens_per_minute || "∞"} tpm`,
        cell("td", k.disabled ? "disabled" : "active", k.disabled ? "state-open" : "state-closed"), actions]);
      tr.dataset.key = k.name;
      table.append(tr);
    }
    if (!data.length) table.append(row("td", ["No keys yet", "", "", "", "", "", "", "", "", ""]));
  }

  async function act(promise) {
    try { await promise; await loadKeys(); } catch (err) { fail(err); }
  }

  $("create-key").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = { name: f.get("name"), account: f.get("account") || "default", limit_reset: f.get("limit_reset") };
    if (String(f.get("limit")).trim()) body.limit = String(f.get("limit")).trim();
    for (const n of ["rate_limit_rpm", "rate_limit_tpm"]) if (String(f.get(n)).trim()) body[n] = Number(f.get(n));
    try {
      const made = await api("POST", "/api/v1/keys", body);
      $("new-key-value").textContent = made.key;
      $("new-key").hidden = false;
      ev.target.reset();
      await loadKeys();
    } catch (err) { fail(err); }
  });
  $("copy-key").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("new-key-value").textContent));
  $("show-disabled").addEventListener("change", () => loadKeys().catch(fail));

  // -- accounts ----------------------------------------------------------------------------
  let ledgerOf = "default";
  async function loadAccounts() {
    const d = await api("GET", "/ui/api/admin?part=accounts&account=" + encodeURIComponent(ledgerOf));
    const table = $("accounts");
    table.replaceChildren(row("th", ["Account", "Credits", "Usage", "Balance", ""]));
    for (const a of d.accounts) {
      const tr = row("td", [a.id, usd(a.credits), usd(a.usage), usd(a.balance),
        cell("td", "", "actions")]);
      tr.lastChild.append(button("Ledger", () => { ledgerOf = a.id; loadAccounts().catch(fail); }));
      tr.dataset.account = a.id;
      table.append(tr);
    }
    $("ledger-account").textContent = d.ledger_account;
    const ledger = $("ledger");
    ledger.replaceChildren(row("th", ["When (UTC)", "Kind", "Amount", "Note / generation"]));
    for (const e of d.ledger) {
      ledger.append(row("td", [new Date(e.created_at * 1000).toISOString().replace("T", " ").slice(0, 19), e.kind, usd(e.amount),
        e.note || e.generation_id || ""]));
    }
    if (!d.ledger.length) ledger.append(row("td", ["No entries", "", "", ""]));
  }
  $("add-credits").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = { amount: String(f.get("amount")).trim(), kind: f.get("kind"), account: f.get("account") || "default" };
    if (String(f.get("note")).trim()) body.note = String(f.get("note")).trim();
    try {
      await api("POST", "/api/v1/credits", body);
      ledgerOf = body.account;
      ev.target.reset();
      await loadAccounts();
    } catch (err) { fail(err); }
  });

  // -- providers ---------------------------------------------------------------------------
  async function loadProviders() {
    const d = await api("GET", "/ui/api/admin?part=providers");
    const table = $("endpoints");
    table.replaceChildren(row("th", ["Provider", "Model", "Available", "Circuit", "Failures in a row", "Last failure",
      "Uptime 30 min", "Requests 30 min", "TTFT p50", "Recent errors"]));
    for (const e of d.endpoints) {
      const state = e.available ? e.state : "unavailable";
      const tr = row("td", [e.provider_name, e.model, e.available ? "yes" : "no: " + (e.why || ""),
        cell("td", e.blocked ? state + " (" + e.blocked + ")" : state, "state-" + state.replace(/ /g, "-")),
        e.consecutive_failures, e.last_failure_ago == null ? "—" : e.last_failure_ago + " s ago",
        e.uptime_30m == null ? "—" : e.uptime_30m + " %", e.requests_30m,
        e.latency_30m ? Math.round(e.latency_30m.p50) + " ms" : "—",
        e.recent_errors.map((x) => `${x.error || "error"}${x.status ? " " + x.status : ""} (${x.ago} s ago)`).join("; ") || "—"]);
      tr.dataset.endpoint = e.endpoint;
      table.append(tr);
    }
  }

  async function loadConfig() {
    const d = await api("GET", "/ui/api/admin?part=config");
    $("config").textContent = JSON.stringify(d.config, null, 2);
  }

  // -- frame -------------------------------------------------------------------------------
  const loaders = { keys: loadKeys, accounts: loadAccounts, providers: loadProviders, config: loadConfig };
  function show(tab) {
    for (const b of document.querySelectorAll("#tabs button")) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
    for (const p of document.querySelectorAll("[data-panel]")) p.hidden = p.dataset.panel !== tab;
    clearInterval(timer);
    if (tab === "providers") timer = setInterval(() => loadProviders().catch(fail), 5000);
    $("admin-error").hidden = true;
    loaders[tab]().catch(fail);
  }
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => show(b.dataset.tab));

  async function open() {
    try {
      await loadKeys();
    } catch (err) {
      sessionStorage.removeItem(STORE);
      adminKey = "";
      $("console").hidden = true;
      $("logout").hidden = true;
      fail(err);
      return;
    }
    $("admin-error").hidden = true;
    $("console").hidden = false;
    $("logout").hidden = false;
    $("login-fields").hidden = true;
    $("admin-key").value = "";
    show("keys");
  }
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    adminKey = $("admin-key").value.trim();
    sessionStorage.setItem(STORE, adminKey);
    open();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(STORE);
    adminKey = "";
    $("console").hidden = true;
    $("logout").hidden = true;
    $("login-fields").hidden = false;
    clearInterval(timer);
  });
  if (adminKey) open();
})();
