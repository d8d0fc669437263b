import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { formatDecimal } from "../events/money.ts";
import type { SwitchboardEvent } from "../events/schemas.ts";
import { type RunningSimulator, startSimulator, usageFor } from "../simulator/index.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { buildGateway } from "./app.ts";
import { sha256Hex } from "./auth.ts";
import { gatewayConfig } from "./config.ts";
import { PriceCatalog } from "./pricing.ts";

const KEY = "sk-unit";
let simulator: RunningSimulator;
let gateway: FastifyInstance;
const sink = new RecordingSink();

beforeAll(async () => {
  simulator = await startSimulator({
    models: [{ id: "good" }, { id: "broken" }, { id: "limited" }, { id: "hanging" }],
    faultsByModel: {
      broken: { serverError: 1 },
      limited: { rateLimited: 1 },
      hanging: { timeout: 1 },
    },
  });
  const vendor = (id: string, base_url: string, extra = {}) => ({
    id,
    protocol: "openai",
    base_url,
    api_key: "x",
    ...extra,
  });
  const config = gatewayConfig.parse({
    price_catalog: "-",
    api_keys: [{ id: "unit", tenant: "acme", sha256: sha256Hex(KEY) }],
    vendors: [
      vendor("sim", `${simulator.url}/v1`),
      vendor("slow", `${simulator.url}/v1`, { first_byte_timeout_ms: 200 }),
      vendor("down", "http://127.0.0.1:9/v1"),
    ],
    routes: [
      { model: "direct", fallback: [{ vendor: "sim", model: "good" }] },
      {
        model: "every-failure",
        fallback: [
          { vendor: "sim", model: "broken" },
          { vendor: "sim", model: "limited" },
          { vendor: "slow", model: "hanging" },
          { vendor: "down", model: "good" },
          { vendor: "sim", model: "good" },
        ],
      },
      {
        model: "hopeless",
        fallback: [
          { vendor: "sim", model: "broken" },
          { vendor: "down", model: "good" },
        ],
      },
      {
        model: "rejected",
        fallback: [
          { vendor: "sim", model: "unknown-upstream" },
          { vendor: "sim", model: "good" },
        ],
      },
    ],
  });
  const price = (vendorId: string, model: string) => ({
    vendor: vendorId,
    model,
    input: "0.15",
    output: "0.6",
  });
  const prices = new PriceCatalog({
    version: "unit-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: [
      price("sim", "good"),
      price("sim", "broken"),
      price("sim", "limited"),
      price("slow", "hanging"),
      price("down", "good"),
      price("sim", "unknown-upstream"),
    ],
  });
  gateway = buildGateway({ config, prices, sink, logger: pino({ level: "silent" }) });
});
afterAll(async () => {
  await gateway.close();
  await simulator.close();
});
beforeEach(() => {
  sink.appended.length = 0;
});

const messages = [{ role: "user", content: "What is the capital of France?" }];

function post(body: unknown, headers: Record<string, string> = {}) {
  return gateway.inject({
    method: "POST",
    url: "/v1/chat/completions",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...headers },
    payload: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function eventsOfType<T extends SwitchboardEvent["event_type"]>(type: T) {
  return sink.events.filter((event) => event.event_type === type) as Extract<
    SwitchboardEvent,
    { event_type: T }
  >[];
}

describe("POST /v1/chat/completions", () => {
  it("answers, sets routing headers, and bills exactly", async () => {
    const response = await post(
      { model: "direct", messages },
      { "x-switchboard-task": "extraction" },
    );
    expect(response.statusCode).toBe(200);
    const usage = usageFor({ model: "good", messages } as never);
    // 0.15 and 0.60 USD per million tokens are 15 and 60 × 10^-8 USD per token.
    const expectedCost = formatDecimal(
      BigInt(usage.promptTokens * 15 + usage.completionTokens * 60),
      8,
    );
    expect(response.headers["x-switchboard-cost-usd"]).toBe(expectedCost);
    expect(response.headers).toMatchObject({
      "x-switchboard-vendor": "sim",
      "x-switchboard-model": "good",
      "x-switchboard-attempts": "1",
      "x-request-id": expect.stringMatching(/^req_[0-9a-f]{32}$/),
    });
    expect(response.json().usage).toMatchObject({
      prompt_tokens: usage.promptTokens,
      completion_tokens: usage.completionTokens,
    });
    expect(sink.events.map((event) => event.event_type)).toEqual([
      "route_decided",
      "request_completed",
    ]);
    expect(eventsOfType("request_completed")[0]).toMatchObject({
      tenant_id: "acme",
      task: "extraction",
      request_model: "direct",
      vendor: "sim",
      model: "good",
      status: "success",
      attempts: 1,
      input_tokens: usage.promptTokens,
      output_tokens: usage.completionTokens,
      cost_usd: response.headers["x-switchboard-cost-usd"],
      price_card_version: "unit-1",
    });
  });

  it("fails over through 500, 429, first-byte timeout and refused connection, one event each", async () => {
    const response = await post({ model: "every-failure", messages });
    expect(response.statusCode).toBe(200);
    expect(response.headers["x-switchboard-attempts"]).toBe("5");
    expect(
      eventsOfType("attempt_failed").map((event) => [
        event.vendor,
        event.model,
        event.attempt,
        event.error_class,
        event.http_status,
      ]),
    ).toEqual([
      ["sim", "broken", 1, "server_error", 500],
      ["sim", "limited", 2, "rate_limited", 429],
      ["slow", "hanging", 3, "timeout", null],
      ["down", "good", 4, "connect_error", null],
    ]);
    expect(eventsOfType("request_completed")[0]).toMatchObject({
      vendor: "sim",
      model: "good",
      attempts: 5,
      status: "success",
    });
    expect(eventsOfType("route_decided")[0]?.candidates).toHaveLength(5);
  });

  it("answers 502 in OpenAI's shape when every candidate fails, and records it", async () => {
    const response = await post({ model: "hopeless", messages });
    expect(response.statusCode).toBe(502);
    expect(response.json()).toEqual({
      error: {
        message: expect.stringContaining("All 2 candidate(s)"),
        type: "api_error",
        param: null,
        code: "all_vendors_failed",
      },
    });
    expect(eventsOfType("request_completed")[0]).toMatchObject({
      status: "error",
      http_status: 502,
      error_class: "connect_error",
      attempts: 2,
      cost_usd: "0",
    });
  });

  it("passes a vendor's refusal of the request back as it is, without failing over", async () => {
    const response = await post({ model: "rejected", messages });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe("model_not_found");
    expect(eventsOfType("attempt_failed")).toEqual([]);
    expect(eventsOfType("request_completed")[0]).toMatchObject({
      status: "error",
      error_class: "client_error",
      attempts: 1,
    });
  });

  it("streams, hiding the usage chunk the client did not ask for but billing it", async () => {
    const response = await post({ model: "direct", messages, stream: true });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/event-stream/);
    const frames = response.body.split("\n\n").filter(Boolean);
    expect(frames.at(-1)).toBe("data: [DONE]");
    const chunks = frames.slice(0, -1).map((frame) => JSON.parse(frame.slice("data: ".length)));
    expect(chunks.some((chunk) => chunk.choices.length === 0)).toBe(false);
    const usage = usageFor({ model: "good", messages } as never);
    expect(eventsOfType("request_completed")[0]).toMatchObject({
      streamed: true,
      status: "success",
      input_tokens: usage.promptTokens,
      output_tokens: usage.completionTokens,
      ttft_ms: expect.any(Number),
    });
  });

  it("streams the usage chunk when the client asked for it", async () => {
    const response = await post({
      model: "direct",
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const frames = response.body.split("\n\n").filter(Boolean).slice(0, -1);
    const usageChunks = frames
      .map((frame) => JSON.parse(frame.slice(6)))
      .filter((chunk) => chunk.choices.length === 0);
    expect(usageChunks).toHaveLength(1);
  });

  it.each([
    ["malformed JSON", '{"model":', 400, "invalid_request", null],
    ["no messages", { model: "direct", messages: [] }, 400, "invalid_request", "messages"],
    [
      "a bad role",
      { model: "direct", messages: [{ role: "robot", content: "x" }] },
      400,
      "invalid_request",
      "messages[0].role",
    ],
    ["an unknown model", { model: "nope", messages }, 404, "model_not_found", "model"],
  ])(
    "refuses %s in OpenAI's error shape and records nothing",
    async (_name, body, status, code, param) => {
      const response = await post(body);
      expect(response.statusCode).toBe(status);
      expect(response.json()).toEqual({
        error: { message: expect.any(String), type: "invalid_request_error", param, code },
      });
      expect(sink.appended).toEqual([]);
    },
  );

  it("refuses a missing or wrong key with 401", async () => {
    for (const authorization of [undefined, "Bearer sk-wrong"]) {
      const response = await gateway.inject({
        method: "POST",
        url: "/v1/chat/completions",
        headers: authorization ? { authorization } : {},
        payload: { model: "direct", messages },
      });
      expect(response.statusCode).toBe(401);
      expect(response.json().error.code).toBe("invalid_api_key");
    }
  });

  it("refuses a malformed task header, naming it", async () => {
    const response = await post(
      { model: "direct", messages },
      { "x-switchboard-task": "Bad Task!" },
    );
    expect(response.statusCode).toBe(400);
    expect(response.json().error.param).toBe("x-switchboard-task");
  });
});

describe("GET /v1/models", () => {
  it("lists routes and vendor/model pins with per-token prices", async () => {
    const response = await gateway.inject("/v1/models");
    const models = response.json().data as {
      id: string;
      pricing: { prompt: string; completion: string };
    }[];
    expect(models.find((model) => model.id === "direct")?.pricing).toMatchObject({
      prompt: "0.00000015",
      completion: "0.0000006",
    });
    expect(models.map((model) => model.id)).toContain("sim/good");
  });
});
