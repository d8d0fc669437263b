// The columns event contract v2 added, as each export format carries them:
// who called and at what price (requests), the stable error code and what
// the gateway did next (attempts), how the task was found and each
// candidate's score (decisions). Arrow read back with apache-arrow.
import { type Table, tableFromIPC, util } from "apache-arrow";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventTime, newEventId } from "../../events/ids.ts";
import { formatDecimal } from "../../events/money.ts";
import type { RouteDecided } from "../../events/schemas.ts";
import { freshClickHouse, type TestClickHouse } from "../../test/fixtures/clickhouse.ts";
import { handLedger } from "../../test/fixtures/hand-ledger.ts";
import { loadEvents } from "../../test/fixtures/load-events.ts";
import { sampleAttemptFailed, sampleRequestCompleted } from "../../test/fixtures/sample-events.ts";
import { buildAnalytics } from "../app.ts";

let clickhouse: TestClickHouse;
let app: FastifyInstance;

const decision: RouteDecided = {
  event_id: newEventId(),
  event_type: "route_decided",
  schema_version: 2,
  occurred_at: eventTime(new Date("2026-11-20T10:19:58.000Z")),
  tenant_id: "acme",
  request_id: "r2",
  task: "code",
  task_source: "rule",
  request_model: "fast",
  policy: "cheapest",
  score_basis: "usd_per_estimated_request",
  candidates: [
    { vendor: "gamma", model: "m3", rank: 1, score: "0.000000000000000007", skipped_reason: null },
    { vendor: "alpha", model: "m1", rank: 2, score: "0.25", skipped_reason: null },
    { vendor: "beta", model: "m2", rank: 3, score: null, skipped_reason: "circuit open" },
  ],
  chosen_vendor: "gamma",
  chosen_model: "m3",
  reason: "cheapest first",
};

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  await loadEvents(clickhouse.client, [
    ...handLedger(),
    decision,
    sampleAttemptFailed({
      request_id: "r9",
      occurred_at: "2026-11-20T10:00:00.000Z",
      error_class: "rate_limited",
      error_code: "upstream_rate_limited",
      next_action: "retry",
      backoff_ms: 1500,
      http_status: 429,
    }),
    sampleRequestCompleted({
      request_id: "r9",
      occurred_at: "2026-11-20T10:00:02.000Z",
      cache_write_input_tokens: 7,
      reasoning_tokens: 11,
      usage_source: "estimated",
      service_tier: "flex",
      vendor_service_tier: "flex",
    }),
  ]);
  app = buildAnalytics({
    clickhouse: clickhouse.client,
    logger: pino({ level: "silent" }),
    exportOptions: { pageRows: 3, settleMs: 0 },
  });
});
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

async function ndjson(dataset: string): Promise<Record<string, unknown>[]> {
  const response = await app.inject(`/v1/export/${dataset}?format=ndjson`);
  expect(response.statusCode, response.body).toBe(200);
  return response.body
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
}

async function arrow(dataset: string): Promise<Table> {
  const response = await app.inject(`/v1/export/${dataset}?format=arrow`);
  expect(response.statusCode).toBe(200);
  return tableFromIPC(response.rawPayload);
}

function column(table: Table, name: string): unknown[] {
  const child = table.getChild(name);
  return Array.from({ length: table.numRows }, (_, index) => child?.get(index));
}

describe("exports carry event contract v2", () => {
  it("requests: key, team, tags, both costs, contract, price known and the usage detail", async () => {
    const rows = await ndjson("requests");
    const byRequest = new Map(rows.map((row) => [row.request_id, row]));
    expect(byRequest.get("r1")).toMatchObject({
      key_id: "acme-search",
      team: "search",
      tags: ["prod", "search"],
      cost_usd: "0.1",
      list_cost_usd: "0.125",
      contract_id: "acme-alpha",
      price_known: true,
    });
    expect(byRequest.get("r3")).toMatchObject({ price_known: false, list_cost_usd: "0" });
    // No team or key in the event: null in the export, not the table's ''.
    expect(byRequest.get("r4")).toMatchObject({ key_id: "acme-batch", team: null, tags: [] });
    expect(byRequest.get("r9")).toMatchObject({
      cache_write_input_tokens: "7",
      reasoning_tokens: "11",
      usage_source: "estimated",
      // request_completed v4: the tier billed and the vendor's word for it.
      service_tier: "flex",
      vendor_service_tier: "flex",
    });
    expect(byRequest.get("r1")).toMatchObject({
      service_tier: "standard",
      vendor_service_tier: null,
    });

    const table = await arrow("requests");
    const types = Object.fromEntries(
      table.schema.fields.map((field) => [field.name, String(field.type)]),
    );
    expect(types).toMatchObject({
      list_cost_usd: "Decimal[38e+18]",
      price_known: "Bool",
      tags: "List<Utf8>",
    });
    const requestIds = column(table, "request_id");
    const at = (requestId: string) => requestIds.indexOf(requestId);
    const tags = column(table, "tags") as { toArray(): string[] }[];
    expect(Array.from(tags[at("r1")]?.toArray() ?? [])).toEqual(["prod", "search"]);
    const listCosts = column(table, "list_cost_usd").map((value) =>
      formatDecimal(util.bigNumToBigInt(value as never), 18),
    );
    expect(listCosts[at("r2")]).toBe("0.25");
    expect(listCosts[at("r4")]).toBe("0.000000000000000001");
    expect(column(table, "price_known")[at("r3")]).toBe(false);
    expect(column(table, "team")[at("r5")]).toBeNull();
  });

  it("attempts: the stable error code, the next action and the backoff", async () => {
    const rows = await ndjson("attempts");
    expect(rows.find((row) => row.request_id === "r9")).toMatchObject({
      error_class: "rate_limited",
      error_code: "upstream_rate_limited",
      next_action: "retry",
      backoff_ms: 1500,
    });
    expect(rows.find((row) => row.request_id === "r2")).toMatchObject({
      error_code: "upstream_server_error",
      next_action: "next_candidate",
      backoff_ms: null,
    });
    const table = await arrow("attempts");
    expect(column(table, "error_code").sort()).toEqual([
      "upstream_rate_limited",
      "upstream_server_error",
    ]);
  });

  it("decisions: task source, score basis and each candidate's exact score beside it", async () => {
    const [row] = await ndjson("decisions");
    expect(row).toMatchObject({
      task_source: "rule",
      policy: "cheapest",
      score_basis: "usd_per_estimated_request",
      candidates: [
        { vendor: "gamma", model: "m3", rank: 1, skipped_reason: null },
        { vendor: "alpha", model: "m1", rank: 2, skipped_reason: null },
        { vendor: "beta", model: "m2", rank: 3, skipped_reason: "circuit open" },
      ],
      candidate_scores: ["0.000000000000000007", "0.25", null],
    });

    const table = await arrow("decisions");
    expect(
      String(table.schema.fields.find((field) => field.name === "candidate_scores")?.type),
    ).toBe("List<Decimal[38e+18]>");
    const list = table.getChild("candidate_scores")?.get(0);
    const decoded = Array.from({ length: list?.length ?? 0 }, (_, index) => {
      const value = list?.get(index);
      return value === null ? null : formatDecimal(util.bigNumToBigInt(value), 18);
    });
    expect(decoded).toEqual(["0.000000000000000007", "0.25", null]);
  });
});
