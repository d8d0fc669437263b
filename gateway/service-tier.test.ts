// The service tier a request is billed at: the vendor's word wins, else the
// tier asked for, else standard; through the gateway against the simulator,
// which answers OpenAI's and Anthropic's tier fields as they do.
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { formatDecimal } from "../events/money.ts";
import type { RequestCompleted } from "../events/schemas.ts";
import { type RunningSimulator, startSimulator } from "../simulator/index.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { buildGateway } from "./app.ts";
import { sha256Hex } from "./auth.ts";
import { gatewayConfig } from "./config.ts";
import { PriceCatalog } from "./pricing.ts";
import { requestedServiceTier, servedTier } from "./service-tier.ts";

describe("the tier asked for", () => {
  it.each([
    [{ service_tier: "flex" }, "flex"],
    [{ service_tier: "priority" }, "priority"],
    [{ service_tier: "default" }, "standard"],
    [{ service_tier: "standard_only" }, "standard"],
    [{ service_tier: "auto" }, null],
    [{ service_tier: "scale" }, null],
    [{ service_tier: 3 }, null],
    [{}, null],
    [null, null],
  ])("%j asks for %s", (body, tier) => {
    expect(requestedServiceTier(body)).toBe(tier);
  });
});

describe("the tier billed", () => {
  it("is the vendor's when it names one, whatever was asked", () => {
    expect(servedTier("priority", "default")).toEqual({ tier: "standard", vendorWord: "default" });
    expect(servedTier(null, "batch")).toEqual({ tier: "batch", vendorWord: "batch" });
  });

  it("is the one asked for when the vendor names none, else standard", () => {
    expect(servedTier("flex", null)).toEqual({ tier: "flex", vendorWord: null });
    expect(servedTier(null, null)).toEqual({ tier: "standard", vendorWord: null });
  });

  it("falls back, with a warning, on a word no card tier expresses, which is kept", () => {
    expect(servedTier(null, "scale")).toEqual({
      tier: "standard",
      vendorWord: "scale",
      warning:
        'the vendor says service tier "scale" served this request, which no price card tier (standard, batch, flex, priority) expresses: billed at standard',
    });
  });
});

const KEY = "sk-tiers";
let simulator: RunningSimulator;
let gateway: FastifyInstance;
const sink = new RecordingSink();

beforeAll(async () => {
  simulator = await startSimulator({ models: [{ id: "large" }] });
  const config = gatewayConfig.parse({
    price_catalog: "-",
    api_keys: [{ id: "tiers", tenant: "acme", sha256: sha256Hex(KEY) }],
    vendors: [
      { id: "oai", protocol: "openai", base_url: `${simulator.url}/v1`, api_key: "x" },
      { id: "ant", protocol: "anthropic", base_url: `${simulator.url}/v1`, api_key: "x" },
    ],
    routes: [
      { model: "openai-large", fallback: [{ vendor: "oai", model: "large" }] },
      { model: "anthropic-large", fallback: [{ vendor: "ant", model: "large" }] },
    ],
  });
  // Round rates, so each cost below is the event's own counts times them.
  const card = (vendor: string) => ({
    vendor,
    model: "large",
    input: "3",
    output: "6",
    service_tiers: {
      flex: { input: "1", output: "2" },
      priority: { input: "5", output: "10" },
    },
  });
  const prices = new PriceCatalog({
    version: "tiers-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: [card("oai"), card("ant")],
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

async function completion(body: Record<string, unknown>): Promise<RequestCompleted> {
  const response = await gateway.inject({
    method: "POST",
    url: "/v1/chat/completions",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    payload: JSON.stringify({ messages: [{ role: "user", content: "Name a colour." }], ...body }),
  });
  expect(response.statusCode, response.body).toBe(200);
  const [event] = sink.events.filter((each) => each.event_type === "request_completed");
  if (event?.event_type !== "request_completed") throw new Error("no request_completed");
  return event;
}

/** USD for the event's own counts at these per-million rates: (input × in + output × out) / 10^6. */
function costAt(event: RequestCompleted, input: bigint, output: bigint): string {
  const perMillion = BigInt(event.input_tokens) * input + BigInt(event.output_tokens) * output;
  return formatDecimal(perMillion * 10n ** 12n);
}

describe("through the gateway", () => {
  it("bills an OpenAI flex request at the card's flex rates, as the answer says", async () => {
    const event = await completion({ model: "openai-large", service_tier: "flex" });
    // input × 1 + output × 2 per million
    expect(event).toMatchObject({
      service_tier: "flex",
      vendor_service_tier: "flex",
      cost_usd: costAt(event, 1n, 2n),
      warnings: [],
    });
  });

  it("bills at standard what OpenAI served at default, asked for nothing or scale", async () => {
    for (const body of [{}, { service_tier: "scale" }, { service_tier: "auto" }]) {
      sink.appended.length = 0;
      const event = await completion({ model: "openai-large", ...body });
      // input × 3 + output × 6 per million
      expect(event).toMatchObject({
        service_tier: "standard",
        vendor_service_tier: "default",
        cost_usd: costAt(event, 3n, 6n),
      });
    }
  });

  it("takes Anthropic's word over the tier asked: flex asked, standard served", async () => {
    const event = await completion({ model: "anthropic-large", service_tier: "flex" });
    expect(event).toMatchObject({
      service_tier: "standard",
      vendor_service_tier: "standard",
      cost_usd: costAt(event, 3n, 6n),
    });
  });

  it("bills a stream at the tier asked for, its own word not read yet", async () => {
    const event = await completion({
      model: "openai-large",
      service_tier: "priority",
      stream: true,
      stream_options: { include_usage: true },
    });
    // input × 5 + output × 10 per million
    expect(event).toMatchObject({
      service_tier: "priority",
      vendor_service_tier: null,
      cost_usd: costAt(event, 5n, 10n),
    });
  });
});
