// POST /v1/messages (Anthropic's API at the gateway), the headers on every answer, and usage
// the gateway has to estimate because a vendor sent none.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { countTokens } from "gpt-tokenizer";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RequestCompleted } from "../events/schemas.ts";
import { type RunningSimulator, startSimulator } from "../simulator/index.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { buildGateway } from "./app.ts";
import { sha256Hex } from "./auth.ts";
import { gatewayConfig } from "./config.ts";
import { PriceCatalog } from "./pricing.ts";

const KEY = "sk-unit";
let simulator: RunningSimulator;
let gateway: FastifyInstance;
let brokenUpstream: Server;
const sink = new RecordingSink();

// An OpenAI-protocol upstream whose stream breaks after two chunks, before any usage.
function startBrokenUpstream(): Promise<Server> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "text/event-stream" });
    const chunk = (delta: object) =>
      `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "cut", choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
    response.write(
      chunk({ role: "assistant", content: "" }) + chunk({ content: "Half an answer" }),
    );
    setTimeout(() => response.destroy(), 20);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

beforeAll(async () => {
  simulator = await startSimulator({
    models: [{ id: "good" }, { id: "busy" }],
    faultsByModel: { busy: { rateLimited: 1 } },
  });
  brokenUpstream = await startBrokenUpstream();
  const brokenUrl = `http://127.0.0.1:${(brokenUpstream.address() as AddressInfo).port}/v1`;
  const config = gatewayConfig.parse({
    price_catalog: "-",
    api_keys: [{ id: "unit", tenant: "acme", sha256: sha256Hex(KEY) }],
    vendors: [
      { id: "oa", protocol: "openai", base_url: `${simulator.url}/v1`, api_key: "k" },
      { id: "claude", protocol: "anthropic", base_url: `${simulator.url}/v1`, api_key: "k" },
      // Mistral sends usage on its last chunk unasked, so the gateway does not ask; the
      // simulator, speaking plain OpenAI, then sends none: the gateway must estimate.
      { id: "mistral", protocol: "mistral", base_url: `${simulator.url}/v1`, api_key: "k" },
      { id: "cut", protocol: "openai", base_url: brokenUrl, api_key: "k" },
    ],
    routes: [
      { model: "claude", fallback: [{ vendor: "claude", model: "good" }] },
      { model: "openai", fallback: [{ vendor: "oa", model: "good" }] },
      { model: "mistral", fallback: [{ vendor: "mistral", model: "good" }] },
      { model: "cut", fallback: [{ vendor: "cut", model: "cut" }] },
      {
        model: "busy",
        fallback: [
          { vendor: "claude", model: "busy" },
          { vendor: "oa", model: "busy" },
        ],
      },
    ],
  });
  const price = (vendor: string, model: string) => ({ vendor, model, input: "1", output: "2" });
  const prices = new PriceCatalog({
    version: "unit-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: [
      price("claude", "good"),
      price("oa", "good"),
      price("mistral", "good"),
      price("cut", "cut"),
      price("claude", "busy"),
      price("oa", "busy"),
    ],
  });
  gateway = buildGateway({ config, prices, sink, logger: pino({ level: "silent" }) });
});
afterAll(async () => {
  await gateway.close();
  await simulator.close();
  await new Promise((resolve) => brokenUpstream.close(resolve));
});
beforeEach(() => {
  sink.appended.length = 0;
});

function completed(): RequestCompleted {
  const event = sink.events.find((each) => each.event_type === "request_completed");
  if (!event) throw new Error("no request_completed");
  return event as RequestCompleted;
}

function postMessages(body: unknown, headers: Record<string, string> = { "x-api-key": KEY }) {
  return gateway.inject({
    method: "POST",
    url: "/v1/messages",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers },
    payload: JSON.stringify(body),
  });
}

const question = { max_tokens: 50, messages: [{ role: "user", content: "Name a river." }] };

describe("POST /v1/messages", () => {
  it("takes x-api-key or a bearer key, and answers with routing headers", async () => {
    const keyHeaders: Record<string, string>[] = [
      { "x-api-key": KEY },
      { authorization: `Bearer ${KEY}` },
    ];
    for (const headers of keyHeaders) {
      const response = await postMessages({ model: "claude", ...question }, headers);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ type: "message", role: "assistant" });
      expect(response.headers).toMatchObject({
        "x-request-id": expect.stringMatching(/^req_[0-9a-f]{32}$/),
        "request-id": response.headers["x-request-id"],
        "x-switchboard-vendor": "claude",
        "x-switchboard-model": "good",
        "x-switchboard-attempts": "1",
        "x-switchboard-cost-usd": completed().cost_usd,
      });
    }
  });

  it("answers errors in Anthropic's shape, with the stable code first in the message", async () => {
    const unauthenticated = await postMessages({ model: "claude", ...question }, {});
    expect(unauthenticated.statusCode).toBe(401);
    expect(unauthenticated.json()).toEqual({
      type: "error",
      error: { type: "authentication_error", message: expect.stringMatching(/^invalid_api_key: /) },
    });
    const invalid = await postMessages({ model: "claude", messages: [] });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error).toMatchObject({ type: "invalid_request_error" });
    expect(invalid.headers["x-request-id"]).toMatch(/^req_/);
    const unknown = await postMessages({ model: "nope", ...question });
    expect(unknown.json().error).toMatchObject({
      type: "not_found_error",
      message: expect.stringMatching(/^model_not_found \(model\)/),
    });
  });

  it("every candidate rate limited: 429 upstream_rate_limited with retry-after, in each client's shape", async () => {
    const anthropic = await postMessages({ model: "busy", ...question });
    expect(anthropic.statusCode).toBe(429);
    expect(anthropic.headers["retry-after"]).toBe("1");
    expect(anthropic.headers["x-switchboard-attempts"]).toBe("2");
    expect(anthropic.json().error.type).toBe("rate_limit_error");
    const openai = await gateway.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      payload: { model: "busy", messages: question.messages },
    });
    expect(openai.statusCode).toBe(429);
    expect(openai.json().error).toMatchObject({
      code: "upstream_rate_limited",
      type: "rate_limit_error",
    });
  });

  it("to an Anthropic upstream, relays the vendor's stream byte for byte and bills its usage", async () => {
    const response = await postMessages({ model: "claude", ...question, stream: true });
    expect(response.headers["content-type"]).toMatch(/^text\/event-stream/);
    const upstreamUsage = simulator.answered().at(-1)?.usage;
    // The simulator's own frames, untouched: its message id, its cumulative usage.
    expect(response.body).toMatch(/"id":"msg_[0-9a-f]{16}/);
    expect(response.body).toContain(`"output_tokens":${upstreamUsage?.completionTokens}}`);
    expect(completed()).toMatchObject({
      vendor: "claude",
      input_tokens: upstreamUsage?.promptTokens,
      output_tokens: upstreamUsage?.completionTokens,
      usage_source: "reported",
      ttft_ms: expect.any(Number),
    });
  });

  it("streams the whole event sequence to an OpenAI upstream, usage in message_delta", async () => {
    const response = await postMessages({ model: "openai", ...question, stream: true });
    const events = response.body
      .split("\n")
      .filter((line) => line.startsWith("event: "))
      .map((line) => line.slice(7));
    expect(events[0]).toBe("message_start");
    expect(events[1]).toBe("ping");
    expect(events.slice(-2)).toEqual(["message_delta", "message_stop"]);
    const delta = response.body
      .split("\n\n")
      .find((frame) => frame.startsWith("event: message_delta"));
    const usage = JSON.parse(delta?.split("\n")[1]?.slice(6) ?? "{}").usage;
    expect(usage).toMatchObject({
      input_tokens: completed().input_tokens,
      output_tokens: completed().output_tokens,
    });
    expect(completed().usage_source).toBe("reported");
  });
});

describe("usage a vendor did not report", () => {
  it("is estimated with the tokenizer and marked estimated", async () => {
    const response = await gateway.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      payload: { model: "mistral", stream: true, messages: question.messages },
    });
    expect(response.statusCode).toBe(200);
    const text = response.body
      .split("\n\n")
      .filter((frame) => frame.startsWith("data: {"))
      .map((frame) => JSON.parse(frame.slice(6)).choices[0]?.delta.content ?? "")
      .join("");
    expect(completed()).toMatchObject({
      status: "success",
      usage_source: "estimated",
      output_tokens: countTokens(text),
      input_tokens: expect.any(Number),
    });
    expect(completed().input_tokens).toBeGreaterThan(countTokens("Name a river."));
  });

  it("a stream cut off midway ends with an error frame, and what arrived is estimated", async () => {
    const response = await gateway.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      payload: { model: "cut", stream: true, messages: question.messages },
    });
    const frames = response.body.split("\n\n").filter(Boolean);
    expect(JSON.parse(frames.at(-1)?.slice(6) ?? "{}").error).toMatchObject({
      code: "upstream_stream_failed",
    });
    expect(completed()).toMatchObject({
      status: "error",
      error_class: "connect_error",
      usage_source: "estimated",
      output_tokens: countTokens("Half an answer"),
    });
  });
});
