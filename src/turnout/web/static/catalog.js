// Catalog filters: the server filters; this re-submits the form as the user types and swaps the list in.
"use strict";
(() => {
  const form = document.getElementById("filters");
  const results = document.getElementById("results");
  if (!form || !results) return;
  let timer = 0;
  let seq = 0;
  const refresh = async () => {
    const query = new URLSearchParams(new FormData(form));
    for (const [k, v] of [...query.entries()]) if (v === "" || (k === "context" && v === "0")) query.delete(k);
    const mine = ++seq;
    const resp = await fetch("/models?" + query + (query.size ? "&" : "") + "partial=1");
    if (!resp.ok || mine !== seq) return;
    results.innerHTML = await resp.text();
    history.replaceState(null, "", "/models" + (query.size ? "?" + query : ""));
  };
  const later = (ms) => { clearTimeout(timer); timer = setTimeout(refresh, ms); };
  form.addEventListener("input", (e) => later(e.target.type === "search" ? 180 : 0));
  form.addEventListener("submit", (e) => { e.preventDefault(); later(0); });
})();
