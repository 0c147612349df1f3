// The official OpenRouter TypeScript SDK (@openrouter/sdk) and Vercel's AI SDK with the OpenRouter
// provider (@openrouter/ai-sdk-provider), driven against a running turnout.
//
//   node clients.mjs <case[,case...]|all> <base url, e.g. http://127.0.0.1:1234/api/v1> <api key>
//
// Each case makes real requests, lets the client parse them with its own (zod) schemas, checks
// what came back, and prints one JSON line: {case, ok: true, seen} or {case, ok: false, error}
// (a validation error, a failed check). The exit status is 0 only when every case passed.
// tests/integration/test_js_clients.py runs them all in one process (node starts slowly).

import { OpenRouter } from "@openrouter/sdk";
import * as errors from "@openrouter/sdk/models/errors";
import { createOpenRouter } from "@openrouter/ai-sdk-provider";
import { APICallError, embedMany, generateText, jsonSchema, streamText, tool } from "ai";

const [caseNames, baseURL, apiKey] = process.argv.slice(2);
const USER = [{ role: "user", content: "hello there" }];
const LONG = [{ role: "user", content: "one two three four five six" }]; // test/cut drops the connection after two chunks
const WEATHER = {
  type: "function",
  function: { name: "get_weather", description: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
};

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

function sdk() {
  // No retries: an error must surface as the status turnout sent, once.
  return new OpenRouter({ apiKey, serverURL: baseURL, retryConfig: { strategy: "none" } });
}

function provider() {
  return createOpenRouter({ apiKey, baseURL, compatibility: "strict" });
}

function checkChatUsage(usage, where) {
  check(usage, `${where}: usage`);
  check(Number.isInteger(usage.promptTokens) && Number.isInteger(usage.completionTokens), `${where}: token counts`);
  check(usage.totalTokens === usage.promptTokens + usage.completionTokens, `${where}: total_tokens`);
  check(typeof usage.cost === "number" && usage.cost > 0, `${where}: cost`);
  check(usage.isByok === false, `${where}: is_byok`);
  const d = usage.costDetails;
  check(d && typeof d.upstreamInferencePromptCost === "number" && typeof d.upstreamInferenceCompletionsCost === "number",
    `${where}: cost_details`);
  check(Math.abs(d.upstreamInferencePromptCost + d.upstreamInferenceCompletionsCost - usage.cost) < 1e-12,
    `${where}: cost_details add up to cost`);
  check(usage.promptTokensDetails && Number.isInteger(usage.promptTokensDetails.cachedTokens), `${where}: prompt_tokens_details`);
  check(usage.completionTokensDetails && Number.isInteger(usage.completionTokensDetails.reasoningTokens),
    `${where}: completion_tokens_details`);
  return usage;
}

async function drain(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function text(chunks) {
  return chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? "")).join("");
}

async function expectError(promise, cls, status) {
  try {
    await promise;
  } catch (err) {
    check(err instanceof cls, `error class ${cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
    check(err.statusCode === status, `status ${status}, got ${err.statusCode}`);
    return { status: err.statusCode, message: err.data$?.error?.message ?? err.message };
  }
  throw new Error(`expected a ${status}`);
}

const cases = {
  // ---- @openrouter/sdk: chat completions
  async "sdk-chat"() {
    const r = await sdk().chat.send({ chatRequest: { model: "test/echo", messages: USER, stream: false } });
    check(r.choices[0].message.content === "echo: hello there", "content");
    check(r.choices[0].finishReason === "stop", "finish_reason");
    return { id: r.id, usage: checkChatUsage(r.usage, "chat") };
  },
  async "sdk-chat-stream"() {
    const chunks = await drain(await sdk().chat.send({ chatRequest: { model: "test/echo", messages: USER, stream: true } }));
    check(text(chunks) === "echo: hello there", "streamed content");
    check(chunks.some((c) => c.choices[0]?.finishReason === "stop"), "finish chunk");
    const last = chunks[chunks.length - 1];
    check(last.choices.length === 0, "usage chunk last");
    return { chunks: chunks.length, usage: checkChatUsage(last.usage, "stream") };
  },
  async "sdk-tools"() {
    const client = sdk();
    const r = await client.chat.send({ chatRequest: { model: "test/tools", messages: USER, tools: [WEATHER], stream: false } });
    const call = r.choices[0].message.toolCalls[0];
    check(call.function.name === "get_weather" && JSON.parse(call.function.arguments).city === "Paris", "tool call");
    check(r.choices[0].finishReason === "tool_calls", "finish_reason tool_calls");
    checkChatUsage(r.usage, "tools");
    const chunks = await drain(await client.chat.send({ chatRequest: { model: "test/tools", messages: USER, tools: [WEATHER], stream: true } }));
    const deltas = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.toolCalls ?? []));
    check(deltas[0].function.name === "get_weather", "streamed tool name");
    check(JSON.parse(deltas.map((d) => d.function?.arguments ?? "").join("")).city === "Paris", "streamed arguments");
    checkChatUsage(chunks[chunks.length - 1].usage, "tools stream");
    return { calls: deltas.length };
  },
  async "sdk-reasoning"() {
    const client = sdk();
    const req = { model: "test/reasoning", messages: USER, reasoning: { effort: "high" } };
    const r = await client.chat.send({ chatRequest: { ...req, stream: false } });
    check(r.choices[0].message.reasoning === "2 plus 2 is 4.", "reasoning");
    check(checkChatUsage(r.usage, "reasoning").completionTokensDetails.reasoningTokens === 5, "reasoning tokens");
    const chunks = await drain(await client.chat.send({ chatRequest: { ...req, stream: true } }));
    const reasoning = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.reasoning ?? "")).join("");
    check(reasoning.trim() === "2 plus 2 is 4.", `streamed reasoning: ${reasoning}`);
    checkChatUsage(chunks[chunks.length - 1].usage, "reasoning stream");
    return { reasoning };
  },
  async "sdk-errors"() {
    const client = sdk();
    const out = {};
    out.unknownModel = await expectError(client.chat.send({ chatRequest: { model: "nobody/nothing", messages: USER } }),
      errors.BadRequestResponseError, 400);
    out.badKey = await expectError(
      new OpenRouter({ apiKey: "sk-tn-v1-bad", serverURL: baseURL, retryConfig: { strategy: "none" } })
        .chat.send({ chatRequest: { model: "test/echo", messages: USER } }),
      errors.UnauthorizedResponseError, 401);
    out.upstream = await expectError(client.chat.send({ chatRequest: { model: "test/error-400-2", messages: USER } }),
      errors.BadRequestResponseError, 400);
    out.noTools = await expectError(
      client.chat.send({ chatRequest: { model: "test/text-only", messages: USER, tools: [WEATHER] } }),
      errors.NotFoundResponseError, 404);
    // cut mid-stream: the error chunk parses, and says so
    const chunks = await drain(await client.chat.send({ chatRequest: { model: "test/cut", messages: LONG, stream: true } }));
    const failed = chunks.find((c) => c.error);
    check(failed && failed.choices[0].finishReason === "error" && Number.isInteger(failed.error.code), "mid-stream error chunk");
    out.midStream = { code: failed.error.code, errorType: failed.error.metadata?.errorType };
    return out;
  },
  // ---- @openrouter/sdk: Responses
  async "sdk-responses"() {
    const client = sdk();
    const r = await client.responses.send({ responsesRequest: { model: "test/echo", input: "hello there" } });
    check(r.status === "completed", "status");
    const msg = r.output.find((o) => o.type === "message");
    check(msg.content[0].text === "echo: hello there", "output text");
    check(r.usage.inputTokens > 0 && r.usage.outputTokens > 0 && r.usage.cost > 0, "usage");
    check(typeof r.usage.costDetails.upstreamInferenceInputCost === "number", "usage.cost_details");
    const events = await drain(await client.responses.send({ responsesRequest: { model: "test/echo", input: "hello there", stream: true } }));
    const done = events.find((e) => e.type === "response.completed");
    check(done && done.response.usage.cost > 0, "response.completed with usage");
    const deltas = events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");
    check(deltas === "echo: hello there", `streamed text ${deltas}`);
    return { events: events.length };
  },
  async "sdk-responses-tools-reasoning"() {
    const client = sdk();
    const fn = { type: "function", name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } };
    const r = await client.responses.send({ responsesRequest: { model: "test/tools", input: "hi", tools: [fn] } });
    const call = r.output.find((o) => o.type === "function_call");
    check(call && call.name === "get_weather" && JSON.parse(call.arguments).city === "Paris", "function_call item");
    const events = await drain(await client.responses.send({ responsesRequest: { model: "test/tools", input: "hi", tools: [fn], stream: true } }));
    check(events.some((e) => e.type === "response.function_call_arguments.done"), "streamed arguments");
    const rr = await client.responses.send({ responsesRequest: { model: "test/reasoning", input: "2+2", reasoning: { effort: "high" } } });
    const reasoning = rr.output.find((o) => o.type === "reasoning");
    check(reasoning, "reasoning item");
    check(rr.usage.outputTokensDetails.reasoningTokens === 5, "reasoning tokens");
    const revents = await drain(await client.responses.send({ responsesRequest: { model: "test/reasoning", input: "2+2", reasoning: { effort: "high" }, stream: true } }));
    check(revents.some((e) => e.type === "response.completed"), "reasoning stream completes");
    return { reasoningItem: Object.keys(reasoning) };
  },
  async "sdk-responses-errors"() {
    const client = sdk();
    const out = {};
    out.unknownModel = await expectError(client.responses.send({ responsesRequest: { model: "nobody/nothing", input: "hi" } }),
      errors.BadRequestResponseError, 400);
    const events = await drain(await client.responses.send({ responsesRequest: { model: "test/cut", input: LONG[0].content, stream: true } }));
    const failed = events.find((e) => e.type === "response.failed" || e.type === "error");
    check(failed, `a failure event among ${events.map((e) => e.type)}`);
    out.midStream = failed.type;
    return out;
  },
  // ---- @openrouter/sdk: embeddings
  async "sdk-embeddings"() {
    const r = await sdk().embeddings.generate({ requestBody: { model: "test/embed", input: ["one", "two"] } });
    check(r.data.length === 2 && r.data[0].embedding.length > 0, "two vectors");
    check(r.usage.promptTokens > 0 && r.usage.cost > 0 && r.usage.isByok === false, "usage");
    check(r.usage.costDetails.upstreamInferencePromptCost === r.usage.cost, "cost_details");
    return { dims: r.data[0].embedding.length };
  },
  // ---- @openrouter/sdk: the catalog, the key, credits, a generation record
  async "sdk-account"() {
    const client = sdk();
    const out = {};
    const page = await client.models.list();
    const models = page.result?.data ?? page.data;
    check(models.some((m) => m.id === "test/echo"), "models.list");
    const eps = await client.endpoints.list({ author: "test", slug: "echo" });
    check(eps.data.endpoints.length >= 1, "endpoints.list");
    const key = await client.apiKeys.getCurrentKeyMetadata();
    check(key.data.label, "key");
    out.key = Object.keys(key.data).length;
    const credits = await client.credits.getCredits();
    check(typeof credits.data.totalCredits === "number", "credits");
    const done = await client.chat.send({ chatRequest: { model: "test/echo", messages: USER, stream: false } });
    let gen;
    for (let i = 0; i < 50 && !gen; i++) { // the record is written by the accounting queue
      try {
        gen = await client.generations.getGeneration({ id: done.id });
      } catch (err) {
        if (err?.statusCode !== 404) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    check(gen && gen.data.id === done.id && gen.data.totalCost > 0, "generation");
    return out;
  },
  // ---- @openrouter/sdk: key management with an admin key (TURNOUT_ADMIN_KEY in the environment)
  async "sdk-admin"() {
    const admin = new OpenRouter({ apiKey: process.env.TURNOUT_ADMIN_KEY, serverURL: baseURL, retryConfig: { strategy: "none" } });
    const made = await admin.apiKeys.create({ requestBody: { name: "from-the-ts-sdk", limit: 3 } });
    check(made.key.startsWith("sk-tn-v1-") && made.data.limit === 3, "create");
    const hash = made.data.hash;
    // the new key works at once
    const fresh = new OpenRouter({ apiKey: made.key, serverURL: baseURL, retryConfig: { strategy: "none" } });
    const r = await fresh.chat.send({ chatRequest: { model: "test/echo", messages: USER, stream: false } });
    check(r.choices[0].message.content === "echo: hello there", "the new key answers");
    const listed = await admin.apiKeys.list();
    check(listed.data.some((k) => k.hash === hash), "list");
    const got = await admin.apiKeys.get({ hash });
    check(got.data.name === "from-the-ts-sdk", "get");
    const changed = await admin.apiKeys.update({ hash, requestBody: { disabled: true } });
    check(changed.data.disabled === true, "update");
    await expectError(fresh.chat.send({ chatRequest: { model: "test/echo", messages: USER } }),
      errors.UnauthorizedResponseError, 401);
    const gone = await admin.apiKeys.delete({ hash });
    check(gone.deleted === true, "delete");
    return { hash };
  },
  // ---- every model in TURNOUT_MODELS (comma-separated), whatever dialect its upstream speaks:
  // chat and Responses, plain and streamed, through the SDK and through Vercel's ai
  async matrix() {
    const client = sdk();
    const failures = [];
    const models = (process.env.TURNOUT_MODELS ?? "").split(",").filter(Boolean);
    check(models.length > 0, "TURNOUT_MODELS");
    for (const model of models) {
      const extra = {};
      if (model.includes("tools")) extra.tools = [WEATHER];
      if (model.includes("reasoning")) extra.reasoning = { effort: "high" };
      const rtools = extra.tools ? [{ type: "function", name: "get_weather", parameters: { type: "object" } }] : undefined;
      const attempts = {
        chat: async () => checkChatUsage((await client.chat.send({ chatRequest: { model, messages: USER, ...extra, stream: false } })).usage, model),
        chatStream: async () => {
          const chunks = await drain(await client.chat.send({ chatRequest: { model, messages: USER, ...extra, stream: true } }));
          checkChatUsage(chunks[chunks.length - 1].usage, model);
        },
        responses: async () => {
          const r = await client.responses.send({ responsesRequest: { model, input: "hello there", tools: rtools, reasoning: extra.reasoning } });
          check(r.status === "completed" && r.usage.costDetails, "responses");
        },
        responsesStream: async () => {
          const events = await drain(await client.responses.send({ responsesRequest: { model, input: "hello there", tools: rtools, reasoning: extra.reasoning, stream: true } }));
          check(events[events.length - 1].type === "response.completed", `last event ${events[events.length - 1].type}`);
        },
        aiGenerate: async () => {
          const tools = extra.tools ? { get_weather: tool({ inputSchema: jsonSchema({ type: "object" }) }) } : undefined;
          const m = provider().chat(model, extra.reasoning ? { reasoning: extra.reasoning } : {});
          await generateText({ model: m, prompt: "hello there", tools, maxRetries: 0 });
        },
        aiStream: async () => {
          const tools = extra.tools ? { get_weather: tool({ inputSchema: jsonSchema({ type: "object" }) }) } : undefined;
          const m = provider().chat(model, extra.reasoning ? { reasoning: extra.reasoning } : {});
          const s = streamText({ model: m, prompt: "hello there", tools, maxRetries: 0, onError: () => {} });
          for await (const part of s.fullStream) check(part.type !== "error", `stream error part: ${part.error?.message ?? part.error}`);
        },
      };
      for (const [name, attempt] of Object.entries(attempts)) {
        try {
          await attempt();
        } catch (err) {
          failures.push(`${model} ${name}: ${err?.name}: ${String(err?.message ?? err).slice(0, 300)} ${String(err?.cause ?? "").slice(0, 1500)}`);
        }
      }
    }
    check(failures.length === 0, failures.join("\n"));
    return { models: models.length };
  },
  // ---- Vercel AI SDK with @openrouter/ai-sdk-provider
  async "ai-generate"() {
    const r = await generateText({ model: provider().chat("test/echo"), prompt: "hello there", maxRetries: 0 });
    check(r.text === "echo: hello there", `text ${r.text}`);
    check(r.finishReason === "stop", "finishReason");
    check(r.usage.inputTokens > 0 && r.usage.outputTokens > 0, "usage");
    const meta = r.providerMetadata?.openrouter;
    check(meta && meta.usage && meta.usage.cost > 0, `provider metadata cost ${JSON.stringify(meta)}`);
    return { usage: r.usage, openrouter: meta };
  },
  async "ai-stream"() {
    const result = streamText({ model: provider().chat("test/echo"), prompt: "hello there", maxRetries: 0 });
    const parts = [];
    for await (const part of result.fullStream) {
      check(part.type !== "error", `stream error part: ${part.error}`);
      parts.push(part.type);
    }
    check((await result.text) === "echo: hello there", "streamed text");
    const usage = await result.usage;
    check(usage.inputTokens > 0 && usage.outputTokens > 0, "usage");
    const meta = (await result.providerMetadata)?.openrouter;
    check(meta && meta.usage.cost > 0, "provider metadata cost");
    return { parts: [...new Set(parts)] };
  },
  async "ai-tools"() {
    const weather = tool({ description: "weather", inputSchema: jsonSchema({ type: "object", properties: { city: { type: "string" } } }) });
    const r = await generateText({ model: provider().chat("test/tools"), prompt: "hi", tools: { get_weather: weather }, maxRetries: 0 });
    check(r.toolCalls.length === 1 && r.toolCalls[0].toolName === "get_weather" && r.toolCalls[0].input.city === "Paris",
      `tool calls ${JSON.stringify(r.toolCalls)}`);
    const s = streamText({ model: provider().chat("test/tools"), prompt: "hi", tools: { get_weather: weather }, maxRetries: 0 });
    const calls = [];
    for await (const part of s.fullStream) {
      check(part.type !== "error", `stream error part: ${part.error}`);
      if (part.type === "tool-call") calls.push(part);
    }
    check(calls.length === 1 && calls[0].input.city === "Paris", "streamed tool call");
    return { finishReason: r.finishReason };
  },
  async "ai-reasoning"() {
    const model = provider().chat("test/reasoning", { reasoning: { effort: "high" } });
    const r = await generateText({ model, prompt: "2+2", maxRetries: 0 });
    check(r.reasoningText === "2 plus 2 is 4.", `reasoning ${r.reasoningText}`);
    const s = streamText({ model, prompt: "2+2", maxRetries: 0 });
    let reasoning = "";
    for await (const part of s.fullStream) {
      check(part.type !== "error", `stream error part: ${part.error}`);
      if (part.type === "reasoning-delta") reasoning += part.text;
    }
    check(reasoning.trim() === "2 plus 2 is 4.", `streamed reasoning ${reasoning}`);
    return { reasoning };
  },
  async "ai-errors"() {
    const out = {};
    for (const [model, status] of [["test/error-400-2", 400], ["nobody/nothing", 400], ["test/text-only", 404]]) {
      try {
        await generateText({ model: provider().chat(model), prompt: "hi", maxRetries: 0,
          tools: model === "test/text-only" ? { t: tool({ inputSchema: jsonSchema({ type: "object" }) }) } : undefined });
        throw new Error(`expected ${status} for ${model}`);
      } catch (err) {
        check(APICallError.isInstance(err), `APICallError, got ${err?.constructor?.name}: ${err?.message}`);
        check(err.statusCode === status, `status ${status}, got ${err.statusCode}`);
        out[model] = err.message;
      }
    }
    const s = streamText({ model: provider().chat("test/cut"), prompt: LONG[0].content, maxRetries: 0, onError: () => {} });
    const types = [];
    for await (const part of s.fullStream) types.push(part.type);
    check(types.includes("error"), `a cut stream reports an error: ${types}`);
    out.cut = types;
    return out;
  },
  async "ai-embed"() {
    const r = await embedMany({ model: provider().textEmbeddingModel("test/embed"), values: ["one", "two"], maxRetries: 0 });
    check(r.embeddings.length === 2 && r.embeddings[0].length > 0, "two vectors");
    check(r.usage.tokens > 0, "usage");
    return { dims: r.embeddings[0].length };
  },
  async "ai-completion"() {
    const r = await generateText({ model: provider().completion("test/echo"), prompt: "hello there", maxRetries: 0 });
    check(r.text === "echo: hello there", `completion text ${r.text}`);
    check(r.usage.inputTokens > 0, "usage");
    // The provider's completion model streams text deltas without the text-start part that ai's
    // streamText wants (a provider bug), so read its stream directly: every chunk went through
    // the provider's own zod schema.
    const { stream } = await provider().completion("test/echo").doStream({
      prompt: [{ role: "user", content: [{ type: "text", text: "hello there" }] }],
    });
    let streamed = "";
    let finish;
    for await (const part of stream) {
      check(part.type !== "error", `stream error part: ${JSON.stringify(part.error)}`);
      if (part.type === "text-delta") streamed += part.delta;
      if (part.type === "finish") finish = part;
    }
    check(streamed === "echo: hello there", `streamed completion text ${streamed}`);
    check(finish && finish.usage.inputTokens.total > 0 && finish.providerMetadata.openrouter.usage.cost > 0, "streamed usage");
    return { text: r.text };
  },
};

const names = caseNames === "all" ? Object.keys(cases) : caseNames.split(",");
let failed = 0;
for (const name of names) {
  const run = cases[name];
  if (!run) {
    console.error(`unknown case ${name}; cases: ${Object.keys(cases).join(", ")}`);
    process.exit(2);
  }
  try {
    const seen = await run();
    console.log(JSON.stringify({ case: name, ok: true, seen }));
  } catch (err) {
    failed += 1;
    console.log(JSON.stringify({ case: name, ok: false, error: String(err), name: err?.name, cause: String(err?.cause ?? "") }));
    console.error(err);
  }
}
process.exit(failed ? 1 : 0);
