// A client that closes its connection is no fault of the vendor's: the
// request and the attempt are recorded as client_closed (499), and no number
// of departures opens the vendor's circuit breaker. Found by the gateway
// bench, where wrk cutting its streams at the end of a run opened every
// breaker and the next run got nothing but 503s.
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { request } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildGateway } from "../../gateway/app.ts";
import { sha256Hex } from "../../gateway/auth.ts";
import { gatewayConfig } from "../../gateway/config.ts";
import { PriceCatalog } from "../../gateway/pricing.ts";
import { type RunningSimulator, startSimulator } from "../../simulator/index.ts";
import { RecordingSink } from "../fixtures/recording-sink.ts";

const KEY = "sk-client-gone";
// More departures than the breaker tolerates failures in a row.
const DEPARTURES = 4;

let simulator: RunningSimulator;
let gateway: FastifyInstance;
let url: string;
const sink = new RecordingSink();

beforeAll(async () => {
  // Every token 5 ms apart (an answer takes about half a second), so a client
  // can leave in the middle of a stream.
  simulator = await startSimulator({
    models: [{ id: "slow" }, { id: "silent" }],
    faultsByModel: { silent: { timeout: 1 } },
    latency: { firstByteMs: { median: 0, p95: 0 }, interTokenMs: 5 },
  });
  const config = gatewayConfig.parse({
    price_catalog: "-",
    api_keys: [{ id: "gone", tenant: "acme", sha256: sha256Hex(KEY) }],
    vendors: [{ id: "sim", protocol: "openai", base_url: `${simulator.url}/v1`, api_key: "x" }],
    routes: [
      { model: "slow", fallback: [{ vendor: "sim", model: "slow" }] },
      { model: "silent", fallback: [{ vendor: "sim", model: "silent" }] },
    ],
    routing: { circuit_breaker: { consecutive_failures: DEPARTURES - 1 } },
  });
  const prices = new PriceCatalog({
    version: "gone-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: ["slow", "silent"].map((model) => ({ vendor: "sim", model, input: "1", output: "2" })),
  });
  gateway = buildGateway({ config, prices, sink, logger: pino({ level: "silent" }) });
  await gateway.listen({ host: "127.0.0.1", port: 0 });
  url = `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}/v1/chat/completions`;
});
afterAll(async () => {
  await gateway?.close();
  await simulator?.close();
});
beforeEach(() => {
  sink.appended.length = 0;
});

function send(model: string, stream: boolean, signal?: AbortSignal) {
  return request(url, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "Hello" }] }),
    signal,
  });
}

/** Resolves once the gateway has published a request_completed for every departure. */
async function completions(count: number) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const done = sink.events.filter((event) => event.event_type === "request_completed");
    if (done.length >= count || Date.now() > deadline) return done;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("a client that leaves", () => {
  it("mid-stream: recorded as client_closed, and the breaker stays closed", async () => {
    for (let index = 0; index < DEPARTURES; index += 1) {
      const leave = new AbortController();
      const response = await send("slow", true, leave.signal);
      const reader = response.body[Symbol.asyncIterator]();
      await reader.next(); // the first frames have arrived
      leave.abort();
      await reader.next().catch(() => undefined);
    }
    const done = await completions(DEPARTURES);
    expect(done.map((event) => [event.status, event.http_status, event.error_class])).toEqual(
      Array.from({ length: DEPARTURES }, () => ["error", 499, "client_closed"]),
    );
    // No attempt_failed: the vendor did nothing wrong.
    expect(sink.events.filter((event) => event.event_type === "attempt_failed")).toEqual([]);

    const next = await send("slow", true);
    expect(next.statusCode).toBe(200);
    expect(next.headers["x-switchboard-vendor"]).toBe("sim");
    await next.body.text();
  });

  it("before any answer: the attempt ends as client_closed, not a timeout, and the breaker stays closed", async () => {
    for (let index = 0; index < DEPARTURES; index += 1) {
      const leave = new AbortController();
      const pending = send("silent", false, leave.signal).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
      leave.abort();
      await pending;
    }
    const done = await completions(DEPARTURES);
    expect(done.map((event) => [event.status, event.http_status, event.error_class])).toEqual(
      Array.from({ length: DEPARTURES }, () => ["error", 499, "client_closed"]),
    );
    const attempts = sink.events.filter((event) => event.event_type === "attempt_failed");
    expect(
      attempts.map((event) => [event.error_code, event.error_class, event.next_action]),
    ).toEqual(
      Array.from({ length: DEPARTURES }, () => ["client_closed", "client_closed", "give_up"]),
    );

    // Still routed to, not skipped as circuit_open: it times out on its own schedule instead.
    sink.appended.length = 0;
    const leave = new AbortController();
    const pending = send("silent", false, leave.signal).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const decision = sink.events.find((event) => event.event_type === "route_decided");
    expect(decision?.candidates.map((candidate) => candidate.skipped_reason)).toEqual([null]);
    leave.abort();
    await pending;
  });
});
