// Quality in the matrix is the same whichever way its scores are read:
//   stamped  scores carry their request (quality_scored v2), so whole hours
//            come from the quality_hourly rollup and the window's partial
//            edge hours, key and tag from the raw scores;
//   legacy   scores carry none (stored before migration 0011, or upcast from
//            v1), so every one is joined to its request, as before the rollup;
//   mixed    half of each, as a database upgraded part-way through.
// Same events three times in one chDB (one per process), each copy under
// its own tenants (`stamped-acme`, `legacy-acme`, …) and read with a tenant
// filter: every count equal, every mean and interval equal to 1e-9 (sums of
// floats added in another order), for each grouping, filter and source the
// matrix offers.
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QualityScored, SwitchboardEvent } from "../events/schemas.ts";
import { seededRandom } from "../simulator/seeded-random.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { withScoredRequests } from "../test/fixtures/hand-ledger.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import { sampleQualityScored, sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { buildAnalytics } from "./app.ts";

const START = Date.parse("2026-11-18T00:00:00.000Z");
const HOUR = 3_600_000;
const WINDOW = "from=2026-11-18T05:17:00Z&to=2026-11-20T19:41:00Z";

/** Requests over three days, and one to three scores of each of most of them. */
function ledger(): SwitchboardEvent[] {
  const random = seededRandom(20261206);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const events: SwitchboardEvent[] = [];
  for (let index = 0; index < 3_000; index += 1) {
    const occurredAt = START + Math.floor(random() * 72 * HOUR);
    const request = sampleRequestCompleted({
      request_id: `q${index}`,
      occurred_at: new Date(occurredAt).toISOString(),
      tenant_id: pick(["acme", "globex"]),
      vendor: pick(["alpha", "beta"]),
      model: pick(["m1", "m2"]),
      task: pick(["code", "general"]),
      team: pick([null, "search", "ads"]),
      key_id: pick(["k1", "k2"]),
      tags: pick([[], ["prod"], ["prod", "eu"]]),
    });
    events.push(request);
    if (random() < 0.2) continue;
    const score = (overrides: Partial<QualityScored>) =>
      sampleQualityScored({
        tenant_id: request.tenant_id,
        request_id: request.request_id,
        // Scores come later, but one in ten up to half an hour early (another process's clock).
        occurred_at: new Date(
          occurredAt + (random() < 0.1 ? -1 : 1) * Math.floor(random() * 1_800_000),
        ).toISOString(),
        source: pick(["human", "eval", "heuristic"]),
        ...overrides,
      });
    events.push(score({ metric: "helpful", value: { type: "boolean", boolean: random() < 0.7 } }));
    if (random() < 0.6) {
      // Two scales for one metric: never averaged together.
      const [minimum, maximum] = pick([
        [0, 5],
        [0, 10],
      ]) as [number, number];
      const number = Math.round(random() * maximum * 10) / 10;
      events.push(
        score({ metric: "relevance", value: { type: "number", number, minimum, maximum } }),
      );
    }
    if (random() < 0.4) {
      events.push(
        score({
          metric: "tone",
          value: { type: "category", category: pick(["formal", "casual"]) },
        }),
      );
    }
  }
  return events;
}

const COPIES = ["stamped", "legacy", "mixed"] as const;
type Copy = (typeof COPIES)[number];
let clickhouse: TestClickHouse;
let app: FastifyInstance;

/** The events under the copy's tenants. */
function copyOf(events: SwitchboardEvent[], copy: Copy): SwitchboardEvent[] {
  return events.map((event) => ({ ...event, tenant_id: `${copy}-${event.tenant_id}` }));
}

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  const events = ledger();
  const stamped = withScoredRequests(events);
  const legacy = withScoredRequests(events, true);
  const mixed = stamped.map((event, index) =>
    index % 2 ? event : (legacy[index] as typeof event),
  );
  const all = [
    ...copyOf(stamped, "stamped"),
    ...copyOf(legacy, "legacy"),
    ...copyOf(mixed, "mixed"),
  ];
  // Many inserts, so the rollup holds many unmerged rows per key.
  for (let start = 0; start < all.length; start += 2_000) {
    await loadEvents(clickhouse.client, all.slice(start, start + 2_000));
  }
  app = buildAnalytics({ clickhouse: clickhouse.client, logger: pino({ level: "silent" }) });
}, 120_000);
afterAll(async () => {
  await app?.close();
  await clickhouse?.close();
});

type Row = Record<string, unknown>;

/** The copy's quality rows, its tenants' prefix taken off. */
async function quality(copy: Copy, query: string): Promise<Row[]> {
  const tenants = query.includes("tenant=")
    ? query.replace(
        /tenant=([a-z,]+)/,
        (_, names: string) =>
          `tenant=${names
            .split(",")
            .map((name) => `${copy}-${name}`)
            .join(",")}`,
      )
    : `${query}&tenant=${copy}-acme,${copy}-globex`;
  const response = await app.inject(`/v1/matrix?${WINDOW}&metrics=quality&${tenants}`);
  expect(response.statusCode, response.body).toBe(200);
  return response
    .json()
    .rows.map((row: Row) =>
      typeof row.tenant === "string" ? { ...row, tenant: row.tenant.slice(copy.length + 1) } : row,
    );
}

/** Floats rounded to 9 places, so sums taken in another order compare equal. */
function rounded(value: unknown): unknown {
  if (typeof value === "number") return Number.isInteger(value) ? value : Number(value.toFixed(9));
  if (Array.isArray(value)) return value.map(rounded);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, rounded(inner)]));
  }
  return value;
}

describe("quality from the rollup, the raw scores and the join agree", () => {
  it("rolls up every stamped score and none of the legacy ones", async () => {
    const rolledUp = async (copy: Copy) =>
      Number(
        (
          await queryRows<{ scores: string }>(
            clickhouse.client,
            `SELECT sum(scores) AS scores FROM switchboard.quality_hourly
             WHERE startsWith(tenant_id, '${copy}-')`,
          )
        )[0]?.scores,
      );
    const scores = ledger().filter((event) => event.event_type === "quality_scored").length;
    expect(await rolledUp("stamped")).toBe(scores);
    expect(await rolledUp("legacy")).toBe(0);
    expect(await rolledUp("mixed")).toBeGreaterThan(scores / 3);
  });

  it.each([
    "group_by=vendor,task",
    "group_by=tenant,team",
    "group_by=day,vendor",
    "group_by=hour,model",
    "group_by=model&vendor=alpha&task=code",
    "group_by=team&team=search,ads",
    "group_by=vendor&quality_source=human,eval",
    "group_by=key",
    "group_by=tag",
    "group_by=vendor&tag=eu",
    "group_by=task&key=k2&tenant=acme",
  ])("%s", async (query) => {
    const stamped = rounded(await quality("stamped", query));
    expect((stamped as Row[]).length).toBeGreaterThan(0);
    // Every row scored: a row without scores would make equality too easy.
    for (const row of stamped as Row[])
      expect((row.quality as unknown[]).length).toBeGreaterThan(0);
    expect(rounded(await quality("legacy", query))).toEqual(stamped);
    expect(rounded(await quality("mixed", query))).toEqual(stamped);
  });
});
