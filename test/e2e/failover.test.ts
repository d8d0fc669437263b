// One failover scenario per failure kind, through the real gateway against the
// simulator, asserting exactly the events each publishes. Backoff waits are
// recorded, not slept; the jitter draw is pinned at 0.5.
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SwitchboardEvent } from "../../events/schemas.ts";
import { buildGateway } from "../../gateway/app.ts";
import { sha256Hex } from "../../gateway/auth.ts";
import { gatewayConfig } from "../../gateway/config.ts";
import { PriceCatalog } from "../../gateway/pricing.ts";
import { type RunningSimulator, startSimulator } from "../../simulator/index.ts";
import { RecordingSink } from "../fixtures/recording-sink.ts";

const KEY = "sk-failover";
const FAILING = {
  limited: { rateLimited: 1 },
  broken: { serverError: 1 },
  overloaded: { overloaded: 1 },
  hanging: { timeout: 1 },
  "hanging-too": { timeout: 1 },
  "stream-error": { streamError: 1 },
  "stream-cut": { streamCut: 1 },
  trip: { serverError: 1 },
  doomed: { serverError: 1 },
};

let simulator: RunningSimulator;
let gateway: FastifyInstance;
const sink = new RecordingSink();
const waits: number[] = [];
const clock = { now: Date.parse("2026-03-01T00:00:00Z") };

beforeAll(async () => {
  simulator = await startSimulator({
    models: [{ id: "good" }, ...Object.keys(FAILING).map((id) => ({ id }))],
    faultsByModel: FAILING,
  });
  const vendor = (id: string, base_url: string, extra = {}) => ({
    id,
    protocol: "openai",
    base_url,
    api_key: "x",
    ...extra,
  });
  const route = (model: string, first: { vendor: string; model: string }) => ({
    model,
    fallback: [first, { vendor: "sim", model: "good" }],
  });
  const config = gatewayConfig.parse({
    price_catalog: "-",
    api_keys: [{ id: "failover", tenant: "acme", sha256: sha256Hex(KEY) }],
    vendors: [
      vendor("sim", `${simulator.url}/v1`),
      vendor("slow", `${simulator.url}/v1`, { first_byte_timeout_ms: 150 }),
      vendor("down", "http://127.0.0.1:9/v1"),
    ],
    routes: [
      route("on-429", { vendor: "sim", model: "limited" }),
      route("on-500", { vendor: "sim", model: "broken" }),
      route("on-503", { vendor: "sim", model: "overloaded" }),
      route("on-refused", { vendor: "down", model: "good" }),
      route("on-first-byte-timeout", { vendor: "slow", model: "hanging" }),
      // Its own candidate, so its own circuit breaker.
      route("timed-first-byte", { vendor: "slow", model: "hanging-too" }),
      route("on-stream-error", { vendor: "sim", model: "stream-error" }),
      route("on-stream-cut", { vendor: "sim", model: "stream-cut" }),
      route("on-trip", { vendor: "sim", model: "trip" }),
      { model: "hopeless", fallback: [{ vendor: "sim", model: "doomed" }] },
    ],
    routing: {
      retry: {
        max_retries_per_candidate: 1,
        base_backoff_ms: 100,
        max_backoff_ms: 1_000,
        max_retry_after_ms: 5_000,
      },
      // High enough that no scenario but the breaker's own trips one.
      circuit_breaker: { consecutive_failures: 3, min_requests: 100, cool_down_ms: 10_000 },
    },
  });
  const prices = new PriceCatalog({
    version: "failover-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: [
      { vendor: "sim", model: "good", input: "1", output: "2" },
      ...Object.keys(FAILING).map((model) => ({ vendor: "sim", model, input: "1", output: "2" })),
      { vendor: "slow", model: "hanging", input: "1", output: "2" },
      { vendor: "slow", model: "hanging-too", input: "1", output: "2" },
      { vendor: "down", model: "good", input: "1", output: "2" },
    ],
  });
  gateway = buildGateway({
    config,
    prices,
    sink,
    logger: pino({ level: "silent" }),
    clock: () => clock.now,
    routing: {
      random: () => 0.5,
      sleep: async (milliseconds) => {
        waits.push(milliseconds);
      },
    },
  });
});
afterAll(async () => {
  await gateway?.close();
  await simulator?.close();
});
beforeEach(() => {
  sink.appended.length = 0;
  waits.length = 0;
});

const messages = [{ role: "user", content: "Name three rivers." }];

function post(model: string, stream = false) {
  return gateway.inject({
    method: "POST",
    url: "/v1/chat/completions",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    payload: JSON.stringify({ model, messages, stream }),
  });
}

/** Each event in order, reduced to what routing and failure handling decide. */
function timeline(): unknown[] {
  return sink.events.map((event: SwitchboardEvent) => {
    switch (event.event_type) {
      case "route_decided":
        return {
          type: "route_decided",
          candidates: event.candidates.map(
            (candidate) => `${candidate.vendor}/${candidate.model} ${candidate.skipped_reason}`,
          ),
          chosen: `${event.chosen_vendor}/${event.chosen_model}`,
          task_source: event.task_source,
        };
      case "attempt_failed":
        return {
          type: "attempt_failed",
          target: `${event.vendor}/${event.model}`,
          attempt: event.attempt,
          error_code: event.error_code,
          error_class: event.error_class,
          http_status: event.http_status,
          next_action: event.next_action,
          backoff_ms: event.backoff_ms,
        };
      case "request_completed":
        return {
          type: "request_completed",
          target: `${event.vendor}/${event.model}`,
          attempts: event.attempts,
          status: event.status,
          http_status: event.http_status,
        };
      default:
        return { type: event.event_type };
    }
  });
}

const decided = (first: string) => ({
  type: "route_decided",
  candidates: [`${first} null`, "sim/good null"],
  chosen: first,
  task_source: "default",
});
const failed = (
  target: string,
  attempt: number,
  code: string,
  errorClass: string,
  status: number | null,
  next: string,
  backoff: number | null,
) => ({
  type: "attempt_failed",
  target,
  attempt,
  error_code: code,
  error_class: errorClass,
  http_status: status,
  next_action: next,
  backoff_ms: backoff,
});
const answered = (attempts: number) => ({
  type: "request_completed",
  target: "sim/good",
  attempts,
  status: "success",
  http_status: 200,
});

describe("failover per failure kind: exactly the events", () => {
  it.each([
    // model, failing candidate, code, class, status, the retry's wait (retry-after, or full jitter 0.5 × 100 ms)
    ["on-429", "sim/limited", "upstream_rate_limited", "rate_limited", 429, 1_000],
    ["on-500", "sim/broken", "upstream_server_error", "server_error", 500, 50],
    ["on-503", "sim/overloaded", "upstream_overloaded", "server_error", 503, 50],
    ["on-refused", "down/good", "upstream_unreachable", "connect_error", null, 50],
    ["on-first-byte-timeout", "slow/hanging", "upstream_timeout", "timeout", null, 50],
  ])(
    "%s: retried once after its wait, then the next candidate answers",
    async (model, first, code, errorClass, status, backoff) => {
      const response = await post(model);
      expect(response.statusCode).toBe(200);
      expect(response.headers["x-switchboard-attempts"]).toBe("3");
      expect(timeline()).toEqual([
        decided(first),
        failed(first, 1, code, errorClass, status, "retry", backoff),
        failed(first, 2, code, errorClass, status, "next_candidate", null),
        answered(3),
      ]);
      expect(waits).toEqual([backoff]);
    },
  );

  it("a first-byte timeout fires at its setting (150 ms), not at undici's one-second tick", async () => {
    await post("timed-first-byte");
    const waited = sink.events.flatMap((event) =>
      event.event_type === "attempt_failed" ? [event.latency_ms] : [],
    );
    expect(waited).toHaveLength(2);
    for (const milliseconds of waited) {
      expect(milliseconds).toBeGreaterThanOrEqual(150);
      expect(milliseconds).toBeLessThan(900);
    }
  });

  it("a stream whose first event is an error fails over before the client sees a byte", async () => {
    const response = await post("on-stream-error", true);
    expect(response.statusCode).toBe(200);
    expect(response.headers["x-switchboard-vendor"]).toBe("sim");
    expect(response.headers["x-switchboard-model"]).toBe("good");
    expect(response.body).not.toContain('"error"');
    expect(response.body.trimEnd().endsWith("data: [DONE]")).toBe(true);
    const code = "upstream_stream_failed";
    expect(timeline()).toEqual([
      decided("sim/stream-error"),
      failed("sim/stream-error", 1, code, "server_error", null, "retry", 50),
      failed("sim/stream-error", 2, code, "server_error", null, "next_candidate", null),
      answered(3),
    ]);
  });

  it("a stream cut after its first byte ends with the protocol's error frame, and no failover", async () => {
    const response = await post("on-stream-cut", true);
    expect(response.statusCode).toBe(200);
    const frames = response.body.split("\n\n").filter(Boolean);
    expect(JSON.parse(frames[0]?.slice(6) ?? "{}").choices[0].delta.role).toBe("assistant");
    expect(JSON.parse(frames.at(-1)?.slice(6) ?? "{}")).toMatchObject({
      error: { code: "upstream_stream_failed" },
    });
    expect(timeline()).toEqual([
      decided("sim/stream-cut"),
      {
        ...failed(
          "sim/stream-cut",
          1,
          "upstream_stream_failed",
          "connect_error",
          null,
          "give_up",
          null,
        ),
      },
      {
        type: "request_completed",
        target: "sim/stream-cut",
        attempts: 1,
        status: "error",
        http_status: 200,
      },
    ]);
    expect(waits).toEqual([]);
  });

  it("gives up when the last candidate's retries are spent, and says so", async () => {
    const response = await post("hopeless");
    expect(response.statusCode).toBe(502);
    expect(response.json().error.code).toBe("upstream_server_error");
    expect(timeline()).toEqual([
      {
        type: "route_decided",
        candidates: ["sim/doomed null"],
        chosen: "sim/doomed",
        task_source: "default",
      },
      failed("sim/doomed", 1, "upstream_server_error", "server_error", 500, "retry", 50),
      failed("sim/doomed", 2, "upstream_server_error", "server_error", 500, "give_up", null),
      {
        type: "request_completed",
        target: "sim/doomed",
        attempts: 2,
        status: "error",
        http_status: 502,
      },
    ]);
  });
});

describe("the circuit breaker, on the gateway's clock", () => {
  it("opens after 3 failures in a row, skips the candidate, probes after the cool-down, closes", async () => {
    // 1st request: 2 failures (retry), then good.
    await post("on-trip");
    // 2nd: the 3rd failure opens the breaker: no retry, straight to the next candidate.
    sink.appended.length = 0;
    await post("on-trip");
    expect(timeline()).toEqual([
      decided("sim/trip"),
      failed("sim/trip", 1, "upstream_server_error", "server_error", 500, "next_candidate", null),
      answered(2),
    ]);
    // 3rd: open, skipped.
    sink.appended.length = 0;
    const skipped = await post("on-trip");
    expect(skipped.headers["x-switchboard-attempts"]).toBe("1");
    expect(timeline()).toEqual([
      {
        type: "route_decided",
        candidates: ["sim/good null", "sim/trip circuit_open"],
        chosen: "sim/good",
        task_source: "default",
      },
      answered(1),
    ]);
    // After the cool-down, one probe: it fails, and the breaker reopens.
    clock.now += 10_000;
    sink.appended.length = 0;
    await post("on-trip");
    expect(timeline()).toEqual([
      decided("sim/trip"),
      failed("sim/trip", 1, "upstream_server_error", "server_error", 500, "next_candidate", null),
      answered(2),
    ]);
    sink.appended.length = 0;
    await post("on-trip");
    expect((timeline()[0] as { candidates: string[] }).candidates).toContain(
      "sim/trip circuit_open",
    );
    // The vendor recovers; the next probe succeeds and closes it.
    simulator.setFaults({}, "trip");
    clock.now += 10_000;
    sink.appended.length = 0;
    const probe = await post("on-trip");
    expect(probe.headers["x-switchboard-model"]).toBe("trip");
    sink.appended.length = 0;
    await post("on-trip");
    expect(timeline()[0]).toEqual(decided("sim/trip"));
  });
});
