import { tableFromIPC } from "apache-arrow";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDecimal, parseDecimal } from "../../events/money.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../../test/fixtures/clickhouse.ts";
import { FOCUS_SPEC } from "../../test/fixtures/focus-spec.ts";
import { HAND_LEDGER_WINDOW, handLedger } from "../../test/fixtures/hand-ledger.ts";
import { HAND_LEDGER_PRICES } from "../../test/fixtures/hand-ledger-prices.ts";
import { loadEvents } from "../../test/fixtures/load-events.ts";
import { buildAnalytics } from "../app.ts";
import { FOCUS_FROM, FOCUS_SELECT } from "./focus.ts";

const SPEC = FOCUS_SPEC;
const SPEC_BY_ID = new Map(SPEC.map((column) => [column.column_id, column]));

let clickhouse: TestClickHouse;
let app: FastifyInstance;
let exported: { name: string; type: string }[];

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  await loadEvents(clickhouse.client, handLedger());
  app = buildAnalytics({
    clickhouse: clickhouse.client,
    logger: pino({ level: "silent" }),
    exportOptions: { pageRows: 3, settleMs: 0, focusPrices: HAND_LEDGER_PRICES },
  });
  exported = await queryRows<{ name: string; type: string }>(
    clickhouse.client,
    `DESCRIBE (SELECT ${FOCUS_SELECT} FROM ${FOCUS_FROM})`,
    { focus_prices: "[]" },
  );
});
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

const CLICKHOUSE_TYPE_FOR = {
  Decimal: /^(Nullable\()?Decimal\(38, \d+\)\)?$/,
  // FOCUS date/times are whole seconds: YYYY-MM-DDTHH:mm:ssZ.
  "Date/Time": /^(Nullable\()?DateTime64\(0, 'UTC'\)\)?$/,
  String: /^(LowCardinality\()?(Nullable\()?String\)?\)?$/,
  // JSON text: a key-value object serialized as a string.
  JSON: /^(Nullable\()?String\)?$/,
};

describe("the focus export follows FinOps FOCUS 1.2", () => {
  it("the spec file is the one described: 57 columns, 21 of them mandatory", () => {
    expect(SPEC).toHaveLength(57);
    expect(SPEC.filter((column) => column.feature_level === "Mandatory")).toHaveLength(21);
  });

  it("has every mandatory column", () => {
    const names = new Set(exported.map((column) => column.name));
    for (const column of SPEC.filter((candidate) => candidate.feature_level === "Mandatory")) {
      expect(names, column.column_id).toContain(column.column_id);
    }
  });

  it("names only FOCUS columns, or x_ columns of its own", () => {
    for (const { name } of exported) {
      if (name.startsWith("x_")) continue;
      expect(SPEC_BY_ID.has(name), name).toBe(true);
    }
    expect(exported.map((column) => column.name)).toEqual(
      expect.arrayContaining(["x_InputTokens", "x_CachedInputTokens", "x_OutputTokens"]),
    );
  });

  it("gives each column the spec's type, nullable only where the spec allows nulls", () => {
    for (const { name, type } of exported) {
      const column = SPEC_BY_ID.get(name);
      if (!column) continue;
      expect(type, name).toMatch(CLICKHOUSE_TYPE_FOR[column.data_type]);
      if (column.allows_nulls === "False") expect(type, name).not.toMatch(/Nullable/);
    }
  });

  it("uses only allowed values, and the figures of the request, exactly", async () => {
    const response = await app.inject(`/v1/export/focus?format=ndjson&tenant=acme`);
    const rows = response.body
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    // r1 by input, cache read and output; r2 input, output; r3 (no tokens,
    // no price) one input row; r4 input, output; r5 cache read, output.
    expect(rows).toHaveLength(10);
    for (const row of rows) {
      for (const [name, value] of Object.entries(row)) {
        const allowed = SPEC_BY_ID.get(name)?.allowed_values;
        if (!allowed || value === null) continue;
        // ServiceSubcategory's values are listed as "Category > Subcategory".
        const values = allowed
          .split(";")
          .map((entry) => (name === "ServiceSubcategory" ? entry.split(" > ")[1] : entry));
        expect(values, `${name}=${String(value)}`).toContain(value);
      }
    }
    // r1: contracted at 0.1 under acme-alpha, 0.125 at list prices: its
    // 60 uncached input tokens at 0.001 a token, 20% off.
    const r1 = rows.filter((row) => row.x_RequestId === "r1");
    expect(r1.map((row) => [row.x_UsageClass, row.PricingQuantity, row.ListCost])).toEqual([
      ["input", "60", "0.06"],
      ["cached_input", "40", "0.04"],
      ["output", "10", "0.025"],
    ]);
    expect(r1.find((row) => row.x_UsageClass === "input")).toMatchObject({
      BilledCost: "0.048",
      EffectiveCost: "0.048",
      ListCost: "0.06",
      ListUnitPrice: "0.001",
      ContractedCost: "0.048",
      ContractedUnitPrice: "0.0008",
      PricingQuantity: "60",
      PricingUnit: "Tokens",
      SkuId: "alpha/m1/input",
      SkuPriceId: "alpha/m1/input@2026-11-01",
      SkuMeter: "Input Tokens",
      SkuPriceDetails: '{"x_Model":"m1","x_TokenDirection":"Input","x_ServiceTier":"standard"}',
      ChargeDescription:
        "LLM request for route fast served by alpha/m1 at price card 2026-11-01 under contract acme-alpha: input tokens",
      BillingCurrency: "USD",
      BillingPeriodStart: "2026-11-01T00:00:00Z",
      BillingPeriodEnd: "2026-12-01T00:00:00Z",
      ChargePeriodStart: "2026-11-20T10:00:00Z",
      ChargePeriodEnd: "2026-11-20T11:00:00Z",
      ChargeCategory: "Usage",
      ChargeClass: null,
      ProviderName: "alpha",
      PublisherName: "alpha",
      SubAccountId: "acme",
      ConsumedQuantity: "60",
      ConsumedUnit: "Tokens",
      x_InputTokens: "100",
      x_CachedInputTokens: "40",
      x_OutputTokens: "10",
      x_PriceKnown: true,
      x_ContractId: "acme-alpha",
      Tags: '{"switchboard/task":"code","switchboard/route":"fast","switchboard/team":"search","switchboard/key":"acme-search","prod":true,"search":true}',
    });
  });

  it("puts user tags as valueless keys and Switchboard's dimensions under its prefix, as key-value JSON", async () => {
    const response = await app.inject(`/v1/export/focus?format=ndjson&tenant=acme`);
    const byRequest = new Map(
      response.body
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line))
        .map((row) => [row.x_RequestId, row]),
    );
    // No team, no tag: neither key is there, rather than a null or an empty string.
    expect(JSON.parse(byRequest.get("r4").Tags)).toEqual({
      "switchboard/task": "code",
      "switchboard/route": "fast",
      "switchboard/key": "acme-batch",
    });
    // r3 had no known price: no cost, and it says so.
    expect(byRequest.get("r3")).toMatchObject({
      ListCost: "0",
      ContractedCost: "0",
      BilledCost: "0",
      x_PriceKnown: false,
      x_ContractId: null,
      x_UsageClass: "input",
      PricingQuantity: "0",
      ListUnitPrice: null,
      SkuPriceId: null,
      ChargeDescription:
        "LLM request for route fast served by alpha/m1 at price card 2026-11-01 list prices: input tokens",
    });
    for (const row of byRequest.values()) {
      const tags = JSON.parse(row.Tags);
      // FOCUS key-value format: an object whose values are never objects or arrays.
      expect(typeof tags).toBe("object");
      for (const value of Object.values(tags)) {
        expect(["string", "number", "boolean"]).toContain(typeof value);
      }
    }
  });

  it("lists at list prices and bills at contracted ones", async () => {
    const focus = await app.inject("/v1/export/focus?format=ndjson");
    const sum = (column: string) =>
      formatDecimal(
        focus.body
          .trim()
          .split("\n")
          .reduce((total, line) => total + parseDecimal(JSON.parse(line)[column]), 0n),
      );
    // 0.125 + 0.25 + 0 + 0.000000000000000001 + 1.5 + 5.
    expect(sum("ListCost")).toBe("6.875000000000000001");
    expect(sum("ContractedCost")).toBe("6.800000000000000001");
    expect(sum("EffectiveCost")).toBe("6.800000000000000001");
  });

  it("bills exactly what the matrix shows as spend", async () => {
    const focus = await app.inject("/v1/export/focus?format=ndjson");
    const billed = focus.body
      .trim()
      .split("\n")
      .reduce((sum, line) => sum + parseDecimal(JSON.parse(line).BilledCost), 0n);
    const matrix = await app.inject(
      `/v1/matrix?${HAND_LEDGER_WINDOW}&group_by=tenant&metrics=cost_usd`,
    );
    const spend = matrix
      .json()
      .rows.reduce(
        (sum: bigint, row: { cost_usd: string }) => sum + parseDecimal(row.cost_usd),
        0n,
      );
    expect(formatDecimal(billed)).toBe(formatDecimal(spend));
    expect(formatDecimal(billed)).toBe("6.800000000000000001");
  });

  it("arrives in Arrow with decimal money and UTC timestamps", async () => {
    const response = await app.inject("/v1/export/focus?format=arrow");
    const table = tableFromIPC(response.rawPayload);
    // acme's ten rows by class, and globex's g1, unsplit (hand-ledger-prices.ts).
    expect(table.numRows).toBe(11);
    const typeOf = (name: string) =>
      String(table.schema.fields.find((field) => field.name === name)?.type);
    expect(typeOf("BilledCost")).toBe("Decimal[38e+18]");
    expect(typeOf("ChargePeriodStart")).toMatch(/^Timestamp<SECOND, (Etc\/)?UTC>$/);
    expect(typeOf("BillingCurrency")).toBe("Utf8");
  });
});
