// The matrix from the hourly rollups (quantile_method=t-digest, the default)
// equals the matrix from the raw tables (quantile_method=exact) on the same
// data: every count, token sum and money figure (contracted and list) exactly,
// by every rolled-up dimension, team included. Quantiles are
// t-digests on the rollup side, so for them the test asserts a rank
// tolerance instead: each approximate quantile q lies between the exact
// quantiles at q − 1% and q + 1% of the same values (one neighbour wider,
// since a t-digest interpolates between neighbouring centroids). 1% is the
// accuracy ClickHouse documents for its t-digest, and what merging many
// hourly digests keeps on ~19,000 values here.
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SwitchboardEvent } from "../events/schemas.ts";
import { seededRandom } from "../simulator/seeded-random.ts";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import { sampleAttemptFailed, sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { buildAnalytics } from "./app.ts";

const RANK_TOLERANCE = 0.01;
const QUANTILES = [
  ["p50", 0.5],
  ["p95", 0.95],
  ["p99", 0.99],
] as const;

let clickhouse: TestClickHouse;
let app: FastifyInstance;
const requests: Extract<SwitchboardEvent, { event_type: "request_completed" }>[] = [];

const START = Date.parse("2026-11-18T00:00:00.000Z");
const HOUR = 3_600_000;

function generateLedger(): SwitchboardEvent[] {
  const random = seededRandom(20261122);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const events: SwitchboardEvent[] = [];
  const request = (index: number, heavy: boolean) => {
    const occurredAt = new Date(START + Math.floor(random() * (heavy ? 48 : 72) * HOUR));
    const success = random() < 0.9;
    const inputTokens = Math.floor(random() * 5000);
    // 18 decimal places, so any rounding would show.
    const money = () =>
      `${Math.floor(random() * 3)}.${String(Math.floor(random() * 1e9)).padStart(9, "0")}${String(Math.floor(random() * 1e9)).padStart(9, "0")}`;
    const priceKnown = random() >= 0.03;
    const contracted = random() < 0.5;
    const cost = priceKnown ? money() : "0";
    const listCost = priceKnown && contracted ? money() : cost;
    const event = sampleRequestCompleted({
      request_id: `q${index}`,
      occurred_at: occurredAt.toISOString(),
      tenant_id: heavy ? "acme" : pick(["acme", "globex", "initech"]),
      vendor: heavy ? "alpha" : pick(["alpha", "beta", "gamma"]),
      model: heavy ? "m1" : pick(["m1", "m2"]),
      task: heavy ? "code" : pick(["code", "general", "extraction"]),
      team: heavy ? "search" : pick([null, "search", "ads"]),
      key_id: pick(["k1", "k2"]),
      tags: pick([[], ["prod"], ["prod", "eu"]]),
      status: success ? "success" : "error",
      http_status: success ? 200 : 502,
      error_class: success ? null : "server_error",
      attempts: random() < 0.15 ? 2 : 1,
      input_tokens: inputTokens,
      cached_input_tokens: Math.floor(random() * inputTokens),
      output_tokens: Math.floor(random() * 2000),
      cache_write_input_tokens: Math.floor(random() * 100),
      reasoning_tokens: Math.floor(random() * 100),
      price_known: priceKnown,
      contract_id: priceKnown && contracted ? "c1" : null,
      cost_usd: cost,
      list_cost_usd: listCost,
      // A long tail, as latencies have.
      latency_ms: Math.floor(50 + 2000 * random() ** 3 + (random() < 0.02 ? 20_000 * random() : 0)),
      ttft_ms: random() < 0.3 ? null : Math.floor(10 + 500 * random() ** 2),
    });
    requests.push(event);
    events.push(event);
    if (event.attempts > 1) {
      events.push(
        sampleAttemptFailed({
          request_id: event.request_id,
          occurred_at: new Date(occurredAt.getTime() - 1).toISOString(),
          tenant_id: event.tenant_id,
          vendor: pick(["alpha", "beta", "gamma"]),
          model: pick(["m1", "m2"]),
          task: event.task,
        }),
      );
    }
  };
  for (let index = 0; index < 4_000; index += 1) request(index, false);
  for (let index = 4_000; index < 24_000; index += 1) request(index, true);
  return events;
}

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  const events = generateLedger();
  // Many inserts, so the rollup holds many partial states per hour to merge.
  for (let start = 0; start < events.length; start += 3_000) {
    await loadEvents(clickhouse.client, events.slice(start, start + 3_000));
  }
  app = buildAnalytics({ clickhouse: clickhouse.client, logger: pino({ level: "silent" }) });
}, 120_000);
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

type Row = Record<string, unknown>;

async function rows(query: string): Promise<Row[]> {
  const response = await app.inject(`/v1/matrix?${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json().rows;
}

const QUANTILE_METRICS = ["latency_ms", "ttft_ms"].flatMap((name) =>
  QUANTILES.map(([suffix]) => `${name}_${suffix}`),
);

function withoutQuantiles(row: Row): Row {
  return Object.fromEntries(
    Object.entries(row).filter(([metric]) => !QUANTILE_METRICS.includes(metric)),
  );
}

/** The ClickHouse exact quantile: the sorted value at floor(q · n). */
function exactQuantile(sorted: number[], level: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.floor(level * sorted.length)));
  return sorted[index] as number;
}

function expectWithinRankTolerance(approximate: unknown, values: number[], level: number) {
  const sorted = [...values].sort((a, b) => a - b);
  const lowIndex = Math.max(0, Math.floor((level - RANK_TOLERANCE) * sorted.length) - 1);
  const highIndex = Math.min(
    sorted.length - 1,
    Math.floor((level + RANK_TOLERANCE) * sorted.length) + 1,
  );
  const value = Number(approximate);
  expect(value).toBeGreaterThanOrEqual((sorted[lowIndex] as number) - 0.5);
  expect(value).toBeLessThanOrEqual((sorted[highIndex] as number) + 0.5);
  return { value, exact: exactQuantile(sorted, level) };
}

const ALIGNED = "from=2026-11-18T00:00:00Z&to=2026-11-21T00:00:00Z";
// Neither end on an hour: the rollup answers for the whole hours, the raw
// events for the partial hours at both edges.
const UNALIGNED = "from=2026-11-18T03:17:12.345Z&to=2026-11-20T19:02:00.001Z";

describe("matrix from rollups = matrix from raw events", () => {
  it.each([
    ["aligned window, by every dimension and hour", ALIGNED, "tenant,vendor,model,task,team,hour"],
    [
      "unaligned window, by every dimension and hour",
      UNALIGNED,
      "tenant,vendor,model,task,team,hour",
    ],
    ["unaligned window, by vendor and day", UNALIGNED, "vendor,day"],
    ["aligned window, by task and month", ALIGNED, "task,month"],
    // No tenant: the all-tenants rollups answer.
    ["unaligned window, by team and day, all tenants", UNALIGNED, "team,day"],
    ["unaligned window, by tenant and team", UNALIGNED, "tenant,team"],
    ["unaligned window, one team by vendor", UNALIGNED, "vendor&team=ads"],
    // By tenant, vendor and model only: the per-tenant rollups without task and team.
    ["unaligned window, by tenant and vendor", UNALIGNED, "tenant,vendor"],
    ["unaligned window, one tenant by model and day", UNALIGNED, "model,day&tenant=globex"],
    ["aligned window, one vendor by tenant and model", ALIGNED, "tenant,model&vendor=beta"],
  ])("%s: exact metrics equal", async (_, window, groupBy) => {
    const query = `${window}&group_by=${groupBy}&metrics=all`;
    const fromRollups = await rows(`${query}&quantile_method=t-digest`);
    const fromRaw = await rows(`${query}&quantile_method=exact`);
    expect(fromRollups.length).toBeGreaterThan(0);
    expect(fromRollups.map(withoutQuantiles)).toEqual(fromRaw.map(withoutQuantiles));
  });

  it("quantiles of ~19,000 requests merged from 40 hours of digests are within 1% in rank", async () => {
    const [heavy] = await rows(
      `${UNALIGNED}&tenant=acme&vendor=alpha&model=m1&task=code&group_by=vendor&metrics=all`,
    );
    const from = Date.parse("2026-11-18T03:17:12.345Z");
    const to = Date.parse("2026-11-20T19:02:00.001Z");
    const inGroup = requests.filter(
      (request) =>
        request.tenant_id === "acme" &&
        request.vendor === "alpha" &&
        request.model === "m1" &&
        request.task === "code" &&
        Date.parse(request.occurred_at) >= from &&
        Date.parse(request.occurred_at) < to,
    );
    expect(heavy?.requests).toBe(inGroup.length);
    expect(inGroup.length).toBeGreaterThan(18_000);
    for (const [suffix, level] of QUANTILES) {
      expectWithinRankTolerance(
        heavy?.[`latency_ms_${suffix}`],
        inGroup.map((request) => request.latency_ms),
        level,
      );
      expectWithinRankTolerance(
        heavy?.[`ttft_ms_${suffix}`],
        inGroup.flatMap((request) => (request.ttft_ms === null ? [] : [request.ttft_ms])),
        level,
      );
    }
  });

  it.each([
    "tenant,vendor,model,task",
    // The per-tenant rollups without task and team merge digests of several tasks.
    "tenant,vendor,model",
  ])("every small group's quantiles by %s are within the same tolerance", async (groupBy) => {
    const byGroup = await rows(`${ALIGNED}&group_by=${groupBy}&metrics=all`);
    expect(byGroup.length).toBeGreaterThan(10);
    for (const row of byGroup) {
      const inGroup = requests.filter(
        (request) =>
          request.tenant_id === row.tenant &&
          request.vendor === row.vendor &&
          request.model === row.model &&
          (row.task === undefined || request.task === row.task),
      );
      if (inGroup.length === 0) continue; // a group of failed attempts only
      for (const [suffix, level] of QUANTILES) {
        expectWithinRankTolerance(
          row[`latency_ms_${suffix}`],
          inGroup.map((request) => request.latency_ms),
          level,
        );
      }
    }
  });
});
