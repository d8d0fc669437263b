// Issue 11, item 12: what a client sends and the gateway repeats is bounded
// wherever it is repeated. Before, a 100,000-character unknown `provider`
// field name came back in a 100 KB x-switchboard-warnings header the client
// could not read, while the ledger counted a success.
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RequestCompleted, RouteDecided } from "../events/schemas.ts";
import { type RunningSimulator, startSimulator } from "../simulator/index.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { buildGateway } from "./app.ts";
import { sha256Hex } from "./auth.ts";
import { gatewayConfig } from "./config.ts";
import { GatewayError } from "./errors.ts";
import { PriceCatalog } from "./pricing.ts";
import {
  boundedWarnings,
  MAX_WARNING_LENGTH,
  MAX_WARNINGS,
  MAX_WARNINGS_HEADER_BYTES,
  truncated,
  warningsHeaderValue,
} from "./reflected-text.ts";

const KEY = "sk-unit";
const HUGE = 100_000;
let simulator: RunningSimulator;
let gateway: FastifyInstance;
const sink = new RecordingSink();

beforeAll(async () => {
  simulator = await startSimulator({ models: [{ id: "good" }] });
  const config = gatewayConfig.parse({
    price_catalog: "-",
    api_keys: [{ id: "unit", tenant: "acme", sha256: sha256Hex(KEY) }],
    vendors: [{ id: "oa", protocol: "openai", base_url: `${simulator.url}/v1`, api_key: "k" }],
    routes: [{ model: "openai", fallback: [{ vendor: "oa", model: "good" }] }],
  });
  const prices = new PriceCatalog({
    version: "unit-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: [{ vendor: "oa", model: "good", input: "1", output: "2" }],
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

function chat(body: Record<string, unknown>, url = "/v1/chat/completions") {
  return gateway.inject({
    method: "POST",
    url,
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    payload: JSON.stringify({ messages: [{ role: "user", content: "Hi" }], ...body }),
  });
}

function completion(): RequestCompleted {
  const event = sink.events.find((each) => each.event_type === "request_completed");
  if (!event) throw new Error("no request_completed");
  return event as RequestCompleted;
}

describe("reflected-text", () => {
  it("truncates with a mark, never inside a surrogate pair", () => {
    expect(truncated("short")).toBe("short");
    expect(truncated("a".repeat(100), 10)).toBe(`${"a".repeat(9)}…`);
    const cut = truncated(`${"a".repeat(8)}😀😀`, 10);
    expect(cut).toBe(`${"a".repeat(8)}…`);
  });

  it("bounds warnings as the event does, counting what is left out", () => {
    const many = Array.from({ length: 50 }, (_, index) => `w${index} ${"x".repeat(1_000)}`);
    const bounded = boundedWarnings(many);
    expect(bounded).toHaveLength(MAX_WARNINGS);
    expect(bounded.every((warning) => warning.length <= MAX_WARNING_LENGTH)).toBe(true);
    expect(bounded.at(-1)).toBe("…and 31 more warnings");
  });

  it("bounds the header in bytes, whatever the characters, and stays visible ASCII JSON", () => {
    const wide = Array.from({ length: 20 }, () => "é".repeat(1_000));
    const value = warningsHeaderValue(wide);
    expect(value.length).toBeLessThanOrEqual(MAX_WARNINGS_HEADER_BYTES);
    expect(value).toMatch(/^[\x20-\x7e]+$/);
    const parsed = JSON.parse(value) as string[];
    expect(parsed[0]).toBe(truncated("é".repeat(1_000), MAX_WARNING_LENGTH));
    expect(parsed.at(-1)).toMatch(/^…and \d+ more warnings$/);
    expect(warningsHeaderValue(["plain"])).toBe('["plain"]');
  });
});

describe("error messages", () => {
  it("are bounded whatever a new message quotes", () => {
    const error = new GatewayError("invalid_request", "x".repeat(HUGE), {
      param: "p".repeat(HUGE),
    });
    expect(error.message.length).toBeLessThanOrEqual(2000);
    expect(error.param?.length).toBeLessThanOrEqual(2000);
    expect(JSON.stringify(error.toAnthropic()).length).toBeLessThan(4100);
  });
});

describe("what a client sends, repeated back", () => {
  it("a 100,000-character unknown provider field: a readable header, a valid event", async () => {
    const name = "f".repeat(HUGE);
    const response = await chat({ model: "openai", provider: { [name]: true } });
    expect(response.statusCode).toBe(200);
    const header = response.headers["x-switchboard-warnings"] as string;
    expect(header.length).toBeLessThan(200);
    expect(JSON.parse(header)).toEqual([
      `provider.${truncated(name)} is not supported by this gateway; it was ignored`,
    ]);
    expect(completion().warnings).toEqual(JSON.parse(header));
  });

  it("ten thousand unknown provider fields: eight named, the rest counted", async () => {
    const provider = Object.fromEntries(
      Array.from({ length: 10_000 }, (_, index) => [`unknown_${index}_${"z".repeat(50)}`, 1]),
    );
    const response = await chat({ model: "openai", provider });
    expect(response.statusCode).toBe(200);
    const warnings = JSON.parse(response.headers["x-switchboard-warnings"] as string) as string[];
    expect(warnings).toHaveLength(9);
    expect(warnings.at(-1)).toBe(
      "9992 more fields of provider are not supported by this gateway; they were ignored",
    );
    expect((response.headers["x-switchboard-warnings"] as string).length).toBeLessThanOrEqual(
      MAX_WARNINGS_HEADER_BYTES,
    );
  });

  it("a long provider.order slug is refused naming it, and route_decided quotes the order bounded", async () => {
    const refused = await chat({ model: "openai", provider: { order: ["s".repeat(HUGE)] } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.param).toBe("provider.order[0]");
    expect(refused.body.length).toBeLessThan(500);

    const order = Array.from({ length: 64 }, (_, index) => `${"v".repeat(250)}${index}`);
    const answered = await chat({ model: "openai", provider: { order } });
    expect(answered.statusCode).toBe(200);
    const decided = sink.events.find((each) => each.event_type === "route_decided") as RouteDecided;
    expect(decided.reason.length).toBeLessThan(500);
  });

  it("a 100,000-character model is a 400 naming model, with a short message", async () => {
    for (const url of ["/v1/chat/completions", "/v1/embeddings"]) {
      const response = await chat({ model: "m".repeat(HUGE), input: "x" }, url);
      expect(response.statusCode).toBe(400);
      expect(response.json().error.param).toBe("model");
      expect(response.body.length).toBeLessThan(500);
    }
    expect(sink.events).toEqual([]);
  });

  it("a long metadata key is named truncated", async () => {
    const response = await chat({ model: "openai", metadata: { ["k".repeat(HUGE)]: "v" } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.param).toBe(`metadata.${truncated("k".repeat(HUGE))}`);
    expect(response.body.length).toBeLessThan(500);
  });

  it("an unknown route's URL is quoted truncated", async () => {
    const response = await gateway.inject({ method: "GET", url: `/v1/${"u".repeat(10_000)}` });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe("not_found");
    expect(response.body.length).toBeLessThan(500);
  });
});
