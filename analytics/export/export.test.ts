import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Table, tableFromIPC, util } from "apache-arrow";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDecimal } from "../../events/money.ts";
import { parseEvent } from "../../events/parse.ts";
import type { SwitchboardEvent } from "../../events/schemas.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../../test/fixtures/clickhouse.ts";
import { handLedger } from "../../test/fixtures/hand-ledger.ts";
import { loadEvents } from "../../test/fixtures/load-events.ts";
import { sampleRequestCompleted } from "../../test/fixtures/sample-events.ts";
import { buildAnalytics } from "../app.ts";

let clickhouse: TestClickHouse;
let app: FastifyInstance;
const loaded: SwitchboardEvent[] = [];

// Small pages, so every export below crosses many page boundaries.
const PAGE_ROWS = 4;

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  const batches = [
    handLedger(),
    Array.from({ length: 9 }, (_, index) =>
      sampleRequestCompleted({
        request_id: `bulk-${index}`,
        occurred_at: new Date(
          Date.parse("2026-11-19T08:00:00.000Z") + index * 60_000,
        ).toISOString(),
        vendor: index % 2 === 0 ? "alpha" : "beta",
        cost_usd: `0.00000000000000000${index + 1}`,
        ttft_ms: index % 3 === 0 ? null : index,
      }),
    ),
  ];
  for (const batch of batches) {
    await loadEvents(clickhouse.client, batch);
    loaded.push(...batch);
    // Distinct ingest milliseconds between batches.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  app = buildAnalytics({
    clickhouse: clickhouse.client,
    logger: pino({ level: "silent" }),
    exportOptions: { pageRows: PAGE_ROWS, settleMs: 0 },
  });
});
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

/** An Arrow value as the event carried it: decimals as exact strings, times as ISO-8601. */
function arrowRows(table: Table): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (let index = 0; index < table.numRows; index += 1) {
    const row: Record<string, unknown> = {};
    for (const field of table.schema.fields) {
      const value = table.getChild(field.name)?.get(index);
      const typeName = String(field.type);
      if (value === null || value === undefined) row[field.name] = null;
      else if (typeName.startsWith("List")) {
        row[field.name] = Array.from((value as { toArray(): ArrayLike<unknown> }).toArray());
      } else if (typeName.startsWith("Decimal")) {
        row[field.name] = formatDecimal(util.bigNumToBigInt(value), 18);
      } else if (typeName.startsWith("Timestamp")) {
        row[field.name] = new Date(value as number).toISOString();
      } else if (typeof value === "bigint") row[field.name] = Number(value);
      else row[field.name] = value;
    }
    rows.push(row);
  }
  return rows;
}

function requestEvents(): Record<string, unknown>[] {
  return loaded
    .filter((event) => event.event_type === "request_completed")
    .map((event) => {
      const parsed = parseEvent(JSON.stringify(event));
      if (!parsed.ok) throw new Error(parsed.reason);
      const { event_type: _type, ...fields } = parsed.event as Record<string, unknown>;
      return { ...fields, vendor: fields.vendor ?? "", model: fields.model ?? "" };
    });
}

async function get(url: string) {
  const response = await app.inject(url);
  expect(response.statusCode, response.body.slice(0, 500)).toBe(200);
  return response;
}

describe("GET /v1/export/{dataset}", () => {
  it("streams requests as one Arrow IPC stream that reads back equal to the events", async () => {
    const response = await get("/v1/export/requests?format=arrow");
    expect(response.headers["content-type"]).toBe("application/vnd.apache.arrow.stream");
    expect(response.headers["x-switchboard-export-complete"]).toBe("true");
    const table = tableFromIPC(response.rawPayload);
    expect(String(table.schema.fields.find((field) => field.name === "cost_usd")?.type)).toBe(
      "Decimal[38e+18]",
    );
    const rows = arrowRows(table);
    const events = requestEvents();
    expect(rows).toHaveLength(events.length);
    const byEventId = new Map(rows.map((row) => [row.event_id, row]));
    for (const event of events) {
      const row = byEventId.get(event.event_id);
      const expected = Object.fromEntries(
        Object.keys(row ?? {})
          .filter((column) => column !== "ingested_at")
          .map((column) => [column, event[column]]),
      );
      expect(row).toEqual({ ...expected, ingested_at: expect.any(String) });
    }
    // In ingest order, which the cursor follows.
    const ingested = rows.map((row) => row.ingested_at as string);
    expect([...ingested].sort()).toEqual(ingested);
  });

  it("gives the same rows as NDJSON and CSV, the CSV with one header", async () => {
    const ndjson = await get("/v1/export/requests?format=ndjson");
    expect(ndjson.headers["content-type"]).toBe("application/x-ndjson");
    const lines = ndjson.body
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.event_id).sort()).toEqual(
      requestEvents()
        .map((event) => event.event_id)
        .sort(),
    );
    const r4 = lines.find((line) => line.request_id === "r4");
    expect(r4).toMatchObject({
      cost_usd: "0.000000000000000001",
      occurred_at: "2026-11-20T10:30:00.000Z",
    });

    const csv = await get("/v1/export/requests?format=csv");
    expect(csv.headers["content-type"]).toBe("text/csv; header=present");
    const csvLines = csv.body.trim().split("\n");
    expect(csvLines[0]).toMatch(/^"event_id","schema_version","occurred_at"/);
    expect(csvLines.filter((line) => line.startsWith('"event_id"'))).toHaveLength(1);
    expect(csvLines).toHaveLength(lines.length + 1);
  });

  it("writes Parquet that ClickHouse reads back, one page per response", async () => {
    const response = await get("/v1/export/requests?format=parquet");
    expect(response.headers["content-type"]).toBe("application/vnd.apache.parquet");
    expect(response.rawPayload.subarray(0, 4).toString()).toBe("PAR1");
    expect(response.headers["x-switchboard-export-complete"]).toBe("false");
    const file = join(mkdtempSync(join(tmpdir(), "export-")), "page.parquet");
    writeFileSync(file, response.rawPayload);
    const [read] = await queryRows<{ rows: string; cost: string }>(
      clickhouse.client,
      `SELECT count() AS rows, toString(sum(cost_usd)) AS cost FROM file('${file}', Parquet)`,
    );
    // A page holds PAGE_ROWS rows, or one millisecond of ingest if that is more:
    // the hand ledger's six requests were stored by one insert, in one millisecond.
    expect(Number(read?.rows)).toBeLessThanOrEqual(Math.max(PAGE_ROWS, 6));
    expect(Number(read?.rows)).toBeGreaterThan(0);
  });

  it("pulls Parquet page by page with the cursor until complete, every row once", async () => {
    const seen: string[] = [];
    let cursor = "";
    for (let pull = 0; pull < 20; pull += 1) {
      const response = await get(`/v1/export/requests?format=parquet${cursor}`);
      const file = join(mkdtempSync(join(tmpdir(), "export-")), "page.parquet");
      writeFileSync(file, response.rawPayload);
      const ids = await queryRows<{ event_id: string }>(
        clickhouse.client,
        `SELECT event_id FROM file('${file}', Parquet)`,
      );
      seen.push(...ids.map((row) => row.event_id));
      cursor = `&cursor=${response.headers["x-switchboard-next-cursor"]}`;
      if (response.headers["x-switchboard-export-complete"] === "true") break;
    }
    expect(seen.sort()).toEqual(
      requestEvents()
        .map((event) => event.event_id)
        .sort(),
    );
  });

  it.each([
    ["attempts", 1],
    ["decisions", 0],
    ["quality", 10],
  ])("exports %s", async (dataset, expected) => {
    const response = await get(`/v1/export/${dataset}?format=ndjson`);
    const lines = response.body.split("\n").filter((line) => line !== "");
    expect(lines).toHaveLength(expected);
  });

  it("flattens quality scores, with the request each scores, so any warehouse reads them", async () => {
    const response = await get("/v1/export/quality?format=ndjson&tenant=acme");
    const relevance = response.body
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line))
      .find((row) => row.request_id === "r1" && row.metric === "relevance");
    expect(relevance).toMatchObject({
      value_type: "number",
      value_boolean: null,
      value_number: 4,
      value_minimum: 0,
      value_maximum: 5,
      value_category: null,
      source: "eval",
      gold_set_name: "support",
      gold_set_version: "v1",
      // r1 as its request_completed recorded it.
      request_occurred_at: "2026-11-20T10:05:00.000Z",
      task: "code",
      vendor: "alpha",
      model: "m1",
      key_id: "acme-search",
      team: "search",
      tags: ["prod", "search"],
    });
  });

  it("filters by occurred_at with from and to", async () => {
    const response = await get(
      "/v1/export/requests?format=ndjson&from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z",
    );
    const requestIds = response.body
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).request_id)
      .sort();
    expect(requestIds).toEqual(["g1", "r1", "r2", "r3", "r4"]);
  });

  it("stops near a limit and says the export is not complete", async () => {
    const first = await get("/v1/export/requests?format=ndjson&limit=3");
    const firstIds = first.body
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).event_id);
    expect(first.headers["x-switchboard-export-complete"]).toBe("false");
    // Both batches were each stored in one millisecond, which is never split.
    expect(firstIds.length).toBeGreaterThanOrEqual(3);
    const rest = await get(
      `/v1/export/requests?format=ndjson&cursor=${first.headers["x-switchboard-next-cursor"]}`,
    );
    const restIds = rest.body
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line).event_id);
    expect(rest.headers["x-switchboard-export-complete"]).toBe("true");
    expect([...firstIds, ...restIds].sort()).toEqual(
      requestEvents()
        .map((event) => event.event_id)
        .sort(),
    );
  });

  it("answers an empty export with just the format's header", async () => {
    const response = await get("/v1/export/decisions?format=arrow");
    const table = tableFromIPC(response.rawPayload);
    expect(table.numRows).toBe(0);
    expect(table.schema.fields.map((field) => field.name)).toContain("candidates");
    const csv = await get("/v1/export/decisions?format=csv");
    expect(csv.body.trim().split("\n")).toHaveLength(1);
  });

  it.each([
    ["format=xml", "format"],
    ["cursor=bm90LWEtY3Vyc29y", "cursor"],
    ["limit=0", "limit"],
    ["from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z", "from"],
    ["colour=red", "colour"],
  ])("answers 400 naming the field for %s", async (query, field) => {
    const response = await app.inject(`/v1/export/requests?${query}`);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: "invalid_parameter", field } });
  });

  it("refuses another dataset's cursor, and an unknown dataset", async () => {
    const attempts = await get("/v1/export/attempts?format=ndjson");
    const response = await app.inject(
      `/v1/export/requests?cursor=${attempts.headers["x-switchboard-next-cursor"]}`,
    );
    expect(response.json()).toMatchObject({
      error: { code: "invalid_parameter", field: "cursor" },
    });
    const unknown = await app.inject("/v1/export/invoices");
    expect(unknown.json()).toMatchObject({
      error: { code: "invalid_parameter", field: "dataset" },
    });
  });
});
