// The matrix by service tier (request_completed v4): every request counts
// under the tier it was billed at, failed attempts under "" (their tier is
// unknown), and the cost reconciles: each tier's spend is the exact sum of
// its events' cost_usd, and the tiers add up to the matrix without them.
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDecimal, parseDecimal } from "../events/money.ts";
import { type RequestCompleted, SERVICE_TIERS } from "../events/schemas.ts";
import { seededRandom } from "../simulator/seeded-random.ts";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import { sampleAttemptFailed, sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { buildAnalytics } from "./app.ts";

let clickhouse: TestClickHouse;
let app: FastifyInstance;
const requests: RequestCompleted[] = [];
const WINDOW = "from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z";

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  const random = seededRandom(20261206);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  // 18 decimal places, so any rounding would show.
  const money = () =>
    `0.${String(Math.floor(random() * 1e9)).padStart(9, "0")}${String(Math.floor(random() * 1e9)).padStart(9, "0")}`;
  for (let index = 0; index < 600; index += 1) {
    requests.push(
      sampleRequestCompleted({
        request_id: `t${index}`,
        occurred_at: new Date(Date.parse("2026-11-20T00:00:00Z") + index * 60_000).toISOString(),
        vendor: pick(["alpha", "beta"]),
        attempts: index % 10 === 0 ? 2 : 1,
        service_tier: pick(SERVICE_TIERS),
        vendor_service_tier: null,
        cost_usd: money(),
        list_cost_usd: money(),
      }),
    );
  }
  const failed = requests
    .filter((request) => request.attempts > 1)
    .map((request) =>
      sampleAttemptFailed({
        request_id: request.request_id,
        occurred_at: request.occurred_at,
        vendor: request.vendor ?? "alpha",
      }),
    );
  await loadEvents(clickhouse.client, [...requests, ...failed]);
  app = buildAnalytics({ clickhouse: clickhouse.client, logger: pino({ level: "silent" }) });
});
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

async function matrix(query: string) {
  const response = await app.inject(`/v1/matrix?${WINDOW}&${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

function spendOf(events: RequestCompleted[]): string {
  return formatDecimal(events.reduce((sum, event) => sum + parseDecimal(event.cost_usd), 0n));
}

describe("the matrix by service tier", () => {
  it("gives each tier its requests and the exact sum of their cost; failed attempts under ''", async () => {
    const answer = await matrix(
      "group_by=service_tier&metrics=requests,failed_attempts,cost_usd,list_spend_usd",
    );
    expect(answer.quantiles.method).toBe("exact");
    const expected = SERVICE_TIERS.map((tier) => {
      const atTier = requests.filter((request) => request.service_tier === tier);
      return {
        service_tier: tier,
        requests: atTier.length,
        failed_attempts: 0,
        cost_usd: spendOf(atTier),
        list_spend_usd: formatDecimal(
          atTier.reduce((sum, event) => sum + parseDecimal(event.list_cost_usd), 0n),
        ),
      };
    });
    const unknown = {
      service_tier: "",
      requests: 0,
      failed_attempts: requests.filter((request) => request.attempts > 1).length,
      cost_usd: "0",
      list_spend_usd: "0",
    };
    const byTier = [...answer.rows].sort((a, b) => a.service_tier.localeCompare(b.service_tier));
    expect(byTier).toEqual(
      [unknown, ...expected].sort((a, b) => a.service_tier.localeCompare(b.service_tier)),
    );
  });

  it("adds up, tier by tier, to the matrix without tiers (rollups and all)", async () => {
    const byTier = await matrix("group_by=vendor,service_tier&metrics=requests,cost_usd");
    const whole = await matrix("group_by=vendor&metrics=requests,cost_usd");
    for (const row of whole.rows) {
      const parts = byTier.rows.filter((part: { vendor: string }) => part.vendor === row.vendor);
      expect(
        parts.reduce((sum: number, part: { requests: number }) => sum + part.requests, 0),
      ).toBe(row.requests);
      expect(
        formatDecimal(
          parts.reduce(
            (sum: bigint, part: { cost_usd: string }) => sum + parseDecimal(part.cost_usd),
            0n,
          ),
        ),
      ).toBe(row.cost_usd);
    }
    expect(whole.rows.length).toBe(2);
  });

  it("filters to the tiers given, failed attempts left out", async () => {
    const answer = await matrix(
      "service_tier=batch,flex&group_by=vendor&metrics=requests,failed_attempts,cost_usd",
    );
    for (const row of answer.rows) {
      const chosen = requests.filter(
        (request) =>
          request.vendor === row.vendor &&
          (request.service_tier === "batch" || request.service_tier === "flex"),
      );
      expect(row).toEqual({
        vendor: row.vendor,
        requests: chosen.length,
        failed_attempts: 0,
        cost_usd: spendOf(chosen),
      });
    }
  });

  it("refuses quality by tier, which scores do not carry, naming the parameter", async () => {
    const response = await app.inject(
      `/v1/matrix?${WINDOW}&group_by=service_tier&metrics=requests,quality`,
    );
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain("metrics");
    expect(response.body).toContain("quality scores do not carry service_tier");
  });

  it("refuses a tier that is not one", async () => {
    const response = await app.inject(`/v1/matrix?${WINDOW}&service_tier=scale`);
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain("service_tier");
  });
});
