"""The model page's API section: request samples for this gateway and the parameter table.

Samples are filled with the model id and the base URL the page was served from, so they can be
pasted as they are. The parameter table lists the model's supported parameters with their type,
default (the model's `default_parameters` win over the generic defaults) and meaning.
"""

from __future__ import annotations

from typing import Any

from turnout.core.catalog.catalog import Model
from turnout.web.layout import esc

# name -> (type, generic default, description). Order is the table's order.
PARAMETERS: dict[str, tuple[str, Any, str]] = {
    "reasoning": ("map", None, "Turns thinking on or off and sets its effort, its token budget, and whether the "
                  "reasoning text is left out of the answer."),
    "max_tokens": ("integer", None, "Upper bound on the number of tokens the model may generate."),
    "temperature": ("float", 1, "Sampling temperature: higher gives more varied answers, lower more predictable ones."),
    "top_p": ("float", 1, "Nucleus sampling: sample only among the most likely tokens whose probabilities add up to P."),
    "stop": ("array", None, "Generation stops as soon as the model produces one of these strings."),
    "frequency_penalty": ("float", 0, "Penalizes tokens in proportion to how often they already appeared."),
    "presence_penalty": ("float", 0, "Penalizes tokens that already appeared at all, encouraging new topics."),
    "repetition_penalty": ("float", 1, "Discourages repeating tokens from the input; 1 means no penalty."),
    "top_k": ("integer", 0, "Sample only among the K most likely tokens; 0 disables the limit."),
    "seed": ("integer", None, "Makes sampling repeatable: the same seed and parameters give the same answer."),
    "min_p": ("float", 0, "Drops tokens whose probability is below this fraction of the most likely token's."),
    "response_format": ("map", None, "Asks for a specific output format: JSON mode or a JSON schema."),
    "structured_outputs": ("boolean", None, "The model can follow a JSON schema given in response_format."),
    "tools": ("array", None, "Functions the model may call, in OpenAI's tool-calling shape."),
    "tool_choice": ("string or object", None, "Whether and which tool the model must call: none, auto, required "
                    "or a named function."),
    "logit_bias": ("map", None, "Maps token ids to a bias from -100 to 100 added to their logits."),
    "logprobs": ("boolean", None, "Return the log probability of each output token."),
    "top_logprobs": ("integer", None, "How many most likely alternatives to return per token with logprobs."),
}


HIDDEN = frozenset({"include_reasoning"})  # the older spelling of `reasoning`; the seed pages leave it out


def parameter_rows(model: Model) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) for each supported parameter, known ones first."""
    defaults = model.default_parameters or {}
    supported = set(model.supported_parameters) - HIDDEN
    rows = []
    for name in [n for n in PARAMETERS if n in supported] + sorted(supported - set(PARAMETERS)):
        kind, generic, text = PARAMETERS.get(name, ("—", None, ""))
        value = defaults[name] if defaults.get(name) is not None else generic
        rows.append((name, kind, _literal(value), text))
    return rows


def _literal(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def samples(model_id: str, base_url: str, reasoning: bool) -> dict[str, str]:
    """Ready-to-run requests: curl, Python with the OpenAI SDK, TypeScript with the OpenAI SDK."""
    extra_curl = ',\n    "reasoning": {"enabled": true}' if reasoning else ""
    extra_py = '\n    extra_body={"reasoning": {"enabled": True}},' if reasoning else ""
    extra_ts = "\n  // @ts-expect-error turnout and OpenRouter extension\n  reasoning: { enabled: true }," if reasoning else ""
    return {
        "curl": f"""curl {base_url}/chat/completions \\
  -H "Authorization: Bearer $TURNOUT_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{{
    "model": "{model_id}",
    "messages": [{{"role": "user", "content": "What is the meaning of life?"}}]{extra_curl}
  }}'""",
        "python": f"""from openai import OpenAI

client = OpenAI(
    base_url="{base_url}",
    api_key="<TURNOUT_API_KEY>",
)

completion = client.chat.completions.create(
    extra_headers={{
        "HTTP-Referer": "<YOUR_SITE_URL>",  # optional: your app in the Apps ranking
        "X-Title": "<YOUR_SITE_NAME>",  # optional
    }},
    model="{model_id}",
    messages=[{{"role": "user", "content": "What is the meaning of life?"}}],{extra_py}
)
print(completion.choices[0].message.content)""",
        "typescript": f"""import OpenAI from "openai";

const client = new OpenAI({{
  baseURL: "{base_url}",
  apiKey: "<TURNOUT_API_KEY>",
  defaultHeaders: {{
    "HTTP-Referer": "<YOUR_SITE_URL>", // optional: your app in the Apps ranking
    "X-Title": "<YOUR_SITE_NAME>", // optional
  }},
}});

const completion = await client.chat.completions.create({{
  model: "{model_id}",
  messages: [{{ role: "user", content: "What is the meaning of life?" }}],{extra_ts}
}});
console.log(completion.choices[0].message.content);""",
    }


def embedding_samples(model_id: str, base_url: str) -> dict[str, str]:
    """The same three samples for an embedding model: `POST /embeddings`."""
    return {
        "curl": f"""curl {base_url}/embeddings \\
  -H "Authorization: Bearer $TURNOUT_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{{"model": "{model_id}", "input": ["The quick brown fox", "jumps over the lazy dog"]}}'""",
        "python": f"""from openai import OpenAI

client = OpenAI(base_url="{base_url}", api_key="<TURNOUT_API_KEY>")
result = client.embeddings.create(model="{model_id}", input=["The quick brown fox", "jumps over the lazy dog"])
print(len(result.data[0].embedding))""",
        "typescript": f"""import OpenAI from "openai";

const client = new OpenAI({{ baseURL: "{base_url}", apiKey: "<TURNOUT_API_KEY>" }});
const result = await client.embeddings.create({{
  model: "{model_id}",
  input: ["The quick brown fox", "jumps over the lazy dog"],
}});
console.log(result.data[0].embedding.length);""",
    }


def render_api(model: Model, base_url: str) -> str:
    if model.kind == "embedding":
        code = embedding_samples(model.id, base_url)
        path = "embeddings"
    else:
        code = samples(model.id, base_url, "reasoning" in model.supported_parameters)
        path = "chat/completions"
    stream_note = "" if model.kind == "embedding" else (
        '<p>Add <code>"stream": true</code> to receive the answer as server-sent events.</p>')
    tabs = []
    for i, (name, label) in enumerate((("curl", "curl"), ("python", "Python"), ("typescript", "TypeScript"))):
        checked = " checked" if i == 0 else ""
        tabs.append(
            f'<input type="radio" name="sample" id="sample-{name}"{checked}>'
            f'<label for="sample-{name}">{label}</label>'
            f'<pre class="code" data-lang="{name}"><code>{esc(code[name])}</code></pre>'
        )
    rows = "".join(
        f"<tr><td><code>{esc(n)}</code></td><td>{esc(t)}</td><td>{esc(d)}</td><td>{esc(text)}</td></tr>"
        for n, t, d, text in parameter_rows(model)
    )
    return f"""
<p>turnout speaks the OpenAI chat-completions API (and OpenRouter's extensions), so the official SDKs work
unchanged: point them at this gateway's base URL and use a turnout key.</p>
<dl class="endpoint">
  <dt>Endpoint</dt><dd><code>POST {esc(base_url)}/{path}</code></dd>
  <dt>Authorization</dt><dd><code>Bearer $TURNOUT_API_KEY</code></dd>
  <dt>HTTP-Referer</dt><dd>optional — your site URL, for the Apps ranking</dd>
  <dt>X-Title</dt><dd>optional — your app's name, for the Apps ranking</dd>
  <dt>Model</dt><dd><code>{esc(model.id)}</code></dd>
</dl>
<div class="tabs">{"".join(tabs)}</div>
{stream_note}
<h3>Parameters</h3>
<div class="scroll"><table class="params">
<thead><tr><th>Name</th><th>Type</th><th>Default</th><th>Description</th></tr></thead>
<tbody>{rows}</tbody></table></div>"""
