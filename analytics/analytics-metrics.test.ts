// The analytics API's metrics, on a real (embedded) ClickHouse: answers per
// route pattern, method and status, their latency, and rows exported; the
// text checked by promtool where installed and read back with a parser.
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import {
  checkWithPromtool,
  parsePrometheusText,
  sampleValue,
} from "../test/fixtures/prometheus-text.ts";
import { sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { buildAnalytics } from "./app.ts";

let clickhouse: TestClickHouse;
let app: FastifyInstance;
const registry = new Registry();

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  await loadEvents(
    clickhouse.client,
    Array.from({ length: 3 }, (_, index) =>
      sampleRequestCompleted({
        request_id: `metrics-${index}`,
        occurred_at: new Date(Date.now() - (index + 1) * 60_000).toISOString(),
      }),
    ),
  );
  app = buildAnalytics({
    clickhouse: clickhouse.client,
    logger: pino({ level: "silent" }),
    exportOptions: { pageRows: 100, settleMs: 0 },
    metrics: registry,
  });
});
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

describe("the analytics API's metrics", () => {
  it("counts answers by route pattern and status, their latency, and export rows", async () => {
    expect((await app.inject({ url: "/v1/export/requests?format=csv" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/v1/vendors/alpha/brief?from=-1h" })).statusCode).toBe(200);
    // A vendor with no requests: 404, under the same route pattern.
    expect((await app.inject({ url: "/v1/vendors/beta-9931/brief?from=-1h" })).statusCode).toBe(
      404,
    );
    expect((await app.inject({ url: "/v1/matrix?group_by=nonsense" })).statusCode).toBe(400);
    expect((await app.inject({ url: "/no/such/path-5521" })).statusCode).toBe(404);

    const text = await registry.metrics();
    checkWithPromtool(text);
    const samples = parsePrometheusText(text);
    const requests = "switchboard_analytics_requests_total";
    const brief = { route: "/v1/vendors/:vendor/brief", method: "GET" };
    expect(sampleValue(samples, requests, { ...brief, status: "200" })).toBe(1);
    expect(sampleValue(samples, requests, { ...brief, status: "404" })).toBe(1);
    expect(
      sampleValue(samples, requests, { route: "/v1/matrix", method: "GET", status: "400" }),
    ).toBe(1);
    expect(
      sampleValue(samples, requests, { route: "unmatched", method: "GET", status: "404" }),
    ).toBe(1);
    expect(
      sampleValue(samples, "switchboard_analytics_request_duration_seconds_count", brief),
    ).toBe(2);
    expect(
      sampleValue(samples, "switchboard_analytics_export_rows_total", {
        dataset: "requests",
        format: "csv",
      }),
    ).toBe(3);
    // Route patterns, never the URL as sent.
    expect(text).not.toContain("beta-9931");
    expect(text).not.toContain("path-5521");
    expect(text).not.toContain("nonsense");
  });
});
