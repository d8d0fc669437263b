// Keys (team, tags, prompt hash), budgets refused in each client's error
// shape, and unpriced models, through the whole gateway with a clock of its own.
import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { formatDecimal } from "../events/money.ts";
import type { BudgetAlerted, RequestCompleted, SwitchboardEvent } from "../events/schemas.ts";
import { type RunningSimulator, startSimulator, usageFor } from "../simulator/index.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { buildGateway } from "./app.ts";
import { sha256Hex } from "./auth.ts";
import { gatewayConfig } from "./config.ts";
import { PriceCatalog } from "./pricing.ts";

const QUESTION = "What is the capital of France?";
const messages = [{ role: "user", content: QUESTION }];
const oneRequestTokens = (() => {
  const usage = usageFor({ model: "good", messages } as never);
  return usage.promptTokens + usage.completionTokens;
})();

const clock = { now: 0 };
const sink = new RecordingSink();
const logLines: string[] = [];
let simulator: RunningSimulator;
let gateway: FastifyInstance;
let refusing: FastifyInstance;

function configFor(refuseUnpriced: boolean) {
  return gatewayConfig.parse({
    price_catalog: "-",
    refuse_unpriced: refuseUnpriced,
    api_keys: [
      {
        id: "plain",
        tenant: "acme",
        team: "research",
        tags: ["batch", "eu"],
        sha256: sha256Hex("sk-plain"),
      },
      {
        id: "hashed",
        tenant: "acme",
        team: "research",
        store_prompt_hash: true,
        sha256: sha256Hex("sk-hashed"),
      },
      { id: "capped", tenant: "acme", sha256: sha256Hex("sk-capped") },
    ],
    vendors: [{ id: "sim", protocol: "openai", base_url: `${simulator.url}/v1`, api_key: "x" }],
    routes: [
      { model: "direct", fallback: [{ vendor: "sim", model: "good" }] },
      {
        model: "flaky",
        fallback: [
          { vendor: "sim", model: "broken" },
          { vendor: "sim", model: "good" },
        ],
      },
      { model: "expiring", fallback: [{ vendor: "sim", model: "legacy" }] },
      {
        model: "mixed",
        fallback: [
          { vendor: "sim", model: "legacy" },
          { vendor: "sim", model: "good" },
        ],
      },
    ],
    budgets: [
      {
        id: "capped-daily",
        scope: "key",
        scope_id: "capped",
        unit: "tokens",
        period: "day",
        soft_limit: String(oneRequestTokens),
        hard_limit: String(oneRequestTokens),
      },
    ],
  });
}

beforeAll(async () => {
  simulator = await startSimulator({
    models: [{ id: "good" }, { id: "legacy" }, { id: "broken" }],
    faultsByModel: { broken: { serverError: 1 } },
  });
  const prices = new PriceCatalog({
    version: "unit-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: [
      { vendor: "sim", model: "good", input: "0.15", output: "0.6" },
      { vendor: "sim", model: "broken", input: "0.15", output: "0.6" },
      // In force when the gateway starts (the router checks), over by the test clock's year 2100.
      { vendor: "sim", model: "legacy", input: "1", output: "1", effective_to: "2099-01-01" },
    ],
  });
  const logger = pino(
    { level: "info" },
    new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    }),
  );
  const common = { prices, sink, logger, clock: () => clock.now };
  gateway = buildGateway({ ...common, config: configFor(false) });
  refusing = buildGateway({ ...common, config: configFor(true) });
});
afterAll(async () => {
  await gateway.close();
  await refusing.close();
  await simulator.close();
});
beforeEach(() => {
  sink.appended.length = 0;
  clock.now = Date.parse("2100-01-10T12:00:00.000Z");
});

function chat(key: string, body: unknown, app = gateway) {
  return app.inject({
    method: "POST",
    url: "/v1/chat/completions",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    payload: JSON.stringify(body),
  });
}

function anthropicMessages(key: string, body: unknown) {
  return gateway.inject({
    method: "POST",
    url: "/v1/messages",
    headers: {
      "x-api-key": key,
      "anthropic-version": "2023-06-01",
      "content-type": "application/json",
    },
    payload: JSON.stringify(body),
  });
}

function eventsOfType<T extends SwitchboardEvent["event_type"]>(type: T) {
  return sink.events.filter((event) => event.event_type === type) as Extract<
    SwitchboardEvent,
    { event_type: T }
  >[];
}

function completed(): RequestCompleted {
  const [event] = eventsOfType("request_completed");
  if (!event) throw new Error("no request_completed");
  return event;
}

describe("keys", () => {
  it("stamp key, team and tags on the completion, and no prompt hash unless opted in", async () => {
    const response = await chat("sk-plain", { model: "direct", messages });
    expect(response.statusCode).toBe(200);
    expect(completed()).toMatchObject({
      schema_version: 4,
      key_id: "plain",
      team: "research",
      tags: ["batch", "eu"],
      prompt_sha256: null,
      price_known: true,
      contract_id: null,
      price_card_version: "unit-1",
    });
    expect(completed().list_cost_usd).toBe(completed().cost_usd);
  });

  it("stamp key, team and tags on each failed attempt too", async () => {
    const response = await chat("sk-plain", { model: "flaky", messages });
    expect(response.statusCode).toBe(200);
    expect(
      eventsOfType("attempt_failed").map(({ model, key_id, team, tags }) => ({
        model,
        key_id,
        team,
        tags,
      })),
    ).toEqual([{ model: "broken", key_id: "plain", team: "research", tags: ["batch", "eu"] }]);
  });

  it("hash the prompt for a key that opted in: SHA-256 of the canonical JSON of the messages", async () => {
    // Keys sorted, no whitespace, the client's key order and the model left out.
    const canonical = `{"messages":[{"content":"${QUESTION}","role":"user"}]}`;
    const expected = createHash("sha256").update(canonical, "utf8").digest("hex");
    await chat("sk-hashed", {
      model: "direct",
      messages: [{ content: QUESTION, role: "user" }],
    });
    expect(completed()).toMatchObject({ key_id: "hashed", team: "research", tags: [] });
    expect(completed().prompt_sha256).toBe(expected);

    sink.appended.length = 0;
    const anthropicCanonical = `{"messages":[{"content":"${QUESTION}","role":"user"}],"system":"Be brief."}`;
    await anthropicMessages("sk-hashed", {
      model: "direct",
      max_tokens: 20,
      system: "Be brief.",
      messages,
    });
    expect(completed().prompt_sha256).toBe(
      createHash("sha256").update(anthropicCanonical, "utf8").digest("hex"),
    );
  });

  it("hash embeddings' input, and price them at the card", async () => {
    const response = await gateway.inject({
      method: "POST",
      url: "/v1/embeddings",
      headers: { authorization: "Bearer sk-hashed", "content-type": "application/json" },
      payload: JSON.stringify({ model: "direct", input: "hello" }),
    });
    expect(response.statusCode).toBe(200);
    const event = completed();
    expect(event.prompt_sha256).toBe(
      createHash("sha256").update('{"input":"hello"}', "utf8").digest("hex"),
    );
    // 0.15 USD per million input tokens, no output: input_tokens × 15 × 10^-8.
    expect(event.output_tokens).toBe(0);
    expect(event.input_tokens).toBeGreaterThan(0);
    expect(event.cost_usd).toBe(formatDecimal(BigInt(event.input_tokens * 15), 8));
    expect(response.headers["x-switchboard-cost-usd"]).toBe(event.cost_usd);
  });

  it("never put prompt or completion text in an event or a log line", async () => {
    await chat("sk-hashed", { model: "direct", messages });
    await chat("sk-plain", { model: "expiring", messages });
    const answer = (await chat("sk-plain", { model: "direct", messages })).json();
    const completion = answer.choices[0].message.content as string;
    expect(completion.length).toBeGreaterThan(0);
    for (const text of [JSON.stringify(sink.events), logLines.join("")]) {
      expect(text).not.toContain(QUESTION);
      expect(text).not.toContain(completion);
    }
  });
});

describe("budgets at the gateway", () => {
  it("refuse at the hard limit in OpenAI's and Anthropic's shapes, and reset at the next UTC day", async () => {
    // One request's tokens are exactly the limit: the next request is refused.
    expect((await chat("sk-capped", { model: "direct", messages })).statusCode).toBe(200);
    const alerts = eventsOfType("budget_alerted") as BudgetAlerted[];
    expect(alerts.map((alert) => [alert.level, alert.spent, alert.threshold])).toEqual([
      ["soft", String(oneRequestTokens), String(oneRequestTokens)],
      ["hard", String(oneRequestTokens), String(oneRequestTokens)],
    ]);
    expect(alerts[0]).toMatchObject({
      request_id: completed().request_id,
      budget_id: "capped-daily",
      period_start: "2100-01-10T00:00:00.000Z",
      occurred_at: "2100-01-10T12:00:00.000Z",
    });
    const answered = simulator.answered().length;

    const openAI = await chat("sk-capped", { model: "direct", messages });
    expect(openAI.statusCode).toBe(429);
    expect(openAI.headers["retry-after"]).toBe(String(12 * 3600));
    expect(openAI.headers["x-request-id"]).toMatch(/^req_/);
    expect(openAI.json()).toMatchObject({
      error: { type: "insufficient_quota", code: "budget_exceeded", param: null },
    });
    expect(openAI.json().error.message).toContain("resets at 2100-01-11T00:00:00.000Z");

    clock.now = Date.parse("2100-01-10T23:59:59.000Z");
    const anthropic = await anthropicMessages("sk-capped", {
      model: "direct",
      max_tokens: 20,
      messages,
    });
    expect(anthropic.statusCode).toBe(429);
    expect(anthropic.headers["retry-after"]).toBe("1");
    expect(anthropic.json()).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    expect(anthropic.json().error.message).toMatch(
      /^budget_exceeded: .*resets at 2100-01-11T00:00:00\.000Z/,
    );
    // Refused before any upstream call, and with no second alert.
    expect(simulator.answered().length).toBe(answered);
    expect(eventsOfType("budget_alerted")).toHaveLength(2);

    clock.now = Date.parse("2100-01-11T00:00:00.000Z");
    expect((await chat("sk-capped", { model: "direct", messages })).statusCode).toBe(200);
  });
});

describe("an unpriced model", () => {
  it("is recorded with price_known false and cost 0, and logged once", async () => {
    const first = await chat("sk-plain", { model: "expiring", messages });
    expect(first.statusCode).toBe(200);
    expect(first.headers["x-switchboard-cost-usd"]).toBe("0");
    expect(completed()).toMatchObject({
      price_known: false,
      cost_usd: "0",
      list_cost_usd: "0",
      price_card_version: "unit-1",
      warnings: [expect.stringContaining("no price card for sim/legacy")],
    });
    await chat("sk-plain", { model: "expiring", messages });
    const warnings = logLines.filter((line) => line.includes("no price card"));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0] as string)).toMatchObject({ vendor: "sim", model: "legacy" });
  });

  it("is refused before any upstream call when refuse_unpriced is on", async () => {
    const answered = simulator.answered().length;
    const response = await chat("sk-plain", { model: "expiring", messages }, refusing);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      error: { type: "invalid_request_error", code: "model_not_priced", param: "model" },
    });
    expect(simulator.answered().length).toBe(answered);
    expect(sink.events).toEqual([]);
    expect((await chat("sk-plain", { model: "direct", messages }, refusing)).statusCode).toBe(200);
  });

  it("is skipped, and named so in route_decided, when another candidate is priced", async () => {
    const response = await chat("sk-plain", { model: "mixed", messages }, refusing);
    expect(response.statusCode).toBe(200);
    expect(response.headers["x-switchboard-model"]).toBe("good");
    const [decided] = eventsOfType("route_decided");
    expect(decided?.candidates).toEqual([
      expect.objectContaining({ model: "good", skipped_reason: null }),
      expect.objectContaining({
        model: "legacy",
        skipped_reason: "no price card in force and refuse_unpriced is on",
      }),
    ]);
    expect(eventsOfType("attempt_failed")).toEqual([]);
    expect(completed()).toMatchObject({ model: "good", price_known: true, attempts: 1 });
  });

  it("lists no price for it in /v1/models", async () => {
    const models = (await gateway.inject({ method: "GET", url: "/v1/models" })).json();
    const byId = Object.fromEntries(models.data.map((model: { id: string }) => [model.id, model]));
    expect(byId.expiring).toMatchObject({ pricing: null, price_card_version: null });
    expect(byId.direct).toMatchObject({
      pricing: { prompt: "0.00000015", completion: "0.0000006", request: "0" },
      price_card_version: "unit-1",
    });
  });
});
