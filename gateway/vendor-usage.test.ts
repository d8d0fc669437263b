// What a vendor says about usage and about how its answer ended, through the
// whole gateway: a fake vendor on loopback speaking OpenAI, Anthropic and
// Gemini answers with whatever usage and finish reason a test scripts.
// Guards: every bad count (1e15, -5, 1.5, 1e400, above 2^53, a string),
// streamed or not, ends with a 200 to the client, one request_completed that
// validates (never dead-lettered) with usage_source estimated and a
// usage_rejected warning, the Prometheus counter raised, and the in-memory
// budget counting what the ledger counts; Anthropic's null counters never
// under-bill; unknown finish reasons are recorded as `other` with the
// vendor's word.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseDecimal } from "../events/money.ts";
import { parseEvent } from "../events/parse.ts";
import type { RequestCompleted } from "../events/schemas.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { buildGateway } from "./app.ts";
import { sha256Hex } from "./auth.ts";
import { Budgets } from "./budgets.ts";
import { gatewayConfig } from "./config.ts";
import { PriceCatalog } from "./pricing.ts";

const KEY = "sk-usage";
const ANSWER_TEXT = "Paris is the capital of France.";

/** What the fake vendor answers next: raw JSON text for each count, and a finish reason. */
interface Script {
  /** The input count as JSON text (`1e400` cannot be written by JSON.stringify). */
  input: string;
  output: string;
  /** Anthropic's cache counters in message_start and the whole answer. */
  cacheRead: string;
  cacheWrite: string;
  /** The input counters in Anthropic's message_delta: `null` as its SDK types allow. */
  deltaInput: string;
  /** JSON text of the finish reason; null for the protocol's clean stop. */
  finish: string | null;
}

const CLEAN: Script = {
  input: "12",
  output: "7",
  cacheRead: "0",
  cacheWrite: "0",
  deltaInput: "null",
  finish: null,
};
let script: Script = CLEAN;

function sse(response: ServerResponse, frames: string[]): void {
  response.writeHead(200, { "content-type": "text/event-stream" });
  response.end(frames.join(""));
}

function answerOpenAI(stream: boolean, response: ServerResponse): void {
  const finish = script.finish ?? '"stop"';
  const usage = `{"prompt_tokens":${script.input},"completion_tokens":${script.output},"total_tokens":19}`;
  if (!stream) {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      `{"id":"c1","object":"chat.completion","created":1,"model":"fake-1","choices":[{"index":0,"message":{"role":"assistant","content":${JSON.stringify(ANSWER_TEXT)}},"finish_reason":${finish}}],"usage":${usage}}`,
    );
    return;
  }
  const chunk = (choice: string, usageJson = "null") =>
    `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"fake-1","choices":[${choice}],"usage":${usageJson}}\n\n`;
  sse(response, [
    chunk(`{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}`),
    chunk(`{"index":0,"delta":{"content":${JSON.stringify(ANSWER_TEXT)}},"finish_reason":null}`),
    chunk(`{"index":0,"delta":{},"finish_reason":${finish}}`),
    chunk("", usage),
    "data: [DONE]\n\n",
  ]);
}

function answerAnthropic(stream: boolean, response: ServerResponse): void {
  const finish = script.finish ?? '"end_turn"';
  const startUsage = `{"input_tokens":${script.input},"cache_read_input_tokens":${script.cacheRead},"cache_creation_input_tokens":${script.cacheWrite},"output_tokens":1}`;
  if (!stream) {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      `{"id":"msg_1","type":"message","role":"assistant","model":"fake-1","content":[{"type":"text","text":${JSON.stringify(ANSWER_TEXT)}}],"stop_reason":${finish},"stop_sequence":null,"usage":{"input_tokens":${script.input},"cache_read_input_tokens":${script.cacheRead},"cache_creation_input_tokens":${script.cacheWrite},"output_tokens":${script.output}}}`,
    );
    return;
  }
  const frame = (type: string, data: string) =>
    `event: ${type}\ndata: {"type":"${type}",${data}}\n\n`;
  sse(response, [
    frame(
      "message_start",
      `"message":{"id":"msg_1","type":"message","role":"assistant","model":"fake-1","content":[],"stop_reason":null,"usage":${startUsage}}`,
    ),
    frame("content_block_start", `"index":0,"content_block":{"type":"text","text":""}`),
    frame(
      "content_block_delta",
      `"index":0,"delta":{"type":"text_delta","text":${JSON.stringify(ANSWER_TEXT)}}`,
    ),
    frame("content_block_stop", `"index":0`),
    // As the live API sends it: the input counters again, null when unchanged.
    frame(
      "message_delta",
      `"delta":{"stop_reason":${finish},"stop_sequence":null},"usage":{"input_tokens":${script.deltaInput},"cache_read_input_tokens":null,"cache_creation_input_tokens":null,"output_tokens":${script.output}}`,
    ),
    frame("message_stop", ""),
  ]);
}

function answerGemini(stream: boolean, response: ServerResponse): void {
  const finish = script.finish ?? '"STOP"';
  const body = (text: string, finishReason: string | null) =>
    `{"candidates":[{"content":{"role":"model","parts":[{"text":${JSON.stringify(text)}}]}${finishReason ? `,"finishReason":${finishReason}` : ""}}],"usageMetadata":{"promptTokenCount":${script.input},"candidatesTokenCount":${script.output}},"modelVersion":"fake-1","responseId":"r1"}`;
  if (!stream) {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(body(ANSWER_TEXT, finish));
    return;
  }
  sse(response, [
    `data: ${body("Paris ", null)}\n\n`,
    `data: ${body("is the capital of France.", finish)}\n\n`,
  ]);
}

function startFakeVendor(): Promise<Server> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let text = "";
    request.on("data", (chunk) => {
      text += chunk;
    });
    request.on("end", () => {
      const url = request.url ?? "";
      if (url.endsWith("/embeddings")) {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(
          `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5]}],"model":"fake-1","usage":{"prompt_tokens":${script.input},"total_tokens":${script.input}}}`,
        );
        return;
      }
      const stream = url.includes("streamGenerateContent") || JSON.parse(text).stream === true;
      if (url.startsWith("/openai/")) answerOpenAI(stream, response);
      else if (url.startsWith("/anthropic/")) answerAnthropic(stream, response);
      else answerGemini(stream, response);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

let vendor: Server;
let gateway: FastifyInstance;
let budgets: Budgets;
const registry = new Registry();
const sink = new RecordingSink();

beforeAll(async () => {
  vendor = await startFakeVendor();
  const base = `http://127.0.0.1:${(vendor.address() as AddressInfo).port}`;
  const config = gatewayConfig.parse({
    price_catalog: "-",
    api_keys: [{ id: "usage", tenant: "acme", sha256: sha256Hex(KEY) }],
    vendors: [
      { id: "oa", protocol: "openai", base_url: `${base}/openai/v1`, api_key: "k" },
      { id: "claude", protocol: "anthropic", base_url: `${base}/anthropic/v1`, api_key: "k" },
      { id: "gem", protocol: "gemini", base_url: `${base}/gemini/v1beta`, api_key: "k" },
    ],
    routes: [
      { model: "oa", fallback: [{ vendor: "oa", model: "fake-1" }] },
      { model: "claude", fallback: [{ vendor: "claude", model: "fake-1" }] },
      { model: "gem", fallback: [{ vendor: "gem", model: "fake-1" }] },
    ],
    budgets: [
      {
        id: "tokens",
        scope: "key",
        scope_id: "usage",
        unit: "tokens",
        period: "month",
        soft_limit: "1000000000000",
      },
      {
        id: "usd",
        scope: "key",
        scope_id: "usage",
        unit: "usd",
        period: "month",
        soft_limit: "1000000000",
      },
    ],
  });
  const prices = new PriceCatalog({
    version: "usage-1",
    currency: "USD",
    unit: "per_million_tokens",
    // Opus-like prices: the $12.5 billion request of a 1e15 prompt, were it trusted.
    prices: ["oa", "claude", "gem"].map((id) => ({
      vendor: id,
      model: "fake-1",
      input: "12.5",
      output: "25",
    })),
  });
  budgets = new Budgets(config.budgets, sink);
  gateway = buildGateway({
    config,
    prices,
    sink,
    budgets,
    metrics: registry,
    logger: pino({ level: "silent" }),
  });
});
afterAll(async () => {
  await gateway.close();
  await new Promise((resolve) => vendor.close(resolve));
});
beforeEach(() => {
  sink.appended.length = 0;
  script = CLEAN;
});

type Client = "openai" | "anthropic";

function ask(client: Client, model: string, stream: boolean) {
  const messages = [{ role: "user", content: "What is the capital of France?" }];
  return client === "openai"
    ? gateway.inject({
        method: "POST",
        url: "/v1/chat/completions",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        payload: {
          model,
          messages,
          max_tokens: 64,
          stream,
          ...(stream ? { stream_options: { include_usage: true } } : {}),
        },
      })
    : gateway.inject({
        method: "POST",
        url: "/v1/messages",
        headers: {
          "x-api-key": KEY,
          "content-type": "application/json",
          "anthropic-version": "2023-06-01",
        },
        payload: { model, max_tokens: 64, messages, stream },
      });
}

/** The one request_completed of the request just made, checked to pass the current event schema. */
function theCompletion(): RequestCompleted {
  const completions = sink.events.filter((event) => event.event_type === "request_completed");
  expect(completions).toHaveLength(1);
  const completion = completions[0] as RequestCompleted;
  // What ingest does with it: parsed, upcast, validated. A failure here is a dead letter.
  expect(parseEvent(JSON.stringify(completion))).toMatchObject({ ok: true });
  return completion;
}

async function rejectedCount(vendorId: string, field: string): Promise<number> {
  const metric = await registry.getSingleMetric("switchboard_usage_rejected_total")?.get();
  return (
    metric?.values.find((value) => value.labels.vendor === vendorId && value.labels.field === field)
      ?.value ?? 0
  );
}

/** The ledger's running totals, to compare with the in-memory budgets. */
const ledgerTotals = { tokens: 0n, costScaled: 0n };

function expectBudgetsToCountTheLedger(completion: RequestCompleted): void {
  ledgerTotals.tokens += BigInt(completion.input_tokens + completion.output_tokens);
  ledgerTotals.costScaled += parseDecimal(completion.cost_usd);
  const [tokens, usd] = budgets.all;
  expect(tokens?.spent).toBe(ledgerTotals.tokens);
  expect(usd?.spent).toBe(ledgerTotals.costScaled);
}

/** The vendor's input count, by the field name each protocol gives it. */
const INPUT_FIELD = {
  oa: "usage.prompt_tokens",
  claude: "usage.input_tokens",
  gem: "usageMetadata.promptTokenCount",
};

/** Each count as the vendor writes it, as the warning shows it, and why it is refused. */
const BAD_COUNTS: [string, string, string][] = [
  ["1e15", "1000000000000000", "over 1000000000"],
  ["-5", "-5", "negative"],
  ["1.5", "1.5", "not a whole number"],
  ["1e400", "Infinity", "not finite"],
  ["9007199254740993", "9007199254740992", "over 1000000000"],
  ['"12"', '"12"', "not a number but string"],
];

const ROUTES: [Client, keyof typeof INPUT_FIELD][] = [
  ["openai", "oa"],
  ["openai", "claude"],
  ["openai", "gem"],
  ["anthropic", "claude"],
  ["anthropic", "oa"],
  ["anthropic", "gem"],
];

const CASES = BAD_COUNTS.flatMap(([json, shown, reason]) =>
  ROUTES.flatMap(([client, vendorId]) =>
    [false, true].map((stream) => ({ json, shown, reason, client, vendorId, stream })),
  ),
);

describe("vendor usage outside the contract", () => {
  it.each(CASES)(
    "$json as $vendorId's input count, streamed $stream, to an $client client: 200, recorded estimated with usage_rejected, counted",
    async ({ json, shown, reason, client, vendorId, stream }) => {
      script = { ...CLEAN, input: json };
      const field = INPUT_FIELD[vendorId];
      const before = await rejectedCount(vendorId, field);
      const response = await ask(client, vendorId, stream);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.body).toContain(stream ? "Paris" : "Paris is the capital");
      expect(response.body).not.toMatch(/"error"/);
      const completion = theCompletion();
      expect(completion).toMatchObject({
        status: "success",
        http_status: 200,
        usage_source: "estimated",
        vendor: vendorId,
      });
      expect(completion.input_tokens).toBeGreaterThan(0);
      expect(completion.input_tokens).toBeLessThan(100);
      expect(completion.warnings[0]).toBe(
        `usage_rejected: the vendor's ${field} was ${shown} (${reason}); usage estimated`,
      );
      expect(await rejectedCount(vendorId, field)).toBe(before + 1);
      if (!stream) {
        // A whole answer's headers come after the ledger: the client is told too.
        expect(response.headers["x-switchboard-warnings"]).toContain("usage_rejected");
        expect(response.headers["x-switchboard-cost-usd"]).toBe(completion.cost_usd);
      }
      expectBudgetsToCountTheLedger(completion);
    },
  );

  it.each(BAD_COUNTS)(
    "%s as an embeddings answer's prompt_tokens: 200, recorded estimated with usage_rejected",
    async (json, shown, reason) => {
      script = { ...CLEAN, input: json };
      const response = await gateway.inject({
        method: "POST",
        url: "/v1/embeddings",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        payload: { model: "oa", input: "What is the capital of France?" },
      });
      expect(response.statusCode, response.body).toBe(200);
      const completion = theCompletion();
      expect(completion).toMatchObject({ status: "success", usage_source: "estimated" });
      expect(completion.input_tokens).toBeGreaterThan(0);
      expect(completion.warnings[0]).toBe(
        `usage_rejected: the vendor's usage.prompt_tokens was ${shown} (${reason}); usage estimated`,
      );
      expectBudgetsToCountTheLedger(completion);
    },
  );

  it("the metric is served at /metrics by vendor and field", async () => {
    const metrics = await gateway.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toMatch(
      /switchboard_usage_rejected_total\{vendor="claude",field="usage\.input_tokens"\} \d+/,
    );
  });

  it("usage inside the contract is recorded as reported, with no warning", async () => {
    for (const [client, vendorId] of ROUTES) {
      for (const stream of [false, true]) {
        sink.appended.length = 0;
        const response = await ask(client, vendorId, stream);
        expect(response.statusCode).toBe(200);
        const completion = theCompletion();
        expect(completion).toMatchObject({
          usage_source: "reported",
          input_tokens: 12,
          output_tokens: 7,
          warnings: [],
        });
        expectBudgetsToCountTheLedger(completion);
      }
    }
  });
});

describe("Anthropic's null counters never under-bill", () => {
  const counts = { ...CLEAN, input: "25", cacheRead: "100", cacheWrite: "40", deltaInput: "null" };

  it.each([
    ["openai", false],
    ["openai", true],
    ["anthropic", false],
    ["anthropic", true],
  ] as [Client, boolean][])(
    "message_delta's null input counters keep message_start's: %s client, streamed %s",
    async (client, stream) => {
      script = counts;
      const response = await ask(client, "claude", stream);
      expect(response.statusCode).toBe(200);
      expect(theCompletion()).toMatchObject({
        usage_source: "reported",
        input_tokens: 165,
        cached_input_tokens: 100,
        cache_write_input_tokens: 40,
        output_tokens: 7,
      });
      if (client === "openai" && stream) {
        // The OpenAI-shaped client is told the same prompt tokens, not 0.
        const usageChunk = response.body
          .split("\n\n")
          .filter((frame) => frame.startsWith("data: {"))
          .map((frame) => JSON.parse(frame.slice(6)))
          .find((chunk) => chunk.usage);
        expect(usageChunk.usage).toMatchObject({ prompt_tokens: 165, completion_tokens: 7 });
      }
      if (client === "openai" && !stream) {
        expect(response.json().usage).toMatchObject({ prompt_tokens: 165 });
      }
    },
  );

  it("null cache counters in a whole answer count as nothing cached", async () => {
    script = { ...counts, cacheRead: "null", cacheWrite: "null" };
    await ask("openai", "claude", false);
    expect(theCompletion()).toMatchObject({
      usage_source: "reported",
      input_tokens: 25,
      cached_input_tokens: 0,
      cache_write_input_tokens: 0,
    });
  });

  it("a null input count in a whole answer is refused and estimated, never billed as 0", async () => {
    script = { ...counts, input: "null" };
    const response = await ask("anthropic", "claude", false);
    expect(response.statusCode).toBe(200);
    const completion = theCompletion();
    expect(completion.usage_source).toBe("estimated");
    expect(completion.input_tokens).toBeGreaterThan(0);
    expect(completion.warnings[0]).toMatch(
      /^usage_rejected: the vendor's usage\.input_tokens was null/,
    );
  });
});

describe("finish reasons in the ledger", () => {
  const unknown: [keyof typeof INPUT_FIELD, string][] = [
    ["oa", "insufficient_system_resource"],
    ["claude", "pause_turn"],
    ["gem", "LANGUAGE"],
  ];

  it.each(
    unknown.flatMap(([vendorId, raw]) =>
      (["openai", "anthropic"] as Client[]).flatMap((client) =>
        [false, true].map((stream) => ({ vendorId, raw, client, stream })),
      ),
    ),
  )(
    "$vendorId's unknown $raw is recorded as other with the raw reason ($client client, streamed $stream)",
    async ({ vendorId, raw, client, stream }) => {
      script = { ...CLEAN, finish: JSON.stringify(raw) };
      const response = await ask(client, vendorId, stream);
      expect(response.statusCode).toBe(200);
      expect(theCompletion()).toMatchObject({ finish_reason: "other", vendor_finish_reason: raw });
    },
  );

  it.each([
    ["oa", '"length"', "length", "length"],
    ["claude", '"max_tokens"', "length", "max_tokens"],
    ["gem", '"SAFETY"', "content_filter", "SAFETY"],
    ["oa", '"stop"', "stop", "stop"],
    ["claude", '"end_turn"', "stop", "end_turn"],
  ] as [keyof typeof INPUT_FIELD, string, string, string][])(
    "%s's %s is recorded as %s, raw %s kept",
    async (vendorId, json, neutral, raw) => {
      for (const stream of [false, true]) {
        sink.appended.length = 0;
        script = { ...CLEAN, finish: json };
        await ask("openai", vendorId, stream);
        expect(theCompletion()).toMatchObject({
          finish_reason: neutral,
          vendor_finish_reason: raw,
        });
      }
    },
  );
});
