// The incremental export's promise: a warehouse that pulls repeatedly with
// the cursor it was handed gets every row exactly once, while events keep
// arriving, many of them late relative to their occurred_at.
import { setTimeout as sleep } from "node:timers/promises";
import { tableFromIPC } from "apache-arrow";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClickHouseClient, createClickHouse } from "../../clickhouse/client.ts";
import type { RequestCompleted } from "../../events/schemas.ts";
import { freshClickHouse, type TestClickHouse } from "../../test/fixtures/clickhouse.ts";
import { loadEvents } from "../../test/fixtures/load-events.ts";
import { sampleRequestCompleted } from "../../test/fixtures/sample-events.ts";
import { buildAnalytics } from "../app.ts";
import { decodeCursor } from "./cursor.ts";

const SETTLE_MS = 300;

let clickhouse: TestClickHouse;
// Ingest writes on its own connection, as in production, while the API reads.
let writer: ClickHouseClient;
let app: FastifyInstance;

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  writer = createClickHouse(clickhouse.url);
  app = buildAnalytics({
    clickhouse: clickhouse.client,
    logger: pino({ level: "silent" }),
    exportOptions: { pageRows: 25, settleMs: SETTLE_MS },
  });
});
afterAll(async () => {
  await app.close();
  await writer.close();
  await clickhouse.close();
});

const FORMATS = ["ndjson", "arrow", "csv"] as const;

/** One pull: the event ids it carried, and the cursor and completeness it answered with. */
async function pull(cursor: string | null, format: (typeof FORMATS)[number]) {
  const response = await app.inject(
    `/v1/export/requests?format=${format}${cursor ? `&cursor=${cursor}` : ""}`,
  );
  expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
  let ids: string[];
  if (format === "arrow") {
    const table = tableFromIPC(response.rawPayload);
    ids = Array.from({ length: table.numRows }, (_, index) =>
      String(table.getChild("event_id")?.get(index)),
    );
  } else if (format === "csv") {
    ids = response.body
      .trim()
      .split("\n")
      .slice(1)
      .map((line) => line.split(",")[0]?.replaceAll('"', "") ?? "");
  } else {
    ids = response.body
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line).event_id);
  }
  return {
    ids,
    cursor: String(response.headers["x-switchboard-next-cursor"]),
    complete: response.headers["x-switchboard-export-complete"] === "true",
  };
}

function lateEvent(index: number): RequestCompleted {
  // Most events are minutes old when stored; every fifth is from last week.
  const ageMs = index % 5 === 0 ? 7 * 24 * 3_600_000 : (index % 17) * 60_000;
  return sampleRequestCompleted({
    request_id: `arriving-${index}`,
    occurred_at: new Date(Date.now() - ageMs).toISOString(),
    cost_usd: `0.${String(index).padStart(6, "0")}`,
  });
}

describe("export cursor", () => {
  it("delivers every row exactly once across pulls while events keep arriving", async () => {
    const inserted: string[] = [];
    const delivered: string[] = [];
    let writing = true;
    let next = 0;
    const writing_ = (async () => {
      for (let batch = 0; batch < 15; batch += 1) {
        const events = Array.from({ length: 30 }, () => lateEvent(next++));
        await loadEvents(writer, events);
        inserted.push(...events.map((event) => event.event_id));
        await sleep(40);
      }
      writing = false;
    })();

    let cursor: string | null = null;
    let pulls = 0;
    let pullsWithRows = 0;
    let lastPosition = 0;
    for (;;) {
      const result = await pull(cursor, FORMATS[pulls % FORMATS.length] ?? "ndjson");
      pulls += 1;
      if (result.ids.length > 0) pullsWithRows += 1;
      delivered.push(...result.ids);
      const position = decodeCursor(result.cursor, "requests").ingestedBefore;
      expect(position).toBeGreaterThanOrEqual(lastPosition); // never moves back
      lastPosition = position;
      cursor = result.cursor;
      if (!writing && result.complete && result.ids.length === 0) {
        // Nothing new: the last rows may still be settling; one more pull after the settle time.
        await sleep(SETTLE_MS + 100);
        const last = await pull(cursor, "ndjson");
        delivered.push(...last.ids);
        cursor = last.cursor;
        if (last.ids.length === 0) break;
      }
      await sleep(60);
    }
    await writing_;

    expect(inserted).toHaveLength(450);
    expect(pullsWithRows).toBeGreaterThan(3);
    expect(new Set(delivered).size).toBe(delivered.length); // no row twice
    expect([...delivered].sort()).toEqual([...inserted].sort()); // every row
  }, 60_000);

  it("waits out inserts still in flight: a row stamped before the cursor's horizon but stored after it", async () => {
    const before = await pull(null, "ndjson");
    let cursor = before.cursor;
    const drained = await pull(cursor, "ndjson");
    cursor = drained.cursor;
    // An insert that was stamped when it began, SETTLE_MS / 2 ago, and is only
    // now committed: what a long insert looks like to a reader.
    const slow = sampleRequestCompleted({ request_id: "slow-insert" });
    const stampedAt = Date.now() - SETTLE_MS / 2;
    await writer.insert({
      table: "switchboard.request_completed",
      values: [
        {
          ...Object.fromEntries(Object.entries(slow).filter(([field]) => field !== "event_type")),
          ingested_at: new Date(stampedAt).toISOString(),
        },
      ],
      format: "JSONEachRow",
    });
    expect(decodeCursor(cursor, "requests").ingestedBefore).toBeLessThan(stampedAt);
    await sleep(SETTLE_MS + 50);
    const after = await pull(cursor, "ndjson");
    expect(after.ids).toContain(slow.event_id);
  });
});
