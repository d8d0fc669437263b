// The FOCUS export read as a FinOps user reads it: pulled as CSV and as
// Parquet, loaded with DuckDB's own readers, and checked against every rule
// of the FOCUS 1.2 column list (test/reference/focus-spec) that a file can
// show: presence, type, nullability, allowed values, formats, and the cost
// identities. The ledger has contracts, cache reads and writes, reasoning
// tokens, an unpriced model and a failed request.

import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshClickHouse, type TestClickHouse } from "../../test/fixtures/clickhouse.ts";
import { openDuckDb, sqlString, type TestDuckDb } from "../../test/fixtures/duckdb.ts";
import { FOCUS_SPEC } from "../../test/fixtures/focus-spec.ts";
import { handLedger } from "../../test/fixtures/hand-ledger.ts";
import { HAND_LEDGER_PRICES } from "../../test/fixtures/hand-ledger-prices.ts";
import { loadEvents } from "../../test/fixtures/load-events.ts";
import { sampleRequestCompleted } from "../../test/fixtures/sample-events.ts";
import { buildAnalytics } from "../app.ts";

const success = { status: "success", http_status: 200, error_class: null } as const;

/**
 * Beyond the hand ledger: cache reads and writes and reasoning priced apart
 * under a contract (c1), an unpriced model (c2), a per-request fee (c3). The
 * costs are what hand-ledger-prices.ts gives.
 */
const EXTRA_REQUESTS = [
  sampleRequestCompleted({
    ...success,
    request_id: "c1",
    occurred_at: "2026-11-21T23:59:59.999Z",
    vendor: "alpha",
    model: "m1",
    contract_id: "acme-alpha",
    input_tokens: 5000,
    cached_input_tokens: 3000,
    cache_write_input_tokens: 1500,
    output_tokens: 800,
    reasoning_tokens: 600,
    // 500 × 0.001 + 3000 × 0.001 + 1500 × 0.00125 + 200 × 0.0025 + 600 × 0.003, then 20% off.
    list_cost_usd: "7.675",
    cost_usd: "6.14",
    tags: ["prod", "cache"],
  }),
  sampleRequestCompleted({
    ...success,
    request_id: "c2",
    occurred_at: "2026-11-30T23:30:00.000Z",
    vendor: "delta",
    model: "unpriced-model",
    input_tokens: 70,
    output_tokens: 30,
    price_known: false,
    list_cost_usd: "0",
    cost_usd: "0",
    team: null,
    key_id: null,
  }),
  sampleRequestCompleted({
    ...success,
    request_id: "c3",
    occurred_at: "2026-11-21T08:00:00.000Z",
    vendor: "gamma",
    model: "m3",
    input_tokens: 1000,
    output_tokens: 100,
    list_cost_usd: "0.013",
    cost_usd: "0.013",
  }),
  sampleRequestCompleted({
    ...success,
    request_id: "c4",
    occurred_at: "2026-11-21T09:00:00.000Z",
    vendor: "gamma",
    model: "m3",
    service_tier: "batch",
    input_tokens: 1000,
    output_tokens: 100,
    list_cost_usd: "0.0065",
    cost_usd: "0.0065",
  }),
];

let clickhouse: TestClickHouse;
let app: FastifyInstance;
let duck: TestDuckDb;
let csvFile: string;
let parquetFile: string;
const spec = FOCUS_SPEC;

/** The FOCUS rows as DuckDB read them: `csv_text` (every cell as text), `csv` and `parquet` (typed). */
beforeAll(async () => {
  clickhouse = await freshClickHouse();
  await loadEvents(clickhouse.client, [...handLedger(), ...EXTRA_REQUESTS]);
  app = buildAnalytics({
    clickhouse: clickhouse.client,
    logger: pino({ level: "silent" }),
    exportOptions: { pageRows: 1000, settleMs: 0, focusPrices: HAND_LEDGER_PRICES },
  });
  duck = await openDuckDb();
  const pull = async (format: string) => {
    const response = await app.inject(`/v1/export/focus?format=${format}`);
    expect(response.statusCode, response.body).toBe(200);
    return response.rawPayload;
  };
  csvFile = duck.file("focus.csv", await pull("csv"));
  parquetFile = duck.file("focus.parquet", await pull("parquet"));
  const csvPath = sqlString(csvFile);
  const parquetPath = sqlString(parquetFile);
  // A quoted "" is an empty string, an empty field a null (formats.ts).
  await duck.rows(
    `CREATE TABLE csv_text AS SELECT * FROM read_csv(${csvPath}, header = true, all_varchar = true, allow_quoted_nulls = false)`,
  );
  await duck.rows(`CREATE TABLE parquet AS SELECT * FROM read_parquet(${parquetPath})`);
  const requests = await app.inject("/v1/export/requests?format=parquet");
  await duck.rows(
    `CREATE TABLE requests AS SELECT * FROM read_parquet(${sqlString(duck.file("requests.parquet", requests.rawPayload))})`,
  );
}, 60_000);

afterAll(async () => {
  duck?.close();
  await app?.close();
  await clickhouse?.close();
});

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

async function columnsOf(table: string): Promise<Map<string, string>> {
  const rows = await duck.rows<{ column_name: string; column_type: string }>(`DESCRIBE ${table}`);
  return new Map(rows.map((row) => [row.column_name, row.column_type]));
}

async function count(sql: string): Promise<number> {
  const [row] = await duck.rows<{ n: string | number }>(sql);
  return Number(row?.n);
}

/** FOCUS's attribute formats, as they can be seen in one cell of CSV text. */
const TEXT_FORMAT = {
  // Numeric Format: an optional minus, digits, an optional fraction; no exponent, no grouping.
  Decimal: "^-?[0-9]+([.][0-9]+)?$",
  // Date/Time Format: ISO 8601 in UTC, whole seconds.
  "Date/Time": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
} as const;

const PARQUET_TYPE = {
  Decimal: /^DECIMAL\(\d+,\d+\)$/,
  "Date/Time": /^TIMESTAMP WITH TIME ZONE$/,
  String: /^VARCHAR$/,
  JSON: /^VARCHAR$/,
} as const;

describe("the focus export, read with DuckDB, conforms to FOCUS 1.2", () => {
  it("reads the spec's 57 columns and the export's rows in both formats", async () => {
    expect(spec).toHaveLength(57);
    // The hand ledger's six requests in 11 rows, c1 in five (every class but
    // the fee), c2 in two, c3 and c4 in three (input, output, the fee).
    expect(await count("SELECT count(*) AS n FROM csv_text")).toBe(24);
    expect(await count("SELECT count(*) AS n FROM parquet")).toBe(24);
  });

  it("has every mandatory column, and names only FOCUS columns or x_ ones, in both formats", async () => {
    const specIds = new Set(spec.map((column) => column.column_id));
    for (const table of ["csv_text", "parquet"]) {
      const names = [...(await columnsOf(table)).keys()];
      for (const column of spec.filter((entry) => entry.feature_level === "Mandatory")) {
        expect(names, `${table}: ${column.column_id}`).toContain(column.column_id);
      }
      for (const name of names) {
        expect(specIds.has(name) || name.startsWith("x_"), `${table}: ${name}`).toBe(true);
      }
    }
  });

  it("has each conditional and recommended column whose condition Switchboard meets, and says why of the others", async () => {
    // Present: their condition holds for every charge Switchboard exports.
    const applies = [
      "BillingAccountType", // the vendor account, a billing account type of its own
      "ChargeFrequency",
      "ConsumedQuantity", // usage charges
      "ConsumedUnit",
      "ContractedUnitPrice", // unit prices exist (null only where unknown)
      "ListUnitPrice",
      "PricingCategory",
      "PricingCurrency", // given although equal to the billing currency
      "PricingCurrencyContractedUnitPrice",
      "PricingCurrencyEffectiveCost",
      "PricingCurrencyListUnitPrice",
      "ResourceId", // the model is the resource
      "ResourceName",
      "ResourceType",
      "ServiceSubcategory",
      "SkuId",
      "SkuMeter",
      "SkuPriceDetails",
      "SkuPriceId",
      "SubAccountId", // the tenant
      "SubAccountName",
      "SubAccountType",
      "Tags",
    ];
    // Absent, and why.
    const doesNotApply = {
      AvailabilityZone: "no zones: vendors' APIs are regional at most",
      CapacityReservationId: "no capacity reservations",
      CapacityReservationStatus: "no capacity reservations",
      CommitmentDiscountCategory: "commitments are not modelled yet (issue 14)",
      CommitmentDiscountId: "commitments are not modelled yet (issue 14)",
      CommitmentDiscountName: "commitments are not modelled yet (issue 14)",
      CommitmentDiscountQuantity: "commitments are not modelled yet (issue 14)",
      CommitmentDiscountStatus: "commitments are not modelled yet (issue 14)",
      CommitmentDiscountType: "commitments are not modelled yet (issue 14)",
      CommitmentDiscountUnit: "commitments are not modelled yet (issue 14)",
      InvoiceId: "the gateway sees no vendor invoice",
      RegionId: "the ledger records no region for a request",
      RegionName: "the ledger records no region for a request",
    };
    const optional = spec.filter((column) => column.feature_level !== "Mandatory");
    expect([...applies, ...Object.keys(doesNotApply)].sort()).toEqual(
      optional.map((column) => column.column_id).sort(),
    );
    for (const table of ["csv_text", "parquet"]) {
      const names = await columnsOf(table);
      for (const name of applies) expect(names.has(name), `${table}: ${name}`).toBe(true);
      for (const name of Object.keys(doesNotApply))
        expect(names.has(name), `${table}: ${name}`).toBe(false);
    }
    // A quantity has its unit, a unit price its SKU price, and neither without the other.
    expect(
      await count(
        `SELECT count(*) AS n FROM parquet WHERE
           (PricingQuantity IS NULL) != (PricingUnit IS NULL)
           OR (ConsumedQuantity IS NULL) != (ConsumedUnit IS NULL)
           OR (ListUnitPrice IS NULL) != (SkuPriceId IS NULL)
           OR (ContractedUnitPrice IS NULL) != (ListUnitPrice IS NULL)`,
      ),
    ).toBe(0);
  });

  it("gives each column the spec's data type: Parquet's types, CSV's text formats", async () => {
    const parquetTypes = await columnsOf("parquet");
    for (const column of spec) {
      const type = parquetTypes.get(column.column_id);
      if (type === undefined) continue;
      expect(type, column.column_id).toMatch(PARQUET_TYPE[column.data_type]);
      const pattern = TEXT_FORMAT[column.data_type as keyof typeof TEXT_FORMAT];
      if (!pattern) continue;
      const name = quoted(column.column_id);
      const offending = await duck.rows(
        `SELECT ${name} AS value FROM csv_text
         WHERE ${name} IS NOT NULL AND NOT regexp_full_match(${name}, ${sqlString(pattern)}) LIMIT 3`,
      );
      expect(offending, column.column_id).toEqual([]);
    }
  });

  it("has no null where the spec allows none: an empty CSV field is a null, never the text \\N", async () => {
    for (const table of ["csv_text", "parquet"]) {
      const names = await columnsOf(table);
      for (const column of spec.filter((entry) => entry.allows_nulls === "False")) {
        if (!names.has(column.column_id)) continue;
        const nulls = await count(
          `SELECT count(*) AS n FROM ${table} WHERE ${quoted(column.column_id)} IS NULL`,
        );
        expect(nulls, `${table}: ${column.column_id}`).toBe(0);
      }
    }
    for (const name of (await columnsOf("csv_text")).keys()) {
      expect(
        await count(`SELECT count(*) AS n FROM csv_text WHERE ${quoted(name)} = '\\N'`),
        name,
      ).toBe(0);
    }
    // Nullable columns that are null somewhere read as nulls, not text.
    expect(await count("SELECT count(*) AS n FROM csv_text WHERE ChargeClass IS NULL")).toBe(24);
    expect(await count("SELECT count(*) AS n FROM csv_text WHERE x_ContractId IS NULL")).toBe(14);
  });

  it("uses only the spec's allowed values", async () => {
    for (const column of spec.filter((entry) => entry.allowed_values !== "")) {
      // ServiceSubcategory's values are listed as "Category > Subcategory".
      const allowed = column.allowed_values
        .split(";")
        .map((entry) =>
          column.column_id === "ServiceSubcategory" ? (entry.split(" > ")[1] ?? entry) : entry,
        );
      for (const table of ["csv_text", "parquet"]) {
        if (!(await columnsOf(table)).has(column.column_id)) continue;
        const values = await duck.rows<{ value: string }>(
          `SELECT DISTINCT ${quoted(column.column_id)} AS value FROM ${table} WHERE value IS NOT NULL`,
        );
        for (const { value } of values)
          expect(allowed, `${column.column_id}=${value}`).toContain(value);
      }
    }
  });

  it("writes currencies as ISO 4217 codes, units in FOCUS's unit format and key-value JSON with scalar values", async () => {
    const formatted = (format: string) =>
      spec.filter((column) => column.value_format.toLowerCase().startsWith(format.toLowerCase()));
    for (const table of ["csv_text", "parquet"]) {
      const names = await columnsOf(table);
      for (const column of formatted("Currency Format")) {
        if (!names.has(column.column_id)) continue;
        const name = quoted(column.column_id);
        expect(
          await count(
            `SELECT count(*) AS n FROM ${table} WHERE ${name} IS NOT NULL AND NOT regexp_full_match(${name}, '[A-Z]{3}')`,
          ),
          column.column_id,
        ).toBe(0);
      }
      for (const column of formatted("Unit Format")) {
        if (!names.has(column.column_id)) continue;
        const name = quoted(column.column_id);
        // A plural unit, title case, optionally preceded by a count ("1000 Tokens") or per a time unit.
        expect(
          await count(
            `SELECT count(*) AS n FROM ${table} WHERE ${name} IS NOT NULL
             AND NOT regexp_full_match(${name}, '([0-9]+ )?[A-Z][a-z]+( [A-Z][a-z]+)*(/[A-Z][a-z]+)?')`,
          ),
          column.column_id,
        ).toBe(0);
      }
      for (const column of spec.filter((entry) => entry.data_type === "JSON")) {
        if (!names.has(column.column_id)) continue;
        const name = quoted(column.column_id);
        expect(
          await count(
            `SELECT count(*) AS n FROM ${table} WHERE ${name} IS NOT NULL AND NOT (
               json_valid(${name}) AND json_type(${name}::JSON) = 'OBJECT'
               AND list_bool_and(list_transform(json_keys(${name}::JSON),
                 key -> json_type(${name}::JSON, '$."' || replace(key, '"', '\\"') || '"') NOT IN ('OBJECT', 'ARRAY'))))`,
          ),
          column.column_id,
        ).toBe(0);
      }
    }
  });

  it("gives the same values in CSV as in Parquet", async () => {
    const types = new Map(spec.map((column) => [column.column_id, column.data_type]));
    const names = [...(await columnsOf("parquet")).keys()];
    for (const name of names) {
      const column = quoted(name);
      const parquetType = (await columnsOf("parquet")).get(name) ?? "";
      // CSV text cast to the type Parquet carries, then compared exactly.
      const csvValue =
        types.get(name) === "Date/Time" || parquetType.startsWith("TIMESTAMP")
          ? `strptime(c.${column}, ['%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%M:%S.%gZ'])::TIMESTAMPTZ`
          : parquetType.endsWith("[]")
            ? `c.${column}`
            : `c.${column}::${parquetType}`;
      const parquetValue = parquetType.endsWith("[]") ? `p.${column}::VARCHAR` : `p.${column}`;
      if (parquetType.endsWith("[]")) continue;
      const differing = await duck.rows(
        `SELECT c.x_EventId, c.${column} AS csv, ${parquetValue}::VARCHAR AS parquet
         FROM csv_text c JOIN parquet p USING (x_EventId, x_UsageClass)
         WHERE ${csvValue} IS DISTINCT FROM ${parquetValue} LIMIT 3`,
      );
      expect(differing, name).toEqual([]);
    }
  });

  it("holds the cost identities: no commitments, so billed = effective = contracted, in the pricing currency too", async () => {
    const broken = await duck.rows(
      `SELECT x_RequestId FROM parquet
       WHERE NOT (BilledCost = EffectiveCost AND EffectiveCost = ContractedCost
                  AND PricingCurrencyEffectiveCost = EffectiveCost AND PricingCurrency = BillingCurrency)`,
    );
    expect(broken).toEqual([]);
    // Every priced row's unit price times its pricing quantity is its cost,
    // exactly; in the pricing currency too.
    expect(
      await count(
        `SELECT count(*) AS n FROM parquet WHERE x_PriceKnown AND x_UsageClass != 'unsplit' AND NOT (
           ListUnitPrice * PricingQuantity = ListCost
           AND ContractedUnitPrice * PricingQuantity = ContractedCost
           AND PricingCurrencyListUnitPrice = ListUnitPrice
           AND PricingCurrencyContractedUnitPrice = ContractedUnitPrice
           AND ConsumedQuantity = PricingQuantity AND ConsumedUnit = PricingUnit
           AND SkuPriceId IS NOT NULL AND SkuMeter IS NOT NULL AND SkuPriceDetails IS NOT NULL)`,
      ),
    ).toBe(0);
    // One row per request and class, and a class only where it has a quantity
    // (the input row of a request that used nothing aside).
    const classes = await duck.rows<{ request: string; classes: string }>(
      `SELECT x_RequestId AS request, string_agg(x_UsageClass, ' ' ORDER BY x_UsageClass) AS classes
       FROM parquet WHERE x_RequestId IN ('r1', 'r3', 'c1', 'c2', 'c3', 'g1') GROUP BY ALL ORDER BY request`,
    );
    expect(classes).toEqual([
      { request: "c1", classes: "cache_write cached_input input output reasoning" },
      { request: "c2", classes: "input output" },
      { request: "c3", classes: "input output request" },
      { request: "g1", classes: "unsplit" },
      { request: "r1", classes: "cached_input input output" },
      { request: "r3", classes: "input" },
    ]);
    // c3's fee is a row of one request at the card's fee.
    const [fee] = await duck.rows(
      `SELECT PricingQuantity::VARCHAR AS quantity, PricingUnit AS unit, ListUnitPrice::VARCHAR AS price,
              SkuMeter AS meter, SkuPriceDetails AS details
       FROM csv_text WHERE x_RequestId = 'c3' AND x_UsageClass = 'request'`,
    );
    expect(fee).toEqual({
      quantity: "1",
      unit: "Requests",
      price: "0.01",
      meter: "Requests",
      details: '{"x_Model":"m3","x_ServiceTier":"standard"}',
    });
    // c4, served at the batch tier, at the card's batch prices.
    const batch = await duck.rows(
      `SELECT x_UsageClass AS class, ListUnitPrice::VARCHAR AS price, SkuPriceId AS sku_price
       FROM csv_text WHERE x_RequestId = 'c4' ORDER BY class`,
    );
    expect(batch).toEqual([
      { class: "input", price: "0.000001", sku_price: "gamma/m3/input@2026-11-01:batch" },
      { class: "output", price: "0.000005", sku_price: "gamma/m3/output@2026-11-01:batch" },
      { class: "request", price: "0.005", sku_price: "gamma/m3/request@2026-11-01:batch" },
    ]);
    // g1's recorded cost is not what the configured card gives: one row with
    // the ledger's cost, no quantity and no unit price.
    const [unsplit] = await duck.rows(
      `SELECT PricingQuantity AS quantity, ListUnitPrice AS price, BilledCost::VARCHAR AS billed
       FROM parquet WHERE x_RequestId = 'g1'`,
    );
    expect(unsplit).toEqual({ quantity: null, price: null, billed: "5.000000000000000000" });
    // An unpriced model costs nothing, and says so: its rows by class, no unit price.
    const unpriced = await duck.rows(
      `SELECT x_RequestId, x_UsageClass, PricingQuantity::VARCHAR AS quantity, ListUnitPrice AS price,
              ListCost::VARCHAR AS list, BilledCost::VARCHAR AS billed
       FROM parquet WHERE NOT x_PriceKnown ORDER BY x_RequestId, x_UsageClass`,
    );
    const zero = "0.000000000000000000";
    expect(unpriced).toEqual([
      {
        x_RequestId: "c2",
        x_UsageClass: "input",
        quantity: "70",
        price: null,
        list: zero,
        billed: zero,
      },
      {
        x_RequestId: "c2",
        x_UsageClass: "output",
        quantity: "30",
        price: null,
        list: zero,
        billed: zero,
      },
      {
        x_RequestId: "r3",
        x_UsageClass: "input",
        quantity: "0",
        price: null,
        list: zero,
        billed: zero,
      },
    ]);
  });

  it("bills each request exactly its cost in the ledger, list and contracted, summed as decimals", async () => {
    const differing = await duck.rows(
      `WITH charges AS (
         SELECT SubAccountId AS tenant_id, x_RequestId AS request_id,
                sum(ListCost) AS list, sum(ContractedCost) AS contracted, sum(BilledCost) AS billed
         FROM parquet GROUP BY ALL)
       SELECT request_id FROM requests r FULL JOIN charges c USING (tenant_id, request_id)
       WHERE r.vendor != '' AND (c.billed IS DISTINCT FROM r.cost_usd::DECIMAL(38, 18)
             OR c.contracted IS DISTINCT FROM r.cost_usd::DECIMAL(38, 18)
             OR c.list IS DISTINCT FROM r.list_cost_usd::DECIMAL(38, 18))`,
    );
    expect(differing).toEqual([]);
    const [total] = await duck.rows<{ billed: string; list: string }>(
      "SELECT sum(BilledCost)::VARCHAR AS billed, sum(ListCost)::VARCHAR AS list FROM parquet",
    );
    // The hand ledger's 6.800000000000000001 (list 6.875000000000000001), c1's, c3's and c4's costs.
    expect(total).toEqual({ billed: "12.959500000000000001", list: "14.569500000000000001" });
  });

  it("keeps each charge inside its billing period, in whole seconds, UTC", async () => {
    expect(
      await count(
        `SELECT count(*) AS n FROM parquet WHERE NOT (
           ChargePeriodStart < ChargePeriodEnd
           AND BillingPeriodStart <= ChargePeriodStart AND ChargePeriodEnd <= BillingPeriodEnd
           AND BillingPeriodStart = date_trunc('month', BillingPeriodStart)
           AND BillingPeriodEnd = BillingPeriodStart + INTERVAL 1 MONTH)`,
      ),
    ).toBe(0);
    // The last millisecond of a day stays in its hour and month.
    const [late] = await duck.rows<{ start: string; end: string }>(
      `SELECT ChargePeriodStart AS start, ChargePeriodEnd AS "end" FROM csv_text WHERE x_RequestId = 'c1'`,
    );
    expect(late).toEqual({ start: "2026-11-21T23:00:00Z", end: "2026-11-22T00:00:00Z" });
  });

  it("runs the DuckDB statements docs/analytics-api.md gives for reading it", async () => {
    const docs = readFileSync(new URL("../../docs/analytics-api.md", import.meta.url), "utf8");
    const block =
      /-- DuckDB: files pulled with format=csv and format=parquet\.\n([\s\S]*?)```/.exec(docs)?.[1];
    expect(block).toBeDefined();
    const statements = (block ?? "")
      .replaceAll("'focus.parquet'", sqlString(parquetFile))
      .replaceAll("'focus.csv'", sqlString(csvFile))
      .split(";")
      .map((statement) => statement.trim())
      .filter((statement) => statement !== "");
    expect(statements).toHaveLength(2);
    for (const statement of statements) {
      expect((await duck.rows(statement)).length, statement).toBeGreaterThan(0);
    }
  });
});
