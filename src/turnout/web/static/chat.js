// The playground: one or more columns, each a model and its conversation, streamed over SSE
// from this gateway's POST /api/v1/chat/completions with the user's own key.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const models = JSON.parse($("chat-models").textContent);
  const byId = new Map(models.map((m) => [m.id, m]));
  const root = document.querySelector(".chat");
  const columnsEl = $("columns");
  const template = $("column-template");
  const KEY = "turnout.key";
  const columns = [];
  let images = []; // [{name, url}] data: URLs waiting to be sent
  let running = [];

  const keyInput = $("key");
  keyInput.value = localStorage.getItem(KEY) || "";
  keyInput.addEventListener("change", () => localStorage.setItem(KEY, keyInput.value.trim()));
  if (!keyInput.value) $("settings").open = true;
  for (const id of ["temperature", "max_tokens", "top_p", "reasoning", "system"]) {
    const el = $(id);
    el.value = localStorage.getItem("turnout.chat." + id) || "";
    el.addEventListener("change", () => localStorage.setItem("turnout.chat." + id, el.value));
  }

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const acceptsImages = (col) => (byId.get(col.model)?.input_modalities || []).includes("image");

  function updateAttach() {
    const any = columns.some(acceptsImages);
    $("attach").disabled = !any;
    $("attach-label").classList.toggle("disabled", !any);
    $("attach-label").title = any ? "Attach images" : "The selected models take text only";
    for (const c of columns) c.remove.hidden = columns.length < 2;
  }

  // Models that can answer first; the others in their own group, each saying what it lacks.
  const ready = models.filter((m) => m.available);
  function fillPicker(select) {
    for (const [label, group] of [["Available", ready], ["Unavailable", models.filter((m) => !m.available)]]) {
      if (!group.length) continue;
      const g = el("optgroup");
      g.label = label;
      for (const m of group) {
        const o = el("option", "", m.available ? `${m.name} (${m.id})` : `${m.name} (${m.id}) · unavailable`);
        o.value = m.id;
        if (!m.available) { o.title = m.unavailable_reason || ""; o.dataset.unavailable = "true"; }
        g.append(o);
      }
      select.append(g);
    }
  }

  function showAvailability(col) {
    const m = byId.get(col.model);
    col.note.hidden = !m || m.available;
    col.note.textContent = m && !m.available ? "Unavailable: " + (m.unavailable_reason || "no endpoint can answer") : "";
  }

  function addColumn(modelId) {
    const node = template.content.firstElementChild.cloneNode(true);
    const select = node.querySelector(".model-select");
    fillPicker(select);
    select.value = byId.has(modelId) ? modelId : (ready[0] || models[0])?.id;
    const col = { model: select.value, history: [], node, messages: node.querySelector(".messages"),
                  remove: node.querySelector(".remove"), note: node.querySelector(".unavailable") };
    showAvailability(col);
    select.addEventListener("change", () => { col.model = select.value; showAvailability(col); updateAttach(); });
    col.remove.addEventListener("click", () => {
      columns.splice(columns.indexOf(col), 1);
      node.remove();
      updateAttach();
    });
    columns.push(col);
    columnsEl.append(node);
    updateAttach();
  }

  function renderAttachments() {
    const box = $("attachments");
    box.replaceChildren();
    images.forEach((img, i) => {
      const fig = el("figure");
      const pic = el("img");
      pic.src = img.url;
      pic.alt = img.name;
      const x = el("button", "", "✕");
      x.type = "button";
      x.title = "Remove " + img.name;
      x.addEventListener("click", () => { images.splice(i, 1); renderAttachments(); });
      fig.append(pic, x);
      box.append(fig);
    });
  }

  $("attach").addEventListener("change", async (e) => {
    for (const file of e.target.files) {
      const url = await new Promise((ok, fail) => {
        const r = new FileReader();
        r.onload = () => ok(r.result);
        r.onerror = () => fail(r.error);
        r.readAsDataURL(file);
      });
      images.push({ name: file.name, url });
    }
    e.target.value = "";
    renderAttachments();
  });

  function params(model) {
    const supported = new Set(model?.supported_parameters || []);
    const out = {};
    for (const [id, parse] of [["temperature", parseFloat], ["top_p", parseFloat], ["max_tokens", (v) => parseInt(v, 10)]]) {
      const v = $(id).value.trim();
      if (v !== "" && supported.has(id) && !Number.isNaN(parse(v))) out[id] = parse(v);
    }
    const r = $("reasoning").value;
    if (r && supported.has("reasoning")) out.reasoning = r === "off" ? { enabled: false } : { effort: r };
    return out;
  }

  const fmtCost = (c) => "$" + (c === 0 ? "0" : Number(c).toFixed(10).replace(/0+$/, "").replace(/\.$/, ""));

  async function run(col, text, signal) {
    const model = byId.get(col.model);
    const withImages = images.length && acceptsImages(col);
    const content = withImages
      ? [{ type: "text", text }, ...images.map((i) => ({ type: "image_url", image_url: { url: i.url } }))]
      : text;
    const user = el("div", "msg user", text);
    if (withImages) for (const i of images) { const p = el("img"); p.src = i.url; p.alt = i.name; user.append(p); }
    if (images.length && !withImages) user.append(el("div", "stats", "(images not sent: this model takes text only)"));
    col.messages.append(user);
    col.history.push({ role: "user", content });

    const out = el("div", "msg assistant");
    const reasoning = el("details", "reasoning");
    reasoning.hidden = true;
    reasoning.append(el("summary", "", "Reasoning"));
    const reasoningText = el("div");
    reasoning.append(reasoningText);
    const answer = el("div", "content");
    const stats = el("div", "stats", "…");
    out.append(reasoning, answer, stats);
    col.messages.append(out);

    const system = $("system").value.trim();
    const messages = system ? [{ role: "system", content: system }, ...col.history] : col.history;
    const started = performance.now();
    let first = 0;
    let provider = "";
    let usage = null;
    try {
      const resp = await fetch("/api/v1/chat/completions", {
        method: "POST",
        signal,
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + (keyInput.value.trim()),
                   "X-Title": "turnout playground" },
        body: JSON.stringify({ model: col.model, messages, stream: true, stream_options: { include_usage: true },
                               ...params(model) }),
      });
      if (!resp.ok) {
        let msg = resp.status + " " + resp.statusText;
        try { msg = (await resp.json()).error.message || msg; } catch { /* not JSON */ }
        throw new Error(msg);
      }
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      let done = false;
      while (!done) {
        const chunk = await reader.read();
        if (chunk.done) break;
        buf += chunk.value;
        const frames = buf.split(/\r\n\r\n|\n\n|\r\r/);
        buf = frames.pop();
        for (const frame of frames) {
          const data = frame.split(/\r\n|\n|\r/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
          if (!data) continue; // comments and keep-alives
          if (data === "[DONE]") { done = true; break; }
          const obj = JSON.parse(data);
          if (obj.error) throw new Error(obj.error.message || "stream error");
          provider = obj.provider || provider;
          if (obj.usage) usage = obj.usage;
          const delta = obj.choices?.[0]?.delta || {};
          if (delta.reasoning) { reasoning.hidden = false; reasoningText.textContent += delta.reasoning; }
          if (delta.content) { first = first || performance.now(); answer.textContent += delta.content; }
        }
      }
      col.history.push({ role: "assistant", content: answer.textContent });
      const secs = ((performance.now() - started) / 1000).toFixed(2);
      const parts = [provider || "?"];
      if (usage) {
        parts.push(`${usage.prompt_tokens} in + ${usage.completion_tokens} out tokens`);
        if (usage.completion_tokens_details?.reasoning_tokens) parts.push(`${usage.completion_tokens_details.reasoning_tokens} reasoning`);
        parts.push(fmtCost(usage.cost));
        stats.dataset.cost = String(usage.cost);
        stats.dataset.tokens = String(usage.total_tokens);
      }
      if (first) parts.push(`first token ${Math.round(first - started)} ms`);
      parts.push(`${secs} s`);
      stats.dataset.provider = provider;
      stats.textContent = parts.join(" · ");
      stats.classList.add("done");
    } catch (err) {
      col.history.pop();
      stats.textContent = "";
      stats.append(el("span", "err", err.name === "AbortError" ? "Stopped." : "Error: " + err.message));
      stats.classList.add("failed");
    }
    col.messages.scrollTop = col.messages.scrollHeight;
  }

  async function send() {
    const text = $("prompt").value.trim();
    if (!text || running.length) return;
    if (!keyInput.value.trim()) { $("settings").open = true; keyInput.focus(); return; }
    localStorage.setItem(KEY, keyInput.value.trim());
    $("prompt").value = "";
    const ctrl = new AbortController();
    const send = $("send");
    send.textContent = "Stop";
    running = columns.map((c) => run(c, text, ctrl.signal));
    send.onclick = (e) => { e.preventDefault(); ctrl.abort(); };
    images = [];
    renderAttachments();
    await Promise.allSettled(running);
    running = [];
    send.textContent = "Send";
    send.onclick = null;
  }

  $("compose").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); }
  });
  $("add-column").addEventListener("click", () => {
    const pool = ready.length ? ready : models;
    const last = columns[columns.length - 1]?.model;
    const next = pool[(pool.findIndex((m) => m.id === last) + 1) % pool.length]?.id;
    addColumn(next);
  });
  $("clear").addEventListener("click", () => {
    for (const c of columns) { c.history = []; c.messages.replaceChildren(); }
  });
  addColumn(root.dataset.initialModel);
})();
