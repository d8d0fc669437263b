// Schema evolution through ingest: a version 2 of request_completed exists,
// and version 1 events keep arriving (old gateways, a replay of old topics).
// Both land, the v1 ones upcast to v2.
//
// No real v2 exists in events/ yet, and inventing one there only for a test
// would ship a fake contract. So this test brings its own: the v1 schema
// from events/ plus a field, an upcaster registry of its own, and the column
// a v2 migration would add (in this test's database only). What it proves is
// ingest's side: bytes of either version → current version → one row each,
// through the same loader, lookup and dead letters as production.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { LogRecord } from "../eventlog/ports.ts";
import { parseEvent } from "../events/parse.ts";
import { requestCompletedV1 } from "../events/schemas.ts";
import { topicFor } from "../events/topics.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { CURRENT_EVENTS, type EventDecoder } from "./event-decoder.ts";
import { EventLoader } from "./loader.ts";
import { TABLE_FOR_EVENT, toRow } from "./rows.ts";

/** v2: the gateway region that served the request, which v1 did not carry. */
const requestCompletedV2 = requestCompletedV1.extend({
  schema_version: z.literal(2),
  region: z.string().min(1).max(64),
});

type RawEvent = Record<string, unknown>;

/** The test's upcaster registry: version N → N+1 of request_completed. */
const TEST_UPCASTERS: Record<number, (event: RawEvent) => RawEvent> = {
  // Every v1 event predates regions.
  1: (event) => ({ ...event, schema_version: 2, region: "unknown" }),
};

/** The contract with v2: request_completed upcast to v2; every other type as in events/. */
const contractWithVersion2: EventDecoder = {
  decode(bytes) {
    const checked = parseEvent(bytes); // size, JSON and the v1 rules, as production
    const raw = safeJson(bytes);
    if (raw?.event_type !== "request_completed") return CURRENT_EVENTS.decode(bytes);
    let version = raw.schema_version;
    if (version === 1 && !checked.ok) return checked;
    if (typeof version !== "number" || version < 1) return { ok: false, reason: "bad version" };
    if (version > 2)
      return { ok: false, reason: `request_completed schema_version ${version} is newer than 2` };
    let event = raw;
    while (version < 2) {
      const step = TEST_UPCASTERS[version];
      if (!step) return { ok: false, reason: `no upcaster for request_completed v${version}` };
      event = step(event);
      version += 1;
    }
    const parsed = requestCompletedV2.safeParse(event);
    if (!parsed.success)
      return { ok: false, reason: `invalid request_completed v2: ${parsed.error.message}` };
    return {
      ok: true,
      eventType: "request_completed",
      table: TABLE_FOR_EVENT.request_completed,
      // rows.ts maps every field to its column; region is one more.
      row: toRow(parsed.data as unknown as Parameters<typeof toRow>[0]),
      eventId: parsed.data.event_id,
      tenantId: parsed.data.tenant_id,
      occurredAt: parsed.data.occurred_at,
    };
  },
};

function safeJson(bytes: Buffer): RawEvent | undefined {
  try {
    const value = JSON.parse(bytes.toString()) as unknown;
    return typeof value === "object" && value !== null ? (value as RawEvent) : undefined;
  } catch {
    return undefined;
  }
}

let clickhouse: TestClickHouse;
beforeAll(async () => {
  clickhouse = await freshClickHouse();
  // What v2's migration would add.
  await clickhouse.client.command({
    query:
      "ALTER TABLE switchboard.request_completed ADD COLUMN region LowCardinality(String) DEFAULT 'unknown'",
  });
});
afterAll(() => clickhouse.close());

let offset = 0;
function record(event: unknown): LogRecord {
  offset += 1;
  return {
    topic: topicFor("request_completed"),
    partition: 0,
    offset: String(offset),
    key: "k",
    value: Buffer.from(JSON.stringify(event)),
  };
}

describe("schema evolution: v1 events after v2 exists", () => {
  it("stores v2 events as they are and v1 events upcast, through the same loader", async () => {
    const loader = new EventLoader(clickhouse.client, new RecordingSink(), {
      decoder: contractWithVersion2,
    });
    const tenant = "evolution";
    const version2 = [1, 2, 3].map((index) => ({
      ...sampleRequestCompleted({ tenant_id: tenant, cost_usd: `0.${index}` }),
      schema_version: 2,
      region: "eu-west",
    }));
    const version1 = [4, 5].map((index) =>
      sampleRequestCompleted({ tenant_id: tenant, cost_usd: `0.${index}` }),
    );
    // v2 first, then old v1 events keep coming, mixed with more v2.
    expect((await loader.store(version2.slice(0, 2).map(record))).rows.request_completed).toBe(2);
    const mixed = await loader.store([
      record(version1[0]),
      record(version2[2]),
      record(version1[1]),
    ]);
    expect(mixed.rows.request_completed).toBe(3);
    expect(mixed.deadLetters).toBe(0);

    const rows = await queryRows<{ cost: string; region: string; version: number }>(
      clickhouse.client,
      `SELECT toString(cost_usd) AS cost, region, schema_version AS version
       FROM switchboard.request_completed WHERE tenant_id = {tenant:String} ORDER BY cost`,
      { tenant },
    );
    expect(rows).toEqual([
      { cost: "0.1", region: "eu-west", version: 2 },
      { cost: "0.2", region: "eu-west", version: 2 },
      { cost: "0.3", region: "eu-west", version: 2 },
      { cost: "0.4", region: "unknown", version: 2 },
      { cost: "0.5", region: "unknown", version: 2 },
    ]);
  });

  it("dead-letters what cannot be brought to v2, and keeps the rest of the batch", async () => {
    const loader = new EventLoader(clickhouse.client, new RecordingSink(), {
      decoder: contractWithVersion2,
    });
    const tenant = "evolution-bad";
    const fromTheFuture = { ...sampleRequestCompleted({ tenant_id: tenant }), schema_version: 3 };
    const v2WithoutRegion = { ...sampleRequestCompleted({ tenant_id: tenant }), schema_version: 2 };
    const good = sampleRequestCompleted({ tenant_id: tenant });
    const batch = [record(fromTheFuture), record(v2WithoutRegion), record(good)];
    const stored = await loader.store(batch);
    expect(stored.rows.request_completed).toBe(1);
    expect(stored.deadLetters).toBe(2);
    const reasons = await queryRows<{ reason: string }>(
      clickhouse.client,
      "SELECT reason FROM switchboard.dead_letters WHERE source_offset IN ({offsets:Array(UInt64)}) ORDER BY source_offset",
      { offsets: batch.slice(0, 2).map((one) => Number(one.offset)) },
    );
    expect(reasons.map((row) => row.reason)).toEqual([
      "request_completed schema_version 3 is newer than 2",
      expect.stringMatching(/^invalid request_completed v2: .*region/s),
    ]);
  });
});
