import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventTime } from "../events/ids.ts";
import type { SwitchboardEvent } from "../events/schemas.ts";
import { topicFor } from "../events/topics.ts";
import { EventLoader } from "../ingest/loader.ts";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { sampleAttemptFailed, sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { buildAnalytics } from "./app.ts";

let clickhouse: TestClickHouse;
let app: FastifyInstance;
const at = "2026-11-20T10:00:00.000Z";

function failedAttempt(vendor: string, task: string): SwitchboardEvent {
  return sampleAttemptFailed({
    occurred_at: eventTime(new Date(at)),
    request_id: "r",
    task,
    vendor,
    model: "m",
    latency_ms: 3,
  });
}

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  const events: SwitchboardEvent[] = [
    sampleRequestCompleted({
      vendor: "alpha",
      task: "code",
      cost_usd: "0.1",
      input_tokens: 10,
      output_tokens: 1,
      latency_ms: 10,
    }),
    sampleRequestCompleted({
      vendor: "alpha",
      task: "code",
      cost_usd: "0.2",
      input_tokens: 20,
      output_tokens: 2,
      latency_ms: 20,
    }),
    sampleRequestCompleted({
      vendor: "alpha",
      task: "code",
      cost_usd: "0",
      status: "error",
      http_status: 502,
      latency_ms: 30,
      input_tokens: 0,
      output_tokens: 0,
    }),
    sampleRequestCompleted({
      vendor: "beta",
      task: "code",
      cost_usd: "0.000000000000000001",
      input_tokens: 1,
      output_tokens: 1,
      latency_ms: 5,
    }),
    sampleRequestCompleted({
      vendor: "beta",
      task: "general",
      tenant_id: "globex",
      cost_usd: "1.5",
      input_tokens: 3,
      output_tokens: 4,
      latency_ms: 7,
    }),
    // outside the window asked for below
    sampleRequestCompleted({
      vendor: "alpha",
      task: "code",
      cost_usd: "100",
      occurred_at: "2026-10-01T00:00:00.000Z",
    }),
    failedAttempt("alpha", "code"),
    failedAttempt("gamma", "code"),
  ];
  await new EventLoader(clickhouse.client, new RecordingSink()).store(
    events.map((event, index) => ({
      topic: topicFor(event.event_type),
      partition: 0,
      offset: String(index),
      key: event.request_id,
      value: Buffer.from(JSON.stringify(event)),
    })),
  );
  app = buildAnalytics({ clickhouse: clickhouse.client, logger: pino({ level: "silent" }) });
});
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

const window = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z";

describe("GET /v1/matrix", () => {
  it("groups by vendor and task with exact money and counts computed by hand", async () => {
    const response = await app.inject(`/v1/matrix?${window}`);
    expect(response.statusCode).toBe(200);
    expect(response.json().rows).toEqual([
      {
        vendor: "alpha",
        task: "code",
        requests: 3,
        succeeded: 2,
        failed_attempts: 1,
        input_tokens: 30,
        output_tokens: 3,
        cost_usd: "0.3",
        cost_per_success_usd: "0.15",
        latency_ms_p50: 20,
        latency_ms_p95: 30,
      },
      {
        vendor: "beta",
        task: "code",
        requests: 1,
        succeeded: 1,
        failed_attempts: 0,
        input_tokens: 1,
        output_tokens: 1,
        cost_usd: "0.000000000000000001",
        cost_per_success_usd: "0.000000000000000001",
        latency_ms_p50: 5,
        latency_ms_p95: 5,
      },
      expect.objectContaining({ vendor: "beta", task: "general", requests: 1, cost_usd: "1.5" }),
      {
        vendor: "gamma",
        task: "code",
        requests: 0,
        succeeded: 0,
        failed_attempts: 1,
        input_tokens: 0,
        output_tokens: 0,
        cost_usd: "0",
        cost_per_success_usd: null,
        latency_ms_p50: null,
        latency_ms_p95: null,
      },
    ]);
  });

  it("groups by tenant", async () => {
    const response = await app.inject(`/v1/matrix?${window}&group_by=tenant`);
    expect(
      response
        .json()
        .rows.map((row: { tenant: string; cost_usd: string }) => [row.tenant, row.cost_usd]),
    ).toEqual([
      ["acme", "0.300000000000000001"],
      ["globex", "1.5"],
    ]);
  });

  it.each([
    ["group_by=vendor,colour", "group_by"],
    ["group_by=vendor,vendor", "group_by"],
    ["from=yesterday", "from"],
    ["from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z", "from"],
    ["limit=5", "limit"],
  ])("answers 400 naming the field for %s", async (query, field) => {
    const response = await app.inject(`/v1/matrix?${query}`);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: { code: "invalid_parameter", field, message: expect.any(String) },
    });
  });
});
