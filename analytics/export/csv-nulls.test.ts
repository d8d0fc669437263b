// Every CSV export writes a null as an empty field and an empty string as
// "", so DuckDB (and pandas, and a spreadsheet) reads back the nulls the
// NDJSON of the same rows has: never the text \N (formats.ts).
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventTime, newEventId } from "../../events/ids.ts";
import { freshClickHouse, type TestClickHouse } from "../../test/fixtures/clickhouse.ts";
import { openDuckDb, sqlString, type TestDuckDb } from "../../test/fixtures/duckdb.ts";
import { handLedger } from "../../test/fixtures/hand-ledger.ts";
import { HAND_LEDGER_PRICES } from "../../test/fixtures/hand-ledger-prices.ts";
import { loadEvents } from "../../test/fixtures/load-events.ts";
import { buildAnalytics } from "../app.ts";
import { EXPORT_DATASET_NAMES } from "./datasets.ts";

let clickhouse: TestClickHouse;
let app: FastifyInstance;
let duck: TestDuckDb;

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  await loadEvents(clickhouse.client, [
    ...handLedger(),
    {
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
        { vendor: "alpha", model: "m1", rank: 1, score: "0.25", skipped_reason: null },
        { vendor: "beta", model: "m2", rank: 2, score: null, skipped_reason: "circuit open" },
      ],
      chosen_vendor: "alpha",
      chosen_model: "m1",
      reason: "cheapest first",
    },
  ]);
  app = buildAnalytics({
    clickhouse: clickhouse.client,
    logger: pino({ level: "silent" }),
    exportOptions: { pageRows: 1000, settleMs: 0, focusPrices: HAND_LEDGER_PRICES },
  });
  duck = await openDuckDb();
}, 60_000);

afterAll(async () => {
  duck?.close();
  await app?.close();
  await clickhouse?.close();
});

describe("CSV exports read back with DuckDB", () => {
  it.each(EXPORT_DATASET_NAMES)(
    "%s: a null is an empty field, an empty string is not",
    async (dataset) => {
      const pull = async (format: string) => {
        const response = await app.inject(`/v1/export/${dataset}?format=${format}`);
        expect(response.statusCode, response.body).toBe(200);
        return response.rawPayload;
      };
      const csvPath = sqlString(duck.file(`${dataset}.csv`, await pull("csv")));
      const ndjsonPath = sqlString(duck.file(`${dataset}.ndjson`, await pull("ndjson")));
      await duck.rows(
        `CREATE OR REPLACE TABLE csv AS SELECT * FROM read_csv(${csvPath}, header = true,
         all_varchar = true, allow_quoted_nulls = false)`,
      );
      await duck.rows(
        `CREATE OR REPLACE TABLE ndjson AS SELECT * FROM read_json(${ndjsonPath}, format = 'newline_delimited')`,
      );
      const columns = (
        await duck.rows<{ column_name: string }>("SELECT column_name FROM (DESCRIBE ndjson)")
      ).map((row) => row.column_name);
      // Rows matched by event id (and charge class for FOCUS's several rows a request).
      const keyOf = (table: string) =>
        dataset === "focus"
          ? `${table}.x_EventId || '/' || ${table}.x_UsageClass`
          : `${table}.event_id`;
      const join = `csv c JOIN ndjson n ON ${keyOf("c")} = ${keyOf("n")}`;
      const [counts] = await duck.rows<{ csv: number; ndjson: number; matched: number }>(
        `SELECT (SELECT count(*) FROM csv)::INTEGER AS csv, (SELECT count(*) FROM ndjson)::INTEGER AS ndjson,
              (SELECT count(*) FROM ${join})::INTEGER AS matched`,
      );
      expect(counts?.csv).toBeGreaterThan(0);
      expect(counts).toEqual({
        csv: counts?.ndjson,
        ndjson: counts?.ndjson,
        matched: counts?.ndjson,
      });
      let nullsSeen = 0;
      for (const column of columns) {
        const name = `"${column}"`;
        const [row] = await duck.rows<{ differing: number; nulls: number; escaped: number }>(
          `SELECT count(*) FILTER ((c.${name} IS NULL) != (n.${name} IS NULL))::INTEGER AS differing,
                count(*) FILTER (c.${name} IS NULL)::INTEGER AS nulls,
                count(*) FILTER (c.${name} = '\\N')::INTEGER AS escaped
         FROM ${join}`,
        );
        expect({ column, differing: row?.differing, escaped: row?.escaped }).toEqual({
          column,
          differing: 0,
          escaped: 0,
        });
        nullsSeen += Number(row?.nulls);
      }
      // The fixture rows have nulls in every dataset with a nullable column,
      // so the check saw some; decisions has none (a candidate's null score
      // is inside an array).
      if (dataset !== "decisions") expect(nullsSeen).toBeGreaterThan(0);
    },
  );
});
