// POST /v1/feedback: every bad field answers 400 naming it; only the caller's
// own requests can be scored; a good score is one exact quality_scored event.
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type QualityScored,
  qualityScoredV2,
  type RequestCompleted,
  type ScoredRequest,
} from "../events/schemas.ts";
import { type RunningSimulator, startSimulator } from "../simulator/index.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { buildGateway } from "./app.ts";
import { sha256Hex } from "./auth.ts";
import { gatewayConfig } from "./config.ts";
import { PriceCatalog } from "./pricing.ts";

const ACME_KEY = "sk-acme";
const GLOBEX_KEY = "sk-globex";
let simulator: RunningSimulator;
let gateway: FastifyInstance;
const sink = new RecordingSink();
const lookedUp: { requestId: string; tenantId: string }[] = [];
// A request "stored in ClickHouse" long ago, which this gateway never served.
const STORED_REQUEST = "req_0190a1b2c3d47000800000000000abcd";
const STORED: ScoredRequest = {
  occurred_at: "2024-07-01T10:00:00.500Z",
  task: "code",
  vendor: "sim",
  model: "good",
  key_id: "acme",
  team: "search",
  tags: ["prod"],
};

beforeAll(async () => {
  simulator = await startSimulator({ models: [{ id: "good" }] });
  const config = gatewayConfig.parse({
    price_catalog: "-",
    api_keys: [
      { id: "acme", tenant: "acme", sha256: sha256Hex(ACME_KEY) },
      { id: "globex", tenant: "globex", sha256: sha256Hex(GLOBEX_KEY) },
    ],
    vendors: [{ id: "sim", protocol: "openai", base_url: `${simulator.url}/v1`, api_key: "x" }],
    routes: [{ model: "direct", fallback: [{ vendor: "sim", model: "good" }] }],
  });
  const prices = new PriceCatalog({
    version: "unit-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: [{ vendor: "sim", model: "good", input: "0.15", output: "0.6" }],
  });
  gateway = buildGateway({
    config,
    prices,
    sink,
    logger: pino({ level: "error" }),
    rememberedRequests: 3,
    requestLookup: async (requestId, tenantId) => {
      lookedUp.push({ requestId, tenantId });
      return requestId === STORED_REQUEST && tenantId === "acme" ? STORED : null;
    },
  });
});
afterAll(async () => {
  await gateway.close();
  await simulator.close();
});
beforeEach(() => {
  sink.appended.length = 0;
  lookedUp.length = 0;
});

async function chat(key = ACME_KEY): Promise<string> {
  const response = await gateway.inject({
    method: "POST",
    url: "/v1/chat/completions",
    headers: { authorization: `Bearer ${key}` },
    payload: { model: "direct", messages: [{ role: "user", content: "Hello" }] },
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.headers["x-request-id"] as string;
}

function feedback(
  body: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${ACME_KEY}` },
) {
  return gateway.inject({
    method: "POST",
    url: "/v1/feedback",
    headers: { "content-type": "application/json", ...headers },
    payload: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const scores = () =>
  sink.events.filter((event) => event.event_type === "quality_scored") as QualityScored[];

describe("POST /v1/feedback", () => {
  it("publishes a human's boolean score as one exact quality_scored event, answered 202", async () => {
    const requestId = await chat();
    const completed = sink.events.find(
      (event) => event.event_type === "request_completed",
    ) as RequestCompleted;
    sink.appended.length = 0;
    const response = await feedback({ request_id: requestId, metric: "helpful", value: true });
    expect(response.statusCode).toBe(202);
    const body = response.json();
    expect(scores()).toEqual([
      {
        event_id: body.event_id,
        occurred_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        tenant_id: "acme",
        request_id: requestId,
        event_type: "quality_scored",
        schema_version: 2,
        metric: "helpful",
        value: { type: "boolean", boolean: true },
        source: "human",
        gold_set_name: null,
        gold_set_version: null,
        comment: null,
        // The request as its request_completed said, so the score rolls up without a join.
        scored_request: {
          occurred_at: completed.occurred_at,
          task: "general",
          vendor: "sim",
          model: "good",
          key_id: "acme",
          team: null,
          tags: [],
        },
      },
    ]);
    expect(body).toEqual({ object: "feedback", event_id: body.event_id, request_id: requestId });
    expect(qualityScoredV2.safeParse(scores()[0]).success).toBe(true);
    expect(sink.events).toHaveLength(1);
  });

  it.each<[string, unknown, QualityScored["value"]]>([
    [
      "a number on its scale",
      { number: 4, minimum: 1, maximum: 5 },
      { type: "number", number: 4, minimum: 1, maximum: 5 },
    ],
    ["a category as a string", "too-long", { type: "category", category: "too-long" }],
    [
      "a category as an object",
      { category: "off-topic" },
      { type: "category", category: "off-topic" },
    ],
    [
      "the event's typed form",
      { type: "boolean", boolean: false },
      { type: "boolean", boolean: false },
    ],
  ])("takes %s", async (_case, value, expected) => {
    const requestId = await chat();
    const response = await feedback({ request_id: requestId, metric: "tone", value });
    expect(response.statusCode).toBe(202);
    expect(scores().map((score) => score.value)).toEqual([expected]);
  });

  it("tags an eval score with its gold set, and keeps the comment", async () => {
    const requestId = await chat();
    const response = await feedback({
      request_id: requestId,
      metric: "exact_match",
      value: false,
      source: "eval",
      gold_set_name: "capitals",
      gold_set_version: "3",
      comment: "said Lyon",
    });
    expect(response.statusCode).toBe(202);
    expect(scores()).toMatchObject([
      { source: "eval", gold_set_name: "capitals", gold_set_version: "3", comment: "said Lyon" },
    ]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ["no request_id", { metric: "helpful", value: true }, "request_id"],
    ["an empty request_id", { request_id: "", metric: "helpful", value: true }, "request_id"],
    ["no metric", { request_id: "r", value: true }, "metric"],
    [
      "a metric with capitals and spaces",
      { request_id: "r", metric: "Very Helpful", value: true },
      "metric",
    ],
    ["no value", { request_id: "r", metric: "helpful" }, "value"],
    ["a list as value", { request_id: "r", metric: "helpful", value: [1] }, "value"],
    ["null as value", { request_id: "r", metric: "helpful", value: null }, "value"],
    [
      "a number without its scale",
      { request_id: "r", metric: "m", value: { number: 3 } },
      "value.minimum",
    ],
    [
      "a number as a string",
      { request_id: "r", metric: "m", value: { number: "3", minimum: 1, maximum: 5 } },
      "value.number",
    ],
    [
      "a number off its scale",
      { request_id: "r", metric: "m", value: { number: 6, minimum: 1, maximum: 5 } },
      "value.number",
    ],
    [
      "an upside-down scale",
      { request_id: "r", metric: "m", value: { number: 3, minimum: 5, maximum: 1 } },
      "value.minimum",
    ],
    [
      "an unknown field in a value",
      { request_id: "r", metric: "m", value: { category: "a", weight: 2 } },
      "value.weight",
    ],
    ["a category with capitals", { request_id: "r", metric: "m", value: "Good" }, "value"],
    [
      "a typed value of the wrong type",
      { request_id: "r", metric: "m", value: { type: "boolean", boolean: "yes" } },
      "value.boolean",
    ],
    ["an unknown source", { request_id: "r", metric: "m", value: true, source: "robot" }, "source"],
    [
      "a comment over 2000 characters",
      { request_id: "r", metric: "m", value: true, comment: "x".repeat(2001) },
      "comment",
    ],
    [
      "a gold set name without version",
      { request_id: "r", metric: "m", value: true, source: "eval", gold_set_name: "g" },
      "gold_set_version",
    ],
    [
      "a gold set version without name",
      { request_id: "r", metric: "m", value: true, source: "eval", gold_set_version: "1" },
      "gold_set_name",
    ],
    [
      "a gold set on a human score",
      { request_id: "r", metric: "m", value: true, gold_set_name: "g", gold_set_version: "1" },
      "source",
    ],
    ["an unknown field", { request_id: "r", metric: "m", value: true, score: 5 }, "score"],
  ])("refuses %s with 400 naming the field", async (_case, body, param) => {
    const response = await feedback(body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: {
        message: expect.stringContaining(`'${param}'`),
        type: "invalid_request_error",
        param,
        code: "invalid_request",
      },
    });
    expect(sink.events).toEqual([]);
  });

  it("refuses a body that is not a JSON object, and a bad key before reading the body", async () => {
    expect((await feedback([1, 2])).statusCode).toBe(400);
    const unauthenticated = await feedback({ request_id: "r" }, { authorization: "Bearer nope" });
    expect(unauthenticated.statusCode).toBe(401);
    expect(unauthenticated.json().error.code).toBe("invalid_api_key");
  });

  it("refuses another tenant's request exactly as an unknown one, by the same path, and publishes nothing", async () => {
    const acmeRequest = await chat(ACME_KEY);
    sink.appended.length = 0;
    const unknownRequest = "req_0190a1b2c3d47000800000000000ffff";
    const crossTenant = await feedback(
      { request_id: acmeRequest, metric: "helpful", value: false },
      { authorization: `Bearer ${GLOBEX_KEY}` },
    );
    const unknown = await feedback(
      { request_id: unknownRequest, metric: "helpful", value: false },
      { authorization: `Bearer ${GLOBEX_KEY}` },
    );
    // The same answer, byte for byte: status, body, and headers but the id of the feedback request itself.
    const answerOf = (response: typeof unknown) => ({
      status: response.statusCode,
      headers: { ...response.headers, "x-request-id": "<its own id>", date: "<date>" },
      body: response.body,
    });
    expect(answerOf(crossTenant)).toEqual(answerOf(unknown));
    expect(crossTenant.statusCode).toBe(404);
    expect(crossTenant.json().error).toMatchObject({
      code: "request_not_found",
      param: "request_id",
    });
    // The same path: acme's request is in memory, but only under acme, so
    // globex's question about it goes to the store under globex, as the
    // unknown id does. Neither is answered sooner than the other.
    expect(lookedUp).toEqual([
      { requestId: acmeRequest, tenantId: "globex" },
      { requestId: unknownRequest, tenantId: "globex" },
    ]);
    expect(sink.events).toEqual([]);
  });

  it("finds a request it no longer remembers in the stored events, by tenant", async () => {
    const first = await chat();
    for (let index = 0; index < 3; index++) await chat(); // capacity 3: the first is forgotten
    lookedUp.length = 0;
    const forgotten = await feedback({ request_id: first, metric: "helpful", value: true });
    expect(forgotten.statusCode).toBe(404);
    expect(lookedUp).toEqual([{ requestId: first, tenantId: "acme" }]);
    const stored = await feedback({ request_id: STORED_REQUEST, metric: "helpful", value: true });
    expect(stored.statusCode).toBe(202);
    expect(
      scores().map((score) => [score.tenant_id, score.request_id, score.scored_request]),
    ).toEqual([["acme", STORED_REQUEST, STORED]]);
    // An id that is not the gateway's format is never looked up.
    lookedUp.length = 0;
    expect(
      (await feedback({ request_id: "chatcmpl-1", metric: "helpful", value: true })).statusCode,
    ).toBe(404);
    expect(lookedUp).toEqual([]);
  });

  it("takes the key as x-api-key too, as Anthropic clients send it", async () => {
    const requestId = await chat();
    const response = await feedback(
      { request_id: requestId, metric: "helpful", value: true },
      { "x-api-key": ACME_KEY },
    );
    expect(response.statusCode).toBe(202);
  });
});
