// The gateway's /metrics after real traffic through it: a fake vendor that
// answers 503 (`down`) in front of one that answers (`up`), a breaker that
// opens after two failures. The text is checked by `promtool check metrics`
// (Debian's prometheus package; CI installs it) and read back with a small
// parser of the text format to check each series' value and that every
// label value is bounded by configuration.
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkWithPromtool,
  parsePrometheusText,
  sampleValue,
} from "../../test/fixtures/prometheus-text.ts";
import { RecordingSink } from "../../test/fixtures/recording-sink.ts";
import {
  askSmart,
  DOWN_THEN_UP_PRICES,
  downThenUp,
  type ScriptedVendor,
  startScriptedVendor,
} from "../../test/fixtures/scripted-openai-vendor.ts";
import { buildGateway } from "../app.ts";
import { sha256Hex } from "../auth.ts";
import { gatewayConfig } from "../config.ts";

const KEY = "sk-metrics-test";

let vendor: ScriptedVendor;
let gateway: FastifyInstance;
let url: string;

beforeAll(async () => {
  vendor = await startScriptedVendor();
  const config = gatewayConfig.parse({
    ...downThenUp(vendor),
    api_keys: [{ id: "metrics", tenant: "acme", sha256: sha256Hex(KEY) }],
    routing: {
      retry: { max_retries_per_candidate: 0 },
      circuit_breaker: { consecutive_failures: 2 },
    },
    budgets: [
      {
        id: "monthly-spend",
        scope: "key",
        scope_id: "metrics",
        unit: "usd",
        period: "month",
        soft_limit: "5",
        hard_limit: "10",
      },
    ],
  });
  gateway = buildGateway({
    config,
    prices: DOWN_THEN_UP_PRICES,
    sink: new RecordingSink(),
    metrics: new Registry(),
    logger: pino({ level: "silent" }),
  });
  url = await gateway.listen({ host: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await gateway.close();
  await vendor.close();
});

async function ask(stream: boolean, headers: Record<string, string> = {}): Promise<string> {
  const answer = await askSmart(url, { key: KEY, prompt: "hello", stream, headers });
  expect(answer.status).toBe(200);
  return answer.requestId ?? "";
}

describe("the gateway's /metrics", () => {
  it("counts requests, attempts, failovers, latency, tokens, cost, breakers and budgets, with bounded labels", async () => {
    const ids = [
      await ask(false), // down fails (1), up answers
      await ask(true), // down fails (2): its breaker opens; up answers, streamed
      // down skipped (open); a task no config names is counted as `other`
      await ask(false, { "x-switchboard-task": "adhoc-task-4711" }),
    ];
    const refused = await askSmart(url, { key: "sk-not-a-key", prompt: "hello", stream: false });
    expect(refused.status).toBe(401);
    // Pinned to `down`, whose breaker is open: no candidate is tried.
    const untried = await askSmart(url, {
      key: KEY,
      prompt: "hello",
      stream: false,
      model: "down/m-down",
    });
    expect(untried.status).toBe(503);
    const response = await fetch(`${url}/metrics`);
    const text = await response.text();

    checkWithPromtool(text);

    const samples = parsePrometheusText(text);
    const up = { vendor: "up", model: "m-up" };
    const down = { vendor: "down", model: "m-down" };
    const general = { task: "general" };
    const other = { task: "other" };
    const requests = "switchboard_gateway_requests_total";
    expect(sampleValue(samples, requests, { ...up, ...general, outcome: "success" })).toBe(2);
    expect(sampleValue(samples, requests, { ...up, ...other, outcome: "success" })).toBe(1);
    expect(
      sampleValue(samples, requests, {
        vendor: "none",
        model: "none",
        ...general,
        outcome: "server_error",
      }),
    ).toBe(1);
    const attempts = "switchboard_gateway_attempts_total";
    expect(sampleValue(samples, attempts, { ...down, ...general, outcome: "server_error" })).toBe(
      2,
    );
    expect(sampleValue(samples, attempts, { ...up, ...general, outcome: "success" })).toBe(2);
    expect(sampleValue(samples, attempts, { ...up, ...other, outcome: "success" })).toBe(1);
    expect(
      sampleValue(samples, "switchboard_gateway_failovers_total", {
        ...down,
        ...general,
        outcome: "server_error",
      }),
    ).toBe(2);
    const duration = "switchboard_gateway_request_duration_seconds";
    expect(
      sampleValue(samples, `${duration}_count`, { ...up, ...general, status: "success" }),
    ).toBe(2);
    expect(
      sampleValue(samples, `${duration}_bucket`, {
        ...up,
        ...general,
        status: "success",
        le: "+Inf",
      }),
    ).toBe(2);
    expect(
      sampleValue(samples, "switchboard_gateway_time_to_first_token_seconds_count", {
        ...up,
        ...general,
      }),
    ).toBe(1);
    const tokens = "switchboard_gateway_tokens_total";
    expect(sampleValue(samples, tokens, { ...up, ...general, type: "input" })).toBe(42);
    expect(sampleValue(samples, tokens, { ...up, ...general, type: "output" })).toBe(16);
    // 21 input at $1/M and 8 output at $2/M, twice: 0.000074 (a float here; exact in the ledger).
    expect(
      sampleValue(samples, "switchboard_gateway_cost_usd_total", { ...up, ...general }),
    ).toBeCloseTo(0.000074, 12);
    const breaker = "switchboard_gateway_circuit_breaker_state";
    expect(sampleValue(samples, breaker, { ...down, state: "open" })).toBe(1);
    expect(sampleValue(samples, breaker, { ...down, state: "closed" })).toBe(0);
    expect(sampleValue(samples, breaker, { ...up, state: "closed" })).toBe(1);
    const headroom = "switchboard_gateway_budget_headroom";
    expect(
      sampleValue(samples, headroom, { budget: "monthly-spend", unit: "usd", limit: "hard" }),
    ).toBeCloseTo(10 - 0.000111, 9);
    expect(
      sampleValue(samples, headroom, { budget: "monthly-spend", unit: "usd", limit: "soft" }),
    ).toBeCloseTo(5 - 0.000111, 9);

    for (const code of ["invalid_api_key", "upstream_overloaded"]) {
      expect(
        sampleValue(samples, "switchboard_gateway_error_answers_total", {
          route: "/v1/chat/completions",
          code,
        }),
      ).toBe(1);
    }

    // Bounded labels: configured names, `other` and `none` only; no request id, key or tenant.
    for (const sample of samples.filter((each) => each.name.startsWith("switchboard_gateway_"))) {
      if ("vendor" in sample.labels) {
        expect(["down", "up", "slow", "other", "none"]).toContain(sample.labels.vendor);
      }
      if ("task" in sample.labels) expect(["general", "other"]).toContain(sample.labels.task);
    }
    for (const id of [...ids, refused.requestId ?? "", untried.requestId ?? ""]) {
      expect(text).not.toContain(id);
    }
    expect(text).not.toContain("adhoc-task-4711");
    expect(text).not.toContain("acme");
    expect(text).not.toContain(KEY);
  });
});
